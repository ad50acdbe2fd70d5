import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';
import { frame, type RawFrame } from './raw-client.js';
import { GUARD_MS } from './stomp-client.js';

/**
 * A tiny SockJS client that speaks the protocol's HTTP transports by hand (plain `node:http`),
 * for the faults `sockjs-client` would hide: odd message boundaries, non-string messages, bodies
 * past the limit, origins, a client that stops polling. Every request and every wait is bounded
 * by GUARD_MS (a failure guard only, never an assertion about time).
 */

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Sent with a Content-Length unless `chunked`. */
  body?: string | Buffer;
  /** Sends `body` in two writes with no Content-Length (Transfer-Encoding: chunked). */
  chunked?: boolean;
  /** With `chunked`: bytes per HTTP chunk (one write each) instead of two halves. */
  chunkSize?: number;
  timeoutMs?: number;
}

/** One HTTP request on its own connection (no keep-alive pool: a SockJS poll is tied to its socket). */
export function http(url: string, options: HttpOptions = {}): Promise<HttpReply> {
  const { method = 'GET', headers = {}, body, chunked = false, chunkSize, timeoutMs = GUARD_MS } = options;
  return new Promise<HttpReply>((resolve, reject) => {
    let reply: HttpReply | undefined;
    const allHeaders: Record<string, string> = { ...headers };
    if (body !== undefined && !chunked) allHeaders['content-length'] = String(Buffer.byteLength(body));
    const req = httpRequest(url, { method, headers: allHeaders, agent: false });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`timed out waiting for ${method} ${url}`));
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      reply = { status: res.statusCode ?? 0, headers: res.headers, body: '' };
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = (): void => {
        clearTimeout(timer);
        (reply as HttpReply).body = Buffer.concat(chunks).toString('utf8');
        resolve(reply as HttpReply);
      };
      res.on('end', done);
      // The server may drop the connection right after its answer (a refused body): keep what came.
      res.on('error', done);
      res.on('aborted', done);
    });
    req.on('error', (err) => {
      if (reply !== undefined) return;
      clearTimeout(timer);
      reject(err);
    });
    if (body === undefined) {
      req.end();
    } else if (chunked) {
      req.setHeader('transfer-encoding', 'chunked');
      const data = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
      if (chunkSize !== undefined) {
        for (let at = 0; at < data.length; at += chunkSize) req.write(data.subarray(at, at + chunkSize));
        req.end();
      } else {
        const half = Math.floor(data.length / 2);
        req.write(data.subarray(0, half));
        req.end(data.subarray(half));
      }
    } else {
      req.end(body);
    }
  });
}

/** A SockJS transport frame as the server sent it. */
export type SockJsFrame =
  | { type: 'o' }
  | { type: 'h' }
  | { type: 'a'; messages: unknown[] }
  | { type: 'c'; code: number; reason: string };

/** Parses a response body of newline-separated SockJS frames (`o`, `h`, `a[...]`, `c[code,"reason"]`). */
export function parseSockJsFrames(body: string): SockJsFrame[] {
  const frames: SockJsFrame[] = [];
  for (const line of body.split('\n')) {
    if (line === '') continue;
    if (line === 'o' || line === 'h') frames.push({ type: line });
    else if (line[0] === 'a') frames.push({ type: 'a', messages: JSON.parse(line.slice(1)) as unknown[] });
    else if (line[0] === 'c') {
      const [code, reason] = JSON.parse(line.slice(1)) as [number, string];
      frames.push({ type: 'c', code, reason });
    } else if (/^h+$/.test(line)) {
      // The xhr-streaming prelude: 2048 'h' characters.
    } else throw new Error(`not a SockJS frame: ${JSON.stringify(line.slice(0, 80))}`);
  }
  return frames;
}

let sessionCounter = 0;

/**
 * One SockJS session over the `xhr` (polling) transport: `open()` posts the first `xhr`, `send()`
 * posts `xhr_send`, and the frame waits (`next`, `expect`, `waitClosed`) poll, one request at a
 * time, until what they wait for came. A test that wants the client to stop reading just stops
 * waiting: nothing polls in the background.
 */
