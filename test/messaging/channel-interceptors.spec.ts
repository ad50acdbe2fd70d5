import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Global, Injectable, Module, Scope } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import {
  ChannelInterceptors,
  Header,
  MessageMapping,
  Payload,
  SendTo,
  SendToUser,
  StompChannelInterceptor,
  StompMessagingTemplate,
  StompModule,
  type ChannelInterceptorContext,
  type ChannelInterceptorOptions,
  type InterceptorRef,
  type StompChannel,
  type StompFrame,
} from '../../lib/index.js';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import { barrier, connectAs, hasStack, inboxOf, json, logLines, seededDelays, sendAndWait, sleep, startupError } from '../support/handler-fixtures.js';
import { rawConnected, RawStompClient } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import type { TestClient } from '../support/stomp-client.js';

/** What broker interceptors saw: who, the destination, and the session in the context. */
interface Seen {
  by: string;
  destination: string;
  session: string | undefined;
  user: string | undefined;
}

/** A service the interceptors inject, to show they are Nest providers with dependencies. */
@Injectable()
class AuditService {
  readonly seen: Seen[] = [];

  record(by: string, frame: StompFrame, context: ChannelInterceptorContext): void {
    this.seen.push({ by, destination: frame.headers['destination'], session: context.session?.id, user: context.session?.user });
  }

  /** What was seen for `destination`, in order. */
  of(destination: string): Seen[] {
    return this.seen.filter((s) => s.destination === destination);
  }
}

@Global()
@Module({ providers: [AuditService], exports: [AuditService] })
class AuditModule {}

/** Listed in options and provided by no module: created once, with its dependency injected. */
@Injectable()
class StampInterceptor implements StompChannelInterceptor {
  constructor(readonly audit: AuditService) {}

  preSend(frame: StompFrame, context: ChannelInterceptorContext): StompFrame {
    this.audit.record('stamp', frame, context);
    frame.headers['x-stamp'] = 'stamped';
    return frame;
  }
}

/** An object in options, used as is: refuses, drops or redirects by destination and header. */
const policy: StompChannelInterceptor = {
  preSend(frame) {
    const destination = frame.headers['destination'];
    if (destination.endsWith('/refused')) throw new Error(`Refused by policy: ${destination}`);
    if (destination.endsWith('/refused-ws')) throw new WsException(`Refused by policy: ${destination}`);
    if (destination.endsWith('/dropped')) return null;
    const redirect = frame.headers['x-redirect-to'];
    if (redirect !== undefined) return { ...frame, headers: { ...frame.headers, destination: redirect } };
    return undefined;
  },
};

/** Listed in options and also a provider (and decorated): the provider's instance, once. */
@Injectable()
@StompChannelInterceptor('broker')
class ProvidedInterceptor implements StompChannelInterceptor {
  constructor(readonly audit: AuditService) {}

  preSend(frame: StompFrame, context: ChannelInterceptorContext): void {
    this.audit.record('provided', frame, context);
  }
}

/** Registered by the decorator only: runs after every interceptor listed in options. */
@Injectable()
@StompChannelInterceptor('broker')
class DecoratedBrokerInterceptor implements StompChannelInterceptor {
  constructor(readonly audit: AuditService) {}

  async preSend(frame: StompFrame, context: ChannelInterceptorContext): Promise<StompFrame> {
    this.audit.record('decorated', frame, context);
    await Promise.resolve();
    frame.headers['x-decorated'] = 'yes';
    return frame;
  }
}

@Controller()
class ReplyController {
  @MessageMapping('/echo')
  @SendTo('/topic/echo')
  echo(@Payload() payload: { n: number }) {
    return payload;
  }

  @MessageMapping('/echo-refused')
  @SendTo('/topic/echo/refused-ws')
  refused(@Payload() payload: { n: number }) {
    return payload;
  }

  @MessageMapping('/mine')
  @SendToUser('/queue/mine')
  mine(@Payload() payload: { n: number }) {
    return payload;
  }

  @MessageMapping('/mine-only')
  @SendToUser('/queue/mine', { broadcast: false })
  mineOnly(@Payload() payload: { n: number }) {
    return payload;
  }
}

