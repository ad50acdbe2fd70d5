/**
 * The load generator's STOMP: a raw `ws` client with the smallest writer and reader that can drive
 * both servers. Both servers send one frame per WebSocket message, so the reader never buffers;
 * a MESSAGE is only inspected for the send stamp at the start of its body.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const TEXT = { binary: false } as const;
const M = 0x4d; // MESSAGE
const C = 0x43; // CONNECTED
const R = 0x52; // RECEIPT
const E = 0x45; // ERROR
const COLON = 0x3a;
const LF = 0x0a;

/** Microseconds on this process's monotonic clock: the time base of every stamp. */
export function nowMicros(): number {
  return Math.round(performance.now() * 1000);
}

export function encodeFrame(command: string, headers: Record<string, string>, body = ''): Buffer {
  let text = command + '\n';
  for (const name in headers) text += `${name}:${headers[name]}\n`;
  return Buffer.from(`${text}\n${body}\0`);
}

// The sample's /ws refuses a CONNECT without a login; every load client logs in as `bench`.
const CONNECT = encodeFrame('CONNECT', {
  'accept-version': '1.2',
  login: 'bench',
  host: '127.0.0.1',
  'heart-beat': '0,0',
});

/** CONNECT credentials and virtual host, for servers other than the sample (RabbitMQ direct). */
export interface ConnectLogin {
  login: string;
  passcode: string;
  host: string;
}

/**
 * A SEND to one destination whose body is `<seq>:<micros>:` padded with dots to `bodySize`.
 * The frame is copied from a template and only the stamp is written per message.
 */
export class SendTemplate {
  private readonly template: Buffer;
  private readonly bodyOffset: number;

  constructor(destination: string, bodySize: number) {
    const head = `SEND\ndestination:${destination}\ncontent-type:text/plain\ncontent-length:${bodySize}\n\n`;
    this.bodyOffset = Buffer.byteLength(head);
    this.template = Buffer.alloc(this.bodyOffset + bodySize + 1, '.');
    this.template.write(head, 0, 'utf8');
    this.template[this.template.length - 1] = 0;
  }

  build(seq: number, micros: number): Buffer {
    const frame = Buffer.allocUnsafe(this.template.length);
    this.template.copy(frame);
    frame.write(`${seq}:${micros}:`, this.bodyOffset, 'latin1');
    return frame;
  }
}

/** Where {@link readStamp} leaves what it read (no allocation per message). */
export const stamp = { seq: 0, micros: 0 };

/** Reads `<seq>:<micros>:` from the body of a MESSAGE whose body is `bodySize` bytes. */
export function readStamp(data: Buffer, bodySize: number): boolean {
  // RabbitMQ's Web-STOMP ends each frame with NUL + LF (an EOL between frames, STOMP 1.2 § Augmented BNF).
  const end = data[data.length - 1] === LF ? data.length - 2 : data.length - 1;
  let i = end - bodySize;
  if (i < 1 || data[end] !== 0 || data[i - 1] !== LF) return false;
  let seq = 0;
  for (let c = data[i]; c !== COLON; c = data[++i]) {
    if (i >= end) return false;
    seq = seq * 10 + (c - 48);
  }
  let micros = 0;
  for (let c = data[++i]; c !== COLON; c = data[++i]) {
    if (i >= end) return false;
    micros = micros * 10 + (c - 48);
  }
  stamp.seq = seq;
  stamp.micros = micros;
  return true;
}

function headerValue(data: Buffer, name: string): string | undefined {
  const at = data.indexOf(`\n${name}:`);
  if (at === -1) return undefined;
  const start = at + name.length + 2;
  const end = data.indexOf(LF, start);
  return data.toString('utf8', start, end === -1 ? data.length : end);
}

/** One STOMP 1.2 session over a raw `ws` client. */
export class LiteClient {
  /** Called with every MESSAGE frame (the whole WebSocket message). */
  onMessage: (data: Buffer) => void = () => undefined;
  errors = 0;
  lastError: string | undefined;
  private onConnected: (() => void) | undefined;
  private onFailed: ((err: Error) => void) | undefined;
  private readonly receipts = new Map<string, () => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const c = data[0];
      if (c === M) this.onMessage(data);
      else if (c === C) this.onConnected?.();
      else if (c === R) {
        const id = headerValue(data, 'receipt-id');
        if (id !== undefined) {
          this.receipts.get(id)?.();
          this.receipts.delete(id);
        }
      } else if (c === E) {
        this.errors++;
        this.lastError = headerValue(data, 'message') ?? 'ERROR';
        this.onFailed?.(new Error(`ERROR frame: ${this.lastError}`));
      }
    });
    ws.on('error', (err) => {
      this.errors++;
      this.lastError = err.message;
      this.onFailed?.(err);
    });
    ws.on('close', () => this.onFailed?.(new Error('connection closed')));
  }

  /**
   * Opens the WebSocket and completes CONNECT → CONNECTED within `timeoutMs`. `login` replaces
   * the CONNECT's `login`/`passcode`/`host` (e.g. guest/guest on host `/` for RabbitMQ's
   * Web-STOMP); default: login `bench` on host 127.0.0.1, no passcode.
   */
  static connect(url: string, timeoutMs: number, login?: ConnectLogin): Promise<LiteClient> {
    const connectFrame = login
      ? encodeFrame('CONNECT', { 'accept-version': '1.2', login: login.login, passcode: login.passcode, host: login.host, 'heart-beat': '0,0' })
      : CONNECT;
    const ws = new WebSocket(url, ['v12.stomp'], {
      perMessageDeflate: false,
      skipUTF8Validation: true,
    });
    const client = new LiteClient(ws);
    return new Promise<LiteClient>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`CONNECT not answered within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        client.onConnected = undefined;
        client.onFailed = undefined;
        ws.terminate();
        reject(err);
      };
      client.onFailed = fail;
      client.onConnected = () => {
        clearTimeout(timer);
        client.onConnected = undefined;
        client.onFailed = undefined;
        resolve(client);
      };
      ws.once('open', () => ws.send(connectFrame, TEXT));
    });
  }

  /** SUBSCRIBE with a receipt; resolves once the subscription is active. */
  subscribe(destination: string, id: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const receipt = `sub-${id}`;
      const timer = setTimeout(() => {
        this.receipts.delete(receipt);
        reject(new Error(`no RECEIPT for SUBSCRIBE ${destination} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.receipts.set(receipt, () => {
        clearTimeout(timer);
        resolve();
      });
      this.send(encodeFrame('SUBSCRIBE', { id, destination, ack: 'auto', receipt }));
    });
  }

  send(frame: Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame, TEXT);
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Drops the connection without a close handshake; resolves when the socket is closed. */
  terminate(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.terminate();
    });
  }
}
