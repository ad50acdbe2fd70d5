import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { IStompSocket } from '@stomp/stompjs';
import SockJS from 'sockjs-client';
import { WebSocket } from 'ws';
import {
  MessageMapping,
  Principal,
  SendToUser,
  SessionAttribute,
  SimpUserRegistry,
  type StompAuthenticator,
  type StompConnectDecision,
  type StompConnectRequest,
  type StompHandshakeDecision,
  type StompPrincipal,
} from '../../lib/index.js';
import { connectAs, inboxOf, json, sendAndWait, startupError } from '../support/handler-fixtures.js';
import { expectRefused, RawStompClient, rawConnected } from '../support/raw-client.js';
import { startStompApp, type RunningApp } from '../support/stomp-app.js';
import { connectExpectingError, GUARD_MS, startClient, withTimeout, type TestClient } from '../support/stomp-client.js';

/** Stands for a JwtService or a user table: what the authenticator injects. */
@Injectable()
class TokenService {
  readonly tokens = new Map<string, { name: string; roles: string[]; expiresAt?: number }>([
    ['t-ann', { name: 'ann', roles: ['admin'] }],
    ['t-bob', { name: 'bob', roles: [] }],
  ]);
  readonly banned = new Set(['t-eve']);
  /** Handshakes left hanging by the t-hang token so far. */
  hung = 0;
  /** Handshakes the authenticator was asked about. */
  handshakes = 0;
  verify(token: string): { name: string; roles: string[]; expiresAt?: number } | 'banned' | undefined {
    return this.banned.has(token) ? 'banned' : this.tokens.get(token);
  }
}

function queryToken(request: IncomingMessage): string | undefined {
  return new URL(request.url ?? '/', 'http://localhost').searchParams.get('access_token') ?? undefined;
}

/** Handshake: `?access_token=` or a `token` cookie. CONNECT: `Authorization: Bearer …` when the handshake named nobody. */
@Injectable()
class TokenAuthenticator implements StompAuthenticator {
  /** A token that makes the handshake hang, to test the connect timeout. */
  static readonly HANG = 't-hang';
  constructor(private readonly tokens: TokenService) {}

  async authenticateHandshake(request: IncomingMessage): Promise<StompHandshakeDecision> {
    this.tokens.handshakes++;
    const cookie = /(?:^|;\s*)token=([^;]+)/.exec(request.headers.cookie ?? '')?.[1];
    const token = queryToken(request) ?? cookie;
    if (token === undefined) return {};
    if (token === TokenAuthenticator.HANG) {
      this.tokens.hung++;
      return new Promise<never>(() => undefined);
    }
    const found = this.tokens.verify(token);
    if (found === 'banned') return { reject: 'This account is suspended', status: 403 };
    if (found === undefined) throw new Error('Invalid token');
    return { user: { name: found.name, roles: found.roles }, attributes: { via: 'handshake' }, expiresAt: found.expiresAt };
  }

  authenticateConnect(request: StompConnectRequest): StompConnectDecision {
    if (request.principal !== undefined) return {};
    const bearer = /^Bearer (.+)$/.exec(request.headers['Authorization'] ?? '')?.[1];
    if (bearer === undefined) return { reject: 'Missing credentials (a token in ?access_token= or an Authorization Bearer header)' };
    const found = this.tokens.verify(bearer);
    if (found === undefined || found === 'banned') return { reject: 'Invalid bearer token' };
    return { user: { name: found.name, roles: found.roles }, attributes: { via: 'connect' }, expiresAt: found.expiresAt };
  }
}

@Controller()
class MeController {
  @MessageMapping('/me')
  @SendToUser('/queue/me')
  me(@Principal() principal: StompPrincipal, @SessionAttribute('via') via: unknown) {
    return { principal, via };
  }
}

