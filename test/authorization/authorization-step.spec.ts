// The authorization step in isolation: start-up validation (every problem in one error), the
// synchronous fast path (no Promise per frame while the deciding rules are synchronous), and the
// conservative overlap test behind pattern subscriptions.
import { describe, expect, it, jest } from '@jest/globals';
import { AuthorizationInterceptor, covers, mayOverlap, type AuthorizationConfig } from '../../lib/messaging/authorization.js';
import type { ChannelInterceptorContext } from '../../lib/messaging/channel-interceptor.js';
import { DestinationPattern } from '../../lib/handlers/destination-pattern.js';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import { StompProtocolError } from '../../lib/protocol/stomp-protocol-error.js';
import type { StompFrame } from '../../lib/protocol/frame.js';
import type { StompSessionInfo } from '../../lib/transport/stomp-session-info.js';
import type { StompModuleOptions } from '../../lib/index.js';
import { CapturingLogger, startupError } from '../support/stomp-app.js';
import { Logger } from '@nestjs/common';

function config(authorization: StompModuleOptions['authorization'], pathSeparator: '/' | '.' = '/'): AuthorizationConfig {
  const resolved = resolveStompOptions({ authorization, pathSeparator });
  if (!resolved.authorization) throw new Error('no authorization step');
  return resolved.authorization;
}

const session = { id: 's1', principal: { name: 'ann' }, attributes: new Map(), user: 'ann' } as unknown as StompSessionInfo;
const context: ChannelInterceptorContext = { channel: 'clientInbound', session };
const frame = (command: string, destination: string): StompFrame => ({ command, headers: { destination }, body: Buffer.alloc(0) }) as StompFrame;

async function step(authorization: StompModuleOptions['authorization'], separator: '/' | '.' = '/'): Promise<AuthorizationInterceptor> {
  const problems: string[] = [];
  const created = await AuthorizationInterceptor.create(config(authorization, separator), () => Promise.reject(new Error('no classes here')), problems);
  expect(problems).toEqual([]);
  return created;
}

