// Issue 10, Authorization: declarative SUBSCRIBE/SEND rules (Spring Security's simpDestMatchers),
// checked in order, first match wins, unmatched destinations follow `default`. A denial is an
// ERROR ACCESS_DENIED naming type and destination (receipt-id when asked), close 1008, one warning
// naming session, user and destination; other sessions carry on. Real app, raw clients, loopback.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { rawConnected, RawStompClient } from '../support/raw-client.js';
import { unique, type RunningApp } from '../support/stomp-app.js';
import { EventRecorder } from '../support/event-recorder.js';
import { Bystander, CONNECT_12, request, startWithBystander, stopWithBystander } from '../hostile/hostile-support.js';
import {
  StompEvents,
  StompStats,
  type StompAuthorizationContext,
  type StompAuthorizationPredicate,
  type StompModuleOptions,
} from '../../lib/index.js';

@Injectable()
class VipService {
  readonly asked: string[] = [];
  isVip(name: string | undefined): boolean {
    this.asked.push(String(name));
    return name === 'vera';
  }
}

/** A predicate class with an injected service, resolved from Nest's container. */
@Injectable()
class VipOnly implements StompAuthorizationPredicate {
  constructor(private readonly vips: VipService) {}
  authorize(context: StompAuthorizationContext): boolean {
    return this.vips.isVip(context.principal?.name);
  }
}

const roles = (ctx: StompAuthorizationContext): unknown[] => (Array.isArray(ctx.principal?.['roles']) ? (ctx.principal['roles'] as unknown[]) : []);

const OPTIONS: StompModuleOptions = {
  authenticate: ({ login, headers }) =>
    login ? { user: { name: login, roles: (headers['x-roles'] ?? '').split(','), tenant: headers['x-tenant'] } } : {},
  authorization: {
    rules: [
      { type: 'SEND', destination: '/topic/presence', access: 'denyAll' },
      { type: 'SUBSCRIBE', destination: '/topic/admin/**', access: (ctx) => roles(ctx).includes('admin') },
      { destination: '/topic/members/**', access: 'authenticated' },
      {
        type: ['SUBSCRIBE'],
        destination: '/topic/tenant/{tenant}/**',
        // Asynchronous: decided after a turn of the event loop.
        access: async (ctx) => {
          await new Promise((resolve) => setImmediate(resolve));
          return ctx.variables['tenant'] !== undefined && ctx.variables['tenant'] === ctx.principal?.['tenant'];
        },
      },
      { destination: '/topic/vip/*', access: VipOnly },
      { destination: '/topic/open/**', access: 'permitAll' },
      // Shadowed by the rule before it: first match wins.
      { destination: '/topic/open/secret', access: 'denyAll' },
      { type: 'SEND', destination: '/app/locked', access: 'denyAll' },
      { type: 'SUBSCRIBE', destination: '/topic/faulty', access: () => { throw new Error('predicate bug'); } },
      { destination: '/user/queue/private-*', access: { authorize: (ctx) => ctx.principal !== undefined } },
    ],
  },
};

