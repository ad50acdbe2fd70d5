// A SockJS session is a STOMP session like any other: what it learns from the HTTP request that
// opened it, when it ends, and which endpoint owns it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { StompEvents, type StompSessionEvent } from '../../lib/index.js';
import { frame } from '../support/raw-client.js';
import { request as httpRequest } from 'node:http';
import { eventually, http, RawSockJsSession } from '../support/sockjs-raw.js';
import { withTimeout } from '../support/stomp-client.js';
import { startStompApp, type RunningApp } from '../support/stomp-app.js';

/** Long enough that nothing in these tests ends because of it. */
const NEVER_MS = 600_000;

describe('SockJS sessions', () => {
  let running: RunningApp;
  const events: StompSessionEvent[] = [];
  const base = (path: string) => `http://127.0.0.1:${running.port}${path}`;
  /** The events of the SockJS session whose URL names `id`. */
  const eventsOf = (id: string) => events.filter((e) => e.session.handshake.url.includes(`/${id}/`));

  beforeAll(async () => {
    running = await startStompApp({
      endpoints: [
        { path: '/ws', sockjs: { disconnectDelay: NEVER_MS } },
        { path: '/other', sockjs: true },
      ],
      limits: { closeTimeout: NEVER_MS },
      // The principal from a cookie of the HTTP request that opened the SockJS session.
      authenticate: ({ request }) => {
        const user = /(?:^|;\s*)user=(\w+)/.exec(request.headers.cookie ?? '')?.[1];
        return user === 'mallory' ? { reject: `Cookie user ${user} is banned` } : { user };
      },
    });
    running.app.get(StompEvents).events$.subscribe((e) => events.push(e));
  });
  afterAll(() => running.close());

  it('gives authenticate the cookies of the requests behind the CONNECT: they name the principal', async () => {
    const session = await new RawSockJsSession(base('/ws'), { cookie: 'theme=dark; user=alice' }).opened();
    const connected = await session.connect();
    expect(connected.headers['user-name']).toBe('alice');
    const [connect] = eventsOf(session.id);
    expect(connect.type).toBe('connect');
    expect(connect.session.handshake).toEqual({
      url: `/ws/000/${session.id}/xhr`,
      remoteAddress: '127.0.0.1',
      endpoint: '/ws',
      transport: 'sockjs/xhr-polling',
    });
    await session.disconnect();
  });

  it('refuses a CONNECT that authenticate refuses, from the cookie alone', async () => {
    const session = await new RawSockJsSession(base('/ws'), { cookie: 'user=mallory' }).opened();
    await session.sendFrames(frame('CONNECT', { 'accept-version': '1.2', host: 'h' }));
    const error = await session.expect('ERROR');
    expect(error.headers['message']).toBe('Cookie user mallory is banned');
    expect(await session.waitClosed()).toEqual({ code: 1008, reason: 'CONNECT_REJECTED' });
    running.logs.expect('debug', /CONNECT_REJECTED: Cookie user mallory is banned/);
  });

  it('authenticates a CONNECT with the post that carried it, not with the request that opened the session', async () => {
    // Another site's page opens a session with the user's cookies (a GET transport needs no
    // Origin: an <img> tag will do); the attacker then posts CONNECT to it without them.
    const id = `hijack${process.pid}`;
    // The victim's stream stays open; its body is read until the session ends.
    const streamed: Buffer[] = [];
    const ended = new Promise<string>((resolve, reject) => {
      const req = httpRequest(`${base('/ws')}/000/${id}/eventsource`, { headers: { cookie: 'user=alice' }, agent: false });
      req.on('response', (res) => {
        res.on('data', (chunk: Buffer) => streamed.push(chunk));
        res.on('end', () => resolve(Buffer.concat(streamed).toString('utf8')));
      });
      req.on('error', reject);
      req.end();
    });
    // The session is open once the stream carried its open frame.
    await eventually(() => (Buffer.concat(streamed).toString('utf8').includes('data: o') ? true : undefined), 'the open frame on the stream');
    const attacker = new RawSockJsSession(base('/ws'));
    Object.defineProperty(attacker, 'id', { value: id });
    await attacker.sendFrames(frame('CONNECT', { 'accept-version': '1.2', host: 'h' }));
    const connected = await eventually(
      () => eventsOf(attacker.id).find((e) => e.type === 'connected'),
      'the connected event of the hijack attempt',
    );
    expect(connected.session.user).toBeUndefined();
    // The opening request is still the session's handshake.
    expect(connected.session.handshake.transport).toBe('sockjs/eventsource');
    await attacker.sendFrames(frame('DISCONNECT', {}));
    const body = await withTimeout(ended, 'the end of the stream');
    expect(body).toContain('CONNECTED');
    expect(body).not.toContain('user-name');
  });

  it('names the principal from the cookies of the post that carried CONNECT', async () => {
    const session = await new RawSockJsSession(base('/ws')).opened();
    const withCookie = new RawSockJsSession(base('/ws'), { cookie: 'user=bob' });
    Object.defineProperty(withCookie, 'id', { value: session.id });
    await withCookie.sendFrames(frame('CONNECT', { 'accept-version': '1.2', host: 'h' }));
    const connected = await session.expect('CONNECTED');
    expect(connected.headers['user-name']).toBe('bob');
    await session.disconnect();
  });

  it('ends a session closed between two polls as soon as a poll took the close frame, not after the disconnect delay', async () => {
    // disconnectDelay and closeTimeout are far away: only the poll that took the close frame can end it.
    const session = await new RawSockJsSession(base('/ws')).opened();
    await session.connect();
    await session.disconnect();
    const ended = await eventually(() => eventsOf(session.id).find((e) => e.type === 'disconnect'), 'the disconnect event');
    expect(ended).toMatchObject({ type: 'disconnect', reason: 'client-disconnect' });
  });

  it('keeps a session to its own endpoint: another SockJS endpoint cannot reach it by its id', async () => {
    const session = await new RawSockJsSession(base('/ws')).opened();
    await session.connect();
    const intruder = new RawSockJsSession(base('/other'));
    Object.defineProperty(intruder, 'id', { value: session.id });
    expect(await intruder.send([frame('SEND', { destination: '/topic/x' }, 'hi').toString()])).toBe(404);
    expect((await http(intruder.url('xhr'), { method: 'POST' })).status).toBe(404);
    // The session itself is untouched.
    await session.subscribe('/topic/own');
    await session.disconnect();
  });
});
