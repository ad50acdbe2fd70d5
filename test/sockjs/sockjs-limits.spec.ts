import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { StompEvents, StompStats, type SessionDisconnectEvent } from '../../lib/index.js';
import { EventRecorder } from '../support/event-recorder.js';
import { frame, rawConnected } from '../support/raw-client.js';
import { eventually, http, RawSockJsSession } from '../support/sockjs-raw.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, subscribeConfirmed } from '../support/stomp-client.js';

function httpBase(running: RunningApp): string {
  return `http://127.0.0.1:${running.port}/ws`;
}

async function connectedSession(running: RunningApp): Promise<RawSockJsSession> {
  const session = await new RawSockJsSession(httpBase(running)).opened();
  await session.connect();
  return session;
}

/** The disconnect event of the session that CONNECTED named `sessionId`. */
function disconnectOf(recorder: EventRecorder, sessionId: string): Promise<SessionDisconnectEvent> {
  return eventually(
    () => recorder.events.find((e): e is SessionDisconnectEvent => e.type === 'disconnect' && e.session.id === sessionId),
    `the disconnect event of ${sessionId}`,
  );
}

describe('xhr_send bodies past limits.maxWebSocketMessageSize', () => {
  const limit = 4096;
  const message = `SockJS message body larger than ${limit} bytes (limits.maxWebSocketMessageSize)`;
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({ endpoints: [{ path: '/ws', sockjs: { heartbeatTime: 1000 } }], limits: { maxWebSocketMessageSize: limit } });
  });
  afterAll(() => running.close());

  it.each<[string, boolean]>([
    ['with Content-Length', false],
    ['chunked (no Content-Length)', true],
  ])('%s: 413, and the session gets an ERROR naming the limit, then closes', async (_name, chunked) => {
    const session = await connectedSession(running);
    const body = JSON.stringify([frame('SEND', { destination: '/topic/big' }, 'z'.repeat(limit)).toString('utf8')]);
    expect(Buffer.byteLength(body)).toBeGreaterThan(limit);
    const reply = await session.sendBody(body, { chunked });
    expect(reply.status).toBe(413);
    const error = await session.expect('ERROR');
    expect(error.headers['message']).toBe(message);
    expect(error.body.toString('utf8')).toBe(`${message}\n`);
    expect(await session.waitClosed()).toEqual({ code: 1009, reason: 'FRAME_TOO_LARGE' });
    expect(session.frames.map((f) => f.command)).toEqual(['CONNECTED', 'ERROR']);
  });

  it('takes a body of exactly the limit', async () => {
    const dest = `/topic/${unique()}`;
    const session = await connectedSession(running);
    await session.subscribe(dest);
    const overhead = JSON.stringify([frame('SEND', { destination: dest }, '').toString('utf8')]).length;
    const body = JSON.stringify([frame('SEND', { destination: dest }, 'k'.repeat(limit - overhead)).toString('utf8')]);
    expect(Buffer.byteLength(body)).toBe(limit);
    expect((await session.sendBody(body)).status).toBe(204);
    expect((await session.expect('MESSAGE')).body.toString('utf8')).toBe('k'.repeat(limit - overhead));
    await session.disconnect();
  });
});