describe('an injectable authenticator: handshake (HTTP 401/403) and CONNECT', () => {
  let running: RunningApp;
  let tokens: TokenService;
  const open: TestClient[] = [];

  beforeAll(async () => {
    running = await startStompApp(
      {
        endpoints: [{ path: '/ws', sockjs: true }],
        authenticator: TokenAuthenticator,
        limits: { connectTimeout: 500 },
      },
      { controllers: [MeController], providers: [TokenService, TokenAuthenticator] },
    );
    tokens = running.app.get(TokenService);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.disconnect()));
  });

  afterAll(async () => {
    await running?.close();
  });

  async function whoami(tc: TestClient): Promise<unknown> {
    const inbox = await inboxOf(tc, '/user/queue/me');
    await sendAndWait(tc, '/app/me', {});
    return json((await inbox.waitFor(1))[0]);
  }

  it('names the principal from ?access_token= at the handshake, with the injected service', async () => {
    const ann = await connectAs(`${running.url}?access_token=t-ann`);
    open.push(ann);
    expect(ann.connected.headers['user-name']).toBe('ann');
    expect(await whoami(ann)).toEqual({ principal: { name: 'ann', roles: ['admin'] }, via: 'handshake' });
  });

  it('names the principal from a cookie at the handshake', async () => {
    const bob = await connectAs(running.url, undefined, 'pw', { wsHeaders: { cookie: 'theme=dark; token=t-bob' } });
    open.push(bob);
    expect(await whoami(bob)).toEqual({ principal: { name: 'bob', roles: [] }, via: 'handshake' });
  });

  it('refuses a bad token with HTTP 401 before the upgrade, and a refused account with 403, one warning each', async () => {
    expect(await expectRefused(`${running.url}?access_token=forged`)).toBe(401);
    expect(await expectRefused(`${running.url}?access_token=t-eve`)).toBe(403);
    const lines = running.logs.expect('warn', /Handshake of .* on \/ws refused/);
    expect(lines).toEqual([
      expect.stringMatching(/^Handshake of 127\.0\.0\.1 on \/ws refused \(401\): "Invalid token" StompWebSocketEndpoint$/),
      expect.stringMatching(/^Handshake of 127\.0\.0\.1 on \/ws refused \(403\): "This account is suspended" StompWebSocketEndpoint$/),
    ]);
    expect(lines.some((l) => l.includes('    at '))).toBe(false);
  });

  it('never asks the authenticator about a handshake another site\'s page opens (the origin is checked first)', async () => {
    const before = tokens.handshakes;
    const evil = { headers: { origin: 'http://evil.example' } };
    expect(await expectRefused(`${running.url}?access_token=t-ann`, evil)).toBe(403);
    expect(await expectRefused(`${running.url}/000/abcd/websocket?access_token=t-ann`, evil)).toBe(403);
    expect(tokens.handshakes).toBe(before);
    expect(running.logs.expect('warn', 'evil.example')).toHaveLength(2);
    // The same SockJS URL without a foreign origin is asked, and opens (SockJS's open frame `o`).
    const socket = new WebSocket(`${running.url}/000/abcd/websocket?access_token=t-ann`);
    const first = await withTimeout(
      new Promise<string>((resolve, reject) => {
        socket.once('message', (data: Buffer) => resolve(data.toString()));
        socket.once('error', reject);
      }),
      'the SockJS open frame',
    );
    expect(first).toBe('o');
    expect(tokens.handshakes).toBe(before + 1);
    socket.terminate();
  });

  it('takes the principal from the CONNECT frame when the handshake named nobody', async () => {
    const ann = await connectAs(running.url, undefined, 'pw', { connectHeaders: { Authorization: 'Bearer t-ann' } });
    open.push(ann);
    expect(ann.connected.headers['user-name']).toBe('ann');
    expect(await whoami(ann)).toEqual({ principal: { name: 'ann', roles: ['admin'] }, via: 'connect' });
  });

  it('refuses a CONNECT without credentials with an ERROR and close 1008', async () => {
    const { error, closeCode, connected } = await connectExpectingError(running.url);
    expect(connected).toBe(false);
    expect(error?.headers['message']).toBe('Missing credentials (a token in ?access_token= or an Authorization Bearer header)');
    expect(closeCode).toBe(1008);
    expect(running.logs.expect('warn', 'Missing credentials')).toEqual([
      expect.stringMatching(
        /^Session [0-9a-f-]{36} \(anonymous, 127\.0\.0\.1\): CONNECT_REJECTED: "Missing credentials \(a token in \?access_token= or an Authorization Bearer header\)" StompSession$/,
      ),
    ]);
  });

  it('answers 503 when the authenticator does not decide within limits.connectTimeout', async () => {
    expect(await expectRefused(`${running.url}?access_token=${TokenAuthenticator.HANG}`)).toBe(503);
    expect(running.logs.expect('warn', 'did not decide within 500 ms')).toHaveLength(1);
  });

  it('ends a session whose credentials ran out: ERROR CREDENTIALS_EXPIRED, close 1008 (idle, and on its next frame)', async () => {
    tokens.tokens.set('t-short', { name: 'sam', roles: [], expiresAt: Date.now() + 300 });
    const idle = startClient(`${running.url}?access_token=t-short`, {});
    const connected = await withTimeout(idle.connected, 'CONNECTED');
    expect(connected.headers['user-name']).toBe('sam');
    const error = await withTimeout(idle.nextError(), 'the expiry ERROR', GUARD_MS);
    expect(error.headers['message']).toMatch(/^The session's credentials expired at \d{4}-\d\d-\d\dT[\d:.]+Z: reconnect with new ones$/);
    expect(await withTimeout(idle.closed, 'the close')).toBe(1008);
    await idle.client.deactivate();
    expect(running.logs.expect('warn', 'credentials expired')).toEqual([
      expect.stringMatching(/^Session [0-9a-f-]{36} \(user "sam", 127\.0\.0\.1\): CREDENTIALS_EXPIRED: "The session's credentials expired at .*" StompSession$/),
    ]);

    // Already expired when the CONNECT arrives: the ERROR answers the CONNECT (no CONNECTED), and
    // the user registry never lists the session (it kept it for ever when CONNECTED went first).
    tokens.tokens.set('t-gone', { name: 'sam', roles: [], expiresAt: Date.now() - 1 });
    const late = await RawStompClient.open(`${running.url}?access_token=t-gone`);
    late.sendFrame('CONNECT', { 'accept-version': '1.2', host: 'localhost' });
    const answer = await late.nextMatching(() => true, 'the answer to CONNECT');
    expect({ command: answer.command, message: answer.headers['message'] }).toEqual({
      command: 'ERROR',
      message: expect.stringMatching(/^The session's credentials expired at /),
    });
    expect((await late.waitClosed()).code).toBe(1008);
    expect(running.logs.expect('warn', 'credentials expired')).toHaveLength(2);
    expect(running.app.get(SimpUserRegistry).getUser('sam')).toBeUndefined();
  });

  it.each(['xhr-streaming', 'xhr-polling'])(
    'checks the handshake over SockJS %s at CONNECT, on the post that carried it',
    async (transport) => {
      const factory = (token: string) => () =>
        new SockJS(`${running.baseUrl.replace('ws:', 'http:')}/ws?access_token=${token}`, null, { transports: [transport] }) as unknown as IStompSocket;
      const ann = startClient('(sockjs)', { webSocketFactory: factory('t-ann') });
      expect((await withTimeout(ann.connected, 'CONNECTED over SockJS')).headers['user-name']).toBe('ann');
      await ann.client.deactivate();

      const forged = startClient('(sockjs)', { webSocketFactory: factory('forged'), reconnectDelay: 0 });
      const error = await withTimeout(forged.nextError(), 'the refusal');
      expect(error.headers['message']).toBe('Invalid token');
      await forged.client.deactivate();
      running.logs.expect('warn', 'Invalid token');
    },
  );
});

