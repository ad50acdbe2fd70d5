// Issue 10, limits: `limits.sendTimeLimit` closes a client that takes nothing while bytes wait for
// it, even under `limits.sendBufferSizeLimit`; a client that reads, however slowly, stays. The
// must-show: a stalled subscriber does not hold up 200 healthy subscribers of the same topic, is
// closed by the time limit, and what the server holds for it stays bounded meanwhile.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { StompEvents, StompStats } from '../../lib/index.js';
import { SessionRegistry } from '../../lib/transport/session-registry.js';
import type { StompConnection } from '../../lib/transport/stomp-connection.js';
import { CONNECT_12, request } from '../hostile/hostile-support.js';
import { EventRecorder } from '../support/event-recorder.js';
import { frame, RawStompClient } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { sleep } from '../support/handler-fixtures.js';
import { eventually } from '../support/sockjs-raw.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function tcpSocket(raw: RawStompClient): Socket {
  return (raw.ws as unknown as { _socket: Socket })._socket;
}

/** The connection of an open session (the bytes the server holds for it); undefined once it is gone. */
function connectionOf(running: RunningApp, sessionId: string): StompConnection | undefined {
  const session = running.app.get(SessionRegistry, { strict: false }).get(sessionId);
  return (session as unknown as { connection: StompConnection } | undefined)?.connection;
}

/** A raw client tagged `?t=<tag>`, connected and subscribed (confirmed) to each destination; returns it and its session id. */
async function subscriber(running: RunningApp, tag: string, ...destinations: string[]): Promise<{ raw: RawStompClient; id: string }> {
  const raw = await RawStompClient.open(`${running.url}?t=${tag}`);
  const connected = await raw.connect(CONNECT_12);
  for (const [i, destination] of destinations.entries()) {
    expect((await request(raw, 'SUBSCRIBE', { id: `s${i}`, destination }))?.command).toBe('RECEIPT');
  }
  return { raw, id: connected.headers['session'] };
}

/**
 * Publishes `size`-byte messages to `destination`, `perRound` a round, each round confirmed by a
 * receipt, until the server holds unsent bytes for `sessionId` (the kernel buffers of its
 * connection are full) or it is gone; at most `maxRounds`. Resolves with the most it held.
 */
async function fillUntilHeld(
  publisher: RawStompClient,
  running: RunningApp,
  sessionId: string,
  destination: string,
  size: number,
  perRound: number,
  maxRounds: number,
): Promise<number> {
  const body = Buffer.alloc(size, 'f');
  for (let round = 0; round < maxRounds; round++) {
    for (let i = 1; i < perRound; i++) publisher.sendFrame('SEND', { destination }, body);
    expect((await request(publisher, 'SEND', { destination }, body))?.command).toBe('RECEIPT');
    const held = connectionOf(running, sessionId)?.unsentBytes ?? 0;
    if (held > 0 || connectionOf(running, sessionId) === undefined) return held;
  }
  throw new Error(`the server never held bytes for ${sessionId} within ${maxRounds} rounds`);
}

