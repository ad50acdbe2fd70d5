import WebSocket from 'ws';
import { GUARD_MS } from './stomp-client.js';

/** A frame as the server sent it, parsed by this file's own minimal decoder (not the library's). */
export interface RawFrame {
  command: string;
  /** Header values as sent (not unescaped); the first occurrence of a name wins. */
  headers: Record<string, string>;
  body: Buffer;
  /** Whether the WebSocket message that completed this frame was a binary one. */
  binaryMessage: boolean;
}

export interface RawOpenOptions {
  protocols?: string[];
  /** Handshake headers, e.g. `{ origin: 'http://evil.example' }`. */
  headers?: Record<string, string>;
}

/** Undoes STOMP 1.1/1.2 header escaping (test-side, independent of the library). */
export function unescapeValue(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', c: ':', '\\': '\\' })[c] ?? `\\${c}`);
}

/** Builds a STOMP frame with LF line ends; header values are written exactly as given. */
export function frame(command: string, headers: Record<string, string> = {}, body: string | Buffer = ''): Buffer {
  let head = `${command}\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}:${value}\n`;
  head += '\n';
  return Buffer.concat([Buffer.from(head, 'utf8'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), Buffer.from([0])]);
}

/**
 * A plain `ws` client that speaks STOMP bytes by hand: for split and batched frames, byte-level
 * checks, raw limit violations and sub-protocol negotiation. It records every frame, every
 * heart-beat EOL and the close code, and lets a test wait for them (with a failure guard only).
 */
