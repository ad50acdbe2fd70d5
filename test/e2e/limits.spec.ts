// Every limit violation and malformed frame: an ERROR whose message names the problem, then that
// connection closes, while another client of the same app keeps receiving messages.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { frame, RawStompClient, rawConnected as rawConnectedFor, unescapeValue } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import {
  connectClient,
  Inbox,
  sendConfirmed,
  subscribeConfirmed,
  type TestClient,
} from '../support/stomp-client.js';

const LIMITS = {
  maxFrameSize: 16 * 1024,
  maxBodyLength: 12 * 1024,
  maxHeaders: 20,
  maxHeaderLineLength: 1024,
  maxSubscriptionsPerSession: 3,
  maxTransactionFrames: 3,
  maxTransactionsPerSession: 3,
  maxTransactionBytes: 8192,
};

const CONNECT_12 = { 'accept-version': '1.2', host: 'localhost' };

interface Violation {
  name: string;
  /** Sent after CONNECTED (or instead of CONNECT when `connect` is false). Several entries = several WebSocket messages. */
  bytes: () => Array<string | Buffer>;
  message: RegExp;
  closeCode: number;
  connect?: Record<string, string> | false;
}

const manyHeaders = (n: number, size = 8) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, 'v'.repeat(size)]));

const violations: Violation[] = [
  {
    name: 'body over maxBodyLength, declared by content-length',
    bytes: () => [frame('SEND', { destination: '/topic/x', 'content-length': '13000' }, 'x'.repeat(13000))],
    message: /^Frame body of 13000 bytes exceeds the limit of 12288 bytes \(limits\.maxBodyLength\)$/,
    closeCode: 1009,
  },
  {
    name: 'body over maxBodyLength, NUL-terminated',
    bytes: () => [frame('SEND', { destination: '/topic/x' }, 'x'.repeat(13000))],
    message: /^Frame body exceeds the limit of 12288 bytes \(limits\.maxBodyLength\)$/,
    closeCode: 1009,
  },
  {
    name: 'body over maxBodyLength, streamed in chunks and never finished',
    bytes: () => {
      const head = Buffer.from('SEND\ndestination:/topic/x\n\n');
      const chunks: Array<string | Buffer> = [head];
      for (let i = 0; i < 14; i++) chunks.push('y'.repeat(1000));
      return chunks;
    },
    message: /^Frame body exceeds the limit of 12288 bytes \(limits\.maxBodyLength\)$/,
    closeCode: 1009,
  },
  {
    name: 'frame over maxFrameSize (headers plus body)',
    bytes: () => [frame('SEND', { destination: '/topic/x', ...manyHeaders(10, 900) }, 'z'.repeat(8000))],
    message: /^Frame exceeds the limit of 16384 bytes \(limits\.maxFrameSize\)$/,
    closeCode: 1009,
  },
  {
    name: 'more headers than maxHeaders',
    bytes: () => [frame('SEND', { destination: '/topic/x', ...manyHeaders(20) }, 'x')],
    message: /^Frame has more than the limit of 20 headers \(limits\.maxHeaders\)$/,
    closeCode: 1009,
  },
  {
    name: 'header line over maxHeaderLineLength',
    bytes: () => [frame('SEND', { destination: '/topic/x', long: 'l'.repeat(1100) }, 'x')],
    message: /^Header line exceeds the limit of 1024 bytes \(limits\.maxHeaderLineLength\)$/,
    closeCode: 1009,
  },
  {
    name: 'command line over maxHeaderLineLength',
    bytes: () => [frame('S'.repeat(1100))],
    message: /^Command line exceeds the limit of 1024 bytes \(limits\.maxHeaderLineLength\)$/,
    closeCode: 1009,
  },
  {
    name: 'non-numeric content-length',
    bytes: () => [frame('SEND', { destination: '/topic/x', 'content-length': 'abc' }, 'abc')],
    message: /^Invalid content-length header: "abc"$/,
    closeCode: 1002,
  },
  {
    name: 'negative content-length',
    bytes: () => [frame('SEND', { destination: '/topic/x', 'content-length': '-1' }, '')],
    message: /^Invalid content-length header: "-1"$/,
    closeCode: 1002,
  },
  {
    name: 'content-length shorter than the body (no NUL where it should be)',
    bytes: () => [frame('SEND', { destination: '/topic/x', 'content-length': '2' }, 'hello')],
    message: /^Frame body is not followed by a NULL octet after content-length 2 bytes$/,
    closeCode: 1002,
  },
  {
    name: 'undefined escape sequence \\t in a header',
    bytes: () => [frame('SEND', { destination: '/topic/x', 'x-bad': 'a\\tb' }, 'x')],
    message: /^Undefined escape sequence \\t in a header \(STOMP 1\.2\)$/,
    closeCode: 1002,
  },
  {
    name: 'escape \\r in a STOMP 1.1 session (defined only in 1.2)',
    connect: { 'accept-version': '1.1', host: 'localhost' },
    bytes: () => [frame('SEND', { destination: '/topic/x', 'x-bad': 'a\\rb' }, 'x')],
    message: /^Undefined escape sequence \\r in a header \(STOMP 1\.1\)$/,
    closeCode: 1002,
  },
  {
    name: 'unknown command',
    bytes: () => [frame('PUBLISH', { destination: '/topic/x' })],
    message: /^Unknown command "PUBLISH"$/,
    closeCode: 1002,
  },
  {
    name: 'lower-case command (commands are case-sensitive)',
    bytes: () => [frame('send', { destination: '/topic/x' })],
    message: /^Unknown command "send"$/,
    closeCode: 1002,
  },
  {
    name: 'unknown command with a body',
    bytes: () => [frame('PUBLISH', { destination: '/topic/x' }, 'x')],
    message: /^Unknown command "PUBLISH"$/,
    closeCode: 1002,
  },
  {
    name: 'body on SUBSCRIBE',
    bytes: () => [frame('SUBSCRIBE', { id: '1', destination: '/topic/x' }, 'not allowed')],
    message: /^SUBSCRIBE frames must not have a body$/,
    closeCode: 1002,
  },
  {
    name: 'header line without a colon',
    bytes: () => [Buffer.from('SEND\ndestination:/topic/x\nno-colon-here\n\nx\0')],
    message: /^Header line without a colon$/,
    closeCode: 1002,
  },
  {
    name: 'header with an empty name',
    bytes: () => [Buffer.from('SEND\ndestination:/topic/x\n:value\n\nx\0')],
    message: /^Header with an empty name$/,
    closeCode: 1002,
  },
  {
    name: 'invalid UTF-8 in a header',
    bytes: () => [
      Buffer.concat([Buffer.from('SEND\ndestination:/topic/x\nx-bin:'), Buffer.from([0xc3, 0x28]), Buffer.from('\n\nx\0')]),
    ],
    message: /^The header is not valid UTF-8$/,
    closeCode: 1002,
  },
  {
    name: 'a frame before CONNECT',
    connect: false,
    bytes: () => [frame('SEND', { destination: '/topic/x' }, 'too early')],
    message: /^Expected a CONNECT or STOMP frame, got SEND$/,
    closeCode: 1002,
  },
  {
    name: 'an unknown command before CONNECT',
    connect: false,
    bytes: () => [frame('HELLO')],
    message: /^Unknown command "HELLO"$/,
    closeCode: 1002,
  },
  {
    name: 'more subscriptions than maxSubscriptionsPerSession',
    bytes: () => [0, 1, 2, 3].map((i) => frame('SUBSCRIBE', { id: `s${i}`, destination: `/topic/many-${i}` })),
    message: /^Session exceeds the limit of 3 subscriptions \(limits.maxSubscriptionsPerSession\)$/,
    closeCode: 1002,
  },
  {
    name: 'more frames in open transactions than maxTransactionFrames',
    bytes: () => [
      frame('BEGIN', { transaction: 't1' }),
      frame('SEND', { destination: '/topic/tx', transaction: 't1' }, 'a'),
      frame('SEND', { destination: '/topic/tx', transaction: 't1' }, 'b'),
      frame('BEGIN', { transaction: 't2' }),
      frame('SEND', { destination: '/topic/tx', transaction: 't2' }, 'c'),
      frame('SEND', { destination: '/topic/tx', transaction: 't2' }, 'd'),
    ],
    message: /^Open transactions exceed the limit of 3 frames \(limits.maxTransactionFrames\); COMMIT or ABORT sooner$/,
    closeCode: 1002,
  },
  {
    // h_txbytes.mjs: 150 × 4 MiB SENDs held in one open transaction (under its 1000-frame bound)
    // took the server to 712 MiB. Each frame counts 256 + header names and values + body:
    // 256 + 20 (destination:/topic/tx) + 13 (transaction:t1) + 5000 = 5289, then 3289 more.
    name: 'more bytes in open transactions than maxTransactionBytes',
    bytes: () => [
      frame('BEGIN', { transaction: 't1' }),
      frame('SEND', { destination: '/topic/tx', transaction: 't1' }, 'a'.repeat(5000)),
      frame('SEND', { destination: '/topic/tx', transaction: 't1' }, 'b'.repeat(3000)),
    ],
    message: /^Open transactions would hold 8578 bytes, more than limits\.maxTransactionBytes \(8192\); COMMIT or ABORT sooner$/,
    closeCode: 1002,
  },
  {
    // c_begin.mjs: BEGINs with distinct long ids, never committed, held until the heap ran out.
    name: 'more open transactions than maxTransactionsPerSession',
    bytes: () => [0, 1, 2, 3].map((i) => frame('BEGIN', { transaction: `t${i}-${'x'.repeat(900)}` })),
    message: /^Session already has 3 open transactions \(limits\.maxTransactionsPerSession\); COMMIT or ABORT one first$/,
    closeCode: 1002,
  },
];

