import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  DefaultSimpUserRegistry,
  MessageMapping,
  SendToUser,
  SimpUserRegistry,
  StompMessagingTemplate,
  StompModule,
  UserDestinationResolver,
  type SimpSession,
  type SimpSubscription,
  type SimpSubscriptionMatcher,
  type SimpUser,
} from '../../lib/index.js';
import { barrier, connectAs, inboxOf, jsonBodies, sendAndWait } from '../support/handler-fixtures.js';
import { startStompApp, startupError, type RunningApp } from '../support/stomp-app.js';
import { GUARD_MS, sendConfirmed, subscribeConfirmed, unsubscribeConfirmed, Inbox, type TestClient } from '../support/stomp-client.js';

const authenticate = ({ login }: { login?: string }) => (login ? { user: login } : {});

/** `user/session/subscription → destination` for each subscription, sorted. */
function described(subscriptions: readonly SimpSubscription[], names: Record<string, string>): string[] {
  return subscriptions.map((s) => `${s.session.user.name}/${names[s.session.id] ?? s.session.id}/${s.id} → ${s.destination}`).sort();
}

function counts(registry: SimpUserRegistry) {
  return { users: registry.getUserCount(), sessions: registry.getSessionCount(), subscriptions: registry.getSubscriptionCount() };
}

/** Waits (bounded: at most GUARD_MS, polling every 10 ms) until `check` holds. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < GUARD_MS / 10; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A controller answering from the registry, injected like any provider. */
@Controller()
class OnlineController {
  constructor(private readonly registry: SimpUserRegistry) {}

  @MessageMapping('/online')
  @SendToUser('/queue/online')
  online() {
    return {
      users: this.registry.getUsers().map((u) => u.name).sort(),
      userCount: this.registry.getUserCount(),
      sessionCount: this.registry.getSessionCount(),
      subscriptionCount: this.registry.getSubscriptionCount(),
      newsReaders: this.registry.findSubscriptions((s) => s.destination === '/user/queue/news').map((s) => s.session.user.name).sort(),
    };
  }
}

