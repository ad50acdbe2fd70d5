// Issue 10, limits: `limits.maxSessions` (HTTP 503 at the handshake; SESSION_LIMIT at CONNECT for
// SockJS sessions beyond it), `limits.maxSessionsPerUser` (SESSION_LIMIT at CONNECT), and
// `limits.sendTimeLimit` over SockJS. Each violation: one warning line, counted in stats, the
// limit named in the disconnect event; the other sessions carry on.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { StompEvents, StompStats, type SessionDisconnectEvent } from '../../lib/index.js';
import { CONNECT_12, expectErrorNaming, request } from '../hostile/hostile-support.js';
import { EventRecorder } from '../support/event-recorder.js';
import { hasStack } from '../support/handler-fixtures.js';
import { expectRefused, frame, HandshakeRefused, RawStompClient, rawConnected } from '../support/raw-client.js';
import { eventually, RawSockJsSession } from '../support/sockjs-raw.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';

/** The disconnect event of the session that CONNECTED (or ERROR's session) named `sessionId`, or of `tag`'s session. */
function disconnectOf(recorder: EventRecorder, match: (e: SessionDisconnectEvent) => boolean, what: string): Promise<SessionDisconnectEvent> {
  return eventually(() => recorder.events.find((e): e is SessionDisconnectEvent => e.type === 'disconnect' && match(e)), what);
}

/** A SEND to the client's own subscription comes back: the session works. */
async function roundTrip(raw: RawStompClient, destination: string): Promise<void> {
  const body = unique('ping');
  raw.sendFrame('SEND', { destination }, body);
  const got = await raw.nextMatching((f) => f.command === 'MESSAGE' && f.body.toString() === body, body);
  expect(got.command).toBe('MESSAGE');
}

describe('limits.maxSessions', () => {
  const MAX = 3;
  let running: RunningApp;
  let recorder: EventRecorder;
  beforeAll(async () => {
    running = await startStompApp({ endpoints: [{ path: '/ws', sockjs: true }], limits: { maxSessions: MAX, closeTimeout: 200 } });
    recorder = new EventRecorder(running.app.get(StompEvents));
  });
  afterAll(async () => {
    recorder.stop();
    await running.close();
  });

  it('counts sessions from the handshake (an idle socket too) and refuses the handshake beyond it with 503; the others carry on', async () => {
    const destination = `/topic/${unique('mine')}`;
    const { raw: first } = await rawConnected(running.url, CONNECT_12);
    expect((await request(first, 'SUBSCRIBE', { id: 's', destination }))?.command).toBe('RECEIPT');
    const { raw: second } = await rawConnected(running.url, CONNECT_12);
    const idleTag = unique('idle');
    const idle = await RawStompClient.open(`${running.url}?t=${idleTag}`); // never sends CONNECT

    expect(await expectRefused(running.url)).toBe(503);
    const warnings = running.logs.expect('warn', 'refused with HTTP 503');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^WebSocket handshake on \/ws from 127\.0\.0\.1 refused with HTTP 503: 3 sessions open, limits\.maxSessions is 3/);
    expect(hasStack(warnings[0])).toBe(false);
    expect(running.app.get(StompStats).snapshot().limitsExceeded.maxSessions).toBe(1);

    await roundTrip(first, destination);
    expect(second.closeInfo).toBeUndefined();

    // One gone (its disconnect seen: the registry lets go of it first), one more may come.
    await idle.close();
    await disconnectOf(recorder, (e) => e.session.handshake.url.includes(idleTag), 'the idle socket to end');
    const { raw: third } = await rawConnected(running.url, CONNECT_12);
    expect(await expectRefused(running.url)).toBe(503);
    running.logs.expect('warn', 'refused with HTTP 503');
    expect(running.app.get(StompStats).snapshot().limitsExceeded.maxSessions).toBe(2);
    await Promise.all([first.close(), second.close(), third.close()]);
  });

  it('a SockJS session opened beyond it gets, at CONNECT, an ERROR SESSION_LIMIT naming limits.maxSessions, then 1008', async () => {
    const open = await Promise.all(Array.from({ length: MAX }, () => rawConnected(running.url, CONNECT_12)));
    const before = running.app.get(StompStats).snapshot().limitsExceeded.maxSessions;
    const sockjs = await new RawSockJsSession(`http://127.0.0.1:${running.port}/ws`).opened();
    await sockjs.sendFrames(frame('CONNECT', { ...CONNECT_12, 'heart-beat': '0,0' }));
    const error = await sockjs.expect('ERROR');
    expectErrorNaming(error, /^Session limit reached \(limits\.maxSessions is 3, 3 other sessions open\)$/);
    expect(await sockjs.waitClosed()).toEqual({ code: 1008, reason: 'SESSION_LIMIT' });
    const event = await disconnectOf(recorder, (e) => e.errorCode === 'SESSION_LIMIT', 'the refused session to end');
    expect(event).toMatchObject({ reason: 'error', errorCode: 'SESSION_LIMIT', limit: 'maxSessions', closeCode: 1008 });
    expect(event.session.handshake.transport).toBe('sockjs/xhr-polling');
    const warnings = running.logs.expect('warn', 'CONNECT refused: 3 other sessions open');
    expect(warnings).toHaveLength(1);
    expect(hasStack(warnings[0])).toBe(false);
    expect(running.app.get(StompStats).snapshot().limitsExceeded.maxSessions).toBe(before + 1);
    for (const { raw } of open) expect(raw.closeInfo).toBeUndefined();
    await Promise.all(open.map(({ raw }) => raw.close()));
  });
});