describe('limits and malformed frames', () => {
  let running: RunningApp;
  let observer: TestClient;
  let publisher: TestClient;
  const alive = `/topic/${unique('alive')}`;
  const observed = new Inbox();

  beforeAll(async () => {
    running = await startStompApp({ limits: LIMITS });
    observer = await connectClient(running.url);
    publisher = await connectClient(running.url);
    await subscribeConfirmed(observer.client, alive, observed);
  });
  afterAll(() => running.close());

  /** Proves the other sessions still work: a message published now reaches the observer. */
  async function othersStillReceive(tag: string): Promise<void> {
    await sendConfirmed(publisher.client, alive, tag);
    const m = await observed.waitForBody(tag);
    expect(m.headers['destination']).toBe(alive);
    expect(observer.client.connected).toBe(true);
  }

  it.each(violations.map((v): [string, Violation] => [v.name, v]))('%s → ERROR naming it, then close', async (_name, v) => {
    const raw = await RawStompClient.open(running.url);
    if (v.connect !== false) await raw.connect(v.connect ?? CONNECT_12);
    for (const chunk of v.bytes()) raw.send(chunk);
    const error = await raw.expect('ERROR');
    expect(unescapeValue(error.headers['message'])).toMatch(v.message);
    expect(error.headers['content-type']).toBe('text/plain');
    expect(error.body.toString()).toContain(unescapeValue(error.headers['message']));
    const closed = await raw.waitClosed();
    expect(closed.code).toBe(v.closeCode);
    // The ERROR is the last thing the server said.
    expect(raw.frames.at(-1)?.command).toBe('ERROR');
    expect(raw.frames.filter((f) => f.command === 'ERROR')).toHaveLength(1);
    await othersStillReceive(`after ${v.name}`);
  });

  it('accepts frames right at the limits', async () => {
    const raw = await RawStompClient.open(running.url);
    await raw.connect();
    const dest = `/topic/${unique()}`;
    raw.sendFrame('SUBSCRIBE', { id: 's', destination: dest });
    // 12288-byte body, 19 more headers (20 in all), and a 1024-byte header line.
    const headers = { destination: dest, ...manyHeaders(18), long: 'l'.repeat(1024 - 'long:'.length) };
    raw.sendFrame('SEND', headers, 'b'.repeat(LIMITS.maxBodyLength));
    const m = await raw.expect('MESSAGE');
    expect(m.body.length).toBe(LIMITS.maxBodyLength);
    expect(m.headers['long']).toHaveLength(1024 - 'long:'.length);
    await raw.close();
  });

  it('accepts exactly maxSubscriptionsPerSession subscriptions and maxTransactionFrames held frames', async () => {
    const raw = await RawStompClient.open(running.url);
    await raw.connect();
    const dest = `/topic/${unique()}`;
    raw.sendFrame('SUBSCRIBE', { id: 's0', destination: dest });
    raw.sendFrame('SUBSCRIBE', { id: 's1', destination: `${dest}-b` });
    raw.sendFrame('SUBSCRIBE', { id: 's2', destination: `${dest}-c` });
    raw.sendFrame('BEGIN', { transaction: 't' });
    for (const body of ['x', 'y', 'z']) raw.sendFrame('SEND', { destination: dest, transaction: 't' }, body);
    raw.sendFrame('COMMIT', { transaction: 't', receipt: 'done' });
    // The committed SENDs are delivered in order, then the COMMIT's receipt.
    const bodies: string[] = [];
    for (let i = 0; i < 3; i++) bodies.push((await raw.expect('MESSAGE')).body.toString());
    expect(bodies).toEqual(['x', 'y', 'z']);
    expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe('done');
    expect(raw.frames.some((f) => f.command === 'ERROR')).toBe(false);
    await raw.close();
  });

  it('accepts exactly maxTransactionBytes held in transactions, and an ABORT or COMMIT gives its bytes back', async () => {
    const raw = await RawStompClient.open(running.url);
    await raw.connect();
    const dest = '/topic/txbytes';
    raw.sendFrame('SUBSCRIBE', { id: 's0', destination: dest });
    // 256 + 25 (destination:/topic/txbytes) + 12 (transaction:a) + body: 5293 + 2899 = 8192 bytes.
    raw.sendFrame('BEGIN', { transaction: 'a' });
    raw.sendFrame('SEND', { destination: dest, transaction: 'a' }, 'a'.repeat(5000));
    raw.sendFrame('SEND', { destination: dest, transaction: 'a' }, 'b'.repeat(2606));
    raw.sendFrame('ABORT', { transaction: 'a' });
    // Freed by the ABORT: the same bytes fit again, twice over in turn.
    for (const tx of ['b', 'c']) {
      raw.sendFrame('BEGIN', { transaction: tx });
      raw.sendFrame('SEND', { destination: dest, transaction: tx }, tx.repeat(5000));
      raw.sendFrame('SEND', { destination: dest, transaction: tx }, tx.repeat(2606));
      raw.sendFrame('COMMIT', { transaction: tx, receipt: `done-${tx}` });
    }
    for (const tx of ['b', 'c']) {
      expect((await raw.expect('MESSAGE')).body.toString()).toBe(tx.repeat(5000));
      expect((await raw.expect('MESSAGE')).body.toString()).toBe(tx.repeat(2606));
      expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe(`done-${tx}`);
    }
    expect(raw.frames.some((f) => f.command === 'ERROR')).toBe(false);
    await raw.close();
  });

  it('accepts maxTransactionsPerSession open transactions, and a COMMIT or ABORT gives back its room and its frames', async () => {
    const raw = await RawStompClient.open(running.url);
    await raw.connect();
    const dest = `/topic/${unique()}`;
    raw.sendFrame('SUBSCRIBE', { id: 's0', destination: dest });
    for (const tx of ['a', 'b', 'c']) raw.sendFrame('BEGIN', { transaction: tx });
    // 3 frames held (the limit), in two transactions.
    raw.sendFrame('SEND', { destination: dest, transaction: 'a' }, 'a1');
    raw.sendFrame('SEND', { destination: dest, transaction: 'a' }, 'a2');
    raw.sendFrame('SEND', { destination: dest, transaction: 'b' }, 'b1');
    // ABORT frees a's 2 frames and one transaction: room for d and for 2 more frames.
    raw.sendFrame('ABORT', { transaction: 'a' });
    raw.sendFrame('BEGIN', { transaction: 'd' });
    raw.sendFrame('SEND', { destination: dest, transaction: 'c' }, 'c1');
    raw.sendFrame('SEND', { destination: dest, transaction: 'd' }, 'd1');
    raw.sendFrame('COMMIT', { transaction: 'b' });
    raw.sendFrame('COMMIT', { transaction: 'c' });
    // b's frame left with its COMMIT: one more frame fits in d.
    raw.sendFrame('SEND', { destination: dest, transaction: 'd' }, 'd2');
    raw.sendFrame('COMMIT', { transaction: 'd', receipt: 'done' });
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push((await raw.expect('MESSAGE')).body.toString());
    expect(bodies).toEqual(['b1', 'c1', 'd1', 'd2']);
    expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe('done');
    expect(raw.frames.some((f) => f.command === 'ERROR')).toBe(false);
    await raw.close();
  });

  it('closes with 1009 a WebSocket message larger than maxWebSocketMessageSize, before any STOMP decoding', async () => {
    const raw = await RawStompClient.open(running.url);
    await raw.connect();
    // Default maxWebSocketMessageSize is twice maxFrameSize.
    raw.send(Buffer.alloc(2 * LIMITS.maxFrameSize + 1, 0x0a));
    const closed = await raw.waitClosed();
    expect(closed.code).toBe(1009);
    expect(raw.frames.map((f) => f.command)).toEqual(['CONNECTED']);
    await othersStillReceive('after oversized WebSocket message');
  });

  it('does not count heart-beat EOLs between frames towards a frame', async () => {
    const raw = await RawStompClient.open(running.url);
    await raw.connect();
    const dest = `/topic/${unique()}`;
    raw.sendFrame('SUBSCRIBE', { id: 's', destination: dest });
    // More EOL bytes than maxFrameSize and maxHeaderLineLength, spread over messages.
    for (let i = 0; i < 20; i++) raw.send('\n'.repeat(1000));
    raw.sendFrame('SEND', { destination: dest }, 'after many EOLs');
    expect((await raw.expect('MESSAGE')).body.toString()).toBe('after many EOLs');
    await raw.close();
  });

  it('keeps every other session working while many violators fail at once', async () => {
    const bad = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const raw = await RawStompClient.open(running.url);
        await raw.connect();
        return raw;
      }),
    );
    for (const [i, raw] of bad.entries()) {
      for (const chunk of violations[i % violations.length].bytes()) raw.send(chunk);
    }
    await Promise.all(bad.map((raw) => raw.waitClosed()));
    for (const raw of bad) expect(raw.frames.at(-1)?.command).toBe('ERROR');
    await othersStillReceive('after the crowd');
  });
});

