/**
 * Issue 7, item 7 and the simple broker's memory bounds, end to end: each bound is an option,
 * and breaking it earns an ERROR that names the option, after which only that connection closes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MESSAGE_BROKER, SimpleBroker } from '../../lib/index.js';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import { RawStompClient, rawConnected, unescapeValue } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, sendConfirmed, subscribeConfirmed } from '../support/stomp-client.js';

async function errorFor(raw: RawStompClient, command: string, headers: Record<string, string>, body = ''): Promise<string> {
  raw.sendFrame(command, headers, body);
  const error = await raw.expect('ERROR');
  await raw.waitClosed();
  return unescapeValue(error.headers['message']);
}

const path = (base: string, segments: string[]) => `${base}/${segments.join('/')}`;

/** A fresh queue name of exactly 47 characters, so the messages sent to it have a known size. */
const fixedQueue = (name: string) => `/queue/${unique(name).padEnd(40, '_').slice(0, 40)}`;

/**
 * What the broker's byte bounds count a message sent by @stomp/stompjs as: its body, its
 * destination and its kept headers (none here: content-length and receipt are not kept), plus
 * the fixed 256-byte overhead. Spelled out rather than imported, so a change to the rule fails here.
 */
const counted = (destination: string, body: string) => 256 + destination.length + body.length;

describe('simple broker bounds (defaults)', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({});
  });
  afterAll(() => running.close());

  it('matches deep destinations against /topic/**/**/**/**/x and refuses a 300-segment SEND naming broker.maxDestinationSegments', async () => {
    const base = `/topic/${unique('deep')}`;
    const sub = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(sub.client, `${base}/**/**/**/**/x`, inbox);
    const within = path(base, [...Array.from({ length: 58 }, () => 'a'), 'x']); // 62 segments
    await sendConfirmed(sub.client, within, 'deep hit');
    await sendConfirmed(sub.client, path(base, Array.from({ length: 59 }, () => 'a')), 'deep miss');
    await sendConfirmed(sub.client, `${base}/end/x`, 'end');
    await inbox.waitForBody('end');
    expect(inbox.bodies()).toEqual(['deep hit', 'end']);

    const { raw } = await rawConnected(running.url);
    const message = await errorFor(raw, 'SEND', { destination: path(base, Array.from({ length: 298 }, () => 'a')) }, 'x');
    expect(message).toBe('SEND destination has more than 64 segments (broker.maxDestinationSegments)');
    // The others go on.
    await sendConfirmed(sub.client, `${base}/after/x`, 'after');
    await inbox.waitForBody('after');
    await sub.disconnect();
  });

  it('refuses a pattern with more wildcards than broker.maxPatternWildcards', async () => {
    const { raw } = await rawConnected(running.url);
    const message = await errorFor(raw, 'SUBSCRIBE', { id: 's', destination: path('/topic', Array.from({ length: 9 }, (_, i) => (i % 2 ? '**' : '*'))) });
    expect(message).toBe('SUBSCRIBE pattern has 9 wildcard segments, more than broker.maxPatternWildcards (8)');
  });

  it('refuses an 8 KiB pattern of # segments naming broker.maxDestinationLength', async () => {
    const { raw } = await rawConnected(running.url);
    const destination = path('/topic', Array.from({ length: 4080 }, () => '#'));
    const message = await errorFor(raw, 'SUBSCRIBE', { id: 's', destination });
    expect(message).toBe(`SUBSCRIBE destination of ${destination.length} characters exceeds broker.maxDestinationLength (1024)`);
  });

  it('refuses a SEND to a destination longer than broker.maxDestinationLength', async () => {
    const { raw } = await rawConnected(running.url);
    const destination = `/queue/${'q'.repeat(1100)}`;
    const message = await errorFor(raw, 'SEND', { destination }, 'x');
    expect(message).toBe(`SEND destination of ${destination.length} characters exceeds broker.maxDestinationLength (1024)`);
  });
});