describe('SimpUserRegistry with real clients (two users, one with two sessions, one anonymous)', () => {
  let running: RunningApp;
  let registry: SimpUserRegistry;
  let ann1: TestClient;
  let ann2: TestClient;
  let bob: TestClient;
  let anon: TestClient;
  /** session id → a readable name */
  const names: Record<string, string> = {};
  const id = (tc: TestClient) => tc.connected.headers['session'];

  beforeAll(async () => {
    running = await startStompApp({ authenticate }, { controllers: [OnlineController] });
    registry = running.app.get(SimpUserRegistry);
    ann1 = await connectAs(running.url, 'ann');
    ann2 = await connectAs(running.url, 'ann');
    bob = await connectAs(running.url, 'bob');
    anon = await connectAs(running.url);
    Object.assign(names, { [id(ann1)]: 'ann1', [id(ann2)]: 'ann2', [id(bob)]: 'bob', [id(anon)]: 'anon' });
  });

  afterAll(async () => {
    for (const tc of [ann1, ann2, bob, anon]) await tc?.disconnect();
    await running?.close();
  });

  it('is the DefaultSimpUserRegistry by default, injectable under both classes', () => {
    expect(registry).toBeInstanceOf(DefaultSimpUserRegistry);
    expect(running.app.get(DefaultSimpUserRegistry)).toBe(registry);
  });

  it('lists the users and their sessions; the anonymous session is not a user', () => {
    expect(registry.getUsers().map((u) => u.name).sort()).toEqual(['ann', 'bob']);
    expect(counts(registry)).toEqual({ users: 2, sessions: 3, subscriptions: 0 });
    const ann = registry.getUser('ann') as SimpUser;
    expect([...ann.sessions.keys()].sort()).toEqual([id(ann1), id(ann2)].sort());
    expect(ann.getSession(id(ann1))?.user).toBe(ann);
    expect(ann.getSession(id(bob))).toBeUndefined();
    expect(registry.getUser('bob')?.getSession(id(bob))?.id).toBe(id(bob));
    expect(registry.getUsers().flatMap((u) => [...u.sessions.keys()])).not.toContain(id(anon));
  });

  it('holds every subscription as the client wrote it, with counts and lookups', async () => {
    await subscribeConfirmed(ann1.client, '/user/queue/news', new Inbox(), { id: 'news' });
    await subscribeConfirmed(ann1.client, '/topic/chat', new Inbox(), { id: 'chat' });
    await subscribeConfirmed(ann2.client, '/topic/chat', new Inbox(), { id: 'chat' });
    await subscribeConfirmed(bob.client, '/user/queue/news', new Inbox(), { id: 'n' });
    await subscribeConfirmed(anon.client, '/user/queue/news', new Inbox(), { id: 'anon-news' });
    await subscribeConfirmed(anon.client, '/topic/chat', new Inbox(), { id: 'anon-chat' });

    expect(counts(registry)).toEqual({ users: 2, sessions: 3, subscriptions: 4 });
    const session = registry.getUser('ann')?.getSession(id(ann1)) as SimpSession;
    expect([...session.subscriptions.values()].map((s) => [s.id, s.destination, s.session.id])).toEqual([
      ['news', '/user/queue/news', id(ann1)],
      ['chat', '/topic/chat', id(ann1)],
    ]);
    expect(session.isSubscribedTo('/user/queue/news')).toBe(true);
    // The resolved broker destination is not what the client wrote.
    expect(session.isSubscribedTo(`/queue/news-user${id(ann1)}`)).toBe(false);
    const matcher: SimpSubscriptionMatcher = (s) => s.destination === '/user/queue/news';
    expect(described(registry.findSubscriptions(matcher), names)).toEqual(['ann/ann1/news → /user/queue/news', 'bob/bob/n → /user/queue/news']);
    expect(described(registry.findSubscriptionsByDestination('/topic/chat'), names)).toEqual([
      'ann/ann1/chat → /topic/chat',
      'ann/ann2/chat → /topic/chat',
    ]);
  });

  it('answers a @MessageMapping from a controller that injects it', async () => {
    const inbox = await inboxOf(bob, '/user/queue/online', { id: 'online' });
    await sendAndWait(bob, '/app/online', {});
    await inbox.waitFor(1);
    expect(jsonBodies(inbox)).toEqual([
      // The reply subscription counts too: 4 + 1.
      { users: ['ann', 'bob'], userCount: 2, sessionCount: 3, subscriptionCount: 5, newsReaders: ['ann', 'bob'] },
    ]);
  });

  it('forgets a subscription on UNSUBSCRIBE', async () => {
    const sub = await subscribeConfirmed(ann2.client, '/topic/extra', new Inbox(), { id: 'extra' });
    expect(described(registry.findSubscriptionsByDestination('/topic/extra'), names)).toEqual(['ann/ann2/extra → /topic/extra']);
    expect(registry.getSubscriptionCount()).toBe(6);
    await unsubscribeConfirmed(ann2.client, sub);
    expect(registry.findSubscriptionsByDestination('/topic/extra')).toEqual([]);
    expect(registry.getSubscriptionCount()).toBe(5);
    expect([...(registry.getUser('ann')?.getSession(id(ann2))?.subscriptions.keys() ?? [])]).toEqual(['chat']);
  });

  it('forgets a session that sent DISCONNECT, then the user whose last session was dropped', async () => {
    await ann2.disconnect();
    expect([...(registry.getUser('ann')?.sessions.keys() ?? [])]).toEqual([id(ann1)]);
    expect(counts(registry)).toEqual({ users: 2, sessions: 2, subscriptions: 4 });
    expect(described(registry.findSubscriptionsByDestination('/topic/chat'), names)).toEqual(['ann/ann1/chat → /topic/chat']);

    // Dropped without DISCONNECT: the server learns it from the socket.
    ann1.client.webSocket?.close();
    await until(() => registry.getUser('ann') === undefined, 'ann to leave the registry');
    expect(registry.getUsers().map((u) => u.name)).toEqual(['bob']);
    expect(counts(registry)).toEqual({ users: 1, sessions: 1, subscriptions: 2 });
    expect(described(registry.findSubscriptions(() => true), names)).toEqual([
      'bob/bob/n → /user/queue/news',
      'bob/bob/online → /user/queue/online',
    ]);
    expect(registry.findSubscriptionsByDestination('/topic/chat')).toEqual([]);
  });
});

