import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { AuthenticateInterceptor } from '../../lib/messaging/authenticate-interceptor.js';
import type { ChannelInterceptorContext } from '../../lib/messaging/channel-interceptor.js';
import type { StompConnectDecision, StompConnectRequest } from '../../lib/module/stomp-options.js';
import { createHeaders, type StompFrame } from '../../lib/protocol/frame.js';
import { StompProtocolError } from '../../lib/protocol/stomp-protocol-error.js';
import type { StompSessionInfo } from '../../lib/transport/stomp-session-info.js';
import type { StompPrincipal } from '../../lib/user/stomp-principal.js';
import { CapturingLogger } from '../support/stomp-app.js';

const request = { url: '/ws?token=t' } as IncomingMessage;
const session = { id: 'session-1' } as StompSessionInfo;

function frame(command: string, headers: Record<string, string> = {}): StompFrame {
  return { command, headers: Object.assign(createHeaders(), headers), body: Buffer.alloc(0) };
}

/** A CONNECT context that records the principals given to setUser, and the attributes set. */
function connectContext(): { context: ChannelInterceptorContext; users: (string | StompPrincipal)[]; attributes: Map<string, unknown> } {
  const users: (string | StompPrincipal)[] = [];
  const attributes = new Map<string, unknown>();
  return { users, attributes, context: { channel: 'clientInbound', session, connect: { request, endpoint: '/ws', attributes, setUser: (user) => users.push(user), expireAt: () => undefined } } };
}

/** Runs `decide` as `authenticate` on a CONNECT; resolves with what setUser got, or the error. */
async function outcome(decide: (r: StompConnectRequest) => StompConnectDecision | Promise<StompConnectDecision>) {
  const { context, users, attributes } = connectContext();
  try {
    await new AuthenticateInterceptor(decide).preSend(frame('CONNECT', { login: 'ann', passcode: 'pw' }), context);
    return { users, attributes };
  } catch (err) {
    return { users, attributes, error: err as StompProtocolError };
  }
}