describe('simple broker bounds (configured)', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({
      broker: { kind: 'simple', maxQueues: 3, maxUnackedMessages: 3, maxHeldBytes: 1200, maxDestinationLength: 64, maxDestinationSegments: 5, maxPatternWildcards: 1 },
    });
  });
  afterAll(() => running.close());

  it('applies configured destination, depth and wildcard bounds', async () => {
    let { raw } = await rawConnected(running.url);
    expect(await errorFor(raw, 'SUBSCRIBE', { id: 's', destination: '/topic/*/*' })).toBe(
      'SUBSCRIBE pattern has 2 wildcard segments, more than broker.maxPatternWildcards (1)',
    );
    ({ raw } = await rawConnected(running.url));
    expect(await errorFor(raw, 'SEND', { destination: '/topic/a/b/c/d/e' })).toBe(
      'SEND destination has more than 5 segments (broker.maxDestinationSegments)',
    );
    ({ raw } = await rawConnected(running.url));
    expect(await errorFor(raw, 'SUBSCRIBE', { id: 's', destination: `/topic/${'t'.repeat(60)}` })).toBe(
      'SUBSCRIBE destination of 67 characters exceeds broker.maxDestinationLength (64)',
    );
  });

  it('at broker.maxQueues a new queue drops the oldest held message to make room, and is never refused', async () => {
    const names = [1, 2, 3].map(() => `/queue/${unique('q')}`);
    const pub = await connectClient(running.url);
    for (const name of names) await sendConfirmed(pub.client, name, `held on ${name}`);
    // Another client's new queue: accepted (RECEIPT), as another session's /user/queue/errors is.
    const fresh = `/queue/${unique('q')}`;
    await sendConfirmed(pub.client, fresh, 'fresh');
    expect(running.logs.expect('warn', 'The broker holds broker.maxQueues (3) queues; dropping the oldest held messages to free one (1 dropped)')).toHaveLength(1);
    // The others still hold what was sent to them (drained, so later tests have room).
    for (const name of [...names.slice(1), fresh]) {
      const drain = await connectClient(running.url);
      const box = new Inbox();
      await subscribeConfirmed(drain.client, name, box);
      expect((await box.waitFor(1)).map((m) => m.body)).toEqual([name === fresh ? 'fresh' : `held on ${name}`]);
      await drain.disconnect();
    }
    // The oldest held message went: a subscriber of its queue gets only what comes after.
    const sub = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(sub.client, names[0], inbox);
    await sendConfirmed(pub.client, names[0], 'after');
    expect((await inbox.waitFor(1)).map((m) => m.body)).toEqual(['after']);
    await sub.disconnect();
    await pub.disconnect();
  });

  it('ends a session that leaves more than broker.maxUnackedMessages unacknowledged, and requeues what it held', async () => {
    const dest = `/queue/${unique('unacked')}`;
    const { raw: greedy } = await rawConnected(running.url);
    greedy.sendFrame('SUBSCRIBE', { id: 'g', destination: dest, ack: 'client-individual', receipt: 's' });
    await greedy.expect('RECEIPT');
    const pub = await connectClient(running.url);
    for (const n of [1, 2, 3, 4]) await sendConfirmed(pub.client, dest, `m${n}`);
    const error = await greedy.nextMatching((f) => f.command === 'ERROR', 'ERROR');
    expect(unescapeValue(error.headers['message'])).toBe(
      'Session holds more than 3 unacknowledged messages (broker.maxUnackedMessages); ACK or NACK them sooner',
    );
    await greedy.waitClosed();
    expect(greedy.frames.filter((f) => f.command === 'MESSAGE').map((f) => f.body.toString())).toEqual(['m1', 'm2', 'm3', 'm4']);
    // What it held goes to the next consumer, marked redelivered (it may need a moment to be released).
    const next = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(next.client, dest, inbox);
    const got = await inbox.waitFor(4);
    expect(got.map((m) => m.body)).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(got.every((m) => m.headers['redelivered'] === 'true')).toBe(true);
    await next.disconnect();
    await pub.disconnect();
  });

  it('makes room under broker.maxHeldBytes by dropping the oldest held message, refusing only one larger than the bound', async () => {
    const broker = running.app.get<typeof MESSAGE_BROKER, SimpleBroker>(MESSAGE_BROKER);
    const first = fixedQueue('bytes');
    const pub = await connectClient(running.url);
    await sendConfirmed(pub.client, first, 'h'.repeat(600));
    expect(broker.stats()).toMatchObject({ heldMessages: 1, heldBytes: counted(first, 'h'.repeat(600)) }); // 903
    // Another client's SEND to a fresh queue is held: the oldest held message (on `first`) makes room.
    const other = await connectClient(running.url);
    const second = fixedQueue('bytes');
    await sendConfirmed(other.client, second, 'x'.repeat(100));
    expect(broker.stats()).toMatchObject({ heldMessages: 1, heldBytes: counted(second, 'x'.repeat(100)) }); // 403
    expect(running.logs.expect('warn', 'Queues hold broker.maxHeldBytes (1200 bytes) for absent subscribers; dropping the oldest held messages to make room (1 from ' + first + ')')).toHaveLength(1);
    const { raw } = await rawConnected(running.url);
    // 256 + 47 + 898 = 1201 bytes: one over the bound.
    expect(await errorFor(raw, 'SEND', { destination: fixedQueue('bytes') }, 'x'.repeat(898))).toBe(
      "A message of 1201 bytes for absent subscribers is larger than broker.maxHeldBytes (1200), all queues' room together",
    );
    // A queue with a subscriber delivers at once, whatever the others hold.
    const sub = await connectClient(running.url);
    const live = `/queue/${unique('live')}`;
    const inbox = new Inbox();
    await subscribeConfirmed(sub.client, live, inbox);
    await sendConfirmed(pub.client, live, 'y'.repeat(1800));
    expect((await inbox.waitFor(1))[0].body).toBe('y'.repeat(1800));
    // Draining the held message frees its bytes; `first` lost its message and is gone.
    const drained = new Inbox();
    await subscribeConfirmed(sub.client, second, drained);
    expect((await drained.waitFor(1)).map((m) => m.body)).toEqual(['x'.repeat(100)]);
    expect(broker.stats()).toMatchObject({ heldMessages: 0, heldBytes: 0 });
    await sub.disconnect();
    await other.disconnect();
    await pub.disconnect();
  });
});