describe('authorization option validation', () => {
  it('lists every bad rule in one start-up error, each by its place', () => {
    let message = '';
    try {
      resolveStompOptions({
        authorization: {
          rules: [
            { type: 'PUBLISH' as never, destination: '/topic/a', access: 'permitAll' },
            { destination: 'topic/b', access: 'denyAll' },
            { destination: '/topic/c', access: 'allow' as never },
            { destination: '/topic/{unclosed', access: 'denyAll' },
            { destination: '/topic/x**', access: 'denyAll' },
            { type: [], access: 'denyAll' },
            'denyAll' as never,
            { destination: '/ok', access: 'denyAll', zzz: 1 } as never,
          ],
          default: 'deny' as never,
        },
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'Invalid StompModule options:',
      '  - unknown option "authorization.rules[7].zzz"; the options of authorization.rules[7] are type, destination, access',
      "  - authorization.default must be 'permitAll', 'denyAll' or 'authenticated', got \"deny\"",
      "  - authorization.rules[0].type must be 'SUBSCRIBE', 'SEND' or an array of them (leave it out for both), got \"PUBLISH\"",
      '  - authorization.rules[1].destination must be a destination pattern starting with "/" (leave it out for every destination), got "topic/b"',
      "  - authorization.rules[2].access must be 'permitAll', 'denyAll', 'authenticated', a function (context) => boolean | Promise<boolean>, a class with an authorize(context) method or an object with one, got \"allow\"",
      '  - authorization.rules[3].destination: Unclosed "{" in destination pattern "/topic/{unclosed"',
      '  - authorization.rules[4].destination "/topic/x**": "**" matches any number of segments only as a whole segment between "/" separators (pathSeparator is "/")',
      "  - authorization.rules[5].type must be 'SUBSCRIBE', 'SEND' or an array of them (leave it out for both), got []",
      '  - authorization.rules[6] must be an object { type?, destination?, access }, got "denyAll"',
    ]);
  });

  it('refuses a non-object option and rules that are not an array', () => {
    expect(() => resolveStompOptions({ authorization: [] as never })).toThrow('authorization must be an object');
    expect(() => resolveStompOptions({ authorization: { rules: {} as never } })).toThrow('authorization.rules must be an array');
  });

  it('has no step at all without rules (default permitAll)', () => {
    expect(resolveStompOptions({}).authorization).toBeUndefined();
    expect(resolveStompOptions({ authorization: { rules: [] } }).authorization).toBeUndefined();
    expect(resolveStompOptions({ authorization: { rules: [], default: 'denyAll' } }).authorization?.default).toBe('denyAll');
  });

  it('fails start-up naming the rule when a predicate class cannot be created', async () => {
    class NeedsService {
      constructor(readonly service: { ok(): boolean }) {}
      authorize(): boolean {
        return this.service.ok();
      }
    }
    const message = await startupError({ authorization: { rules: [{ destination: '/topic/a', access: NeedsService }] } });
    expect(message).toContain('authorization.rules[0].access: NeedsService could not be created');
    expect(message).toContain('@Injectable()');
  });
});

describe('the authorization step', () => {
  it('stays synchronous while the deciding rules are: no Promise per frame', async () => {
    const authorize = await step({
      rules: [
        { type: 'SEND', destination: '/topic/presence', access: 'denyAll' },
        { destination: '/topic/members/**', access: 'authenticated' },
        { destination: '/topic/sync/{id}', access: (ctx) => ctx.variables['id'] === 'ok' },
      ],
    });
    expect(authorize.preSend(frame('SEND', '/topic/members/a'), context)).toBeUndefined();
    expect(authorize.preSend(frame('SUBSCRIBE', '/topic/sync/ok'), context)).toBeUndefined();
    expect(authorize.preSend(frame('SUBSCRIBE', '/topic/presence'), context)).toBeUndefined();
    expect(authorize.preSend(frame('ACK', '/topic/presence'), context)).toBeUndefined();
    // A denial is thrown at once, not as a rejected Promise.
    expect(() => authorize.preSend(frame('SEND', '/topic/presence'), context)).toThrow(StompProtocolError);
    expect(() => authorize.preSend(frame('SEND', '/topic/sync/no'), context)).toThrow('SEND to /topic/sync/no is not allowed (access denied)');
  });

  it('answers with a Promise only when a predicate does', async () => {
    const authorize = await step({ rules: [{ destination: '/topic/async', access: async (ctx) => ctx.principal?.name === 'ann' }] });
    const pending = authorize.preSend(frame('SEND', '/topic/async'), context);
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).resolves.toBeUndefined();
    expect(authorize.preSend(frame('SEND', '/topic/other'), context)).toBeUndefined();
    const anonymous = { ...context, session: { ...session, principal: undefined } as unknown as StompSessionInfo };
    await expect(authorize.preSend(frame('SEND', '/topic/async'), anonymous)).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
  });

  it('awaits a predicate answering with a thenable that is not a native Promise (it was taken for a "no")', async () => {
    const thenable = { then: (resolve: (value: boolean) => void) => resolve(true) };
    const authorize = await step({ rules: [{ destination: '/topic/bluebird', access: () => thenable as unknown as Promise<boolean> }] });
    const pending = authorize.preSend(frame('SEND', '/topic/bluebird'), context);
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).resolves.toBeUndefined();
  });

  it('times a pending predicate with a timer that does not keep the process alive (app.close() waited for it)', async () => {
    let answer: (value: boolean) => void = () => undefined;
    const authorize = await step({ rules: [{ destination: '/topic/slow', access: () => new Promise<boolean>((resolve) => (answer = resolve)) }] });
    const timers: NodeJS.Timeout[] = [];
    const original = globalThis.setTimeout;
    const spy = jest.spyOn(globalThis, 'setTimeout').mockImplementation(((...args: Parameters<typeof setTimeout>) => {
      const timer = original(...args);
      timers.push(timer);
      return timer;
    }) as typeof setTimeout);
    let pending: Promise<undefined> | undefined;
    try {
      pending = authorize.preSend(frame('SEND', '/topic/slow'), context) as Promise<undefined>;
    } finally {
      spy.mockRestore();
    }
    expect(timers.map((t) => t.hasRef())).toEqual([false]);
    answer(true);
    await expect(pending).resolves.toBeUndefined();
  });

  it('gives a predicate asked about a pattern SUBSCRIBE it does not cover variables {}, not what {name} took of the pattern', async () => {
    const seen: Array<Readonly<Record<string, string>>> = [];
    // A deny-list predicate: '*' as the team is not 'admins', so it passed, and the pattern then
    // received /topic/team/admins/chat under the default permitAll.
    const authorize = await step({
      rules: [{ destination: '/topic/team/{team}/**', access: (ctx) => (seen.push(ctx.variables), ctx.variables['team'] !== undefined && ctx.variables['team'] !== 'admins') }],
    });
    const logs = new CapturingLogger();
    Logger.overrideLogger(logs);
    try {
      expect(() => authorize.preSend(frame('SUBSCRIBE', '/topic/team/*/chat'), context)).toThrow('SUBSCRIBE to /topic/team/*/chat is not allowed (access denied)');
      expect(authorize.preSend(frame('SUBSCRIBE', '/topic/team/blue/**'), context)).toBeUndefined();
    } finally {
      Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
    }
    expect(seen).toEqual([{}, { team: 'blue' }]);
    expect(logs.expect('warn', 'denied')).toEqual([
      'Session s1 (user "ann"): SUBSCRIBE to "/topic/team/*/chat" denied (rule 1: SUBSCRIBE|SEND /topic/team/{team}/** → access, covering destinations this pattern would receive) StompAuthorization',
    ]);
  });

  it("honours pathSeparator '.': /topic/chat.** covers /topic/chat.lobby.x", async () => {
    const authorize = await step({ rules: [{ destination: '/topic/chat.**', access: 'denyAll' }] }, '.');
    expect(() => authorize.preSend(frame('SEND', '/topic/chat.lobby.x'), context)).toThrow('access denied');
    expect(authorize.preSend(frame('SEND', '/topic/chatter'), context)).toBeUndefined();
  });
});