describe('authorization rules', () => {
  let running: RunningApp;
  let bystander: Bystander;
  let events: EventRecorder;

  beforeAll(async () => {
    ({ running, bystander } = await startWithBystander(OPTIONS, { providers: [VipService, VipOnly] }));
    events = new EventRecorder(running.app.get(StompEvents));
  });
  afterAll(async () => {
    events.stop();
    await stopWithBystander(running, bystander);
  });

  async function connect(login?: string, extra: Record<string, string> = {}, tag = unique('t')): Promise<RawStompClient> {
    const { raw } = await rawConnected(`${running.url}?t=${tag}`, { ...CONNECT_12, ...(login ? { login } : {}), ...extra });
    return raw;
  }

  /** The frame answers with RECEIPT: allowed. */
  async function allowed(client: RawStompClient, command: 'SUBSCRIBE' | 'SEND', destination: string): Promise<void> {
    const reply = await request(client, command, command === 'SUBSCRIBE' ? { id: unique('s'), destination } : { destination }, command === 'SEND' ? 'x' : '');
    expect({ command: reply?.command, message: reply?.headers['message'] }).toEqual({ command: 'RECEIPT', message: undefined });
  }

  /** ERROR ACCESS_DENIED naming type and destination, with receipt-id, close 1008, one warning. */
  async function denied(client: RawStompClient, command: 'SUBSCRIBE' | 'SEND', destination: string, why: string | RegExp): Promise<void> {
    const before = running.logs.at('warn').length;
    const reply = await request(client, command, command === 'SUBSCRIBE' ? { id: 'denied', destination } : { destination }, command === 'SEND' ? 'x' : '');
    expect(reply?.command).toBe('ERROR');
    expect(reply?.headers['message']).toBe(`${command} to ${destination} is not allowed (access denied)`);
    expect(reply?.headers['receipt-id']).toMatch(/^r-/);
    expect((await client.waitClosed()).code).toBe(1008);
    const lines = running.logs.at('warn').slice(before).filter((l) => l.includes('denied'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`${command} to ${JSON.stringify(destination)} denied`);
    expect(lines[0]).toMatch(why);
    expect(lines[0]).not.toMatch(/^\s+at /m);
    await bystander.roundTrip();
  }

  it('SEND /topic/presence is denied to everyone (denyAll), SUBSCRIBE to it is not (type matching)', async () => {
    const tag = unique('t');
    const ann = await connect('ann', {}, tag);
    await allowed(ann, 'SUBSCRIBE', '/topic/presence');
    await denied(ann, 'SEND', '/topic/presence', /rule 1: SEND \/topic\/presence → denyAll/);
    // The warning names session and user; the disconnect event and the stats carry the code.
    const disconnect = await events.waitFor(tag, 'disconnect');
    expect(disconnect).toMatchObject({ reason: 'error', errorCode: 'ACCESS_DENIED', closeCode: 1008 });
    expect(running.logs.at('warn').some((l) => l.includes(`Session ${disconnect.session.id} (user "ann")`))).toBe(true);
    expect(running.app.get(StompStats).snapshot().errorsSent.byCode['ACCESS_DENIED']).toBeGreaterThanOrEqual(1);
  });

  it('a predicate on the principal: admins may SUBSCRIBE /topic/admin/**, others not; SEND is not covered', async () => {
    const admin = await connect('ada', { 'x-roles': 'admin' });
    await allowed(admin, 'SUBSCRIBE', '/topic/admin/audit/log');
    await allowed(admin, 'SUBSCRIBE', '/topic/admin');
    await admin.close();
    const bob = await connect('bob', { 'x-roles': 'user' });
    await allowed(bob, 'SEND', '/topic/admin/audit');
    await denied(bob, 'SUBSCRIBE', '/topic/admin/audit', /rule 2: SUBSCRIBE \/topic\/admin\/\*\* → access/);
  });

  it("'authenticated' admits sessions with a principal, not anonymous ones", async () => {
    const cid = await connect('cid');
    await allowed(cid, 'SUBSCRIBE', '/topic/members/news');
    await allowed(cid, 'SEND', '/topic/members/news');
    await cid.close();
    const anonymous = await connect();
    await denied(anonymous, 'SEND', '/topic/members/news', /user anonymous.*rule 3/);
  });

  it('an asynchronous predicate with template variables: a tenant reads only its own tenant topics', async () => {
    const dora = await connect('dora', { 'x-tenant': 'acme' });
    await allowed(dora, 'SUBSCRIBE', '/topic/tenant/acme/orders');
    // Frames after a pending decision wait for it: the SEND is published after the SUBSCRIBE.
    const from = dora.frames.length;
    dora.sendFrame('SUBSCRIBE', { id: 'a', destination: '/topic/tenant/acme/a', receipt: 'first' });
    dora.sendFrame('SEND', { destination: '/topic/tenant/acme/a', receipt: 'second' }, 'hello');
    await dora.nextMatching((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === 'second', 'RECEIPT second');
    const order = dora.frames.slice(from).map((f) => (f.command === 'RECEIPT' ? `RECEIPT:${f.headers['receipt-id']}` : `${f.command}:${f.body.toString()}`));
    expect(order).toEqual(['RECEIPT:first', 'MESSAGE:hello', 'RECEIPT:second']);
    await denied(dora, 'SUBSCRIBE', '/topic/tenant/globex/orders', /rule 4/);
  });

  it('an injectable predicate class (VipOnly) that injects a Nest service decides', async () => {
    const vips = running.app.get(VipService);
    const vera = await connect('vera');
    await allowed(vera, 'SUBSCRIBE', '/topic/vip/lounge');
    await vera.close();
    const eve = await connect('eve');
    await denied(eve, 'SEND', '/topic/vip/lounge', /rule 5: SUBSCRIBE\|SEND \/topic\/vip\/\* → VipOnly/);
    expect(vips.asked).toEqual(['vera', 'eve']);
  });

  it('first match wins: /topic/open/** permits /topic/open/secret before the later denyAll', async () => {
    const fay = await connect();
    await allowed(fay, 'SUBSCRIBE', '/topic/open/secret');
    await allowed(fay, 'SEND', '/topic/open/secret');
    await fay.close();
  });

  it('unmatched destinations follow the default (permitAll)', async () => {
    const gus = await connect();
    await allowed(gus, 'SUBSCRIBE', '/topic/anything/else');
    await allowed(gus, 'SEND', '/topic/anything/else');
    await gus.close();
  });

  it('rules apply to application destinations too (/app/locked), before any handler', async () => {
    const hal = await connect('hal');
    await denied(hal, 'SEND', '/app/locked', /rule 8/);
  });

  it('a predicate that throws denies, its message in the warning (no stack)', async () => {
    const ivy = await connect('ivy');
    await denied(ivy, 'SUBSCRIBE', '/topic/faulty', /rule 9.*predicate failed: predicate bug/);
  });

  it('user destinations are matched as the client wrote them (/user/queue/...), an object predicate decides', async () => {
    const jo = await connect('jo');
    await allowed(jo, 'SUBSCRIBE', '/user/queue/private-inbox');
    await jo.close();
    const anonymous = await connect();
    await denied(anonymous, 'SUBSCRIBE', '/user/queue/private-inbox', /rule 10/);
  });

  it('a pattern SUBSCRIBE must pass every earlier rule that covers part of what it would receive', async () => {
    // /topic/** would receive /topic/admin/... messages: rule 2 judges it too.
    const kim = await connect('kim', { 'x-roles': 'user' });
    await denied(kim, 'SUBSCRIBE', '/topic/**', /rule 2: .*covering destinations this pattern would receive/);
    const lee = await connect('lee', { 'x-roles': 'user' });
    await denied(lee, 'SUBSCRIBE', '/topic/*/audit', /rule 2/);
    // A pattern no denying rule can overlap is fine.
    const max = await connect('max');
    await allowed(max, 'SUBSCRIBE', '/topic/open/*');
    await allowed(max, 'SUBSCRIBE', '/topic/anything/#');
    await max.close();
  });

  it('frames other than SUBSCRIBE and SEND pass (UNSUBSCRIBE, BEGIN, ACK of nothing is the broker’s)', async () => {
    const ned = await connect();
    await allowed(ned, 'SUBSCRIBE', '/topic/open/x');
    const reply = await request(ned, 'BEGIN', { transaction: 't1' });
    expect(reply?.command).toBe('RECEIPT');
    await ned.close();
  });
});

describe('authorization default', () => {
  it("default 'denyAll' refuses what no rule names; a rule ending the list works as Spring's anyMessage()", async () => {
    const { running, bystander } = await startWithBystander({
      authorization: {
        rules: [{ destination: '/topic/bystander-*', access: 'permitAll' }, { type: 'SUBSCRIBE', destination: '/topic/public/**', access: 'permitAll' }],
        default: 'denyAll',
      },
    });
    try {
      const { raw } = await rawConnected(running.url, CONNECT_12);
      expect((await request(raw, 'SUBSCRIBE', { id: 's', destination: '/topic/public/a' }))?.command).toBe('RECEIPT');
      const reply = await request(raw, 'SEND', { destination: '/topic/public/a' }, 'x');
      expect(reply?.headers['message']).toBe('SEND to /topic/public/a is not allowed (access denied)');
      expect((await raw.waitClosed()).code).toBe(1008);
      expect(running.logs.expect('warn', /SEND to "\/topic\/public\/a" denied \(no rule matches, authorization.default is 'denyAll'\)/)).toHaveLength(1);
      await bystander.roundTrip();
    } finally {
      await stopWithBystander(running, bystander);
    }
  });
});

describe('authorization.timeout', () => {
  it('denies a frame whose predicate never answers once the timeout passes; the frames pipelined behind it are not routed', async () => {
    let asked = 0;
    const { running, bystander } = await startWithBystander({
      authorization: {
        rules: [{ type: 'SUBSCRIBE', destination: '/topic/slow/**', access: () => (asked++, new Promise<boolean>(() => undefined)) }],
        timeout: 200,
      },
    });
    try {
      const { raw } = await rawConnected(running.url, CONNECT_12);
      // A SEND pipelined behind the SUBSCRIBE whose predicate hangs.
      raw.sendFrame('SUBSCRIBE', { id: 's', destination: '/topic/slow/a', receipt: 'r-slow' });
      raw.sendFrame('SEND', { destination: '/topic/bystander-pipelined', receipt: 'r-after' }, 'x');
      const reply = await raw.next();
      expect(reply.command).toBe('ERROR');
      expect(reply.headers['message']).toBe('SUBSCRIBE to /topic/slow/a is not allowed (access denied)');
      expect(reply.headers['receipt-id']).toBe('r-slow');
      expect((await raw.waitClosed()).code).toBe(1008);
      expect(raw.frames.filter((f) => f.command === 'RECEIPT')).toEqual([]);
      expect(asked).toBe(1);
      expect(running.logs.expect('warn', 'SUBSCRIBE to "/topic/slow/a" denied')).toEqual([
        expect.stringContaining('its predicate failed: it did not answer within 200 ms (authorization.timeout)'),
      ]);
      await bystander.roundTrip();
    } finally {
      await stopWithBystander(running, bystander);
    }
  });
});

describe('a pattern SUBSCRIBE whose text a narrower rule matches', () => {
  it('/topic/status/** is not permitted by a /topic/status/* rule: it would receive /topic/status/admin/secret, which that rule does not cover', async () => {
    const { running, bystander } = await startWithBystander({
      authorization: {
        rules: [
          { destination: '/topic/bystander-*', access: 'permitAll' },
          { type: 'SUBSCRIBE', destination: '/topic/status/*', access: 'permitAll' },
          { type: 'SEND', access: 'permitAll' },
        ],
        default: 'denyAll',
      },
    });
    try {
      const { raw: reader } = await rawConnected(running.url, CONNECT_12);
      expect((await request(reader, 'SUBSCRIBE', { id: 'ok', destination: '/topic/status/*' }))?.command).toBe('RECEIPT');
      for (const destination of ['/topic/status/**', '/topic/status/#']) {
        const { raw } = await rawConnected(running.url, CONNECT_12);
        const reply = await request(raw, 'SUBSCRIBE', { id: 's', destination });
        expect(reply?.headers['message']).toBe(`SUBSCRIBE to ${destination} is not allowed (access denied)`);
        expect((await raw.waitClosed()).code).toBe(1008);
      }
      expect(
        running.logs.expect('warn', /SUBSCRIBE to "\/topic\/status\/(\*\*|#)" denied \(no rule matches, authorization.default is 'denyAll'\)/),
      ).toHaveLength(2);
      await reader.close();
      await bystander.roundTrip();
    } finally {
      await stopWithBystander(running, bystander);
    }
  });
});
