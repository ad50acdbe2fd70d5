// Session lifecycle events with real clients: every way a session can end gives exactly one
// disconnect event, with its reason and close code, after connect → connected → subscribe →
// unsubscribe, in that order. Every wait is on an event or a frame (GUARD_MS is a failure guard).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Injectable } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import {
  StompEvents,
  SubscribeMapping,
  type SessionConnectedEvent,
  type SessionDisconnectEvent,
  type StompSessionEvent,
} from '../../lib/index.js';
import { EventRecorder } from '../support/event-recorder.js';
import { frame, RawStompClient } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, connectExpectingError } from '../support/stomp-client.js';
import { CONNECT_12 } from '../hostile/hostile-support.js';

@Controller()
class SnapshotController {
  @SubscribeMapping('/snapshot')
  snapshot(): string[] {
    return ['a', 'b'];
  }
}

const options = {
  // Short enough that a silent client is caught quickly; long enough for a loaded machine.
  broker: { kind: 'simple' as const, heartbeat: { floor: 100 } },
  limits: { closeTimeout: 300, connectTimeout: 1000, sendBufferSizeLimit: 64 * 1024 },
  authenticate: ({ login }: { login?: string }) =>
    login === 'mallory' ? { reject: 'mallory may not log in' } : login ? { user: login } : {},
};

/** A raw client on `url?t=<tag>`. */
function openTagged(running: RunningApp, tag: string): Promise<RawStompClient> {
  return RawStompClient.open(`${running.url}?t=${tag}`);
}

/** Disconnect events of one tag. */
function disconnects(recorder: EventRecorder, tag: string): SessionDisconnectEvent[] {
  return recorder.tagged(tag).filter((e): e is SessionDisconnectEvent => e.type === 'disconnect');
}