describe('a SockJS client that stops polling', () => {
  const sendBufferSizeLimit = 16 * 1024;
  let running: RunningApp;
  let recorder: EventRecorder;
  beforeAll(async () => {
    running = await startStompApp({
      endpoints: [{ path: '/ws', sockjs: { heartbeatTime: 1000 } }],
      limits: { sendBufferSizeLimit, closeTimeout: 4000 },
    });
    recorder = new EventRecorder(running.app.get(StompEvents));
  });
  afterAll(async () => {
    recorder.stop();
    await running.close();
  });

  it('is closed as a slow consumer with at most the limit queued; healthy subscribers get every message', async () => {
    const dest = `/topic/${unique()}`;
    const slow = await new RawSockJsSession(httpBase(running)).opened();
    const connected = await slow.connect();
    const sessionId = connected.headers['session'];
    await slow.subscribe(dest);
    // From here on, the slow session does not poll.
    const healthy = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(healthy.client, dest, inbox);
    const healthySockJs = await connectedSession(running);
    await healthySockJs.subscribe(dest);

    const { raw: publisher } = await rawConnected(running.url);
    const chunk = 'f'.repeat(1000);
    const count = 100;
    const sockJsBodies = (): string[] => healthySockJs.frames.filter((f) => f.command === 'MESSAGE').map((f) => f.body.toString('utf8'));
    // 100 kB in all, six times the limit, in batches of 5 kB that the healthy clients (polling
    // SockJS included: what arrives between two polls is queued too) take before the next one.
    for (let i = 0; i < count; i += 5) {
      for (let j = i; j < i + 5; j++) publisher.sendFrame('SEND', { destination: dest }, `${j}:${chunk}`);
      await inbox.waitFor(i + 5);
      await healthySockJs.pollUntil(() => (sockJsBodies().length >= i + 5 ? true : undefined), `${i + 5} MESSAGEs over SockJS`);
    }
    const all = Array.from({ length: count }, (_, i) => `${i}:${chunk}`);
    expect(inbox.bodies()).toEqual(all);
    expect(sockJsBodies()).toEqual(all);

    const warning = `is a slow consumer: more than ${sendBufferSizeLimit} bytes unsent; disconnecting it`;
    await eventually(() => (running.logs.expect('warn', `Session ${sessionId} ${warning}`).length === 1 ? true : undefined), 'the slow-consumer warning');

    // Its next poll gets what was queued (bounded by the limit) and the close frame.
    expect(await slow.waitClosed()).toEqual({ code: 1008, reason: 'Send buffer limit exceeded' });
    const queued = slow.frames.filter((f) => f.command === 'MESSAGE');
    expect(queued.length).toBeGreaterThan(0);
    expect(queued.length).toBeLessThan(count);
    const queuedChars = slow.messages.slice(2).reduce<number>((n, m) => n + (m as string).length, 0);
    // The frame that found the queue full is not queued: at most the limit plus one frame.
    expect(queuedChars).toBeLessThanOrEqual(sendBufferSizeLimit + 1100);
    // In order, none lost before the cut.
    expect(queued.map((f) => f.body.toString('utf8'))).toEqual(all.slice(0, queued.length));

    const event = await disconnectOf(recorder, sessionId);
    expect(event.reason).toBe('slow-consumer');
    expect(event.session.handshake.transport).toBe('sockjs/xhr-polling');
    expect(running.app.get(StompStats).snapshot().disconnects['slow-consumer']).toBe(1);

    publisher.sendFrame('SEND', { destination: dest }, 'after');
    expect((await inbox.waitForBody('after')).body).toBe('after');
    const after = await healthySockJs.pollUntil(
      () => healthySockJs.frames.find((f) => f.body.toString('utf8') === 'after'),
      'the message sent after the cut',
    );
    expect(after.command).toBe('MESSAGE');
    await healthySockJs.disconnect();
    await publisher.close();
    await healthy.disconnect();
  });
});