describe('broker channel interceptors', () => {
  let running: RunningApp;
  let template: StompMessagingTemplate;
  let audit: AuditService;
  let ann: TestClient;
  let bob: TestClient;

  beforeAll(async () => {
    running = await startStompApp(
      {
        authenticate: ({ login }) => (login ? { user: login } : {}),
        interceptors: { broker: [StampInterceptor, policy, ProvidedInterceptor] },
      },
      { imports: [AuditModule], controllers: [ReplyController], providers: [DecoratedBrokerInterceptor, ProvidedInterceptor] },
    );
    template = running.app.get(StompMessagingTemplate);
    audit = running.app.get(AuditService);
    ann = await connectAs(running.url, 'ann');
    bob = await connectAs(running.url, 'bob');
  });
  afterAll(async () => {
    await ann?.disconnect();
    await bob?.disconnect();
    await running?.close();
  });

  it('registers options entries first, in order, then decorated providers; a class that is a provider is its instance, once', () => {
    const channels = running.app.get(ChannelInterceptors);
    const broker = channels.broker;
    expect(broker).toHaveLength(4);
    expect(broker[0]).toBeInstanceOf(StampInterceptor);
    expect(broker[1]).toBe(policy);
    expect(broker[2]).toBe(running.app.get(ProvidedInterceptor));
    expect(broker[3]).toBe(running.app.get(DecoratedBrokerInterceptor));
    // Not a provider of any module, yet created with its dependency.
    expect((broker[0] as StampInterceptor).audit).toBe(audit);
    // `authenticate` is the built-in first (and here only) CONNECT interceptor; nothing outbound.
    expect(channels.clientInbound).toHaveLength(1);
    expect(channels.clientOutbound).toHaveLength(0);
  });

  it('sees a template send as a SEND frame, runs in registration order, and subscribers see the headers it set', async () => {
    const destination = `/topic/${unique('news')}`;
    const inbox = await inboxOf(bob, destination);
    await template.convertAndSend(destination, { title: 'hello' }, { priority: '9' });
    const [message] = await inbox.waitFor(1);
    expect(json(message)).toEqual({ title: 'hello' });
    expect(message.headers['x-stamp']).toBe('stamped');
    expect(message.headers['x-decorated']).toBe('yes');
    expect(message.headers['priority']).toBe('9');
    expect(audit.of(destination)).toEqual([
      { by: 'stamp', destination, session: undefined, user: undefined },
      { by: 'provided', destination, session: undefined, user: undefined },
      { by: 'decorated', destination, session: undefined, user: undefined },
    ]);
  });

  it("sees convertAndSendToUser as /user/<name>/<destination>, Spring's way, before it is resolved to the user's sessions", async () => {
    const inbox = await inboxOf(ann, '/user/queue/alerts');
    await template.convertAndSendToUser('ann', '/queue/alerts', 'ping');
    const [message] = await inbox.waitFor(1);
    expect(message.body).toBe('ping');
    expect(message.headers['destination']).toBe('/user/queue/alerts');
    expect(message.headers['x-stamp']).toBe('stamped');
    expect(audit.of('/user/ann/queue/alerts').map((s) => s.by)).toEqual(['stamp', 'provided', 'decorated']);
  });

  it('sees @SendTo replies with the sending session in the context, and subscribers get the changed headers', async () => {
    const inbox = await inboxOf(ann, '/topic/echo');
    const before = audit.of('/topic/echo').length;
    await sendAndWait(bob, '/app/echo', { n: 1 });
    const [message] = await inbox.waitFor(1);
    expect(json(message)).toEqual({ n: 1 });
    expect(message.headers['x-stamp']).toBe('stamped');
    expect(message.headers['x-decorated']).toBe('yes');
    const seen = audit.of('/topic/echo').slice(before);
    expect(seen.map((s) => s.by)).toEqual(['stamp', 'provided', 'decorated']);
    expect(seen[0]).toMatchObject({ session: bob.connected.headers['session'], user: 'bob' });
  });

  it('sees @SendToUser replies as /user/<user>/…, or /user/<session id>/… for an anonymous sender (broadcast: false)', async () => {
    const inbox = await inboxOf(ann, '/user/queue/mine');
    await sendAndWait(ann, '/app/mine', { n: 2 });
    const [message] = await inbox.waitFor(1);
    expect(json(message)).toEqual({ n: 2 });
    expect(message.headers['x-stamp']).toBe('stamped');
    expect(audit.of('/user/ann/queue/mine')[0]).toMatchObject({ by: 'stamp', session: ann.connected.headers['session'], user: 'ann' });

    const anonymous = await connectAs(running.url);
    try {
      const anonInbox = await inboxOf(anonymous, '/user/queue/mine');
      await sendAndWait(anonymous, '/app/mine-only', { n: 3 });
      const [reply] = await anonInbox.waitFor(1);
      expect(json(reply)).toEqual({ n: 3 });
      expect(reply.headers['x-decorated']).toBe('yes');
      const id = anonymous.connected.headers['session'];
      expect(audit.of(`/user/${id}/queue/mine`)[0]).toMatchObject({ by: 'stamp', session: id, user: undefined });
    } finally {
      await anonymous.disconnect();
    }
  });

  it("a refusal rejects convertAndSend with the interceptor's error, and nothing is published", async () => {
    const destination = `/topic/${unique('x')}/refused`;
    const inbox = await inboxOf(bob, destination);
    await expect(template.convertAndSend(destination, 'no')).rejects.toThrow(`Refused by policy: ${destination}`);
    await expect(template.convertAndSendToUser('bob', '/queue/refused', 'no')).rejects.toThrow('Refused by policy: /user/bob/queue/refused');
    await barrier(bob);
    expect(inbox.messages).toHaveLength(0);
    // Later interceptors never saw it.
    expect(audit.of(destination).map((s) => s.by)).toEqual(['stamp']);
  });

  it("a refused @SendTo reply takes the handler's error path: the sender is told on its error destination", async () => {
    const errors = await inboxOf(bob, '/user/queue/errors');
    await sendAndWait(bob, '/app/echo-refused', { n: 4 });
    const [error] = await errors.waitFor(1);
    expect(json(error)).toMatchObject({ status: 'error', message: 'Refused by policy: /topic/echo/refused-ws', destination: '/app/echo-refused' });
    // The error reply passed the broker channel too, seen with the failing session.
    expect(error.headers['x-stamp']).toBe('stamped');
    expect(audit.of('/user/bob/queue/errors').at(-1)).toMatchObject({ by: 'decorated', session: bob.connected.headers['session'], user: 'bob' });
    expect(running.logs.expect('warn', 'Refused by policy: /topic/echo/refused-ws')).toHaveLength(1);
  });

  it('null drops the message silently; a changed destination is resolved like any other', async () => {
    const dropped = `/topic/${unique('y')}/dropped`;
    const droppedInbox = await inboxOf(bob, dropped);
    await expect(template.convertAndSend(dropped, 'gone')).resolves.toBeUndefined();

    const alerts = await inboxOf(ann, '/user/queue/redirected');
    await template.convertAndSend(`/topic/${unique('z')}`, 'moved', { 'x-redirect-to': '/user/ann/queue/redirected' });
    const [moved] = await alerts.waitFor(1);
    expect(moved.body).toBe('moved');
    expect(moved.headers['destination']).toBe('/user/queue/redirected');
    await barrier(bob);
    expect(droppedInbox.messages).toHaveLength(0);
  });

  it("client SENDs do not pass the broker interceptors (they passed clientInbound), as in Spring", async () => {
    const destination = `/topic/${unique('plain')}`;
    const inbox = await inboxOf(ann, destination);
    await sendAndWait(bob, destination, 'from a client');
    const [message] = await inbox.waitFor(1);
    expect(message.body).toBe('from a client');
    expect(message.headers['x-stamp']).toBeUndefined();
    expect(audit.of(destination)).toEqual([]);
  });
});