describe('session lifecycle events (StompEvents)', () => {
  let running: RunningApp;
  let recorder: EventRecorder;
  let bystander: RawStompClient;

  /**
   * A round trip through another connection, so anything the server would still emit for a
   * closed session (a second disconnect) has had its turn before a test counts.
   */
  async function settle(): Promise<void> {
    const receipt = unique('settle');
    bystander.sendFrame('SEND', { destination: '/topic/settle-nobody', receipt });
    await bystander.nextMatching((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt, receipt);
  }

  beforeAll(async () => {
    running = await startStompApp(options, { controllers: [SnapshotController] });
    recorder = new EventRecorder(running.app.get(StompEvents));
    bystander = await RawStompClient.open(running.url);
    await bystander.connect();
  });
  afterAll(async () => {
    await bystander?.close();
    recorder?.stop();
    await running?.close();
  });

  it('client DISCONNECT: connect, connected, subscribe, unsubscribe, disconnect (client-disconnect, 1000), each once, in order', async () => {
    const tag = unique('disconnect');
    const client = await connectClient(`${running.url}?t=${tag}`, { connectHeaders: { login: 'ann', passcode: 'pw' } });
    const sessionId = client.connected.headers['session'];
    const destination = `/topic/${unique('news')}`;
    const sub = client.client.subscribe(destination, () => undefined, { id: 'sub-news' });
    await recorder.waitFor(tag, 'subscribe');
    sub.unsubscribe();
    await recorder.waitFor(tag, 'unsubscribe');
    await client.disconnect();
    await recorder.waitFor(tag, 'disconnect');
    await settle();

    expect(recorder.types(tag)).toEqual(['connect', 'connected', 'subscribe', 'unsubscribe', 'disconnect']);
    const [connect, connected, subscribe, unsubscribe, disconnect] = recorder.tagged(tag);
    expect(new Set(recorder.tagged(tag).map((e) => e.session.id))).toEqual(new Set([sessionId]));
    expect(connect).toMatchObject({ type: 'connect', headers: { login: 'ann' } });
    expect(connect.type === 'connect' && connect.headers['accept-version']).toContain('1.2');
    expect(connected).toMatchObject({ type: 'connected', session: { id: sessionId, version: '1.2' } });
    // The user is known from `connected` on, still there when the disconnect is emitted.
    expect(recorder.usersAtEmit(tag)).toEqual([undefined, 'ann', 'ann', 'ann', 'ann']);
    expect(connected.session.handshake).toMatchObject({ endpoint: '/ws', transport: 'websocket', url: `/ws?t=${tag}` });
    expect(subscribe).toMatchObject({ type: 'subscribe', subscriptionId: 'sub-news', destination, headers: { id: 'sub-news', destination } });
    expect(unsubscribe).toMatchObject({ type: 'unsubscribe', subscriptionId: 'sub-news', destination });
    expect(disconnect).toMatchObject({ type: 'disconnect', reason: 'client-disconnect', closeCode: 1000 });
    expect((disconnect as SessionDisconnectEvent).errorCode).toBeUndefined();
    const stamps = recorder.tagged(tag).map((e) => e.timestamp);
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
  });

  it('subscribe/unsubscribe carry the id and the destination as the client wrote it (user destinations, @SubscribeMapping); session-ending subscriptions get no unsubscribe', async () => {
    const tag = unique('subs');
    const raw = await openTagged(running, tag);
    await raw.connect({ ...CONNECT_12, login: 'bea', passcode: 'pw' });
    raw.sendFrame('SUBSCRIBE', { id: 'errors', destination: '/user/queue/errors', receipt: 'r1' });
    await raw.expect('RECEIPT');
    raw.sendFrame('SUBSCRIBE', { id: 'snap', destination: '/app/snapshot' });
    await raw.expect('MESSAGE');
    raw.sendFrame('SUBSCRIBE', { id: 'topic', destination: '/topic/kept', receipt: 'r2' });
    await raw.expect('RECEIPT');
    raw.sendFrame('UNSUBSCRIBE', { id: 'errors', receipt: 'r3' });
    await raw.expect('RECEIPT');
    raw.sendFrame('DISCONNECT', { receipt: 'bye' });
    await raw.expect('RECEIPT');
    await recorder.waitFor(tag, 'disconnect');
    await settle();

    const events = recorder.tagged(tag);
    expect(events.map((e) => e.type)).toEqual(['connect', 'connected', 'subscribe', 'subscribe', 'subscribe', 'unsubscribe', 'disconnect']);
    const ids = (e: StompSessionEvent) =>
      e.type === 'subscribe' || e.type === 'unsubscribe' ? { type: e.type, id: e.subscriptionId, destination: e.destination } : e.type;
    expect(events.slice(2, 6).map(ids)).toEqual([
      { type: 'subscribe', id: 'errors', destination: '/user/queue/errors' },
      { type: 'subscribe', id: 'snap', destination: '/app/snapshot' },
      { type: 'subscribe', id: 'topic', destination: '/topic/kept' },
      { type: 'unsubscribe', id: 'errors', destination: '/user/queue/errors' },
    ]);
    expect(events[6]).toMatchObject({ reason: 'client-disconnect', closeCode: 1000 });
  });

  it('abrupt TCP reset of the client: disconnect (socket-closed, 1006), once', async () => {
    const tag = unique('reset');
    const raw = await openTagged(running, tag);
    await raw.connect();
    raw.sendFrame('SUBSCRIBE', { id: 's', destination: '/topic/reset', receipt: 'r' });
    await raw.expect('RECEIPT');
    raw.ws.terminate(); // destroys the TCP socket: no close frame, no DISCONNECT
    await recorder.waitFor(tag, 'disconnect');
    await settle();
    expect(recorder.types(tag)).toEqual(['connect', 'connected', 'subscribe', 'disconnect']);
    expect(disconnects(recorder, tag)).toEqual([expect.objectContaining({ reason: 'socket-closed', closeCode: 1006 })]);
  });

  it('the client closes its WebSocket without DISCONNECT: disconnect (socket-closed) with the close code the client sent', async () => {
    const tag = unique('ws-close');
    const raw = await openTagged(running, tag);
    await raw.connect();
    raw.ws.close(4001, 'bye');
    await recorder.waitFor(tag, 'disconnect');
    await settle();
    expect(recorder.types(tag)).toEqual(['connect', 'connected', 'disconnect']);
    expect(disconnects(recorder, tag)).toEqual([expect.objectContaining({ reason: 'socket-closed', closeCode: 4001 })]);
  });

  it('a half-open socket caught by heart-beats: disconnect (heartbeat-timeout, 1002), once, though the peer never answers the close', async () => {
    const tag = unique('half-open');
    const raw = await openTagged(running, tag);
    const connected = await raw.connect({ ...CONNECT_12, 'heart-beat': '100,0' });
    expect(connected.headers['heart-beat']).toBe('0,100');
    // Stop reading too (and so never answer the server's close frame): only the close timeout ends it.
    (raw.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const disconnect = await recorder.waitFor(tag, 'disconnect');
    await settle();
    expect(recorder.types(tag)).toEqual(['connect', 'connected', 'disconnect']);
    expect(disconnect).toMatchObject({ reason: 'heartbeat-timeout', closeCode: 1002 });
    expect(disconnects(recorder, tag)).toHaveLength(1);
    raw.ws.terminate();
  });

  it('an ERROR close (a malformed frame): disconnect (error, errorCode, 1002), once', async () => {
    const tag = unique('malformed');
    const raw = await openTagged(running, tag);
    await raw.connect();
    raw.send(frame('BOGUS', { receipt: 'x' }));
    const error = await raw.expect('ERROR');
    expect((await raw.waitClosed()).code).toBe(1002);
    await recorder.waitFor(tag, 'disconnect');
    await settle();
    expect(recorder.types(tag)).toEqual(['connect', 'connected', 'disconnect']);
    expect(disconnects(recorder, tag)).toEqual([
      expect.objectContaining({ reason: 'error', errorCode: 'UNKNOWN_COMMAND', closeCode: 1002 }),
    ]);
    expect(error.headers['message']).toMatch(/BOGUS/);
  });

  it('an oversized frame: disconnect (error) with the size errorCode and 1009', async () => {
    const tag = unique('too-big');
    const raw = await openTagged(running, tag);
    await raw.connect();
    raw.send(frame('SEND', { destination: '/topic/big', 'x-big': 'h'.repeat(10 * 1024) }));
    await raw.expect('ERROR');
    expect((await raw.waitClosed()).code).toBe(1009);
    await recorder.waitFor(tag, 'disconnect');
    await settle();
    expect(disconnects(recorder, tag)).toEqual([
      expect.objectContaining({ reason: 'error', errorCode: 'HEADER_LINE_TOO_LONG', closeCode: 1009 }),
    ]);
  });

  it('a slow consumer: disconnect (slow-consumer, 1008), once', async () => {
    const tag = unique('slow');
    const destination = `/topic/${unique('flood')}`;
    const slow = await openTagged(running, tag);
    await slow.connect();
    slow.sendFrame('SUBSCRIBE', { id: 's', destination, receipt: 'sub' });
    await slow.expect('RECEIPT');
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    // 100 KiB messages in confirmed batches of five until the server gives up on the reader that
    // stopped (loopback kernel buffers take a few MB first); at most 20 MB.
    const publisher = await RawStompClient.open(running.url);
    await publisher.connect();
    const chunk = 'w'.repeat(100 * 1024);
    for (let batch = 0; batch < 40 && disconnects(recorder, tag).length === 0; batch++) {
      for (let i = 0; i < 5; i++) publisher.sendFrame('SEND', { destination }, chunk);
      const receipt = `batch-${batch}`;
      publisher.sendFrame('SEND', { destination: '/topic/settle-nobody', receipt });
      await publisher.nextMatching((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt, receipt);
    }
    const disconnect = await recorder.waitFor(tag, 'disconnect');
    await settle();
    expect(disconnect).toMatchObject({ reason: 'slow-consumer', closeCode: 1008 });
    expect(recorder.types(tag)).toEqual(['connect', 'connected', 'subscribe', 'disconnect']);
    expect(running.logs.expect('warn', 'slow consumer').length).toBeGreaterThan(0);
    slow.ws.terminate();
    await publisher.close();
  });

  it('a session that never CONNECTs gets exactly one disconnect and nothing else (closed by the client; connect timeout)', async () => {
    const closedTag = unique('never-closed');
    const closed = await openTagged(running, closedTag);
    closed.ws.close(1000);
    await recorder.waitFor(closedTag, 'disconnect');

    const idleTag = unique('never-idle');
    const idle = await openTagged(running, idleTag);
    const error = await idle.expect('ERROR');
    expect((await idle.waitClosed()).code).toBe(1002);
    await recorder.waitFor(idleTag, 'disconnect');
    await settle();

    expect(recorder.tagged(closedTag)).toEqual([expect.objectContaining({ type: 'disconnect', reason: 'socket-closed', closeCode: 1000 })]);
    expect(recorder.tagged(idleTag)).toEqual([
      expect.objectContaining({ type: 'disconnect', reason: 'error', errorCode: 'CONNECT_TIMEOUT', closeCode: 1002 }),
    ]);
    expect(recorder.tagged(idleTag)[0].session.user).toBeUndefined();
    expect(error.headers['message']).toMatch(/CONNECT/);
  });

  it('a refused CONNECT: no connect or connected event, one disconnect (error, CONNECT_REJECTED, 1008)', async () => {
    const tag = unique('refused');
    const refused = await connectExpectingError(`${running.url}?t=${tag}`, { connectHeaders: { login: 'mallory', passcode: 'x' } });
    expect(refused.connected).toBe(false);
    expect(refused.error?.headers['message']).toBe('mallory may not log in');
    expect(refused.closeCode).toBe(1008);
    await recorder.waitFor(tag, 'disconnect');
    await settle();
    expect(recorder.tagged(tag)).toEqual([
      expect.objectContaining({ type: 'disconnect', reason: 'error', errorCode: 'CONNECT_REJECTED', closeCode: 1008 }),
    ]);
  });
});

describe('session lifecycle events on app.close()', () => {
  it('every open session (connected or not) gets one disconnect (server-shutdown, 1001) before app.close() resolves; then the stream completes', async () => {
    const running = await startStompApp();
    const recorder = new EventRecorder(running.app.get(StompEvents));
    const tag = unique('shutdown');
    const client = await connectClient(`${running.url}?t=${tag}`);
    client.client.subscribe('/topic/shutdown', () => undefined, { id: 'kept' });
    await recorder.waitFor(tag, 'subscribe');
    const raw = await openTagged(running, tag); // never sends CONNECT
    let completed = 0;
    running.app.get(StompEvents).events$.subscribe({ complete: () => completed++ });
    await running.close();

    const ended = disconnects(recorder, tag);
    expect(ended).toHaveLength(2);
    for (const e of ended) expect(e).toMatchObject({ reason: 'server-shutdown', closeCode: 1001 });
    expect(new Set(ended.map((e) => e.session.id)).size).toBe(2);
    expect(recorder.types(tag).filter((t) => t === 'unsubscribe')).toEqual([]);
    expect(ended.map((e) => e.session.id)).toContain(client.connected.headers['session']);
    expect((await client.closed)).toBe(1001);
    expect((await raw.waitClosed()).code).toBe(1001);
    // The stream completes once the application has closed, after the last disconnect.
    expect(completed).toBe(1);
    recorder.stop();
  });
});

@Injectable()
class OnEventListener {
  readonly connected: SessionConnectedEvent[] = [];
  readonly disconnected: SessionDisconnectEvent[] = [];

  readonly connectedUsers: Array<string | undefined> = [];

  @OnEvent('stomp.session.connected')
  onConnected(event: SessionConnectedEvent): void {
    this.connected.push(event);
    this.connectedUsers.push(event.session.user);
  }

  @OnEvent('stomp.session.disconnect')
  onDisconnect(event: SessionDisconnectEvent): void {
    this.disconnected.push(event);
  }
}

describe('session lifecycle events through @nestjs/event-emitter', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp(
      { authenticate: ({ login }) => (login ? { user: login } : {}) },
      { imports: [EventEmitterModule.forRoot()], providers: [OnEventListener] },
    );
  });
  afterAll(() => running?.close());

  it("@OnEvent('stomp.session.connected') and ('stomp.session.disconnect') receive the events of a real client", async () => {
    const listener = running.app.get(OnEventListener);
    const recorder = new EventRecorder(running.app.get(StompEvents));
    const tag = unique('on-event');
    const client = await connectClient(`${running.url}?t=${tag}`, { connectHeaders: { login: 'cleo', passcode: 'pw' } });
    const sessionId = client.connected.headers['session'];
    await client.disconnect();
    await recorder.waitFor(tag, 'disconnect');
    // The bridge emits synchronously with the stream: both listeners have run by now.
    expect(listener.connected.filter((e) => e.session.id === sessionId)).toEqual([
      expect.objectContaining({ type: 'connected', session: expect.objectContaining({ id: sessionId }) }),
    ]);
    expect(listener.connectedUsers).toContain('cleo');
    expect(listener.disconnected.filter((e) => e.session.id === sessionId)).toEqual([
      expect.objectContaining({ type: 'disconnect', reason: 'client-disconnect', closeCode: 1000 }),
    ]);
    recorder.stop();
  });
});