/** Waits (bounded) until `done` holds for the broker's stats. */
async function statsWhen(broker: SimpleBroker, done: (s: ReturnType<SimpleBroker['stats']>) => boolean) {
  let stats = broker.stats();
  for (let i = 0; i < 200 && !done(stats); i++) {
    await new Promise((r) => setTimeout(r, 10));
    stats = broker.stats();
  }
  return stats;
}

// j_requeue.mjs: a client-individual subscriber took 150 × 3 MiB without acking and left; all of
// it went back to the queue past maxHeldBytes, and other clients' SENDs were then refused.
describe('simple broker bounds through requeue (issue 7)', () => {
  let running: RunningApp;
  let broker: SimpleBroker;
  const body = (n: number) => `m${String(n).padStart(2, '0')}`.padEnd(100, '.');
  // Every message below counts 256 + 47 (destination) + 100 (body) = 403 bytes.
  const SIZE = 403;
  beforeAll(async () => {
    running = await startStompApp({ broker: { kind: 'simple', maxHeldBytes: 10 * SIZE, maxUnackedBytes: 25 * SIZE } });
    broker = running.app.get<typeof MESSAGE_BROKER, SimpleBroker>(MESSAGE_BROKER);
  });
  afterAll(() => running.close());

  it('requeued messages count against broker.maxHeldBytes exactly, and another client can still queue', async () => {
    const dest = fixedQueue('requeue');
    const { raw: hoarder } = await rawConnected(running.url);
    hoarder.sendFrame('SUBSCRIBE', { id: 'h', destination: dest, ack: 'client-individual', receipt: 's' });
    await hoarder.expect('RECEIPT');
    const pub = await connectClient(running.url);
    for (let n = 0; n < 24; n++) await sendConfirmed(pub.client, dest, body(n));
    await hoarder.nextMatching((f) => f.command === 'MESSAGE' && f.body.toString() === body(23), 'the last MESSAGE');
    await hoarder.close();
    // 24 messages come back; the ten that fit are the newest.
    let stats = await statsWhen(broker, (s) => s.heldBytes > 0);
    expect(stats).toMatchObject({ heldMessages: 10, heldBytes: 10 * SIZE });
    expect(running.logs.expect('warn', `Queues hold broker.maxHeldBytes (${10 * SIZE} bytes)`)).toHaveLength(1);
    // Another client's SEND to a fresh queue is accepted; the message held longest makes room.
    const other = await connectClient(running.url);
    const fresh = fixedQueue('fresh');
    await sendConfirmed(other.client, fresh, 'f'.repeat(100));
    stats = broker.stats();
    expect(stats).toMatchObject({ heldMessages: 10, heldBytes: 10 * SIZE });
    // The counter is what is really held: draining both queues hands over exactly those bytes.
    const inbox = new Inbox();
    const freshInbox = new Inbox();
    await subscribeConfirmed(other.client, dest, inbox);
    await subscribeConfirmed(other.client, fresh, freshInbox);
    const got = await inbox.waitFor(9);
    expect(got.map((m) => m.body)).toEqual([15, 16, 17, 18, 19, 20, 21, 22, 23].map(body));
    expect(got.every((m) => m.headers['redelivered'] === 'true')).toBe(true);
    const freshGot = await freshInbox.waitFor(1);
    const drainedBytes = [...got.map((m) => counted(dest, m.body)), ...freshGot.map((m) => counted(fresh, m.body))].reduce((a, b) => a + b, 0);
    expect(drainedBytes).toBe(stats.heldBytes);
    expect(broker.stats()).toMatchObject({ heldMessages: 0, heldBytes: 0 });
    await other.disconnect();
    await pub.disconnect();
  });

  it('ends a session holding more than broker.maxUnackedBytes unacknowledged, and requeues what it held', async () => {
    const dest = fixedQueue('unacked-bytes');
    const { raw: greedy } = await rawConnected(running.url);
    greedy.sendFrame('SUBSCRIBE', { id: 'g', destination: dest, ack: 'client-individual', receipt: 's' });
    await greedy.expect('RECEIPT');
    const pub = await connectClient(running.url);
    for (let n = 0; n < 26; n++) await sendConfirmed(pub.client, dest, body(n));
    const error = await greedy.nextMatching((f) => f.command === 'ERROR', 'ERROR');
    expect(unescapeValue(error.headers['message'])).toBe(
      `Session holds more than ${25 * SIZE} bytes of unacknowledged messages (broker.maxUnackedBytes); ACK or NACK them sooner`,
    );
    await greedy.waitClosed();
    // The 26th delivery passed the bound; nothing after it.
    expect(greedy.frames.filter((f) => f.command === 'MESSAGE')).toHaveLength(26);
    // Its 26 messages went back to the queue, where broker.maxHeldBytes keeps the newest ten.
    const stats = await statsWhen(broker, (s) => s.heldBytes > 0);
    expect(stats).toMatchObject({ heldMessages: 10, heldBytes: 10 * SIZE });
    const next = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(next.client, dest, inbox);
    expect((await inbox.waitFor(10)).map((m) => m.body)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25].map(body));
    expect(broker.stats().heldBytes).toBe(0);
    await next.disconnect();
    await pub.disconnect();
  });

  // a_hdrheld.mjs: empty-body SENDs under 97 headers of 8000 characters counted 0 held bytes each;
  // 1300 of them (~1 GB) to queues nobody read ran the server out of heap.
  it('counts the headers of a held message with an empty body, and drops the oldest beyond broker.maxHeldBytes', async () => {
    const dest = fixedQueue('headers');
    const headers: Record<string, string> = {};
    for (let i = 0; i < 3; i++) headers[`x-h${i}`] = String(i).padEnd(1000, 'h');
    // 256 overhead + 47 destination + 3 × (4 name + 1000 value) bytes, and no body.
    const size = 256 + 47 + 3 * 1004;
    const { raw } = await rawConnected(running.url);
    raw.sendFrame('SEND', { destination: dest, ...headers, receipt: 'r1' });
    await raw.nextMatching((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === 'r1', 'RECEIPT r1');
    expect(broker.stats()).toMatchObject({ heldMessages: 1, heldBytes: size });
    // A second one passes 10 × 403 = 4030 bytes: the first is dropped to make room.
    raw.sendFrame('SEND', { destination: dest, ...headers, 'x-second': 'yes', receipt: 'r2' });
    await raw.nextMatching((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === 'r2', 'RECEIPT r2');
    expect(broker.stats()).toMatchObject({ heldMessages: 1, heldBytes: size + 'x-second'.length + 'yes'.length });
    expect(running.logs.expect('warn', `Queues hold broker.maxHeldBytes (${10 * SIZE} bytes)`).length).toBeGreaterThanOrEqual(1);
    raw.sendFrame('SUBSCRIBE', { id: 's', destination: dest });
    const m = await raw.expect('MESSAGE');
    expect(m.headers['x-second']).toBe('yes');
    expect(m.headers['x-h2']).toBe(headers['x-h2']);
    expect(m.body.length).toBe(0);
    expect(broker.stats()).toMatchObject({ heldMessages: 0, heldBytes: 0 });
    await raw.close();
  });

  it('frees a session\'s unacknowledged bytes as it acknowledges them', async () => {
    const dest = fixedQueue('acking');
    const { raw: client } = await rawConnected(running.url);
    client.sendFrame('SUBSCRIBE', { id: 'c', destination: dest, ack: 'client-individual', receipt: 's' });
    await client.expect('RECEIPT');
    const pub = await connectClient(running.url);
    // 60 × 100 bytes, over twice the bound, each acknowledged as it arrives.
    for (let n = 0; n < 60; n++) {
      await sendConfirmed(pub.client, dest, body(n));
      const m = await client.nextMatching((f) => f.command === 'MESSAGE' && f.body.toString() === body(n), `MESSAGE ${n}`);
      client.sendFrame('ACK', { id: m.headers['ack'] });
    }
    client.sendFrame('DISCONNECT', { receipt: 'bye' });
    await client.nextMatching((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === 'bye', 'RECEIPT bye');
    expect(client.frames.some((f) => f.command === 'ERROR')).toBe(false);
    await client.close();
    await pub.disconnect();
  });
});

describe('broker bound options', () => {
  it('have the documented defaults', () => {
    const { broker } = resolveStompOptions({});
    expect(broker).toMatchObject({
      maxDestinationLength: 1024,
      maxDestinationSegments: 64,
      maxPatternWildcards: 8,
      maxQueues: 10_000,
      maxUnackedMessages: 1000,
      maxHeldBytes: 64 * 1024 * 1024,
      maxUnackedBytes: 32 * 1024 * 1024,
    });
  });

  it('must be positive integers, each problem named at start-up', () => {
    const names = ['maxDestinationLength', 'maxDestinationSegments', 'maxPatternWildcards', 'maxQueues', 'maxUnackedMessages', 'maxHeldBytes', 'maxUnackedBytes'] as const;
    const broker = Object.fromEntries(names.map((n) => [n, 0]));
    expect(() => resolveStompOptions({ broker: { kind: 'simple', ...broker } })).toThrow(
      new RegExp(names.map((n) => `broker\\.${n} must be a positive integer, got 0`).join('[\\s\\S]*')),
    );
  });
});
