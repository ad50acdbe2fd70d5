import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { expectRefused, frame, rawConnected } from '../support/raw-client.js';
import { http, parseSockJsFrames, RawSockJsSession } from '../support/sockjs-raw.js';
import { startStompApp, startupError, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, sendConfirmed, subscribeConfirmed, type TestClient } from '../support/stomp-client.js';

/** The HTTP base of the app's `/ws` endpoint. */
function httpBase(running: RunningApp, path = '/ws'): string {
  return `http://127.0.0.1:${running.port}${path}`;
}


/** A SockJS session, opened and connected. */
async function connectedSession(running: RunningApp, headers: Record<string, string> = {}): Promise<RawSockJsSession> {
  const session = await new RawSockJsSession(httpBase(running), headers).opened();
  await session.connect();
  return session;
}

describe('SockJS origins', () => {
  describe("allowedOrigins: ['https://app.example.com']", () => {
    let running: RunningApp;
    beforeAll(async () => {
      running = await startStompApp({ endpoints: [{ path: '/ws', sockjs: true, allowedOrigins: ['https://app.example.com'] }] });
    });
    afterAll(() => running.close());

    const refusal =
      'Refused SockJS request to /ws from origin "https://evil.example" (HTTP 403): allowedOrigins is ["https://app.example.com"]; ' +
      'to accept it, list it in StompModule.forRoot({ endpoints: [{ path: "/ws", allowedOrigins: ["https://evil.example"] }] })';

    it('refuses /info and xhr from a foreign origin with 403, logging each refusal', async () => {
      const before = running.logs.expect('warn', refusal).length;
      const info = await http(`${httpBase(running)}/info`, { headers: { origin: 'https://evil.example' } });
      expect(info.status).toBe(403);
      expect(info.headers['access-control-allow-origin']).toBeUndefined();
      const session = new RawSockJsSession(httpBase(running), { origin: 'https://evil.example' });
      const open = await session.open();
      expect(open.status).toBe(403);
      expect(open.body).toBe('');
      expect(await session.send([frame('CONNECT', { 'accept-version': '1.2', host: 'h' }).toString()])).toBe(403);
      expect(running.logs.expect('warn', refusal)).toHaveLength(before + 3);
    });

    it('refuses the websocket transport from a foreign origin with 403', async () => {
      const before = running.logs.expect('warn', refusal).length;
      const url = `ws://127.0.0.1:${running.port}/ws/000/${unique('w')}/websocket`;
      expect(await expectRefused(url, { headers: { origin: 'https://evil.example' } })).toBe(403);
      expect(running.logs.expect('warn', refusal)).toHaveLength(before + 1);
    });

    it('answers the allowed origin with 200 and Access-Control-Allow-Origin echoing it', async () => {
      const origin = 'https://app.example.com';
      const info = await http(`${httpBase(running)}/info`, { headers: { origin } });
      expect(info.status).toBe(200);
      expect(info.headers['access-control-allow-origin']).toBe(origin);
      expect(info.headers['access-control-allow-credentials']).toBe('true');
      const body = JSON.parse(info.body) as { websocket: boolean; cookie_needed: boolean; origins: string[] };
      expect(body.websocket).toBe(true);
      const session = new RawSockJsSession(httpBase(running), { origin });
      const open = await session.open();
      expect(open.status).toBe(200);
      expect(open.body).toBe('o\n');
      expect(open.headers['access-control-allow-origin']).toBe(origin);
      const connected = await session.connect();
      expect(connected.headers['version']).toBe('1.2');
      await session.disconnect();
    });

    it('accepts a request without Origin (not a browser)', async () => {
      const info = await http(`${httpBase(running)}/info`);
      expect(info.status).toBe(200);
      expect(info.headers['access-control-allow-origin']).toBe('*');
      const session = await connectedSession(running);
      expect(session.frames.map((f) => f.command)).toEqual(['CONNECTED']);
      await session.disconnect();
    });
  });

  describe('default: same origin', () => {
    let running: RunningApp;
    beforeAll(async () => {
      running = await startStompApp({ endpoints: [{ path: '/ws', sockjs: true }] });
    });
    afterAll(() => running.close());

    it('accepts the same origin and refuses another with 403 and the default rule in the log line', async () => {
      const same = `http://127.0.0.1:${running.port}`;
      const ok = await http(`${httpBase(running)}/info`, { headers: { origin: same } });
      expect(ok.status).toBe(200);
      expect(ok.headers['access-control-allow-origin']).toBe(same);
      const session = await connectedSession(running, { origin: same });
      await session.disconnect();

      for (const origin of ['https://evil.example', `http://127.0.0.1:${running.port + 1}`]) {
        const refused = await http(`${httpBase(running)}/info`, { headers: { origin } });
        expect(refused.status).toBe(403);
        expect(running.logs.expect('warn', `Refused SockJS request to /ws from origin ${JSON.stringify(origin)} (HTTP 403)`)).toEqual([
          `Refused SockJS request to /ws from origin ${JSON.stringify(origin)} (HTTP 403): only the same origin (host "127.0.0.1:${running.port}") is allowed by default; ` +
            `to accept it, list it in StompModule.forRoot({ endpoints: [{ path: "/ws", allowedOrigins: [${JSON.stringify(origin)}] }] }) StompSockJs`,
        ]);
      }
    });
  });
});

