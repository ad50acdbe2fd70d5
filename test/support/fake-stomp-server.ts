import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { GUARD_MS, withTimeout } from './stomp-client.js';

/** A frame as a client sent it to the fake server, parsed by this file's own minimal parser. */
export interface FakeFrame {
  command: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** Builds a STOMP frame with LF line ends; header values are written exactly as given. */
export function rawFrame(command: string, headers: Record<string, string> = {}, body = ''): Buffer {
  let head = `${command}\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}:${value}\n`;
  return Buffer.concat([Buffer.from(`${head}\n${body}`, 'utf8'), Buffer.from([0])]);
}

/**
 * One accepted TCP connection of a {@link FakeStompServer}: records every frame and heart-beat EOL
 * the client sent and lets the test answer by hand.
 */
export class FakeBrokerSocket {
  readonly frames: FakeFrame[] = [];
  heartbeats = 0;
  closed = false;
  private buffer = Buffer.alloc(0);
  private readonly checks = new Set<() => void>();

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
      this.recheck();
    });
    socket.on('close', () => {
      this.closed = true;
      this.recheck();
    });
    socket.on('error', () => undefined);
  }

  /** Writes bytes as they are (a frame from {@link rawFrame}, an EOL, garbage). */
  write(bytes: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  send(command: string, headers: Record<string, string> = {}, body = ''): void {
    this.write(rawFrame(command, headers, body));
  }

  /** Answers CONNECT with CONNECTED (`heart-beat` as given, default `0,0`). */
  connected(heartBeat = '0,0', extra: Record<string, string> = {}): void {
    this.send('CONNECTED', { version: '1.2', 'heart-beat': heartBeat, server: 'Fake/1.0', session: 'fake-1', ...extra });
  }

  /** Resolves when `test()` holds, checked on every frame, heart-beat and close (GUARD_MS guard). */
  until(what: string, test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    let check!: () => void;
    const done = new Promise<void>((resolve) => {
      check = () => {
        if (test()) {
          this.checks.delete(check);
          resolve();
        }
      };
      this.checks.add(check);
    });
    return withTimeout(done, what).finally(() => this.checks.delete(check));
  }

  /** The `n`-th (1-based) frame with `command`, once it has arrived. */
  async frame(command: string, n = 1): Promise<FakeFrame> {
    await this.until(`${command} #${n}`, () => this.frames.filter((f) => f.command === command).length >= n);
    return this.frames.filter((f) => f.command === command)[n - 1]!;
  }

  whenClosed(): Promise<void> {
    return this.until('the client to close', () => this.closed);
  }

  private parse(): void {
    for (;;) {
      let start = 0;
      while (start < this.buffer.length && (this.buffer[start] === 0x0a || this.buffer[start] === 0x0d)) {
        if (this.buffer[start] === 0x0a) this.heartbeats++;
        start++;
      }
      this.buffer = this.buffer.subarray(start);
      const headEnd = this.buffer.indexOf('\n\n');
      if (headEnd === -1) return;
      const lines = this.buffer.subarray(0, headEnd).toString('utf8').split('\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon);
        if (!(name in headers)) headers[name] = line.slice(colon + 1);
      }
      const bodyStart = headEnd + 2;
      const length = headers['content-length'];
      const end = length !== undefined ? bodyStart + Number(length) : this.buffer.indexOf(0, bodyStart);
      if (end === -1 || end >= this.buffer.length) return;
      this.frames.push({ command: lines[0]!, headers, body: Buffer.from(this.buffer.subarray(bodyStart, end)) });
      this.buffer = this.buffer.subarray(end + 1);
    }
  }

  private recheck(): void {
    for (const check of [...this.checks]) check();
  }
}

/**
 * A STOMP "broker" on 127.0.0.1 (an ephemeral port) that speaks only what a test makes it say:
 * `onConnection` gets each accepted socket. {@link wellBehaved} answers like a real broker.
 */
export class FakeStompServer {
  readonly sockets: FakeBrokerSocket[] = [];
  private readonly checks = new Set<() => void>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(onConnection: (socket: FakeBrokerSocket, index: number) => void): Promise<FakeStompServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fake = new FakeStompServer(server, (server.address() as AddressInfo).port);
    server.on('connection', (socket) => {
      const client = new FakeBrokerSocket(socket);
      fake.sockets.push(client);
      onConnection(client, fake.sockets.length - 1);
      for (const check of [...fake.checks]) check();
    });
    return fake;
  }

  /** The `n`-th (1-based) accepted connection, once it was accepted. */
  async connection(n: number): Promise<FakeBrokerSocket> {
    if (this.sockets.length < n) {
      let check!: () => void;
      const done = new Promise<void>((resolve) => {
        check = () => {
          if (this.sockets.length >= n) resolve();
        };
        this.checks.add(check);
      });
      await withTimeout(done, `connection #${n}`, GUARD_MS).finally(() => this.checks.delete(check));
    }
    return this.sockets[n - 1]!;
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * Answers like a broker: CONNECT → CONNECTED (`heartBeat`), every frame with a `receipt` → RECEIPT,
 * DISCONNECT → RECEIPT then close.
 */
export function wellBehaved(heartBeat = '0,0'): (socket: FakeBrokerSocket) => void {
  return (client) => {
    let seen = 0;
    client.socket.on('data', () => {
      for (; seen < client.frames.length; seen++) {
        const frame = client.frames[seen]!;
        if (frame.command === 'CONNECT') client.connected(heartBeat);
        else if (frame.headers['receipt'] !== undefined) client.send('RECEIPT', { 'receipt-id': frame.headers['receipt'] });
        if (frame.command === 'DISCONNECT') client.socket.end();
      }
    });
  };
}

/** A port on 127.0.0.1 with nothing listening (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