// ---- client channels ---------------------------------------------------------------------------

/** Where the client-channel interceptors record what they saw. */
@Injectable()
class TenantService {
  readonly tenant = 'acme';
  readonly outbound: string[] = [];
}

@Global()
@Module({ providers: [TenantService], exports: [TenantService] })
class TenantModule {}

/** Refuses SENDs to destinations ending in /forbidden. An object listed in options. */
const guardInterceptor: StompChannelInterceptor = {
  preSend(frame) {
    if (frame.command === 'SEND' && frame.headers['destination'].endsWith('/forbidden')) {
      throw new Error(`SEND to ${frame.headers['destination']} is not allowed`);
    }
  },
};

/**
 * Names the user from a CONNECT `token` header, and refuses a bad one. A class listed in options
 * and provided by no module, injecting a service.
 */
@Injectable()
class TokenInterceptor implements StompChannelInterceptor {
  constructor(private readonly tenants: TenantService) {}

  preSend(frame: StompFrame, context: ChannelInterceptorContext): void {
    if (frame.command !== 'CONNECT' && frame.command !== 'STOMP') return;
    const token = frame.headers['token'];
    if (token === undefined) return;
    if (!token.startsWith('good-')) throw new Error(`Bad token for ${this.tenants.tenant}`);
    context.connect?.setUser(token.slice('good-'.length));
  }
}