describe('limits.maxSessions with an asynchronous authenticateHandshake', () => {
  it('counts handshakes still being authenticated: parallel ones beyond the limit get 503, and a refused one gives its place back', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const asked: string[] = [];
    const running = await startStompApp({
      limits: { maxSessions: 2 },
      authenticator: {
        authenticateHandshake: async (request) => {
          asked.push(request.url ?? '');
          await gate;
          return request.url?.includes('bad') ? { reject: 'Bad token' } : {};
        },
      },
    });
    try {
      // Five handshakes at once, none a session yet while the authenticator thinks.
      let settled = 0;
      const attempt = (query: string): Promise<RawStompClient> => RawStompClient.open(`${running.url}?${query}`).finally(() => settled++);
      const attempts = [attempt('bad')];
      await eventually(() => (asked.length === 1 ? true : undefined), 'the bad handshake to be pending');
      attempts.push(...[2, 3, 4, 5].map((n) => attempt(`n=${n}`)));
      await eventually(() => (asked.length + settled === 5 ? true : undefined), 'each handshake pending or refused');
      expect(asked).toHaveLength(2);
      open();
      const results = await Promise.allSettled(attempts);
      const statuses = results.map((r) => (r.status === 'fulfilled' ? 'open' : r.reason instanceof HandshakeRefused ? r.reason.status : String(r.reason)));
      // The bad one was refused by the authenticator (401), one opened, three never reached it (503).
      expect(statuses.filter((s) => s === 503)).toHaveLength(3);
      expect(statuses.filter((s) => s === 401)).toHaveLength(1);
      expect(statuses.filter((s) => s === 'open')).toHaveLength(1);
      expect(running.logs.expect('warn', /refused with HTTP 503: 0 sessions open and 2 handshakes being authenticated, limits\.maxSessions is 2/)).toHaveLength(3);
      expect(running.logs.expect('warn', /refused \(401\): "Bad token"/)).toHaveLength(1);
      // The refused handshake's place is free again: one more session may open, then the limit holds.
      const { raw: second } = await rawConnected(running.url, CONNECT_12);
      expect(await expectRefused(running.url)).toBe(503);
      expect(running.logs.expect('warn', /refused with HTTP 503: 2 sessions open, limits\.maxSessions is 2/)).toHaveLength(1);
      await second.close();
      for (const r of results) if (r.status === 'fulfilled') await r.value.close();
    } finally {
      await running.close();
    }
  });
});

