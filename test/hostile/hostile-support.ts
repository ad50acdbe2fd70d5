// Helpers of the hostile-input suite (issue 7): clean-log checks, a raw socket that records bytes
// exactly as the server sent them, a bystander's round trip, and a deterministic estimate of the
// state an object graph holds (for "memory is bounded and proportional" without heap numbers).
import { expect } from '@jest/globals';
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { RawStompClient, rawConnected, type RawFrame } from '../support/raw-client.js';
import type { StompModuleOptions } from '../../lib/index.js';
import { startStompApp, unique, type CapturingLogger, type RunningApp, type StartAppExtras } from '../support/stomp-app.js';
import { GUARD_MS } from '../support/stomp-client.js';

export const CONNECT_12 = { 'accept-version': '1.2', host: 'localhost' };

/** No client input may surface as an internal error: no such log line, no stack trace. */
export function expectNoInternalErrors(logs: CapturingLogger): void {
  const bad = logs.entries.filter((e) => /Internal server error/i.test(e.message) || /^\s+at /m.test(e.message));
  expect(bad.map((e) => `${e.level}: ${e.message.slice(0, 300)}`)).toEqual([]);
}

/** An ERROR frame whose message names the problem, never "Internal server error". */
export function expectErrorNaming(frame: RawFrame | undefined, pattern: RegExp): void {
  expect(frame?.command).toBe('ERROR');
  const message = frame?.headers['message'] ?? '';
  expect(message).not.toMatch(/Internal server error/i);
  expect(message).toMatch(pattern);
}

/**
 * Sends a frame with a receipt; resolves with its RECEIPT, or with the ERROR that answered it, or
 * undefined when the connection closed without either.
 */
export async function request(
  raw: RawStompClient,
  command: string,
  headers: Record<string, string>,
  body: string | Buffer = '',
): Promise<RawFrame | undefined> {
  const receipt = `r-${++receipts}`;
  raw.sendFrame(command, { ...headers, receipt }, body);
  try {
    return await raw.nextMatching(
      (f) => (f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt) || f.command === 'ERROR',
      `RECEIPT ${receipt} or an ERROR`,
    );
  } catch (err) {
    if (raw.closeInfo) return undefined;
    throw err;
  }
}
let receipts = 0;

/** A connected bystander with one subscription: `roundTrip()` publishes to it and waits for the MESSAGE. */
export class Bystander {
  private n = 0;
  private constructor(
    readonly raw: RawStompClient,
    readonly destination: string,
  ) {}

  static async connect(url: string, destination: string, headers: Record<string, string> = CONNECT_12): Promise<Bystander> {
    const { raw } = await rawConnected(url, headers);
    const sub = await request(raw, 'SUBSCRIBE', { id: 'bystander', destination });
    expect(sub?.command).toBe('RECEIPT');
    return new Bystander(raw, destination);
  }

  /** SEND to its own destination and wait for the MESSAGE (failure guard only). */
  async roundTrip(): Promise<void> {
    const body = `bystander-${++this.n}`;
    this.raw.sendFrame('SEND', { destination: this.destination }, body);
    const got = await this.raw.nextMatching(
      (f) => (f.command === 'MESSAGE' && f.body.toString() === body) || f.command === 'ERROR',
      `the bystander's ${body}`,
    );
    expect(got.command).toBe('MESSAGE');
    expect(this.raw.closeInfo).toBeUndefined();
  }
}

/** Starts a test app (as `startStompApp`) with a bystander subscribed to a topic of its own. */
export async function startWithBystander(
  options: StompModuleOptions = {},
  extra: StartAppExtras = {},
): Promise<{ running: RunningApp; bystander: Bystander }> {
  const running = await startStompApp(options, extra);
  const bystander = await Bystander.connect(running.url, `/topic/${unique('bystander')}`);
  return { running, bystander };
}

/** Ends what {@link startWithBystander} started. */
export async function stopWithBystander(running: RunningApp, bystander: Bystander): Promise<void> {
  await bystander.raw.close();
  await running.close();
}

/**
 * A plain `ws` client that keeps every WebSocket message as raw text and parses nothing: for
 * checking the exact header lines a (possibly tricked) subscriber receives without trusting any
 * STOMP parser with them.
 */