/** Adds the tenant to every SEND; asynchronous for SENDs that ask for a delay. Decorated provider. */
@Injectable()
@StompChannelInterceptor('clientInbound')
class TenantInterceptor implements StompChannelInterceptor {
  constructor(private readonly tenants: TenantService) {}

  preSend(frame: StompFrame): StompFrame | Promise<StompFrame> {
    if (frame.command !== 'SEND') return frame;
    frame.headers['x-tenant'] = this.tenants.tenant;
    const delay = frame.headers['x-delay'];
    if (delay === undefined) return frame;
    return sleep(Number(delay)).then(() => frame);
  }
}

/** Adds a header to every MESSAGE and records every command it sees. Decorated provider. */
@Injectable()
@StompChannelInterceptor('clientOutbound')
class OutboundStamp implements StompChannelInterceptor {
  constructor(private readonly tenants: TenantService) {}

  preSend(frame: StompFrame, context: ChannelInterceptorContext): StompFrame {
    this.tenants.outbound.push(`${context.session?.id}:${frame.command}`);
    if (frame.command !== 'MESSAGE') return frame;
    return { ...frame, headers: { ...frame.headers, 'x-outbound': this.tenants.tenant } };
  }
}

@Controller()
class TenantController {
  readonly order: number[] = [];

  @MessageMapping('/tenant')
  @SendTo('/topic/tenant')
  tenant(@Header('x-tenant') tenant: string | undefined, @Payload() payload: { n: number }) {
    return { tenant, n: payload.n };
  }

  @MessageMapping('/ordered')
  ordered(@Payload() payload: { seq: number }) {
    this.order.push(payload.seq);
  }
}