export class RawSockJsSession {
  /** The SockJS session id in the URL (sockjs keeps one process-wide table: make it unique). */
  readonly id = `s${process.pid}x${++sessionCounter}x${randomBytes(4).toString('hex')}`;
  /** Every SockJS message received, in order. */
  readonly messages: unknown[] = [];
  /** STOMP frames decoded from the messages (test-side decoder). */
  readonly frames: RawFrame[] = [];
  /** SockJS heart-beat frames (`h`) received. */
  sockJsHeartbeats = 0;
  /** STOMP heart-beats (lone EOLs) received. */
  stompHeartbeats = 0;
  closeFrame: { code: number; reason: string } | undefined;
  /** Every poll's status (the first one's too). */
  readonly pollStatuses: number[] = [];
  private cursor = 0;
  private buffer = Buffer.alloc(0);
  private polling?: Promise<void>;

  /** @param base e.g. `http://127.0.0.1:1234/ws` */
  constructor(
    readonly base: string,
    readonly headers: Record<string, string> = {},
    readonly server = '000',
  ) {}

  url(name: string): string {
    return `${this.base}/${this.server}/${this.id}/${name}`;
  }

  /** Opens the session (first `xhr` poll); resolves with its reply, whose body is `o\n` when it opened. */
  async open(): Promise<HttpReply> {
    const reply = await http(this.url('xhr'), { method: 'POST', headers: this.headers });
    this.pollStatuses.push(reply.status);
    return reply;
  }

  /** Opens the session, which must answer `o`. */
  async opened(): Promise<this> {
    const reply = await this.open();
    if (reply.status !== 200 || reply.body !== 'o\n') throw new Error(`SockJS open answered ${reply.status} ${JSON.stringify(reply.body)}`);
    return this;
  }

  /** Posts `messages` (anything JSON: the protocol wants strings) with `xhr_send`; resolves with the status. */
  async send(messages: unknown[], options: Pick<HttpOptions, 'chunked'> = {}): Promise<number> {
    return (await this.sendBody(JSON.stringify(messages), options)).status;
  }

  /** Posts a raw `xhr_send` body. */
  sendBody(body: string | Buffer, options: Pick<HttpOptions, 'chunked'> = {}): Promise<HttpReply> {
    return http(this.url('xhr_send'), { method: 'POST', headers: this.headers, body, chunked: options.chunked });
  }

  /** Sends STOMP frames, one SockJS message each, in one `xhr_send`. */
  async sendFrames(...frames: Buffer[]): Promise<void> {
    const status = await this.send(frames.map((f) => f.toString('utf8')));
    if (status !== 204) throw new Error(`xhr_send answered ${status}`);
  }

  /** Sends CONNECT and resolves with CONNECTED. */
  async connect(headers: Record<string, string> = { 'accept-version': '1.2', host: 'localhost', 'heart-beat': '0,0' }): Promise<RawFrame> {
    await this.sendFrames(frame('CONNECT', headers));
    return this.expect('CONNECTED');
  }

  /** Subscribes with a receipt and waits for the RECEIPT. */
  async subscribe(destination: string, id = 'sub-0'): Promise<void> {
    await this.sendFrames(frame('SUBSCRIBE', { id, destination, receipt: `r-${id}` }));
    const receipt = await this.expect('RECEIPT');
    if (receipt.headers['receipt-id'] !== `r-${id}`) throw new Error(`unexpected RECEIPT ${receipt.headers['receipt-id']}`);
  }

