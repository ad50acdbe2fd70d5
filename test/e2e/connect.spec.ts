import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LIBRARY_VERSION } from '../../lib/module/resolve-options.js';
import { SessionRegistry, type StompConnectRequest } from '../../lib/index.js';
import { frame, RawStompClient, rawConnected } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import {
  connectClient,
  connectExpectingError,
  Inbox,
  sendConfirmed,
  subscribeConfirmed,
  type TestClient,
} from '../support/stomp-client.js';

describe('CONNECT and version negotiation', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({ broker: { kind: 'simple', heartbeat: { floor: 100 } } });
  });
  afterAll(() => running.close());

  it('answers a stompjs CONNECT with version, heart-beat, server and session', async () => {
    const c = await connectClient(running.url);
    const h = c.connected.headers;
    expect(h['version']).toBe('1.2');
    expect(h['heart-beat']).toBe('0,0');
    expect(h['server']).toBe(`nestjs-stomp/${LIBRARY_VERSION}`);
    expect(h['session']).toMatch(/^[0-9a-f-]{36}$/);
    expect(h['user-name']).toBeUndefined();
    await c.disconnect();
  });

  it('gives every connection its own session id', async () => {
    const a = await rawConnected(running.url);
    const b = await rawConnected(running.url);
    expect(a.connected.headers['session']).not.toBe(b.connected.headers['session']);
    await a.raw.close();
    await b.raw.close();
  });

  it('accepts the STOMP command like CONNECT', async () => {
    const raw = await RawStompClient.open(running.url, { protocols: ['v12.stomp'] });
    raw.sendFrame('STOMP', { 'accept-version': '1.2', host: 'localhost' });
    const connected = await raw.expect('CONNECTED');
    expect(connected.headers['version']).toBe('1.2');
    // The session works: a receipt comes back.
    raw.sendFrame('SUBSCRIBE', { id: '0', destination: `/topic/${unique()}`, receipt: 'r1' });
    expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe('r1');
    await raw.close();
  });

  it.each([
    ['1.0,1.1,1.2', '1.2'],
    ['1.1,1.0', '1.1'],
    ['1.0', '1.0'],
    ['1.2', '1.2'],
    ['1.1, 1.2 ', '1.2'],
  ])('negotiates accept-version %j to %s without a sub-protocol', async (accept, version) => {
    const { raw, connected } = await rawConnected(running.url, { 'accept-version': accept, host: 'h' });
    expect(raw.protocol).toBe('');
    expect(connected.headers['version']).toBe(version);
    await raw.close();
  });

  it.each([
    [['v12.stomp'], 'v12.stomp', '1.2'],
    [['v11.stomp'], 'v11.stomp', '1.1'],
    [['v10.stomp'], 'v10.stomp', '1.0'],
    [['v10.stomp', 'v11.stomp', 'v12.stomp'], 'v12.stomp', '1.2'],
    [['v10.stomp', 'v11.stomp'], 'v11.stomp', '1.1'],
  ])('with sub-protocols %j and no accept-version picks %s and STOMP %s', async (protocols, picked, version) => {
    const raw = await RawStompClient.open(running.url, { protocols });
    expect(raw.protocol).toBe(picked);
    raw.sendFrame('CONNECT', { host: 'localhost' });
    const connected = await raw.expect('CONNECTED');
    expect(connected.headers['version']).toBe(version);
    await raw.close();
  });

  it('without sub-protocol and without accept-version speaks 1.0', async () => {
    const raw = await RawStompClient.open(running.url);
    raw.sendFrame('CONNECT', {});
    expect((await raw.expect('CONNECTED')).headers['version']).toBe('1.0');
    await raw.close();
  });

  it('prefers accept-version when it does not list the sub-protocol version', async () => {
    const raw = await RawStompClient.open(running.url, { protocols: ['v12.stomp'] });
    raw.sendFrame('CONNECT', { 'accept-version': '1.0,1.1', host: 'h' });
    expect((await raw.expect('CONNECTED')).headers['version']).toBe('1.1');
    await raw.close();
  });

  it('uses the sub-protocol version when accept-version lists it', async () => {
    const raw = await RawStompClient.open(running.url, { protocols: ['v11.stomp'] });
    raw.sendFrame('CONNECT', { 'accept-version': '1.0,1.1,1.2', host: 'h' });
    expect((await raw.expect('CONNECTED')).headers['version']).toBe('1.1');
    await raw.close();
  });

  it('stompjs restricted to 1.1 connects with 1.1', async () => {
    const c = await connectClient(running.url, { versions: ['1.1'] });
    expect(c.connected.headers['version']).toBe('1.1');
    await c.disconnect();
  });

  it('refuses an unsupported version with an ERROR carrying the version header, then closes', async () => {
    const raw = await RawStompClient.open(running.url);
    raw.sendFrame('CONNECT', { 'accept-version': '2.0,3.1', host: 'h' });
    const error = await raw.expect('ERROR');
    expect(error.headers['version']).toBe('1.0,1.1,1.2');
    expect(error.headers['message']).toMatch(/Supported protocol versions are 1\.0 1\.1 1\.2/);
    expect(error.body.toString()).toContain('Supported protocol versions');
    const closed = await raw.waitClosed();
    expect(closed.code).toBe(1002);
    expect(raw.frames).toHaveLength(1);
  });

  it('refuses a second CONNECT on the same session', async () => {
    const { raw } = await rawConnected(running.url);
    raw.sendFrame('CONNECT', { 'accept-version': '1.2', host: 'h' });
    const error = await raw.expect('ERROR');
    expect(error.headers['message']).toMatch(/already connected/);
    await raw.waitClosed();
  });

  it('refuses an unparseable heart-beat header', async () => {
    const raw = await RawStompClient.open(running.url);
    raw.sendFrame('CONNECT', { 'accept-version': '1.2', host: 'h', 'heart-beat': 'soon' });
    const error = await raw.expect('ERROR');
    expect(error.headers['message']).toMatch(/Invalid heart-beat header "soon"/);
    await raw.waitClosed();
  });

  it('copes with rapid connect and disconnect cycles, and forgets every session', async () => {
    const sessions = running.app.get(SessionRegistry);
    const before = sessions.size;
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const raw = await RawStompClient.open(running.url);
          if (i % 3 === 0) {
            raw.ws.terminate(); // gone before CONNECT
          } else if (i % 3 === 1) {
            raw.send(Buffer.concat([frame('CONNECT', { 'accept-version': '1.2', host: 'h' }), frame('DISCONNECT', { receipt: 'x' })]));
            await raw.waitClosed();
          } else {
            await raw.connect();
            raw.ws.terminate(); // dropped without DISCONNECT
          }
          await raw.waitClosed();
        }),
      );
    }
    for (let i = 0; i < 200 && sessions.size !== before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sessions.size).toBe(before);
    const c = await connectClient(running.url);
    expect(c.connected.headers['version']).toBe('1.2');
    await c.disconnect();
  });

  it('closes a connection that never sends CONNECT, after connectTimeout', async () => {
    const short = await startStompApp({ limits: { connectTimeout: 150 } });
    try {
      const raw = await RawStompClient.open(short.url);
      const error = await raw.expect('ERROR');
      expect(error.headers['message']).toBe('No CONNECT frame received within 150 ms');
      expect((await raw.waitClosed()).code).toBe(1002);
    } finally {
      await short.close();
    }
  });
});

