// A SockJS session is a STOMP session like any other: what it learns from the HTTP request that
// opened it, when it ends, and which endpoint owns it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { StompEvents, type StompSessionEvent } from '../../lib/index.js';
import { frame } from '../support/raw-client.js';
import { eventually, http, RawSockJsSession } from '../support/sockjs-raw.js';
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

  it('gives authenticate the request that opened the session: its cookies name the principal', async () => {
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