describe('client channel interceptors', () => {
  let running: RunningApp;
  let tenants: TenantService;
  let controller: TenantController;

  beforeAll(async () => {
    running = await startStompApp(
      { interceptors: { clientInbound: [guardInterceptor, TokenInterceptor] } },
      { imports: [TenantModule], controllers: [TenantController], providers: [TenantInterceptor, OutboundStamp] },
    );
    tenants = running.app.get(TenantService);
    controller = running.app.get(TenantController);
  });
  afterAll(async () => {
    await running?.close();
  });

  it('orders the inbound interceptors: options first, then decorated providers', () => {
    const channels = running.app.get(ChannelInterceptors);
    expect(channels.clientInbound[0]).toBe(guardInterceptor);
    expect(channels.clientInbound[1]).toBeInstanceOf(TokenInterceptor);
    expect(channels.clientInbound[2]).toBe(running.app.get(TenantInterceptor));
    expect(channels.clientOutbound).toEqual([running.app.get(OutboundStamp)]);
  });

  it("an inbound refusal of a SEND is an ERROR naming the interceptor's message, with receipt-id, then close; others keep working", async () => {
    const { raw } = await rawConnected(running.url);
    const { raw: other } = await rawConnected(running.url);
    try {
      raw.sendFrame('SEND', { destination: '/topic/forbidden', receipt: 'r-forbidden' }, 'x');
      const error = await raw.expect('ERROR');
      expect(error.headers['message']).toBe('SEND to /topic/forbidden is not allowed');
      expect(error.headers['receipt-id']).toBe('r-forbidden');
      expect((await raw.waitClosed()).code).toBe(1008);
      expect(logLines(running.logs, 'is not allowed', 'error')).toEqual([]);

      other.sendFrame('SUBSCRIBE', { id: 's1', destination: '/topic/still', receipt: 'r-sub' });
      await other.nextMatching((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === 'r-sub', 'RECEIPT r-sub');
      other.sendFrame('SEND', { destination: '/topic/still' }, 'alive');
      const message = await other.expect('MESSAGE');
      expect(message.body.toString()).toBe('alive');
    } finally {
      await raw.close();
      await other.close();
    }
  });

  it('an inbound interceptor that changes a header: the @MessageMapping handler sees it via @Header', async () => {
    const client = await connectAs(running.url);
    try {
      const inbox = await inboxOf(client, '/topic/tenant');
      await sendAndWait(client, '/app/tenant', { n: 1 });
      const [message] = await inbox.waitFor(1);
      expect(json(message)).toEqual({ tenant: 'acme', n: 1 });
    } finally {
      await client.disconnect();
    }
  });

  it("an asynchronous inbound interceptor keeps the session's frame order", async () => {
    const client = await connectAs(running.url);
    try {
      const delays = seededDelays(8, 20);
      const start = controller.order.length;
      for (let seq = 0; seq < delays.length; seq++) {
        const headers: Record<string, string> = { 'content-type': 'application/json', 'x-delay': String(delays[seq]) };
        if (seq === delays.length - 1) {
          await sendAndWait(client, '/app/ordered', { seq }, headers);
        } else {
          client.client.publish({ destination: '/app/ordered', body: JSON.stringify({ seq }), headers });
        }
      }
      expect(controller.order.slice(start)).toEqual(delays.map((_, i) => i));
    } finally {
      await client.disconnect();
    }
  });

  it('an outbound interceptor adds a header to every MESSAGE and sees CONNECTED, RECEIPT and ERROR too', async () => {
    const { raw, connected } = await rawConnected(running.url);
    const session = connected.headers['session'];
    try {
      raw.sendFrame('SUBSCRIBE', { id: 's1', destination: '/topic/outbound', receipt: 'r1' });
      await raw.expect('RECEIPT');
      raw.sendFrame('SEND', { destination: '/topic/outbound' }, 'one');
      raw.sendFrame('SEND', { destination: '/topic/outbound' }, 'two');
      const first = await raw.expect('MESSAGE');
      const second = await raw.expect('MESSAGE');
      expect([first.body.toString(), second.body.toString()]).toEqual(['one', 'two']);
      expect(first.headers['x-outbound']).toBe('acme');
      expect(second.headers['x-outbound']).toBe('acme');
      raw.sendFrame('UNSUBSCRIBE', { id: 'no-such-subscription' });
      await raw.expect('ERROR');
      await raw.waitClosed();
      expect(tenants.outbound.filter((e) => e.startsWith(`${session}:`))).toEqual([
        `${session}:CONNECTED`,
        `${session}:RECEIPT`,
        `${session}:MESSAGE`,
        `${session}:MESSAGE`,
        `${session}:ERROR`,
      ]);
    } finally {
      await raw.close();
    }
  });

  it('a CONNECT interceptor names the user with context.connect.setUser: CONNECTED carries user-name', async () => {
    const { raw, connected } = await rawConnected(running.url, { 'accept-version': '1.2', host: 'localhost', token: 'good-carol' });
    try {
      expect(connected.headers['user-name']).toBe('carol');
    } finally {
      await raw.close();
    }
  });

  it('a CONNECT interceptor that throws refuses the CONNECT: ERROR with its message, close 1008, one log line without a stack', async () => {
    const raw = await RawStompClient.open(running.url);
    raw.sendFrame('CONNECT', { 'accept-version': '1.2', host: 'localhost', token: 'forged' });
    const error = await raw.expect('ERROR');
    expect(error.headers['message']).toBe('Bad token for acme');
    expect((await raw.waitClosed()).code).toBe(1008);
    // One line at any level (debug, as for a refused `authenticate`), without a stack trace.
    const lines = running.logs.entries.filter((e) => e.message.includes('Bad token for acme')).map((e) => e.message);
    expect(lines).toHaveLength(1);
    expect(hasStack(lines[0])).toBe(false);
  });
});

// ---- registration errors -----------------------------------------------------------------------

/** A service no module makes visible to StompModule (provided in a plain, non-global module). */
@Injectable()
class HiddenService {}

@Module({ providers: [HiddenService], exports: [HiddenService] })
class HiddenModule {}

@Injectable()
class NeedsHidden implements StompChannelInterceptor {
  constructor(readonly hidden: HiddenService) {}
  preSend(): void {}
}

/** Forgot @Injectable(): TypeScript emitted no constructor types. */
class Undecorated implements StompChannelInterceptor {
  constructor(readonly audit: AuditService) {}
  preSend(): void {}
}

@Injectable({ scope: Scope.REQUEST })
@StompChannelInterceptor('clientInbound')
class RequestScopedInterceptor implements StompChannelInterceptor {
  preSend(): void {}
}

describe('channel interceptor registration errors', () => {
  it('the interceptors option is checked with the other options, every problem listed', () => {
    const notAClass = (frame: StompFrame) => frame;
    expect(() =>
      resolveStompOptions({
        interceptors: {
          clientInbound: [notAClass as unknown as InterceptorRef, { preSend: 'no' } as unknown as InterceptorRef],
          broker: 'StampInterceptor' as unknown as InterceptorRef[],
          inbound: [] as InterceptorRef[],
        } as ChannelInterceptorOptions,
      }),
    ).toThrow(
      [
        'Invalid StompModule options:',
        '  - unknown option "interceptors.inbound": did you mean "interceptors.clientInbound"?',
        '  - interceptors.clientInbound[0] must be a class with a preSend(frame, context) method or an object with a preSend function, got the function notAClass, whose prototype has no preSend method (for a plain function, pass { preSend: fn })',
        '  - interceptors.clientInbound[1] must be a class with a preSend(frame, context) method or an object with a preSend function, got {"preSend":"no"}',
        '  - interceptors.broker must be an array of interceptor classes or objects with a preSend method, got "StampInterceptor"',
      ].join('\n'),
    );
    expect(resolveStompOptions({}).interceptors).toEqual({ clientInbound: [], clientOutbound: [], broker: [] });
  });

  it('a class in options whose dependency StompModule cannot see is a start-up error naming the class and the fixes', async () => {
    const error = await startupError({ interceptors: { broker: [NeedsHidden] } }, { imports: [HiddenModule] });
    expect(error.message).toContain('Invalid STOMP channel interceptors:');
    expect(error.message).toContain('interceptors.broker: NeedsHidden could not be created');
    expect(error.message).toContain('StompModule.forRootAsync({ imports })');
  });

  it('the same class is created with its dependency when they are imported through forRootAsync', async () => {
    const running = await startStompApp(
      {},
      {
        stompModule: StompModule.forRootAsync({
          imports: [HiddenModule],
          useFactory: () => ({ interceptors: { broker: [NeedsHidden] } }),
        }),
      },
    );
    try {
      const [interceptor] = running.app.get(ChannelInterceptors).broker;
      expect(interceptor).toBeInstanceOf(NeedsHidden);
      expect((interceptor as NeedsHidden).hidden).toBeInstanceOf(HiddenService);
    } finally {
      await running.close();
    }
  });

  it('a class in options with constructor parameters but no @Injectable() is a start-up error, not undefined dependencies', async () => {
    const error = await startupError({ interceptors: { clientOutbound: [Undecorated] } }, { imports: [AuditModule] });
    expect(error.message).toContain(
      'interceptors.clientOutbound: Undecorated could not be created: its constructor takes parameters but the class has no @Injectable() decorator',
    );
  });

  it('a request-scoped decorated interceptor is a start-up error: STOMP frames have no HTTP request', async () => {
    const error = await startupError({}, { providers: [RequestScopedInterceptor] });
    expect(error.message).toContain(
      '@StompChannelInterceptor: channel interceptors run without an HTTP request and must be singletons, but RequestScopedInterceptor is request-scoped (Scope.REQUEST)',
    );
  });

  it('the decorator refuses an unknown channel when it is applied', () => {
    expect(() => StompChannelInterceptor('inbound' as StompChannel)).toThrow(
      `@StompChannelInterceptor("inbound"): the channel must be one of 'clientInbound', 'clientOutbound', 'broker'`,
    );
  });
});