describe('AuthenticateInterceptor (the authenticate option as the first CONNECT interceptor)', () => {
  const logs = new CapturingLogger();
  beforeAll(() => Logger.overrideLogger(logs));
  afterAll(() => {
    Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
    logs.assertNoUnexpectedErrors();
  });

  it('passes the session id, the CONNECT headers, login, passcode and the upgrade request, and names the user synchronously', () => {
    const seen: StompConnectRequest[] = [];
    const { context, users } = connectContext();
    const connect = frame('STOMP', { login: 'ann', passcode: 'pw', authorization: 'Bearer x' });
    const result = new AuthenticateInterceptor((r) => {
      seen.push(r);
      return { user: r.login };
    }).preSend(connect, context);
    // A synchronous decision does not hold the session with a Promise.
    expect(result).toBeUndefined();
    expect(users).toEqual([{ name: 'ann' }]);
    expect(seen).toEqual([{ sessionId: 'session-1', endpoint: '/ws', headers: connect.headers, login: 'ann', passcode: 'pw', request }]);
  });

  it('lets every other frame pass without calling authenticate', () => {
    let calls = 0;
    const interceptor = new AuthenticateInterceptor(() => {
      calls++;
      return {};
    });
    for (const command of ['SEND', 'SUBSCRIBE', 'DISCONNECT']) {
      expect(interceptor.preSend(frame(command), { channel: 'clientInbound', session })).toBeUndefined();
    }
    expect(calls).toBe(0);
  });

  it('accepts anonymously on {}: setUser is not called', async () => {
    expect(await outcome(() => ({}))).toEqual({ users: [], attributes: new Map() });
    expect(await outcome(async () => ({}))).toEqual({ users: [], attributes: new Map() });
  });

  it('waits for a thenable that is not a native Promise (Bluebird, another realm): its { reject } refuses, its user is named', async () => {
    const thenable = <T>(value: T): PromiseLike<T> => ({ then: (resolve) => Promise.resolve(value).then(resolve) }) as PromiseLike<T>;
    const refused = await outcome(() => thenable({ reject: 'Bad credentials' }) as unknown as StompConnectDecision);
    expect([refused.users, refused.error?.code, refused.error?.message]).toEqual([[], 'CONNECT_REJECTED', 'Bad credentials']);
    expect((await outcome(() => thenable({ user: 'ann' }) as unknown as StompConnectDecision)).users).toEqual([{ name: 'ann' }]);
    // The handshake check too: a refusal, not an accepted upgrade.
    const handshake = new AuthenticateInterceptor({
      authenticateHandshake: () => thenable({ reject: 'No token', status: 403 }) as unknown as { reject: string },
    }).handshake(request);
    expect(await handshake).toEqual({ status: 403, reason: 'No token' });
  });

  it('names the user from an asynchronous decision', async () => {
    expect(await outcome(async (r) => ({ user: `${r.login}!` }))).toEqual({ users: [{ name: 'ann!' }], attributes: new Map() });
  });

  it('checks the name of the copy it keeps, so a getter cannot show the check one name and the server another', async () => {
    let reads = 0;
    const tricky = {
      get name(): string {
        return ++reads === 1 ? 'ann' : 'ann\nx-injected:1';
      },
    };
    const { users, error } = await outcome(() => ({ user: tricky }) as unknown as StompConnectDecision);
    expect(error).toBeUndefined();
    expect(users).toEqual([{ name: 'ann' }]);
    expect((users[0] as StompPrincipal).name).toBe('ann');
    expect(reads).toBe(1);
  });

  it('keeps the claims of a principal object (frozen copy) and copies attributes into the session', async () => {
    const claims = { name: 'ann', roles: ['admin'], tenant: 't1' };
    const { users, attributes } = await outcome(() => ({ user: claims, attributes: { tenant: 't1', locale: 'fr' } }));
    expect(users).toEqual([{ name: 'ann', roles: ['admin'], tenant: 't1' }]);
    expect(users[0]).not.toBe(claims);
    expect(Object.isFrozen(users[0])).toBe(true);
    expect([...attributes]).toEqual([
      ['tenant', 't1'],
      ['locale', 'fr'],
    ]);
  });

  it.each([
    ['a { reject } answer', () => ({ reject: 'Wrong passcode for user ann' }), 'Wrong passcode for user ann'],
    ['an asynchronous { reject }', async () => ({ reject: 'Try later' }), 'Try later'],
    [
      'a throw',
      () => {
        throw new Error('Directory down');
      },
      'Directory down',
    ],
    ['a rejected Promise', () => Promise.reject(new Error('Token expired')), 'Token expired'],
  ])('refuses with CONNECT_REJECTED and the message on %s', async (_what, decide, message) => {
    const { users, error } = await outcome(decide as () => StompConnectDecision);
    expect(users).toEqual([]);
    expect(error).toBeInstanceOf(StompProtocolError);
    expect(error?.code).toBe('CONNECT_REJECTED');
    expect(error?.message).toBe(message);
  });

  it.each([
    ['bob\nx-injected:1', 'bob\nx-injected:1'],
    ['bob\r', 'bob\r'],
    ['bob\0', 'bob\0'],
    [42, 42],
    [{ name: 'eve\nx-injected:1', roles: [] }, 'eve\nx-injected:1'],
    [{ name: 7 }, 7],
    [{ roles: ['admin'] }, undefined],
    [null, null],
  ])(
    'refuses a user CONNECTED cannot name (%j) with INVALID_USER_NAME, never naming it',
    async (given, user) => {
      const { users, error } = await outcome(() => ({ user: given }) as StompConnectDecision);
      expect(users).toEqual([]);
      expect(error?.code).toBe('INVALID_USER_NAME');
      expect(error?.message).toBe('The user name given by authentication contains CR, LF or NUL and cannot be sent in CONNECTED');
      // One warning (context StompSession, as before authenticate became an interceptor), the value
      // JSON-escaped so the log line itself cannot be forged.
      expect(logs.expect('warn', `authenticate named the user ${JSON.stringify(user)}`)).toEqual([
        `Session session-1: authenticate named the user ${JSON.stringify(user)}, which cannot be sent in CONNECTED's user-name header (it contains CR, LF or NUL, or is not a string); refusing the CONNECT StompSession`,
      ]);
    },
  );
});
