// Issue 7 (security report, item 1): one SEND made the server build gigabytes in one tick. A
// session held 1000 subscriptions to one topic and stopped reading; one 3 MiB SEND queued 1000
// full MESSAGE copies to its socket, because (a) the slow-consumer check ignored the bytes queued
// in the current tick and (b) every subscription got its own copy of the body. Now (a) the bytes
// one tick queues to one socket are bounded by `limits.sendBufferSizeLimit` too, and (b) a body
// over SHARED_BODY_THRESHOLD goes to every subscriber as the same Buffer, in WebSocket fragments.
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { SHARED_BODY_THRESHOLD } from '../../lib/protocol/message-frame.js';
import { Bystander, CONNECT_12, request } from '../hostile/hostile-support.js';
import { frame, rawConnected, type RawStompClient } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, subscribeConfirmed, type TestClient } from '../support/stomp-client.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A raw session with `count` subscriptions (ids of equal length) to `destination`, confirmed. */
async function hoarder(url: string, destination: string, count: number): Promise<RawStompClient> {
  const { raw } = await rawConnected(url, CONNECT_12);
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) parts.push(frame('SUBSCRIBE', { id: `s${String(i).padStart(4, '0')}`, destination }));
  parts.push(frame('SUBSCRIBE', { id: 'last', destination: `${destination}-other`, receipt: 'subscribed' }));
  raw.send(Buffer.concat(parts));
  await raw.nextMatching((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === 'subscribed', 'the SUBSCRIBE receipt');
  return raw;
}

/**
 * The most the kernel buffers of one loopback connection can hold (sender's plus receiver's
 * maximum, from /proc; 16 MiB where unknown): bytes the server flushed to a client that does not
 * read sit there, beyond the server's own bound.
 */
function kernelBufferBytes(): number {
  try {
    const max = (file: string) => Number(readFileSync(file, 'utf8').trim().split(/\s+/)[2]);
    const total = max('/proc/sys/net/ipv4/tcp_wmem') + max('/proc/sys/net/ipv4/tcp_rmem');
    return Number.isFinite(total) ? total : 16 * MiB;
  } catch {
    return 16 * MiB;
  }
}

function tcpSocket(raw: RawStompClient): Socket {
  return (raw.ws as unknown as { _socket: Socket })._socket;
}

describe('fan-out to a session that stopped reading is bounded in one tick', () => {
  const LIMIT = 1 * MiB;
  let running: RunningApp;
  let bystander: Bystander;

  beforeAll(async () => {
    running = await startStompApp({ limits: { sendBufferSizeLimit: LIMIT } });
    bystander = await Bystander.connect(running.url, `/topic/${unique('bystander')}`);
  });
  afterAll(async () => {
    await bystander.raw.close();
    await running.close();
  });

  it('1000 subscriptions × one 100 KiB SEND: closed as a slow consumer (1008) after a bounded number of deliveries', async () => {
    const destination = `/topic/${unique('amp')}`;
    const attacker = await hoarder(running.url, destination, 999);
    tcpSocket(attacker).pause();
    const { raw: publisher } = await rawConnected(running.url, CONNECT_12);
    const body = Buffer.alloc(100 * KiB, 'a');
    expect((await request(publisher, 'SEND', { destination, 'content-type': 'text/plain' }, body))?.command).toBe('RECEIPT');
    expect(running.logs.expect('warn', `is a slow consumer: more than ${LIMIT} bytes unsent`)).toHaveLength(1);

    tcpSocket(attacker).resume();
    expect(await attacker.waitClosed()).toEqual({ code: 1008, reason: 'Send buffer limit exceeded' });
    const messages = attacker.frames.filter((f) => f.command === 'MESSAGE');
    expect(messages.length).toBeGreaterThan(0);
    for (const m of messages) expect(m.body.equals(body)).toBe(true);
    // At most twice the limit queued in the server, plus what the kernel buffers took: nowhere
    // near the 999 deliveries (100 MB) the SEND asked for.
    const frameBytes = attacker.messages.find((m) => m.data.subarray(0, 8).toString() === 'MESSAGE\n')?.data.length ?? 0;
    expect(frameBytes).toBeGreaterThan(body.length);
    expect(messages.length).toBeLessThanOrEqual(Math.ceil((2 * LIMIT + kernelBufferBytes()) / frameBytes) + 1);
    expect(messages.length).toBeLessThan(999);

    // The publisher and everyone else carry on.
    expect(publisher.closeInfo).toBeUndefined();
    await bystander.roundTrip();
    await publisher.close();
  });

  it('a healthy client receiving a burst of twice the limit in one tick (20 × 100 KiB) is not cut off', async () => {
    const destination = `/topic/${unique('burst')}`;
    const reader = await connectClient(running.url);
    const inbox = new Inbox();
    for (let i = 0; i < 20; i++) await subscribeConfirmed(reader.client, destination, inbox);
    const { raw: publisher } = await rawConnected(running.url, CONNECT_12);
    const body = 'b'.repeat(100 * KiB);
    publisher.sendFrame('SEND', { destination }, body);
    const got = await inbox.waitFor(20);
    expect(got.every((m) => m.body === body)).toBe(true);
    expect(reader.client.connected).toBe(true);
    expect(running.logs.at('warn').filter((w) => w.includes(`Session ${reader.connected.headers['session']}`))).toEqual([]);
    await reader.client.deactivate();
    await publisher.close();
  });
});