/** Records every user looked up, and hides the sessions listed in `hidden` (to prove it is the one used). */
@Injectable()
class HidingRegistry extends SimpUserRegistry {
  readonly lookups: string[] = [];
  readonly hidden = new Set<string>();
  /** How many times Nest called onModuleInit. */
  initialized = 0;

  constructor(private readonly local: DefaultSimpUserRegistry) {
    super();
  }

  onModuleInit(): void {
    this.initialized++;
  }

  getUser(userName: string): SimpUser | undefined {
    this.lookups.push(userName);
    const user = this.local.getUser(userName);
    if (user === undefined) return undefined;
    const sessions = new Map([...user.sessions].filter(([sessionId]) => !this.hidden.has(sessionId)));
    return { name: user.name, sessions, hasSessions: () => sessions.size > 0, getSession: (sessionId) => sessions.get(sessionId) };
  }
  getUsers(): SimpUser[] {
    return this.local.getUsers();
  }
  getUserCount(): number {
    return this.local.getUserCount();
  }
  getSessionCount(): number {
    return this.local.getSessionCount();
  }
  getSubscriptionCount(): number {
    return this.local.getSubscriptionCount();
  }
  findSubscriptions(matcher: SimpSubscriptionMatcher): SimpSubscription[] {
    return this.local.findSubscriptions(matcher);
  }
  findSubscriptionsByDestination(destination: string): SimpSubscription[] {
    return this.local.findSubscriptionsByDestination(destination);
  }
}

@Controller()
class ReplyController {
  @MessageMapping('/hello')
  @SendToUser('/queue/news')
  hello() {
    return 'reply';
  }
}

describe('a registry given with the userRegistry option', () => {
  let running: RunningApp;
  let hiding: HidingRegistry;
  let ann1: TestClient;
  let ann2: TestClient;
  let bob: TestClient;
  let news1: Inbox;
  let news2: Inbox;

  beforeAll(async () => {
    running = await startStompApp({ authenticate, userRegistry: HidingRegistry }, { controllers: [ReplyController] });
    hiding = running.app.get(SimpUserRegistry) as HidingRegistry;
    ann1 = await connectAs(running.url, 'ann');
    ann2 = await connectAs(running.url, 'ann');
    bob = await connectAs(running.url, 'bob');
    news1 = await inboxOf(ann1, '/user/queue/news');
    news2 = await inboxOf(ann2, '/user/queue/news');
  });

  afterAll(async () => {
    for (const tc of [ann1, ann2, bob]) await tc?.disconnect();
    await running?.close();
  });

  /** Everything sent so far has reached ann's two sessions (or never will). */
  async function settled(): Promise<void> {
    await barrier(ann1);
    await barrier(ann2);
  }

  it('is what SimpUserRegistry injects, created with its dependencies (the local registry, kept up to date), with its lifecycle hooks called once', () => {
    expect(hiding).toBeInstanceOf(HidingRegistry);
    expect(hiding.initialized).toBe(1);
    expect(hiding.getUsers().map((u) => u.name).sort()).toEqual(['ann', 'bob']);
    expect(running.app.get(DefaultSimpUserRegistry).getSessionCount()).toBe(3);
  });

  it('resolves convertAndSendToUser, a client SEND to /user/<name>/… and @SendToUser through it', async () => {
    hiding.hidden.add(ann2.connected.headers['session']);
    hiding.lookups.length = 0;
    await running.app.get(StompMessagingTemplate).convertAndSendToUser('ann', '/queue/news', 'from the template');
    await sendConfirmed(bob.client, '/user/ann/queue/news', 'from bob');
    await sendAndWait(ann2, '/app/hello', 'hi');
    await settled();
    expect(hiding.lookups).toEqual(['ann', 'ann', 'ann']);
    // ann2's session is hidden by the registry, so only ann1 gets the three.
    expect(news1.bodies()).toEqual(['from the template', 'from bob', 'reply']);
    expect(news2.bodies()).toEqual([]);

    hiding.hidden.clear();
    await running.app.get(StompMessagingTemplate).convertAndSendToUser('ann', '/queue/news', 'both');
    await settled();
    expect(news1.bodies().at(-1)).toBe('both');
    expect(news2.bodies()).toEqual(['both']);
    expect(hiding.lookups).toEqual(['ann', 'ann', 'ann', 'ann']);
  });
});

