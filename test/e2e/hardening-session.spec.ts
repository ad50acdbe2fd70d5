// Issue 7, the protocol engine and the session: everything a client can make the server hold or
// compute is bounded, and every refusal is an ERROR that says what was wrong (with its receipt).
// Waits are on frames, heart-beats, log lines and closes; timeouts only guard against hangs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller } from '@nestjs/common';
import { Header, MessageMapping } from '../../lib/index.js';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import { frame, RawStompClient, rawConnected, unescapeValue } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { GUARD_MS } from '../support/stomp-client.js';

const CONNECT = { 'accept-version': '1.2', host: 'localhost' };

/** Polls `probe` every 10 ms until it returns a value; fails after the guard. */
async function eventually<T>(probe: () => T | undefined, what: string, timeoutMs = GUARD_MS): Promise<T> {
  for (let waited = 0; waited <= timeoutMs; waited += 10) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('heart-beat intervals a client asks for are bounded (broker.heartbeat.ceiling)', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({ broker: { kind: 'simple', heartbeat: { floor: 50, ceiling: 60_000 } } });
  });
  afterAll(() => running.close());

  /** A client that gets a heart-beat every 50 ms: the test's clock, counted in frames. */
  async function clock() {
    return rawConnected(running.url, { ...CONNECT, 'heart-beat': '0,50' });
  }

  it('answers a huge client-to-server interval with 0 and never times the client out', async () => {
    const { raw, connected } = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '1073741824,0' });
    expect(connected.headers['heart-beat']).toBe('0,0');
    const ticker = await clock();
    // Eight server heart-beats on the other connection: before the fix the ERROR came within 1 ms.
    await ticker.raw.waitForHeartbeats(8);
    raw.sendFrame('SEND', { destination: `/topic/${unique()}`, receipt: 'alive' }, 'x');
    expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe('alive');
    expect(raw.frames.map((f) => f.command)).toEqual(['CONNECTED', 'RECEIPT']);
    expect(raw.closeInfo).toBeUndefined();
    await raw.close();
    await ticker.raw.close();
  });

  it('answers a huge server-to-client interval with 0 and sends no heart-beats at all', async () => {
    const { raw, connected } = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '0,4294967296' });
    expect(connected.headers['heart-beat']).toBe('0,0');
    const ticker = await clock();
    await ticker.raw.waitForHeartbeats(8);
    // Before the fix: about 900 EOLs per second (Node turned the delay into 1 ms).
    expect(raw.heartbeats).toBe(0);
    expect(running.logs.at('warn', 'error').filter((l) => /Timeout/.test(l))).toEqual([]);
    await raw.close();
    await ticker.raw.close();
  });

  it('grants an interval at the ceiling and turns off the direction just above it', async () => {
    const { raw, connected } = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '60000,60001' });
    expect(connected.headers['heart-beat']).toBe('0,60000');
    await raw.close();
  });

  it('refuses a ceiling whose check timer Node cannot honour at start-up', () => {
    expect(() =>
      resolveStompOptions({ broker: { kind: 'simple', heartbeat: { ceiling: 2 ** 31 - 1, tolerance: 2 } } }),
    ).toThrow(/broker\.heartbeat\.ceiling × tolerance must not exceed 2147483647 ms/);
  });
});

describe('ERROR frames keep the receipt of a frame the decoder refused', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp();
  });
  afterAll(() => running.close());

  async function errorFor(bytes: Buffer): Promise<{ receiptId: string | undefined; message: string }> {
    const { raw } = await rawConnected(running.url, CONNECT);
    raw.send(bytes);
    const error = await raw.expect('ERROR');
    await raw.waitClosed();
    return { receiptId: error.headers['receipt-id'], message: unescapeValue(error.headers['message']) };
  }

  it('a body that runs past its content-length', async () => {
    const bytes = Buffer.from('SEND\ndestination:/topic/a\nreceipt:r-a\ncontent-length:2\n\nabcdef\0');
    expect(await errorFor(bytes)).toEqual({
      receiptId: 'r-a',
      message: 'Frame body is not followed by a NULL octet after content-length 2 bytes',
    });
  });

  it('a SUBSCRIBE with a body', async () => {
    const bytes = frame('SUBSCRIBE', { id: '0', destination: '/topic/a', receipt: 'r-b' }, 'body');
    expect(await errorFor(bytes)).toEqual({ receiptId: 'r-b', message: 'SUBSCRIBE frames must not have a body' });
  });

  it('an undefined escape on a header line before the receipt header', async () => {
    const bytes = frame('SEND', { destination: '/topic/a', x: 'a\\tb', receipt: 'r-c' }, 'hi');
    expect(await errorFor(bytes)).toEqual({
      receiptId: 'r-c',
      message: 'Undefined escape sequence \\t in a header (STOMP 1.2)',
    });
  });
});