export class RawStompClient {
  readonly frames: RawFrame[] = [];
  /** Every WebSocket message as received. */
  readonly messages: Array<{ data: Buffer; isBinary: boolean }> = [];
  /** EOLs received between frames. */
  heartbeats = 0;
  closeInfo: { code: number; reason: string } | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  private buffer = Buffer.alloc(0);
  private cursor = 0;
  private checks = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.recheck();
      });
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.messages.push({ data, isBinary });
      this.buffer = Buffer.concat([this.buffer, data]);
      this.parse(isBinary);
      this.recheck();
    });
    ws.on('error', () => undefined);
  }

  /** Opens a WebSocket; rejects with the HTTP status when the handshake is refused. */
  static open(url: string, options: RawOpenOptions = {}): Promise<RawStompClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
      const client = new RawStompClient(ws);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`handshake with ${url} timed out`));
      }, GUARD_MS);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(client);
      });
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        reject(new HandshakeRefused(res.statusCode ?? 0));
        res.resume();
        ws.terminate();
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** The sub-protocol the server picked. */
  get protocol(): string {
    return this.ws.protocol;
  }

  send(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  sendFrame(command: string, headers: Record<string, string> = {}, body: string | Buffer = ''): void {
    this.send(frame(command, headers, body));
  }

  /** Sends CONNECT and resolves with CONNECTED (fails on anything else). */
  async connect(headers: Record<string, string> = { 'accept-version': '1.2', host: 'localhost' }): Promise<RawFrame> {
    this.sendFrame('CONNECT', headers);
    return this.expect('CONNECTED');
  }

  /** The next frame not yet taken by `next`/`expect`. */
  next(timeoutMs = GUARD_MS): Promise<RawFrame> {
    return this.waitUntil(
      () => (this.cursor < this.frames.length ? this.frames[this.cursor++] : undefined),
      'the next frame',
      timeoutMs,
    );
  }

  /** The next frame, which must have `command`. */
  async expect(command: string, timeoutMs = GUARD_MS): Promise<RawFrame> {
    const f = await this.next(timeoutMs);
    if (f.command !== command) {
      throw new Error(`expected ${command}, got ${f.command} ${JSON.stringify(f.headers)} ${f.body.toString().slice(0, 200)}`);
    }
    return f;
  }

  /** Skips frames until one matches; resolves with it. */
  async nextMatching(predicate: (f: RawFrame) => boolean, what: string, timeoutMs = GUARD_MS): Promise<RawFrame> {
    return this.waitUntil(
      () => {
        while (this.cursor < this.frames.length) {
          const f = this.frames[this.cursor++];
          if (predicate(f)) return f;
        }
        return undefined;
      },
      what,
      timeoutMs,
    );
  }

  waitForHeartbeats(count: number, timeoutMs = GUARD_MS): Promise<number> {
    return this.waitUntil(() => (this.heartbeats >= count ? this.heartbeats : undefined), `${count} heart-beats`, timeoutMs);
  }

  /** Resolves with the close code and reason; fails if the socket stays open. */
  waitClosed(timeoutMs = GUARD_MS): Promise<{ code: number; reason: string }> {
    return this.waitUntil(() => this.closeInfo, 'the WebSocket to close', timeoutMs);
  }

  close(): Promise<{ code: number; reason: string }> {
    if (!this.closeInfo) this.ws.close();
    return this.waitClosed();
  }

  private waitUntil<T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    const now = probe();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (value !== undefined) {
          finish();
          resolve(value);
        } else if (this.closeInfo && what !== 'the WebSocket to close') {
          // Nothing more can arrive once the socket is closed.
          finish();
          reject(new Error(`connection closed (${this.closeInfo.code}) while waiting for ${what}; frames: ${this.describe()}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${what}; frames: ${this.describe()}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.checks.delete(check);
      };
      this.checks.add(check);
      check();
    });
  }

  private describe(): string {
    return JSON.stringify(this.frames.map((f) => `${f.command} ${JSON.stringify(f.headers)}`));
  }

  private recheck(): void {
    for (const check of [...this.checks]) check();
  }

  private parse(isBinary: boolean): void {
    for (let guard = 0; guard < 1_000_000; guard++) {
      // EOLs between frames are heart-beats.
      let start = 0;
      while (start < this.buffer.length) {
        if (this.buffer[start] === 0x0a) {
          this.heartbeats++;
          start++;
        } else if (this.buffer[start] === 0x0d && this.buffer[start + 1] === 0x0a) {
          this.heartbeats++;
          start += 2;
        } else break;
      }
      this.buffer = this.buffer.subarray(start);
      if (this.buffer.length === 0) return;
      const headEnd = findHeadEnd(this.buffer);
      if (!headEnd) return;
      const lines = this.buffer
        .subarray(0, headEnd.at)
        .toString('utf8')
        .split('\n')
        .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
      const command = lines[0];
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon);
        if (!(name in headers)) headers[name] = line.slice(colon + 1);
      }
      const bodyStart = headEnd.at + headEnd.length;
      let bodyEnd: number;
      if (headers['content-length'] !== undefined) {
        bodyEnd = bodyStart + Number(headers['content-length']);
        if (this.buffer.length < bodyEnd + 1) return;
        if (this.buffer[bodyEnd] !== 0) throw new Error(`frame ${command} lacks its NUL after content-length`);
      } else {
        bodyEnd = this.buffer.indexOf(0, bodyStart);
        if (bodyEnd === -1) return;
      }
      this.frames.push({
        command,
        headers,
        body: Buffer.from(this.buffer.subarray(bodyStart, bodyEnd)),
        binaryMessage: isBinary,
      });
      this.buffer = this.buffer.subarray(bodyEnd + 1);
    }
  }
}

function findHeadEnd(buf: Buffer): { at: number; length: number } | undefined {
  for (let i = 0; i < buf.length - 1; i++) {
    if (buf[i] !== 0x0a) continue;
    if (buf[i + 1] === 0x0a) return { at: i, length: 2 };
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return { at: i, length: 3 };
  }
  return undefined;
}

export class HandshakeRefused extends Error {
  constructor(readonly status: number) {
    super(`WebSocket handshake refused with HTTP ${status}`);
  }
}

/** Opens a WebSocket that must be refused; resolves with the HTTP status (0 if the socket was dropped). */
export async function expectRefused(url: string, options: RawOpenOptions = {}): Promise<number> {
  try {
    const client = await RawStompClient.open(url, options);
    await client.close();
  } catch (err) {
    if (err instanceof HandshakeRefused) return err.status;
    return 0;
  }
  throw new Error(`handshake with ${url} was accepted`);
}

/** Connects a raw client with CONNECT and returns it with its CONNECTED frame. */
export async function rawConnected(
  url: string,
  headers?: Record<string, string>,
  options: RawOpenOptions = {},
): Promise<{ raw: RawStompClient; connected: RawFrame }> {
  const raw = await RawStompClient.open(url, options);
  const connected = await raw.connect(headers);
  return { raw, connected };
}