/** A subclass of the default registry: the server keeps it up to date itself. */
@Injectable()
class CountingRegistry extends DefaultSimpUserRegistry {
  lookups = 0;
  override getUser(userName: string): SimpUser | undefined {
    this.lookups++;
    return super.getUser(userName);
  }
}

describe('a DefaultSimpUserRegistry subclass given with the userRegistry option', () => {
  it('is kept up to date and resolves user destinations', async () => {
    const running = await startStompApp({ authenticate, userRegistry: CountingRegistry });
    const ann = await connectAs(running.url, 'ann');
    try {
      const registry = running.app.get(SimpUserRegistry) as CountingRegistry;
      expect(registry).toBeInstanceOf(CountingRegistry);
      expect(registry).not.toBe(running.app.get(DefaultSimpUserRegistry));
      const inbox = await inboxOf(ann, '/user/queue/news', { id: 'n' });
      expect(described(registry.findSubscriptionsByDestination('/user/queue/news'), {})).toEqual([
        `ann/${ann.connected.headers['session']}/n → /user/queue/news`,
      ]);
      await running.app.get(StompMessagingTemplate).convertAndSendToUser('ann', '/queue/news', 'x');
      await inbox.waitFor(1);
      expect(inbox.bodies()).toEqual(['x']);
      expect(registry.lookups).toBe(1);
    } finally {
      await ann.disconnect();
      await running.close();
    }
  });
});

describe('the userRegistry option at start-up', () => {
  it('refuses what is not a SimpUserRegistry class, naming what it lacks', async () => {
    class NotARegistry {
      getUser(): undefined {
        return undefined;
      }
    }
    const message = await startupError({ userRegistry: NotARegistry });
    expect(message).toContain(
      'userRegistry: NotARegistry must extend SimpUserRegistry, but it lacks getUsers, getUserCount, getSessionCount, getSubscriptionCount, findSubscriptions, findSubscriptionsByDestination',
    );
    expect(await startupError({ userRegistry: 'local' })).toContain('userRegistry must be a class extending SimpUserRegistry, got "local"');
  });

  it('names the class whose dependencies cannot be resolved', async () => {
    class Missing {}
    @Injectable()
    class NeedsMissing extends DefaultSimpUserRegistry {
      constructor(readonly missing: Missing) {
        super();
      }
    }
    const message = await startupError({ userRegistry: NeedsMissing });
    expect(message).toMatch(/^userRegistry: NeedsMissing could not be created: .*Missing/s);
  });
});

describe('SimpUserRegistry replaced with overrideProvider (Nest testing)', () => {
  it('is the registry user destinations are resolved through', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [StompModule.forRoot({ authenticate })] })
      .overrideProvider(SimpUserRegistry)
      .useClass(HidingRegistry)
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      const override = app.get(SimpUserRegistry) as HidingRegistry;
      expect(override).toBeInstanceOf(HidingRegistry);
      app.get(DefaultSimpUserRegistry).sessionConnected('s1', 'ann');
      app.get(DefaultSimpUserRegistry).subscribed('s1', 'n', '/user/queue/news');
      const resolver = app.get(UserDestinationResolver);
      expect(resolver.userTargets('ann', '/queue/news')).toEqual(['/queue/news-users1']);
      override.hidden.add('s1');
      expect(resolver.userTargets('ann', '/queue/news')).toEqual([]);
      expect(override.lookups).toEqual(['ann', 'ann']);
    } finally {
      await app.close();
    }
  });
});