describe('bodies that are not UTF-8', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({ endpoints: [{ path: '/ws', sockjs: { heartbeatTime: 1000 } }] });
  });
  afterAll(() => running.close());

  it('reach a SockJS subscriber as text with U+FFFD and the new content-length, with one warning per session', async () => {
    const dest = `/topic/${unique()}`;
    const first = await new RawSockJsSession(httpBase(running)).opened();
    const firstId = (await first.connect()).headers['session'];
    await first.subscribe(dest);
    const second = await new RawSockJsSession(httpBase(running)).opened();
    const secondId = (await second.connect()).headers['session'];
    await second.subscribe(dest);
    const ws = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(ws.client, dest, inbox);

    const { raw: publisher } = await rawConnected(running.url);
    const binary = Buffer.from([0x48, 0x69, 0xff, 0xfe, 0x21]);
    const headers = { destination: dest, 'content-type': 'application/octet-stream', 'content-length': String(binary.length) };
    publisher.send(frame('SEND', headers, binary), true);
    publisher.send(frame('SEND', headers, binary), true);
    const utf8 = Buffer.from('héllo wörld 😀', 'utf8');
    publisher.send(frame('SEND', { destination: dest, 'content-type': 'application/octet-stream', 'content-length': String(utf8.length) }, utf8), true);

    const text = 'Hi\uFFFD\uFFFD!';
    for (const session of [first, second]) {
      for (let i = 0; i < 2; i++) {
        const got = await session.expect('MESSAGE');
        expect(got.body.toString('utf8')).toBe(text);
        expect(got.headers['content-length']).toBe(String(Buffer.byteLength(text)));
        expect(got.headers['content-length']).toBe('9');
        expect(got.headers['content-type']).toBe('application/octet-stream');
      }
      const exact = await session.expect('MESSAGE');
      expect(exact.body).toEqual(utf8);
      expect(exact.headers['content-length']).toBe(String(utf8.length));
    }
    // The WebSocket subscriber gets the bytes as they were.
    await inbox.waitFor(3);
    expect(Buffer.from(inbox.messages[0].binaryBody)).toEqual(binary);

    const warning = (id: string): string =>
      `Session ${id} (sockjs/xhr-polling): a message body that is not UTF-8 was sent as text, its invalid bytes replaced by U+FFFD; ` +
      'SockJS carries text only: encode binary bodies (e.g. base64) for SockJS clients';
    expect(running.logs.expect('warn', `Session ${firstId} (sockjs/`)).toEqual([`${warning(firstId)} StompSession`]);
    expect(running.logs.expect('warn', `Session ${secondId} (sockjs/`)).toEqual([`${warning(secondId)} StompSession`]);

    await first.disconnect();
    await second.disconnect();
    await publisher.close();
    await ws.disconnect();
  });
});

describe('limits.connectTimeout over SockJS', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({ endpoints: [{ path: '/ws', sockjs: { heartbeatTime: 1000 } }], limits: { connectTimeout: 300 } });
  });
  afterAll(() => running.close());

  it('a session that sends no CONNECT gets ERROR, then the close frame', async () => {
    const session = await new RawSockJsSession(httpBase(running)).opened();
    const error = await session.expect('ERROR');
    expect(error.headers['message']).toBe('No CONNECT frame received within 300 ms');
    expect(await session.waitClosed()).toEqual({ code: 1002, reason: 'CONNECT_TIMEOUT' });
    expect(session.frames.map((f) => f.command)).toEqual(['ERROR']);
  });
});

describe('app.close() with open SockJS sessions', () => {
  it('closes a waiting poll and a streaming session with 1001', async () => {
    const running = await startStompApp({ endpoints: [{ path: '/ws', sockjs: true }] });
    const recorder = new EventRecorder(running.app.get(StompEvents));
    const polling = await new RawSockJsSession(httpBase(running)).opened();
    const pollingId = (await polling.connect()).headers['session'];
    // A poll that waits (nothing to send, SockJS heart-beat 25 s away) while the app closes.
    const waiting = polling.poll();

    const streaming = new RawSockJsSession(httpBase(running));
    const stream = http(streaming.url('xhr_streaming'), { method: 'POST' });
    await eventually(() => (running.app.get(StompStats).snapshot().sessions.current === 2 ? true : undefined), 'two open sessions');

    await running.close();
    await waiting;
    expect(polling.closeFrame).toEqual({ code: 1001, reason: 'Server shutting down' });
    const streamed = await stream;
    expect(streamed.status).toBe(200);
    const lines = streamed.body.split('\n').filter((l) => l !== '');
    expect(lines[0]).toMatch(/^h{2048}$/);
    expect(lines.slice(1)).toEqual(['o', 'c[1001,"Server shutting down"]']);
    expect((await disconnectOf(recorder, pollingId)).reason).toBe('server-shutdown');
    expect(recorder.events.filter((e) => e.type === 'disconnect').map((e) => (e as SessionDisconnectEvent).reason)).toEqual([
      'server-shutdown',
      'server-shutdown',
    ]);
    recorder.stop();
  });
});