describe('refused WebSocket handshakes', () => {
  it('let go of the socket once the refusal is written, though the client never closes its side (else each would hold a file descriptor for ever, uncounted)', async () => {
    const running = await startStompApp({
      limits: { maxSessions: 1 },
      authenticator: { authenticateHandshake: (request) => (request.url?.includes('bad') ? { reject: 'Bad token' } : {}) },
    });
    const server = running.app.getHttpServer() as Server;
    const connections = (): Promise<number> => new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    const port = Number(new URL(running.url).port);
    const stubborn: Socket[] = [];
    /** A raw upgrade request from a client that reads the answer but never ends its side. */
    const upgrade = (path: string): Promise<string> =>
      new Promise((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
        stubborn.push(socket);
        let answer = '';
        socket.on('data', (data: Buffer) => {
          answer += data.toString();
          if (answer.includes('\r\n\r\n')) resolve(answer.slice(0, answer.indexOf('\r\n')));
        });
        socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
    try {
      expect(await upgrade('/ws?bad')).toBe('HTTP/1.1 401 Unauthorized');
      const { raw } = await rawConnected(running.url, CONNECT_12);
      expect(await upgrade('/ws')).toBe('HTTP/1.1 503 Service Unavailable');
      // Only the session's connection is left.
      let open = await connections();
      for (let round = 0; round < 500 && open !== 1; round++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        open = await connections();
      }
      expect(open).toBe(1);
      expect(running.logs.expect('warn', 'refused (401): "Bad token"')).toHaveLength(1);
      expect(running.logs.expect('warn', 'refused with HTTP 503')).toHaveLength(1);
      await raw.close();
    } finally {
      for (const socket of stubborn) socket.destroy();
      await running.close();
    }
  });
});

describe('limits.maxSessionsPerUser', () => {
  let running: RunningApp;
  let recorder: EventRecorder;
  beforeAll(async () => {
    running = await startStompApp({
      limits: { maxSessionsPerUser: 2, closeTimeout: 200 },
      authenticate: ({ login }) => (login === undefined ? {} : { user: login }),
    });
    recorder = new EventRecorder(running.app.get(StompEvents));
  });
  afterAll(async () => {
    recorder.stop();
    await running.close();
  });

  it('refuses the CONNECT beyond it with an ERROR naming the option, then 1008; the user\'s other sessions, other users and anonymous ones carry on', async () => {
    const ann = { ...CONNECT_12, login: 'ann' };
    const destination = `/topic/${unique('ann')}`;
    const { raw: ann1 } = await rawConnected(running.url, ann);
    expect((await request(ann1, 'SUBSCRIBE', { id: 's', destination }))?.command).toBe('RECEIPT');
    const { raw: ann2 } = await rawConnected(running.url, ann);

    const tag = unique('ann3');
    const ann3 = await RawStompClient.open(`${running.url}?t=${tag}`);
    ann3.sendFrame('CONNECT', { ...ann, receipt: 'c' });
    const error = await ann3.expect('ERROR');
    expectErrorNaming(error, /^Session limit reached \(limits\.maxSessionsPerUser is 2, user "ann" already has 2 sessions\)$/);
    expect(await ann3.waitClosed()).toEqual({ code: 1008, reason: 'SESSION_LIMIT' });
    const event = await recorder.waitFor(tag, 'disconnect');
    expect(event).toMatchObject({ reason: 'error', errorCode: 'SESSION_LIMIT', limit: 'maxSessionsPerUser', closeCode: 1008 });
    expect(recorder.types(tag)).toEqual(['connect', 'disconnect']);
    const warnings = running.logs.expect('warn', 'CONNECT refused: user "ann" already has 2 sessions');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Session [0-9a-f-]+: CONNECT refused: user "ann" already has 2 sessions, limits\.maxSessionsPerUser is 2/);
    expect(hasStack(warnings[0])).toBe(false);
    const stats = running.app.get(StompStats).snapshot();
    expect(stats.limitsExceeded.maxSessionsPerUser).toBe(1);
    expect(stats.errorsSent.byCode['SESSION_LIMIT']).toBe(1);

    await roundTrip(ann1, destination);
    expect(ann2.closeInfo).toBeUndefined();
    const { raw: bob, connected } = await rawConnected(running.url, { ...CONNECT_12, login: 'bob' });
    expect(connected.headers['user-name']).toBe('bob');
    const anonymous = await Promise.all([rawConnected(running.url, CONNECT_12), rawConnected(running.url, CONNECT_12), rawConnected(running.url, CONNECT_12)]);

    // One of ann's sessions ends: she may open another.
    await ann2.close();
    await eventually(() => (running.app.get(StompStats).snapshot().disconnects['client-disconnect'] + running.app.get(StompStats).snapshot().disconnects['socket-closed'] >= 1 ? true : undefined), 'ann2 to end');
    const { raw: ann4, connected: again } = await rawConnected(running.url, ann);
    expect(again.headers['user-name']).toBe('ann');
    await Promise.all([ann1.close(), ann4.close(), bob.close(), ...anonymous.map(({ raw }) => raw.close())]);
  });
});

describe('limits.sendTimeLimit over SockJS', () => {
  let running: RunningApp;
  let recorder: EventRecorder;
  beforeAll(async () => {
    running = await startStompApp({ endpoints: [{ path: '/ws', sockjs: true }], limits: { sendTimeLimit: 500, closeTimeout: 200 } });
    recorder = new EventRecorder(running.app.get(StompEvents));
  });
  afterAll(async () => {
    recorder.stop();
    await running.close();
  });

  it('closes an xhr-polling client that stops polling while frames wait for it (before the disconnect delay), far under sendBufferSizeLimit', async () => {
    const destination = `/topic/${unique('polled')}`;
    const slow = await new RawSockJsSession(`http://127.0.0.1:${running.port}/ws`).opened();
    const id = (await slow.connect()).headers['session'];
    await slow.subscribe(destination);
    const { raw: publisher } = await rawConnected(running.url, CONNECT_12);
    expect((await request(publisher, 'SEND', { destination }, 'waiting'))?.command).toBe('RECEIPT');

    const warning = await eventually(() => running.logs.expect('warn', `Session ${id} is a slow consumer`)[0], 'the slow-consumer warning');
    expect(warning).toMatch(new RegExp(`^Session ${id} is a slow consumer: \\d+ bytes unsent and none sent for 500 ms \\(limits\\.sendTimeLimit\\)`));
    // Its next poll gets what waited, then the close frame.
    expect(await slow.waitClosed()).toEqual({ code: 1008, reason: 'Send time limit exceeded' });
    expect(slow.frames.filter((f) => f.command === 'MESSAGE').map((f) => f.body.toString())).toEqual(['waiting']);
    const event = await disconnectOf(recorder, (e) => e.session.id === id, 'the slow SockJS session to end');
    expect(event).toMatchObject({ reason: 'slow-consumer', limit: 'sendTimeLimit', closeCode: 1008 });
    expect(running.app.get(StompStats).snapshot().limitsExceeded.sendTimeLimit).toBe(1);
    await publisher.close();
  });

  it('keeps a polling client that polls, though frames wait for it between polls', async () => {
    const destination = `/topic/${unique('polling')}`;
    const session = await new RawSockJsSession(`http://127.0.0.1:${running.port}/ws`).opened();
    const id = (await session.connect()).headers['session'];
    await session.subscribe(destination);
    const { raw: publisher } = await rawConnected(running.url, CONNECT_12);
    // Each message waits 150 ms (under a third of the limit) for the next poll: progress every time, never a stall.
    for (let i = 0; i < 10; i++) {
      expect((await request(publisher, 'SEND', { destination }, `m${i}`))?.command).toBe('RECEIPT');
      await new Promise((r) => setTimeout(r, 150));
      await session.pollUntil(() => (session.frames.filter((f) => f.command === 'MESSAGE').length > i ? true : undefined), `m${i}`);
    }
    expect(session.frames.filter((f) => f.command === 'MESSAGE').map((f) => f.body.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(session.closeFrame).toBeUndefined();
    expect(running.logs.expect('warn', `Session ${id} is a slow consumer`)).toEqual([]);
    await session.disconnect();
    await publisher.close();
  });
});