  /** One `xhr` poll (sequential: a second one while one is pending would be refused by the server). */
  poll(): Promise<void> {
    this.polling ??= (async () => {
      try {
        const reply = await http(this.url('xhr'), { method: 'POST', headers: this.headers });
        this.pollStatuses.push(reply.status);
        if (reply.status !== 200) throw new Error(`xhr poll answered ${reply.status} ${reply.body}`);
        for (const f of parseSockJsFrames(reply.body)) this.take(f);
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  next(): Promise<RawFrame> {
    return this.pollUntil(() => (this.cursor < this.frames.length ? this.frames[this.cursor++] : undefined), 'the next frame');
  }

  async expect(command: string): Promise<RawFrame> {
    const f = await this.next();
    if (f.command !== command) {
      throw new Error(`expected ${command}, got ${f.command} ${JSON.stringify(f.headers)} ${f.body.toString().slice(0, 200)}`);
    }
    return f;
  }

  /** Polls until the server's close frame `c[code,"reason"]` came. */
  waitClosed(): Promise<{ code: number; reason: string }> {
    return this.pollUntil(() => this.closeFrame, 'the close frame');
  }

  /** Polls until `probe` gives a value; fails once the session is closed or after GUARD_MS. */
  async pollUntil<T>(probe: () => T | undefined, what: string, timeoutMs = GUARD_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (let round = 0; round < 10_000; round++) {
      const value = probe();
      if (value !== undefined) return value;
      if (this.closeFrame !== undefined) {
        throw new Error(`SockJS session closed (${JSON.stringify(this.closeFrame)}) while waiting for ${what}; frames: ${this.describe()}`);
      }
      if (Date.now() > deadline) break;
      await this.poll();
    }
    throw new Error(`timed out waiting for ${what}; frames: ${this.describe()}`);
  }

  /** Ends the session from the client side: DISCONNECT with a receipt, then the close frame. */
  async disconnect(): Promise<void> {
    await this.sendFrames(frame('DISCONNECT', { receipt: 'bye' }));
    await this.pollUntil(() => this.frames.find((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === 'bye'), 'the RECEIPT of DISCONNECT');
    const closed = await this.waitClosed();
    if (closed.code !== 1000) throw new Error(`DISCONNECT closed the session with ${JSON.stringify(closed)}`);
  }

  private take(f: SockJsFrame): void {
    if (f.type === 'h') this.sockJsHeartbeats++;
    else if (f.type === 'c') this.closeFrame = { code: f.code, reason: f.reason };
    else if (f.type === 'a') {
      for (const m of f.messages) {
        this.messages.push(m);
        if (typeof m !== 'string') throw new Error(`the server sent a SockJS message that is not a string: ${JSON.stringify(m)}`);
        this.buffer = Buffer.concat([this.buffer, Buffer.from(m, 'utf8')]);
        this.parse();
      }
    }
  }

  private describe(): string {
    return JSON.stringify(this.frames.map((f) => `${f.command} ${JSON.stringify(f.headers)}`));
  }

  /** The test-side STOMP decoder (the server writes LF line ends): content-length or NUL-terminated bodies. */
  private parse(): void {
    for (let guard = 0; guard < 100_000; guard++) {
      let start = 0;
      while (start < this.buffer.length) {
        if (this.buffer[start] === 0x0a) start += 1;
        else if (this.buffer[start] === 0x0d && this.buffer[start + 1] === 0x0a) start += 2;
        else break;
        this.stompHeartbeats++;
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
      const bodyEnd = length !== undefined ? bodyStart + Number(length) : this.buffer.indexOf(0, bodyStart);
      if (bodyEnd === -1 || this.buffer.length < bodyEnd + 1) return;
      if (this.buffer[bodyEnd] !== 0) throw new Error(`frame ${lines[0]} lacks its NUL after content-length`);
      this.frames.push({ command: lines[0], headers, body: Buffer.from(this.buffer.subarray(bodyStart, bodyEnd)), binaryMessage: false });
      this.buffer = this.buffer.subarray(bodyEnd + 1);
    }
  }
}

/** Waits, by polling `probe` every few ms, until it gives a value; fails after `timeoutMs`. */
export async function eventually<T>(probe: () => T | undefined, what: string, timeoutMs = GUARD_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; round < 100_000; round++) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}