describe('limits.sendTimeLimit over WebSocket', () => {
  // Long enough that the steady reader below, in the same process as the server on a busy
  // machine, reads a kernel step's worth (a few MB) within it every time.
  const SEND_TIME_LIMIT = 600;
  const BUFFER_LIMIT = 64 * MiB;
  let running: RunningApp;
  let recorder: EventRecorder;
  let publisher: RawStompClient;

  beforeAll(async () => {
    running = await startStompApp({ limits: { sendTimeLimit: SEND_TIME_LIMIT, sendBufferSizeLimit: BUFFER_LIMIT, closeTimeout: 200 } });
    recorder = new EventRecorder(running.app.get(StompEvents));
    publisher = await RawStompClient.open(running.url);
    await publisher.connect(CONNECT_12);
  });
  afterAll(async () => {
    await publisher.close();
    recorder.stop();
    await running.close();
  });

  it('closes a client that stopped reading while what waits for it is far under sendBufferSizeLimit (slow-consumer, limit sendTimeLimit, 1008)', async () => {
    const tag = unique('stalled');
    const destination = `/topic/${unique('stall')}`;
    const { raw: stalled, id } = await subscriber(running, tag, destination);
    tcpSocket(stalled).pause();
    const held = await fillUntilHeld(publisher, running, id, destination, 100 * KiB, 5, 400);
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(BUFFER_LIMIT);

    const disconnect = await recorder.waitFor(tag, 'disconnect');
    expect(disconnect).toMatchObject({ reason: 'slow-consumer', closeCode: 1008, limit: 'sendTimeLimit' });
    expect(disconnect.errorCode).toBeUndefined();
    const warnings = running.logs.expect('warn', `Session ${id} is a slow consumer`);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`^Session ${id} is a slow consumer: \\d+ bytes unsent and none sent for ${SEND_TIME_LIMIT} ms \\(limits\\.sendTimeLimit\\); disconnecting it`));
    const stats = running.app.get(StompStats).snapshot();
    expect(stats.limitsExceeded.sendTimeLimit).toBe(1);
    expect(stats.limitsExceeded.sendBufferSizeLimit).toBe(0);
    expect(running.app.get(StompStats).toString()).toContain('limits exceeded[sendTimeLimit 1]');
    stalled.ws.terminate();
  });

  it('keeps a client that reads slowly but steadily, with bytes waiting for it all along, and delivers everything in order', async () => {
    const tag = unique('steady');
    const destination = `/topic/${unique('steady')}`;
    // A lean reader (tens of MB pass through it): keeps only each MESSAGE's sequence number.
    const ws = new WebSocket(`${running.url}?t=${tag}`, ['v12.stomp']);
    const seqs: number[] = [];
    const frames: string[] = [];
    let closed = false;
    ws.on('message', (data: Buffer) => {
      const head = data.subarray(0, data.indexOf('\n\n') + 2).toString();
      if (head.startsWith('MESSAGE\n')) seqs.push(Number(data.subarray(head.length, head.length + 8).toString()));
      else frames.push(head);
    });
    ws.on('close', () => (closed = true));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(frame('CONNECT', CONNECT_12));
    ws.send(frame('SUBSCRIBE', { id: 's', destination, receipt: 'subscribed' }));
    await eventually(() => (frames.some((f) => f.startsWith('RECEIPT\n')) ? true : undefined), 'the SUBSCRIBE receipt');
    const id = /\nsession:([^\n]+)/.exec(frames[0])?.[1] ?? '';
    const socket = (ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    let sent = 0;
    const publish = async (count: number) => {
      for (let i = 0; i < count; i++) publisher.sendFrame('SEND', { destination }, `${String(sent++).padStart(8, '0')}:${'s'.repeat(100 * KiB)}`);
      expect((await request(publisher, 'SEND', { destination: '/topic/nobody' }))?.command).toBe('RECEIPT');
    };
    // Behind from the start: the kernel buffers full and bytes held by the server.
    for (let round = 0; round < 400 && (connectionOf(running, id)?.unsentBytes ?? 0) === 0; round++) await publish(5);
    // Then, several times the time limit over: 2 MiB read every cycle of at least 40 ms, 3 MiB
    // published, so it stays behind (bytes wait for it at every look) but keeps taking them.
    let readThisCycle = 0;
    let throttled = true;
    socket.on('data', (chunk: Buffer) => {
      readThisCycle += chunk.length;
      if (throttled && readThisCycle >= 2 * MiB) socket.pause();
    });
    let behind = 0;
    const cycles = 25;
    for (let cycle = 0; cycle < cycles; cycle++) {
      await publish(30);
      if ((connectionOf(running, id)?.unsentBytes ?? 0) > 0) behind++;
      readThisCycle = 0;
      socket.resume();
      await sleep(40);
      expect(closed).toBe(false);
    }
    expect(behind).toBeGreaterThanOrEqual(cycles - 3);
    expect(recorder.types(tag)).toEqual(['connect', 'connected', 'subscribe']);

    // Reading at full speed again, it gets every message, in order.
    throttled = false;
    socket.resume();
    await eventually(() => (seqs.length >= sent || closed ? true : undefined), 'every message', 30_000);
    expect(seqs).toEqual(Array.from({ length: sent }, (_, i) => i));
    expect(closed).toBe(false);
    expect(running.logs.expect('warn', `Session ${id} is a slow consumer`)).toEqual([]);
    ws.close();
  }, 60_000);
});