describe("SockJS with transports: ['xhr-polling']", () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({ endpoints: [{ path: '/ws', sockjs: { transports: ['xhr-polling'] } }] });
  });
  afterAll(() => running.close());

  it('/info says websocket: false', async () => {
    const info = await http(`${httpBase(running)}/info`);
    expect(info.status).toBe(200);
    expect((JSON.parse(info.body) as { websocket: boolean }).websocket).toBe(false);
  });

  it('answers xhr_streaming with 404 and opens no session', async () => {
    const session = new RawSockJsSession(httpBase(running));
    const streaming = await http(session.url('xhr_streaming'), { method: 'POST' });
    expect(streaming.status).toBe(404);
    // The session id was not taken: xhr_send to it finds no session.
    expect(await session.send(['x'])).toBe(404);
  });

  it('refuses the websocket transport upgrade with 404', async () => {
    expect(await expectRefused(`ws://127.0.0.1:${running.port}/ws/000/${unique('w')}/websocket`)).toBe(404);
  });

  it('serves xhr polling', async () => {
    const session = await connectedSession(running);
    const dest = `/topic/${unique()}`;
    await session.subscribe(dest);
    await session.sendFrames(frame('SEND', { destination: dest }, 'polled'));
    const message = await session.expect('MESSAGE');
    expect(message.body.toString('utf8')).toBe('polled');
    await session.disconnect();
  });
});

describe('invalid SockJS options fail at start-up', () => {
  it.each<[string, unknown, string]>([
    [
      'an unknown transport',
      { transports: ['bogus'] },
      'endpoints[0].sockjs.transports: unknown "bogus"; the transports are "websocket", "xhr-streaming", "xhr-polling", "eventsource", "htmlfile", "jsonp-polling"',
    ],
    ['a negative heartbeatTime', { heartbeatTime: -1 }, 'endpoints[0].sockjs.heartbeatTime must be a whole number of milliseconds from 1 to 2147483647, got -1'],
    ['sockjs given as a string', 'yes', 'endpoints[0].sockjs must be true, false or an object of SockJS options, got "yes"'],
    [
      'an unknown key',
      { heartbeat: 1000 },
      'unknown option "endpoints[0].sockjs.heartbeat": did you mean "broker.heartbeat" or "endpoints[0].sockjs.heartbeatTime"?',
    ],
  ])('%s', async (_name, sockjs, expected) => {
    const message = await startupError({ endpoints: [{ path: '/ws', sockjs }] });
    expect(message).toMatch(/^Invalid StompModule options:\n/);
    expect(message.split('\n').slice(1)).toContain(`  - ${expected}`);
  });
});