describe('large messages share one body between subscribers', () => {
  let running: RunningApp;
  let bystander: Bystander;
  let sender: TestClient;

  beforeAll(async () => {
    running = await startStompApp({});
    bystander = await Bystander.connect(running.url, `/topic/${unique('bystander')}`);
    sender = await connectClient(running.url);
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });
  afterAll(async () => {
    await sender.client.deactivate();
    await bystander.raw.close();
    await running.close();
  });

  it('the reported attack: 1000 subscriptions (the per-session maximum), one 3 MiB SEND: a bounded number of deliveries, then 1008', async () => {
    const destination = `/topic/${unique('amp')}`;
    const attacker = await hoarder(running.url, destination, 999); // + 1 for the receipt
    tcpSocket(attacker).pause();
    const { raw: publisher } = await rawConnected(running.url, CONNECT_12);
    const body = Buffer.alloc(3 * MiB, 'a');
    expect((await request(publisher, 'SEND', { destination, 'content-type': 'text/plain' }, body))?.command).toBe('RECEIPT');
    expect(running.logs.expect('warn', `is a slow consumer: more than ${16 * MiB} bytes unsent`)).toHaveLength(1);
    tcpSocket(attacker).resume();
    expect((await attacker.waitClosed()).code).toBe(1008);
    const messages = attacker.frames.filter((f) => f.command === 'MESSAGE');
    for (const m of messages) expect(m.body.equals(body)).toBe(true);
    // Twice the 16 MiB limit plus the kernel's buffers: a handful of 3 MiB deliveries, not 999.
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.length).toBeLessThanOrEqual(Math.ceil((32 * MiB + kernelBufferBytes()) / body.length) + 1);
    await bystander.roundTrip();
    await publisher.close();
  });

  it('honest subscribers (stompjs and raw ws) each get the same body Buffer, and reassemble the fragments intact', async () => {
    const destination = `/topic/${unique('big')}`;
    const clients = [await connectClient(running.url), await connectClient(running.url)];
    const inboxes = [new Inbox(), new Inbox()];
    for (const [i, c] of clients.entries()) await subscribeConfirmed(c.client, destination, inboxes[i]);
    const { raw } = await rawConnected(running.url, CONNECT_12);
    raw.sendFrame('SUBSCRIBE', { id: 'r', destination, receipt: 'raw-sub' });
    await raw.nextMatching((f) => f.command === 'RECEIPT', 'the raw SUBSCRIBE receipt');

    // What the server hands to `ws` for each fragment.
    const sent: Array<{ data: unknown; fin: boolean | undefined }> = [];
    const original = WebSocket.prototype.send;
    jest.spyOn(WebSocket.prototype, 'send').mockImplementation(function (this: WebSocket, data: unknown, ...rest: unknown[]) {
      const options = typeof rest[0] === 'object' ? (rest[0] as { fin?: boolean }) : undefined;
      if ((this as unknown as { _isServer: boolean })._isServer) sent.push({ data, fin: options?.fin });
      return (original as (...args: unknown[]) => void).call(this, data, ...rest);
    });

    const text = 'é'.repeat(100 * KiB); // 200 KiB of UTF-8, over the threshold
    expect(Buffer.byteLength(text)).toBeGreaterThan(SHARED_BODY_THRESHOLD);
    sender.client.publish({ destination, body: text, headers: { 'content-type': 'text/plain;charset=utf-8' } });
    const binary = new Uint8Array(300 * KiB).map((_, i) => (i * 31 + 7) % 256);
    binary[0] = 0;
    sender.client.publish({ destination, binaryBody: binary, headers: { 'content-type': 'application/octet-stream' } });

    for (const inbox of inboxes) {
      const [first, second] = await inbox.waitFor(2);
      expect(first.body).toBe(text);
      expect(Buffer.from(second.binaryBody).equals(Buffer.from(binary))).toBe(true);
    }
    const rawMessages = await Promise.all([raw.nextMatching((f) => f.command === 'MESSAGE', 'text'), raw.nextMatching((f) => f.command === 'MESSAGE' && f.body.length === binary.length, 'binary')]);
    expect(rawMessages[0].body.toString('utf8')).toBe(text);
    expect(rawMessages[0].binaryMessage).toBe(false);
    expect(rawMessages[1].body.equals(Buffer.from(binary))).toBe(true);
    expect(rawMessages[1].binaryMessage).toBe(true);
    // One WebSocket message per MESSAGE frame on the client side.
    expect(raw.messages.filter((m) => m.data.subarray(0, 8).toString() === 'MESSAGE\n')).toHaveLength(2);

    // Server side: each body went to all three subscribers as one and the same Buffer object.
    for (const length of [Buffer.byteLength(text), binary.length]) {
      const bodies = sent.filter((s) => Buffer.isBuffer(s.data) && s.data.length === length);
      expect(bodies).toHaveLength(3);
      for (const b of bodies) {
        expect(b.fin).toBe(false);
        expect(b.data).toBe(bodies[0].data);
      }
    }
    for (const c of clients) await c.client.deactivate();
    await raw.close();
  });
});