describe('must show: a stalled subscriber among 200 healthy ones', () => {
  const SEND_TIME_LIMIT = 500;
  const BUFFER_LIMIT = 1 * MiB;
  const HEALTHY = 200;
  const MESSAGES = 100;
  let running: RunningApp;
  let recorder: EventRecorder;

  beforeAll(async () => {
    running = await startStompApp({ limits: { sendTimeLimit: SEND_TIME_LIMIT, sendBufferSizeLimit: BUFFER_LIMIT, closeTimeout: 200 } });
    recorder = new EventRecorder(running.app.get(StompEvents));
  });
  afterAll(async () => {
    recorder.stop();
    await running.close();
  });

  it('does not slow delivery to them, is closed by sendTimeLimit, and the server holds at most sendBufferSizeLimit + one frame for it', async () => {
    const topic = `/topic/${unique('shared')}`;
    const own = `/topic/${unique('stalled-only')}`;
    const healthy: RawStompClient[] = [];
    for (let i = 0; i < HEALTHY; i++) healthy.push((await subscriber(running, unique('healthy'), topic)).raw);
    const stalledTag = unique('stalled');
    const { raw: stalled, id } = await subscriber(running, stalledTag, topic, own);
    const publisher = await RawStompClient.open(running.url);
    await publisher.connect(CONNECT_12);

    // It stops reading; messages to it alone fill the kernel buffers of its connection, until the
    // server holds bytes for it (and its send time starts counting).
    tcpSocket(stalled).pause();
    const frameBytes = 64 * KiB + 200;
    let peak = await fillUntilHeld(publisher, running, id, own, 64 * KiB, 1, 1000);
    expect(peak).toBeGreaterThan(0);

    // Now the shared topic: 100 messages, pipelined in one WebSocket message.
    const parts: Buffer[] = [];
    for (let i = 0; i < MESSAGES; i++) parts.push(frame('SEND', { destination: topic }, `${String(i).padStart(4, '0')}:${'m'.repeat(2 * KiB)}`));
    parts.push(frame('SEND', { destination: '/topic/nobody', receipt: 'published' }));
    publisher.send(Buffer.concat(parts));
    await publisher.nextMatching((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === 'published', 'the publish receipt');
    // Every MESSAGE was written to every subscriber in the turns that handled the SENDs: the
    // stalled session was still open then (it is closed a time limit after it stopped taking bytes).
    const stalledOpenWhenDelivered = connectionOf(running, id)?.isOpen === true;
    peak = Math.max(peak, connectionOf(running, id)?.unsentBytes ?? 0);

    const expected = Array.from({ length: MESSAGES }, (_, i) => String(i).padStart(4, '0'));
    for (const client of healthy) {
      const last = expected[MESSAGES - 1];
      await client.nextMatching((f) => f.command === 'MESSAGE' && f.body.subarray(0, 4).toString() === last, 'the last shared message');
      expect(client.frames.filter((f) => f.command === 'MESSAGE').map((f) => f.body.subarray(0, 4).toString())).toEqual(expected);
      expect(client.closeInfo).toBeUndefined();
    }
    const healthyDoneBeforeClose = recorder.tagged(stalledTag).every((e) => e.type !== 'disconnect');
    expect(stalledOpenWhenDelivered || healthyDoneBeforeClose).toBe(true);

    // Closed by the time limit, under the buffer limit; what the server held for it stayed bounded.
    for (let i = 0; i < 200 && connectionOf(running, id)?.isOpen === true; i++) {
      peak = Math.max(peak, connectionOf(running, id)?.unsentBytes ?? 0);
      await sleep(10);
    }
    const disconnect = await recorder.waitFor(stalledTag, 'disconnect');
    expect(disconnect).toMatchObject({ reason: 'slow-consumer', closeCode: 1008, limit: 'sendTimeLimit' });
    expect(peak).toBeLessThanOrEqual(BUFFER_LIMIT + frameBytes);
    expect(running.logs.expect('warn', `Session ${id} is a slow consumer`)).toHaveLength(1);
    expect(running.app.get(StompStats).snapshot().limitsExceeded).toMatchObject({ sendTimeLimit: 1, sendBufferSizeLimit: 0 });

    // The healthy ones carry on.
    publisher.sendFrame('SEND', { destination: topic }, 'after');
    for (const client of healthy) {
      await client.nextMatching((f) => f.command === 'MESSAGE' && f.body.toString() === 'after', 'the message after the close');
    }
    stalled.ws.terminate();
    await publisher.close();
    await Promise.all(healthy.map((c) => c.close()));
  }, 60_000);
});