describe('authenticator options at start-up', () => {
  it('refuses authenticate and authenticator together, and an authenticator without a method', async () => {
    const both = await startupError({ authenticate: () => ({}), authenticator: { authenticateConnect: () => ({}) } }, {});
    expect(both.message).toContain('authenticate and authenticator cannot both be set');
    const empty = await startupError({ authenticator: {} as StompAuthenticator }, {});
    expect(empty.message).toContain('authenticator must be a class or an object with an authenticateHandshake(request) or authenticateConnect(request) method');
  });
});

describe('handshakes waiting for an asynchronous authenticator count against limits.maxSessions', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startStompApp(
      { authenticator: TokenAuthenticator, limits: { connectTimeout: 400, maxSessions: 2 } },
      { providers: [TokenService, TokenAuthenticator] },
    );
  });

  afterAll(async () => {
    await running?.close();
  });

  it('refuses a third handshake with 503 while two hang, and admits again once they timed out', async () => {
    const tokens = running.app.get(TokenService);
    const hanging = [1, 2].map(() => expectRefused(`${running.url}?access_token=${TokenAuthenticator.HANG}`));
    // Once the authenticator holds both, a third handshake is over the limit.
    for (let i = 0; i < 100 && tokens.hung < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(tokens.hung).toBe(2);
    expect(await expectRefused(`${running.url}?access_token=t-ann`)).toBe(503);
    expect(running.logs.expect('warn', 'refused with HTTP 503')).toEqual([
      expect.stringMatching(/0 sessions open and 2 handshakes being authenticated, limits\.maxSessions is 2 StompSessionLimits$/),
    ]);
    expect(await Promise.all(hanging)).toEqual([503, 503]);
    expect(running.logs.expect('warn', 'did not decide within 400 ms')).toHaveLength(2);
    // The pending count came back down: a good token gets in.
    const ann = await connectAs(`${running.url}?access_token=t-ann`);
    expect(ann.connected.headers['user-name']).toBe('ann');
    await ann.disconnect();
  });
});

describe('app.close() while an asynchronous authenticator decides a handshake', () => {
  it('answers the handshake 503 at once instead of waiting limits.connectTimeout, and logs no timeout', async () => {
    const running = await startStompApp(
      { authenticator: TokenAuthenticator, limits: { connectTimeout: 60_000 } },
      { providers: [TokenService, TokenAuthenticator] },
    );
    const tokens = running.app.get(TokenService);
    const refused = expectRefused(`${running.url}?access_token=${TokenAuthenticator.HANG}`);
    for (let i = 0; i < 100 && tokens.hung < 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(tokens.hung).toBe(1);
    // It waited for the 60 s connectTimeout: the HTTP server's close waits for the handshake's socket.
    await withTimeout(running.close(), 'app.close() with a handshake pending');
    expect(await withTimeout(refused, 'the refusal of the pending handshake')).toBe(503);
    expect(running.logs.entries.filter((e) => e.level === 'warn' || e.level === 'error')).toEqual([]);
  });
});