describe('slow consumers', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({ limits: { sendBufferSizeLimit: 256 * 1024 } });
  });
  afterAll(() => running.close());

  it('keeps a healthy client that receives more than the limit within one tick', async () => {
    const dest = `/topic/${unique()}`;
    const healthy = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(healthy.client, dest, inbox);
    // Five 100 KiB SENDs in one WebSocket message: the server handles them, and writes 500 KiB
    // to the subscriber, in a single tick (twice the 256 KiB sendBufferSizeLimit).
    const { raw: publisher } = await rawConnectedFor(running.url);
    const chunk = 'b'.repeat(100 * 1024);
    publisher.send(Buffer.concat([0, 1, 2, 3, 4].map((i) => frame('SEND', { destination: dest }, `${i}:${chunk}`))));
    await inbox.waitFor(5);
    expect(inbox.messages.map((m) => m.body.slice(0, 2))).toEqual(['0:', '1:', '2:', '3:', '4:']);
    expect(healthy.client.connected).toBe(true);
    expect(running.logs.at('warn').some((w) => /slow consumer/.test(w))).toBe(false);
    await publisher.close();
    await healthy.disconnect();
  });

  it('disconnects a client that does not read, while the others get every message', async () => {
    const dest = `/topic/${unique()}`;
    const { raw: slow } = await rawConnectedFor(running.url);
    slow.sendFrame('SUBSCRIBE', { id: 's', destination: dest, receipt: 'sub' });
    await slow.expect('RECEIPT');
    const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const healthy = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(healthy.client, dest, inbox);
    const publisher = await connectClient(running.url);
    const chunk = 'w'.repeat(100 * 1024);
    const count = 100;
    // 10 MB in all, far more than the kernel buffers of a loopback connection swallow. In batches
    // the healthy client (in this same process) keeps up with, so only the stuck one falls behind.
    for (let i = 0; i < count; i += 5) {
      for (let j = i; j < i + 5; j++) publisher.client.publish({ destination: dest, body: `${j}:${chunk}` });
      await inbox.waitFor(i + 5);
    }
    await sendConfirmed(publisher.client, dest, 'done');
    await inbox.waitForBody('done');
    expect(inbox.messages).toHaveLength(count + 1);
    expect(healthy.client.connected).toBe(true);
    socket.resume();
    await slow.waitClosed();
    expect(slow.frames.filter((f) => f.command === 'MESSAGE').length).toBeLessThan(count);
    expect(running.logs.at('warn').some((w) => /slow consumer/.test(w))).toBe(true);
    await healthy.disconnect();
    await publisher.disconnect();
  });
});

describe('limits.maxTransactionBytes option', () => {
  it('defaults to 32 MiB and must be a positive integer', () => {
    expect(resolveStompOptions({}).limits.maxTransactionBytes).toBe(32 * 1024 * 1024);
    expect(() => resolveStompOptions({ limits: { maxTransactionBytes: 0 } })).toThrow(
      'limits.maxTransactionBytes must be a positive integer, got 0',
    );
  });
});
