// m_userscan.mjs: 200 sessions of one user with 999 subscriptions each made every SEND to
// /user/<name>/... scan all 199,800 subscriptions. The lookup is one map access per session now;
// these tests count the steps taken over the sessions' subscription maps (never the time).
import { describe, expect, it } from '@jest/globals';
import { SimpleBroker } from '../../lib/broker/simple/simple-broker.js';
import type { BrokerSubscription } from '../../lib/broker/message-broker.js';
import { createHeaders, type StompFrame, type StompHeaders } from '../../lib/protocol/frame.js';
import type { OutboundMessage } from '../../lib/protocol/message-frame.js';
import { BrokerChannel } from '../../lib/messaging/broker-channel.js';
import { ChannelInterceptors } from '../../lib/messaging/channel-interceptors.js';
import { InboundDispatcher } from '../../lib/messaging/inbound-dispatcher.js';
import type { UnmappedDestinationReporter } from '../../lib/messaging/unmapped-destination-reporter.js';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import { SessionRegistry } from '../../lib/transport/session-registry.js';
import type { SessionSubscription } from '../../lib/transport/session-subscription.js';
import type { StompSession } from '../../lib/transport/stomp-session.js';
import { UserDestinationResolver } from '../../lib/user/user-destination-resolver.js';

/** A subscription map that counts every entry an iteration visits. */
type Subs = Map<string, SessionSubscription>;
class CountingMap extends Map<string, SessionSubscription> {
  steps = 0;
  private counted<I extends Iterator<unknown>>(it: I): I {
    const next = it.next.bind(it);
    it.next = () => {
      this.steps++;
      return next();
    };
    return it;
  }
  override values(): ReturnType<Subs['values']> {
    return this.counted(super.values());
  }
  override entries(): ReturnType<Subs['entries']> {
    return this.counted(super.entries());
  }
  override keys(): ReturnType<Subs['keys']> {
    return this.counted(super.keys());
  }
  override [Symbol.iterator](): ReturnType<Subs['entries']> {
    return this.entries();
  }
  override forEach(cb: (v: SessionSubscription, k: string, m: Map<string, SessionSubscription>) => void): void {
    for (const [k, v] of this.entries()) cb(v, k, this);
  }
}

interface FakeSession {
  id: string;
  version: '1.2';
  user: string | undefined;
  subscriptions: CountingMap;
  received: string[];
  deliver(subscription: BrokerSubscription, message: OutboundMessage): void;
  fail(): void;
  clearTransactions(): void;
}

function setup() {
  const options = resolveStompOptions({});
  const broker = new SimpleBroker(options.broker);
  const registry = new SessionRegistry();
  const users = new UserDestinationResolver(options, broker, registry);
  const unmapped = { report: () => Promise.resolve() } as unknown as UnmappedDestinationReporter;
  const brokerChannel = new BrokerChannel(broker, users, registry, new ChannelInterceptors(options, undefined as never, undefined as never));
  const dispatcher = new InboundDispatcher(options, broker, registry, users, unmapped, brokerChannel);
  let n = 0;
  const open = (user: string | undefined): FakeSession => {
    const session: FakeSession = {
      id: `s${++n}`,
      version: '1.2',
      user,
      subscriptions: new CountingMap(),
      received: [],
      deliver: (_sub, message) => session.received.push(message.body.toString()),
      fail: () => undefined,
      clearTransactions: () => undefined,
    };
    registry.add(session as unknown as StompSession);
    dispatcher.sessionConnected(session as unknown as StompSession);
    return session;
  };
  const handle = (session: FakeSession, command: StompFrame['command'], headers: Record<string, string>, body = '') => {
    const h: StompHeaders = createHeaders();
    Object.assign(h, headers);
    return dispatcher.handle(session as unknown as StompSession, { command, headers: h, body: Buffer.from(body) } as StompFrame);
  };
  const steps = (sessions: FakeSession[]) => sessions.reduce((sum, s) => sum + s.subscriptions.steps, 0);
  return { users, dispatcher, open, handle, steps };
}

describe('user destination lookup (issue 7: per-frame cost grew with subscriptions)', () => {
  it('a SEND to /user/<name>/... visits no subscription, however many each session of that user holds', async () => {
    const { open, handle, steps } = setup();
    const mallory = [open('mallory'), open('mallory'), open('mallory')];
    for (const s of mallory) {
      for (let i = 0; i < 500; i++) await handle(s, 'SUBSCRIBE', { id: `t${i}`, destination: `/topic/t${i}` });
    }
    await handle(mallory[1], 'SUBSCRIBE', { id: 'u', destination: '/user/queue/inbox' });
    const sender = open('alice');
    for (const s of mallory) s.subscriptions.steps = 0;
    for (let i = 0; i < 20; i++) await handle(sender, 'SEND', { destination: '/user/mallory/queue/nothing' }, 'lost');
    await handle(sender, 'SEND', { destination: '/user/mallory/queue/inbox' }, 'hello');
    expect(steps(mallory)).toBe(0);
    expect(mallory.map((s) => s.received)).toEqual([[], ['hello'], []]);
  });

  it('keeps Spring semantics through SUBSCRIBE, a second subscription, UNSUBSCRIBE and close', async () => {
    const { users, dispatcher, open, handle } = setup();
    const ann = open('ann');
    const session = ann as unknown as StompSession;
    expect(users.sessionTarget(session, '/queue/news')).toBeUndefined();
    await handle(ann, 'SUBSCRIBE', { id: 'a', destination: '/user/queue/news' });
    await handle(ann, 'SUBSCRIBE', { id: 'b', destination: '/user/queue/news' });
    // A direct subscription to the resolved destination is not a user subscription.
    await handle(ann, 'SUBSCRIBE', { id: 'c', destination: `/queue/other-user${ann.id}` });
    expect(users.sessionTarget(session, '/queue/news')).toBe(`/queue/news-user${ann.id}`);
    expect(users.userTargets('ann', '/queue/news')).toEqual([`/queue/news-user${ann.id}`]);
    expect(users.sessionTarget(session, '/queue/other')).toBeUndefined();
    await handle(ann, 'UNSUBSCRIBE', { id: 'a' });
    // Still subscribed through 'b'.
    expect(users.sessionTarget(session, '/queue/news')).toBe(`/queue/news-user${ann.id}`);
    await handle(ann, 'UNSUBSCRIBE', { id: 'b' });
    expect(users.sessionTarget(session, '/queue/news')).toBeUndefined();
    expect(users.userTargets('ann', '/queue/news')).toEqual([]);
    await handle(ann, 'SUBSCRIBE', { id: 'd', destination: '/user/queue/news' });
    dispatcher.sessionClosed(session);
    expect(users.sessionTarget(session, '/queue/news')).toBeUndefined();
  });
});