describe('the authenticate option', () => {
  let running: RunningApp;
  const seen: StompConnectRequest[] = [];
  let observer: TestClient;
  const alive = `/topic/${unique('alive')}`;
  const observed = new Inbox();

  beforeAll(async () => {
    running = await startStompApp({
      authenticate: async (request) => {
        seen.push(request);
        // Decide asynchronously, so frames pipelined after CONNECT must wait for the decision.
        await new Promise((r) => setImmediate(r));
        if (request.login === 'mallory') return { reject: `User ${request.login} is not allowed here` };
        if (request.login === 'thrower') throw new Error('Directory unavailable');
        if (request.login === 'guest' && request.passcode !== 'guest') return { reject: 'Wrong passcode for guest' };
        if (request.login !== undefined) return { user: request.login };
        return {};
      },
    });
    observer = await connectClient(running.url);
    await subscribeConfirmed(observer.client, alive, observed);
  });
  afterAll(() => running.close());

  it('accepts anonymously: no user-name', async () => {
    const c = await connectClient(running.url);
    expect(c.connected.headers['user-name']).toBeUndefined();
    await c.disconnect();
  });

  it('names the user: CONNECTED carries user-name, and the hook saw the CONNECT', async () => {
    const c = await connectClient(running.url, {
      connectHeaders: { login: 'alice', passcode: 'secret', 'x-tenant': 'acme' },
    });
    expect(c.connected.headers['user-name']).toBe('alice');
    const request = seen.find((r) => r.login === 'alice');
    expect(request?.passcode).toBe('secret');
    expect(request?.headers['x-tenant']).toBe('acme');
    expect(request?.sessionId).toBe(c.connected.headers['session']);
    expect(request?.request.url).toBe('/ws');
    await c.disconnect();
  });

  it('checks the passcode of a known user', async () => {
    const ok = await connectClient(running.url, { connectHeaders: { login: 'guest', passcode: 'guest' } });
    expect(ok.connected.headers['user-name']).toBe('guest');
    await ok.disconnect();
    const bad = await connectExpectingError(running.url, { connectHeaders: { login: 'guest', passcode: 'nope' } });
    expect(bad.connected).toBe(false);
    expect(bad.error?.headers['message']).toBe('Wrong passcode for guest');
    expect(bad.closeCode).toBe(1008);
  });

  it('rejects with the hook message in an ERROR frame, then closes', async () => {
    const result = await connectExpectingError(running.url, { connectHeaders: { login: 'mallory', passcode: 'x' } });
    expect(result.connected).toBe(false);
    expect(result.error?.headers['message']).toBe('User mallory is not allowed here');
    expect(result.error?.body).toContain('User mallory is not allowed here');
    expect(result.closeCode).toBe(1008);
  });

  it('rejects when the hook throws, with the error message', async () => {
    const result = await connectExpectingError(running.url, { connectHeaders: { login: 'thrower' } });
    expect(result.error?.headers['message']).toBe('Directory unavailable');
    expect(result.closeCode).toBe(1008);
  });

  it('holds frames pipelined after CONNECT until the hook accepts', async () => {
    const raw = await RawStompClient.open(running.url);
    const dest = `/topic/${unique()}`;
    raw.send(
      Buffer.concat([
        frame('CONNECT', { 'accept-version': '1.2', host: 'h', login: 'bob' }),
        frame('SUBSCRIBE', { id: 's', destination: dest }),
        frame('SEND', { destination: dest, receipt: 'sent' }, 'pipelined'),
      ]),
    );
    const connected = await raw.expect('CONNECTED');
    expect(connected.headers['user-name']).toBe('bob');
    const message = await raw.expect('MESSAGE');
    expect(message.body.toString()).toBe('pipelined');
    expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe('sent');
    await raw.close();
  });

  it('keeps order and loses nothing when more frames are pipelined than it buffers while deciding', async () => {
    const raw = await RawStompClient.open(running.url);
    const dest = `/queue/${unique()}`;
    const frames = [frame('CONNECT', { 'accept-version': '1.2', host: 'h', login: 'carol' }), frame('SUBSCRIBE', { id: 's', destination: dest })];
    // Well above the 256 frames a session buffers before it stops reading.
    for (let i = 0; i < 700; i++) frames.push(frame('SEND', { destination: dest }, `p${i}`));
    const bytes = Buffer.concat(frames);
    // In a few WebSocket messages, so some arrive while the session has paused reading.
    for (let pos = 0; pos < bytes.length; pos += 8000) raw.send(bytes.subarray(pos, pos + 8000));
    await raw.expect('CONNECTED');
    const bodies: string[] = [];
    for (let i = 0; i < 700; i++) bodies.push((await raw.expect('MESSAGE')).body.toString());
    expect(bodies).toEqual(Array.from({ length: 700 }, (_, i) => `p${i}`));
    await raw.close();
  });

  it('drops frames pipelined after a rejected CONNECT', async () => {
    const raw = await RawStompClient.open(running.url);
    raw.send(
      Buffer.concat([
        frame('CONNECT', { 'accept-version': '1.2', host: 'h', login: 'mallory' }),
        frame('SEND', { destination: alive }, 'from-mallory'),
      ]),
    );
    const error = await raw.expect('ERROR');
    expect(error.headers['message']).toBe('User mallory is not allowed here');
    await raw.waitClosed();
    expect(raw.frames).toHaveLength(1);
    // A later message reaches the observer, and the rejected one never did.
    const publisher = await connectClient(running.url);
    await sendConfirmed(publisher.client, alive, 'after-mallory');
    await observed.waitForBody('after-mallory');
    expect(observed.bodies()).not.toContain('from-mallory');
    await publisher.disconnect();
  });
});