@Controller()
class FloodController {
  flooded = 0;
  /** How many flood frames had been handled when each probe was. */
  readonly probes: number[] = [];

  @MessageMapping('/flood')
  flood(): void {
    this.flooded++;
  }

  @MessageMapping('/probe')
  probe(@Header('n') n: string): void {
    this.probes[Number(n)] = this.flooded;
  }
}

describe('one client cannot stall the others (limits.inboundFramesPerTurn, inboundHighWaterMark)', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({}, { controllers: [FloodController] });
  });
  afterAll(() => running.close());

  it("handles another client's frames while one WebSocket message of 20,000 pipelined SENDs is worked through", async () => {
    const flood = running.app.get(FloodController);
    const count = 20_000;
    const { raw: victim } = await rawConnected(running.url, CONNECT);
    const { raw: attacker } = await rawConnected(running.url, CONNECT);
    const one = frame('SEND', { destination: '/app/flood' });
    const last = frame('SEND', { destination: '/app/flood', receipt: 'flood-done' });
    attacker.send(Buffer.concat([...Array<Buffer>(count - 1).fill(one), last]));
    // Once the server has started on the attacker's message, the victim does three round trips.
    await eventually(() => (flood.flooded > 0 ? true : undefined), 'the flood to start');
    for (let n = 0; n < 3; n++) {
      victim.sendFrame('SEND', { destination: '/app/probe', n: String(n), receipt: `probe-${n}` });
      expect((await victim.expect('RECEIPT')).headers['receipt-id']).toBe(`probe-${n}`);
    }
    // Each probe was handled while the attacker's frames were still being handled.
    expect(flood.probes).toHaveLength(3);
    for (const seen of flood.probes) expect(seen).toBeLessThan(count);
    // And the attacker's frames are all handled, in order, its receipt last.
    expect((await attacker.expect('RECEIPT', 4 * GUARD_MS)).headers['receipt-id']).toBe('flood-done');
    expect(flood.flooded).toBe(count);
    await victim.close();
    await attacker.close();
  }, 30_000);

  it('assembles a body sent as one WebSocket message per byte', async () => {
    const dest = `/topic/${unique()}`;
    const { raw: subscriber } = await rawConnected(running.url, CONNECT);
    subscriber.sendFrame('SUBSCRIBE', { id: 's', destination: dest, receipt: 'sub' });
    await subscriber.expect('RECEIPT');
    const { raw: sender } = await rawConnected(running.url, CONNECT);
    sender.send(Buffer.from(`SEND\ndestination:${dest}\n\n`));
    const body = Buffer.alloc(20_000, 'q');
    for (let i = 0; i < body.length; i++) sender.send(body.subarray(i, i + 1));
    sender.send(Buffer.from([0]));
    const message = await subscriber.expect('MESSAGE');
    expect(message.body.equals(body)).toBe(true);
    await sender.close();
    await subscriber.close();
  });
});

describe('names written into frames that are never escaped', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({
      authenticate: ({ login }) => ({ user: login === 'eve' ? 'eve\nuser-name:admin' : login }),
    });
  });
  afterAll(() => running.close());

  it('refuses a user name with a line break from authenticate: ERROR, close 1008, no CONNECTED', async () => {
    const raw = await RawStompClient.open(running.url);
    raw.sendFrame('CONNECT', { ...CONNECT, login: 'eve' });
    const error = await raw.expect('ERROR');
    expect(error.headers['message']).toBe(
      'The user name given by authentication contains CR, LF or NUL and cannot be sent in CONNECTED',
    );
    expect((await raw.waitClosed()).code).toBe(1008);
    expect(raw.frames.map((f) => f.command)).toEqual(['ERROR']);
    expect(running.logs.expect('warn', 'cannot be sent in CONNECTED')).toHaveLength(1);
  });

  it('still accepts an ordinary user name', async () => {
    const { raw, connected } = await rawConnected(running.url, { ...CONNECT, login: 'ada' });
    expect(connected.headers['user-name']).toBe('ada');
    await raw.close();
  });

  it('refuses a serverName with a line break at start-up', () => {
    expect(() => resolveStompOptions({ serverName: 'srv\nuser-name:admin' })).toThrow(
      /serverName must be a string without CR, LF or NUL/,
    );
  });
});