export class RecordingSocket {
  readonly messages: string[] = [];
  closed = false;
  private waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.messages.push(data.toString('latin1'));
      this.poke();
    });
    ws.on('close', () => {
      this.closed = true;
      this.poke();
    });
    ws.on('error', () => undefined);
  }

  static async connect(url: string, version: '1.0' | '1.1' | '1.2'): Promise<RecordingSocket> {
    const ws = new WebSocket(url, [`v${version.replace('.', '')}.stomp`]);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const socket = new RecordingSocket(ws);
    socket.send(`CONNECT\naccept-version:${version}\nhost:localhost\n\n\0`);
    await socket.waitFor((m) => m.startsWith('CONNECTED\n'), 'CONNECTED');
    return socket;
  }

  send(text: string): void {
    this.ws.send(Buffer.from(text, 'utf8'), { binary: false });
  }

  /** Resolves with the first message (from `from` on) that matches. */
  waitFor(predicate: (message: string) => boolean, what: string, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      let next = from;
      const check = () => {
        for (; next < this.messages.length; next++) {
          if (predicate(this.messages[next])) return done(() => resolve(this.messages[next]));
        }
        if (this.closed) done(() => reject(new Error(`closed while waiting for ${what}: ${JSON.stringify(this.messages)}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(this.messages)}`))),
        GUARD_MS,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.ws.terminate();
  }

  private poke(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** The header lines of a raw frame (command line excluded), exactly as received. */
export function headerLines(rawFrame: string): string[] {
  const end = rawFrame.indexOf('\n\n');
  return rawFrame.slice(0, end === -1 ? rawFrame.length : end).split('\n').slice(1);
}

/**
 * A deterministic estimate, in bytes, of what an object graph holds: every object reachable from
 * `root` (own properties, array elements, Map and Set entries) at a fixed price per object and per
 * slot, strings at their length, buffers at their byte length. It is not the heap size; it is
 * stable from run to run and grows with the number of objects the server keeps, which is what a
 * "bounded and proportional" check needs. `skip` cuts the walk at shared or foreign objects
 * (sockets, other sessions, providers).
 */
export function retainedEstimate(root: object, skip: (value: object) => boolean, maxObjects = 2_000_000): number {
  const OBJECT = 32;
  const SLOT = 8;
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  let bytes = 0;
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      bytes += value.length;
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (seen.has(value) || (value !== root && skip(value))) continue;
    if (seen.size >= maxObjects) throw new Error(`retainedEstimate: more than ${maxObjects} objects`);
    seen.add(value);
    bytes += OBJECT;
    if (ArrayBuffer.isView(value)) {
      bytes += value.byteLength;
      continue;
    }
    if (value instanceof ArrayBuffer) {
      bytes += value.byteLength;
      continue;
    }
    if (value instanceof Map) {
      for (const [k, v] of value) {
        bytes += 3 * SLOT;
        stack.push(k, v);
      }
    } else if (value instanceof Set) {
      for (const v of value) {
        bytes += 2 * SLOT;
        stack.push(v);
      }
    } else if (value instanceof RegExp) {
      bytes += value.source.length;
    }
    for (const key of Reflect.ownKeys(value)) {
      bytes += SLOT;
      if (typeof key === 'string') bytes += key.length;
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor && 'value' in descriptor) stack.push(descriptor.value);
    }
  }
  return bytes;
}

/** Skips sockets and other emitters, functions, and the given shared objects. */
export function skipShared(shared: Iterable<unknown>, foreign: (value: object) => boolean = () => false) {
  const set = new Set<unknown>(shared);
  return (value: object): boolean =>
    set.has(value) || value instanceof EventEmitter || typeof value === 'function' || foreign(value);
}

/** Waits (event turns, bounded) until the server side has read every byte this client wrote. */
export async function serverHasRead(client: WebSocket, serverSocket: { bytesRead: number } | undefined): Promise<void> {
  const clientSocket = (client as unknown as { _socket?: { bytesWritten: number } })._socket;
  for (let i = 0; i < 5000; i++) {
    if (clientSocket && serverSocket && client.bufferedAmount === 0 && serverSocket.bytesRead >= clientSocket.bytesWritten) {
      // One more turn: the bytes read are handed to `ws` and the session in the same tick.
      await new Promise((r) => setImmediate(r));
      return;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error('the server did not read what the client wrote');
}