describe('mayOverlap (pattern subscriptions against rule patterns)', () => {
  const rule = (source: string) => new DestinationPattern(source, '/');
  it.each([
    ['/topic/admin/**', '/topic/**', true],
    ['/topic/admin/**', '/topic/#', true],
    ['/topic/admin/**', '/topic/*/x', true],
    ['/topic/admin/x', '/topic/*/x', true],
    ['/topic/admin/x', '/topic/*/y', false],
    ['/topic/admin/**', '/topic/news/*', false],
    ['/topic/a/{id}', '/topic/a/*', true],
    ['/topic/a/b', '/topic/a/*/c', false],
  ])('%s vs SUBSCRIBE %s: %s', (source, subscription, expected) => {
    expect(mayOverlap(rule(source), subscription, '/')).toBe(expected);
  });
});

describe('covers (a rule deciding alone for a pattern subscription its text matches)', () => {
  it.each([
    // The rule's `*` matches the text `**` or `#`, but not the deeper destinations they receive.
    ['/topic/status/*', '/topic/status/**', '/', false],
    ['/topic/status/*', '/topic/status/#', '/', false],
    ['/topic/status/?', '/topic/status/#', '/', false],
    ['/topic/{room}', '/topic/*', '/', false],
    ['/topic/status/*', '/topic/status/*', '/', true],
    ['/topic/**', '/topic/*/x/**', '/', true],
    ['/topic/open/**', '/topic/open/*', '/', true],
    ['/topic/**/x', '/topic/#/x', '/', true],
    ['/topic/*/x', '/topic/#/x', '/', false],
    ['/topic/chat.*', '/topic/chat.#', '.', false],
    ['/topic/chat.**', '/topic/chat.*.x', '.', true],
  ])('%s covers SUBSCRIBE %s (%s): %s', (source, subscription, separator, expected) => {
    expect(covers(new DestinationPattern(source, separator as '/' | '.'), subscription)).toBe(expected);
  });

  it('a pattern SUBSCRIBE whose text a one-segment rule matches still answers to the rules after it', async () => {
    const authorize = await step({ rules: [{ type: 'SUBSCRIBE', destination: '/topic/status/*', access: 'permitAll' }], default: 'denyAll' });
    expect(authorize.preSend(frame('SUBSCRIBE', '/topic/status/*'), context)).toBeUndefined();
    expect(authorize.preSend(frame('SUBSCRIBE', '/topic/status/a'), context)).toBeUndefined();
    expect(() => authorize.preSend(frame('SUBSCRIBE', '/topic/status/a/b'), context)).toThrow('access denied');
    // Would receive /topic/status/a/b, which the default denies.
    expect(() => authorize.preSend(frame('SUBSCRIBE', '/topic/status/**'), context)).toThrow('SUBSCRIBE to /topic/status/** is not allowed');
    expect(() => authorize.preSend(frame('SUBSCRIBE', '/topic/status/#'), context)).toThrow('SUBSCRIBE to /topic/status/# is not allowed');
  });
});