describe('SockJS messages', () => {
  let running: RunningApp;
  let subscriber: TestClient;
  beforeAll(async () => {
    running = await startStompApp({ endpoints: [{ path: '/ws', sockjs: { heartbeatTime: 1000 } }] });
    subscriber = await connectClient(running.url);
  });
  afterAll(async () => {
    await subscriber.disconnect();
    await running.close();
  });

  /** Subscribes the WebSocket subscriber to a fresh destination. */
  async function watched(): Promise<{ dest: string; inbox: Inbox }> {
    const dest = `/topic/${unique()}`;
    const inbox = new Inbox();
    await subscribeConfirmed(subscriber.client, dest, inbox);
    return { dest, inbox };
  }

  // The close frame's reason is the ERROR's code, as on the WebSocket transport.
  it.each<[string, string]>([
    ['[123]', 'SockJS messages must be strings, got number'],
    ['[{"a":1}]', 'SockJS messages must be strings, got object'],
    ['[null]', 'SockJS messages must be strings, got null'],
  ])('a message that is not a string (%s) gets ERROR then the close frame', async (body, message) => {
    const session = await connectedSession(running);
    const reply = await session.sendBody(body);
    expect(reply.status).toBe(204);
    const error = await session.expect('ERROR');
    expect(error.headers['message']).toBe(message);
    expect(error.body.toString('utf8')).toBe(`${message}\n`);
    expect(await session.waitClosed()).toEqual({ code: 1002, reason: 'INVALID_SOCKJS_MESSAGE' });
    expect(session.frames.map((f) => f.command)).toEqual(['CONNECTED', 'ERROR']);
  });

  const body = 'héllo 😀 wörld ' + 'x'.repeat(200) + ' 𝄞 end';

  it('reads a frame split across the SockJS messages of one xhr_send', async () => {
    const { dest, inbox } = await watched();
    const session = await connectedSession(running);
    const text = frame('SEND', { destination: dest, 'content-type': 'text/plain;charset=utf-8' }, body).toString('utf8');
    const parts = [text.slice(0, 3), text.slice(3, 20), text.slice(20, 100), text.slice(100)];
    expect(await session.send(parts)).toBe(204);
    expect((await inbox.waitFor(1))[0].body).toBe(body);
    await session.disconnect();
  });

  it('reads a frame split across several xhr_sends', async () => {
    const { dest, inbox } = await watched();
    const session = await connectedSession(running);
    const text = frame('SEND', { destination: dest }, body).toString('utf8');
    for (let at = 0; at < text.length; at += 37) expect(await session.send([text.slice(at, at + 37)])).toBe(204);
    expect((await inbox.waitFor(1))[0].body).toBe(body);
    await session.disconnect();
  });

  it('reads several frames in one SockJS message', async () => {
    const { dest, inbox } = await watched();
    const session = await connectedSession(running);
    const frames = ['one', 'two', body].map((b) => frame('SEND', { destination: dest }, b).toString('utf8'));
    expect(await session.send([frames.join('')])).toBe(204);
    await inbox.waitFor(3);
    expect(inbox.bodies()).toEqual(['one', 'two', body]);
    await session.disconnect();
  });

  it('reads a character split between two messages (high surrogate at the end of one, low at the start of the next)', async () => {
    const { dest, inbox } = await watched();
    const session = await connectedSession(running);
    const text = frame('SEND', { destination: dest }, body).toString('utf8');
    const emoji = text.indexOf('😀');
    const clef = text.indexOf('𝄞');
    // Each cut leaves a lone high surrogate at the end of a message.
    for (const at of [emoji, clef]) expect(text.charCodeAt(at) >= 0xd800 && text.charCodeAt(at) <= 0xdbff).toBe(true);
    // In one xhr_send, and across two.
    expect(await session.send([text.slice(0, emoji + 1), text.slice(emoji + 1, clef + 1)])).toBe(204);
    expect(await session.send([text.slice(clef + 1)])).toBe(204);
    expect((await inbox.waitFor(1))[0].body).toBe(body);
    await session.disconnect();
  });

  it('answers malformed STOMP with the same ERROR as over WebSocket, then closes; other sessions go on', async () => {
    const { dest, inbox } = await watched();
    const bystander = await connectedSession(running);
    await bystander.subscribe(dest);
    const malformed = 'SEND\ndestination:/topic/x\nno-colon-here\n\nbody\0';

    const { raw } = await rawConnected(running.url);
    raw.send(malformed);
    const overWebSocket = await raw.expect('ERROR');
    const webSocketClose = await raw.waitClosed();

    const session = await connectedSession(running);
    expect(await session.send([malformed])).toBe(204);
    const overSockJs = await session.expect('ERROR');
    expect(overSockJs.headers['message']).toBe(overWebSocket.headers['message']);
    expect(overSockJs.headers['message']).toMatch(/colon/i);
    expect(overSockJs.body.toString('utf8')).toBe(overWebSocket.body.toString('utf8'));
    expect(await session.waitClosed()).toEqual({ code: webSocketClose.code, reason: webSocketClose.reason });

    await sendConfirmed(subscriber.client, dest, 'still here');
    expect((await inbox.waitForBody('still here')).body).toBe('still here');
    const got = await bystander.expect('MESSAGE');
    expect(got.body.toString('utf8')).toBe('still here');
    await bystander.disconnect();
  });
});

describe('parseSockJsFrames (test support)', () => {
  it('reads every SockJS frame type', () => {
    expect(parseSockJsFrames('o\nh\na["x","y"]\nc[1000,"bye"]\n')).toEqual([
      { type: 'o' },
      { type: 'h' },
      { type: 'a', messages: ['x', 'y'] },
      { type: 'c', code: 1000, reason: 'bye' },
    ]);
  });
});