describe('header names a STOMP 1.0 subscriber could not read back', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp();
  });
  afterAll(() => running.close());

  it('refuses content-length\\c1 from a 1.2 sender with an ERROR naming it; the 1.0 subscriber gets nothing', async () => {
    const dest = `/topic/${unique()}`;
    const { raw: old } = await rawConnected(running.url, { host: 'localhost' });
    expect(old.frames[0].headers['version']).toBe('1.0');
    old.sendFrame('SUBSCRIBE', { id: 's', destination: dest, receipt: 'sub' });
    await old.expect('RECEIPT');
    const { raw: sender } = await rawConnected(running.url, CONNECT);
    sender.sendFrame('SEND', { destination: dest, 'content-length\\c1': 'x', receipt: 'r' }, 'SEND\n\nforged\0');
    const error = await sender.expect('ERROR');
    expect(error.headers['receipt-id']).toBe('r');
    expect(unescapeValue(error.headers['message'])).toContain('Header name "content-length:1"');
    await sender.waitClosed();
    // The next message on the destination is the first the 1.0 subscriber sees.
    const { raw: honest } = await rawConnected(running.url, CONNECT);
    honest.sendFrame('SEND', { destination: dest, receipt: 'h' }, 'honest');
    await honest.expect('RECEIPT');
    const message = await old.expect('MESSAGE');
    expect(message.body.toString()).toBe('honest');
    await honest.close();
    await old.close();
  });
});

describe('connectTimeout holds while authenticate runs', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({
      limits: { connectTimeout: 200 },
      authenticate: () => new Promise(() => undefined),
    });
  });
  afterAll(() => running.close());

  it('closes a connection whose authenticate never settles, with an ERROR saying so', async () => {
    const raw = await RawStompClient.open(running.url);
    raw.sendFrame('CONNECT', CONNECT);
    const error = await raw.expect('ERROR');
    expect(unescapeValue(error.headers['message'])).toBe(
      'CONNECT not completed within 200 ms: authentication did not answer in time',
    );
    expect((await raw.waitClosed()).code).toBe(1002);
    expect(raw.frames.map((f) => f.command)).toEqual(['ERROR']);
  });
});

describe('slow consumers see the close (limits.closeTimeout)', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({ limits: { sendBufferSizeLimit: 64 * 1024, closeTimeout: 300 } });
  });
  afterAll(() => running.close());

  /** A subscriber that stops reading its TCP socket, and a publisher that fills it up. */
  async function stalledSubscriber() {
    const dest = `/topic/${unique()}`;
    const { raw: slow } = await rawConnected(running.url, CONNECT);
    slow.sendFrame('SUBSCRIBE', { id: 's', destination: dest, receipt: 'sub' });
    await slow.expect('RECEIPT');
    const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const { raw: publisher } = await rawConnected(running.url, CONNECT);
    const warningsBefore = running.logs.at('warn').filter((w) => /slow consumer/.test(w)).length;
    const chunk = 'w'.repeat(64 * 1024);
    // Far more than loopback kernel buffers swallow; stop as soon as the server gives up on it.
    for (let i = 0; i < 400; i++) {
      publisher.sendFrame('SEND', { destination: dest, receipt: `p${i}` }, chunk);
      await publisher.expect('RECEIPT');
      if (running.logs.at('warn').filter((w) => /slow consumer/.test(w)).length > warningsBefore) break;
    }
    expect(running.logs.at('warn').filter((w) => /slow consumer/.test(w)).length).toBe(warningsBefore + 1);
    await publisher.close();
    return { slow, socket };
  }

  it('a stalled client that reads again in time gets everything queued, then close code 1008', async () => {
    const { slow, socket } = await stalledSubscriber();
    socket.resume();
    const closed = await slow.waitClosed(2 * GUARD_MS);
    expect(closed).toEqual({ code: 1008, reason: 'Send buffer limit exceeded' });
    expect(slow.frames.filter((f) => f.command === 'MESSAGE').length).toBeGreaterThan(0);
  });

  it('a client that never reads again is dropped after closeTimeout (and sees 1006)', async () => {
    // Only a drop logged from here on is this connection's (the test before may have logged one
    // when a busy machine let its closeTimeout run out first).
    const dropped = (): number => running.logs.at('debug').filter((l) => /close handshake not completed within 300 ms/.test(l)).length;
    const droppedBefore = dropped();
    const { slow, socket } = await stalledSubscriber();
    await eventually(() => (dropped() > droppedBefore ? true : undefined), 'the server to drop the connection');
    socket.resume();
    expect((await slow.waitClosed(2 * GUARD_MS)).code).toBe(1006);
  });
});
