import { describe, expect, it } from '@jest/globals';
import { DefaultSimpUserRegistry, type SimpSubscription, type SimpUserRegistry } from '../../lib/index.js';

/** `session/subscription → destination` of each subscription, sorted: a readable exact value. */
function described(subscriptions: readonly SimpSubscription[]): string[] {
  return subscriptions.map((s) => `${s.session.user.name}/${s.session.id}/${s.id} → ${s.destination}`).sort();
}

/** Every count the registry keeps, in one value. */
function counts(registry: SimpUserRegistry) {
  return { users: registry.getUserCount(), sessions: registry.getSessionCount(), subscriptions: registry.getSubscriptionCount() };
}

/** ann with two sessions, bob with one, and an anonymous session; a few subscriptions. */
function populated(): DefaultSimpUserRegistry {
  const registry = new DefaultSimpUserRegistry();
  registry.sessionConnected('a1', 'ann');
  registry.sessionConnected('a2', 'ann');
  registry.sessionConnected('b1', 'bob');
  registry.sessionConnected('x1', undefined);
  registry.subscribed('a1', 's1', '/user/queue/news');
  registry.subscribed('a1', 's2', '/topic/chat');
  registry.subscribed('a2', 's1', '/topic/chat');
  registry.subscribed('b1', 'only', '/user/queue/news');
  registry.subscribed('x1', 'anon', '/topic/chat');
  return registry;
}

describe('DefaultSimpUserRegistry', () => {
  it('is empty at first', () => {
    const registry = new DefaultSimpUserRegistry();
    expect(registry.getUsers()).toEqual([]);
    expect(counts(registry)).toEqual({ users: 0, sessions: 0, subscriptions: 0 });
    expect(registry.getUser('ann')).toBeUndefined();
    expect(registry.findSubscriptions(() => true)).toEqual([]);
    expect(registry.findSubscriptionsByDestination('/topic/chat')).toEqual([]);
  });

  it('holds users, their sessions and subscriptions; anonymous sessions are not users (Spring)', () => {
    const registry = populated();
    expect(registry.getUsers().map((u) => u.name).sort()).toEqual(['ann', 'bob']);
    expect(counts(registry)).toEqual({ users: 2, sessions: 3, subscriptions: 4 });
    const ann = registry.getUser('ann')!;
    expect(ann.name).toBe('ann');
    expect(ann.hasSessions()).toBe(true);
    expect([...ann.sessions.keys()]).toEqual(['a1', 'a2']);
    const a1 = ann.getSession('a1')!;
    expect(a1.id).toBe('a1');
    expect(a1.user).toBe(ann);
    expect([...a1.subscriptions.values()].map((s) => [s.id, s.destination, s.session.id])).toEqual([
      ['s1', '/user/queue/news', 'a1'],
      ['s2', '/topic/chat', 'a1'],
    ]);
    expect(a1.isSubscribedTo('/user/queue/news')).toBe(true);
    expect(a1.isSubscribedTo('/queue/news')).toBe(false);
    expect(ann.getSession('a2')!.isSubscribedTo('/user/queue/news')).toBe(false);
    expect(ann.getSession('b1')).toBeUndefined();
    expect(registry.getUser('x1')).toBeUndefined();
    expect(registry.findSubscriptions((s) => s.id === 'anon')).toEqual([]);
  });

  it('finds subscriptions by predicate and by exact destination', () => {
    const registry = populated();
    expect(described(registry.findSubscriptions((s) => s.destination.startsWith('/user/')))).toEqual([
      'ann/a1/s1 → /user/queue/news',
      'bob/b1/only → /user/queue/news',
    ]);
    expect(described(registry.findSubscriptions(() => true))).toHaveLength(4);
    expect(described(registry.findSubscriptionsByDestination('/topic/chat'))).toEqual([
      'ann/a1/s2 → /topic/chat',
      'ann/a2/s1 → /topic/chat',
    ]);
    expect(registry.findSubscriptionsByDestination('/topic/*')).toEqual([]);
    // A copy: changing it changes nothing in the registry.
    registry.findSubscriptionsByDestination('/topic/chat').pop();
    expect(registry.findSubscriptionsByDestination('/topic/chat')).toHaveLength(2);
  });

  it('counts two subscriptions of one session to one destination until both end', () => {
    const registry = populated();
    registry.subscribed('b1', 'again', '/user/queue/news');
    const b1 = registry.getUser('bob')!.getSession('b1')!;
    expect(registry.findSubscriptionsByDestination('/user/queue/news')).toHaveLength(3);
    registry.unsubscribed('b1', 'only');
    expect(b1.isSubscribedTo('/user/queue/news')).toBe(true);
    registry.unsubscribed('b1', 'again');
    expect(b1.isSubscribedTo('/user/queue/news')).toBe(false);
    expect(described(registry.findSubscriptionsByDestination('/user/queue/news'))).toEqual(['ann/a1/s1 → /user/queue/news']);
    expect(counts(registry)).toEqual({ users: 2, sessions: 3, subscriptions: 3 });
  });

  it('replaces a subscription id reused by its session, and ignores unknown ids and sessions', () => {
    const registry = populated();
    registry.subscribed('a1', 's1', '/topic/other');
    expect(registry.getUser('ann')!.getSession('a1')!.isSubscribedTo('/user/queue/news')).toBe(false);
    expect(described(registry.findSubscriptionsByDestination('/topic/other'))).toEqual(['ann/a1/s1 → /topic/other']);
    expect(described(registry.findSubscriptionsByDestination('/user/queue/news'))).toEqual(['bob/b1/only → /user/queue/news']);
    registry.unsubscribed('a1', 'nope');
    registry.unsubscribed('zz', 's1');
    registry.subscribed('zz', 's9', '/topic/chat');
    registry.sessionClosed('zz');
    // Connecting a known session again changes nothing.
    registry.sessionConnected('a1', 'bob');
    expect(registry.getUser('bob')!.sessions.size).toBe(1);
    expect(counts(registry)).toEqual({ users: 2, sessions: 3, subscriptions: 4 });
  });

  it('drops a closed session with its subscriptions, and the user with its last session', () => {
    const registry = populated();
    registry.sessionClosed('a1');
    expect(counts(registry)).toEqual({ users: 2, sessions: 2, subscriptions: 2 });
    expect([...registry.getUser('ann')!.sessions.keys()]).toEqual(['a2']);
    expect(described(registry.findSubscriptionsByDestination('/topic/chat'))).toEqual(['ann/a2/s1 → /topic/chat']);
    expect(described(registry.findSubscriptionsByDestination('/user/queue/news'))).toEqual(['bob/b1/only → /user/queue/news']);
    const ann = registry.getUser('ann')!;
    registry.sessionClosed('a2');
    expect(ann.hasSessions()).toBe(false);
    expect(registry.getUser('ann')).toBeUndefined();
    registry.sessionClosed('b1');
    registry.sessionClosed('x1');
    expect(counts(registry)).toEqual({ users: 0, sessions: 0, subscriptions: 0 });
    expect(registry.findSubscriptions(() => true)).toEqual([]);
    expect(registry.findSubscriptionsByDestination('/topic/chat')).toEqual([]);
  });

  it('answers isSubscribedTo the same below and above the size where a session starts indexing its destinations', () => {
    const registry = new DefaultSimpUserRegistry();
    registry.sessionConnected('a1', 'ann');
    const session = () => registry.getUser('ann')?.getSession('a1');
    // 12 subscriptions to 10 destinations (d0 and d1 twice), crossing the index threshold (8).
    for (let i = 0; i < 12; i++) registry.subscribed('a1', `s${i}`, `/topic/d${i % 10}`);
    const subscribed = () => Array.from({ length: 11 }, (_, i) => session()?.isSubscribedTo(`/topic/d${i}`));
    expect(subscribed()).toEqual([...Array<boolean>(10).fill(true), false]);
    registry.unsubscribed('a1', 's0'); // d0 still has s10
    registry.unsubscribed('a1', 's2');
    registry.unsubscribed('a1', 's11'); // d1 still has s1
    expect(subscribed()).toEqual([true, true, false, ...Array<boolean>(7).fill(true), false]);
    registry.unsubscribed('a1', 's10');
    expect(session()?.isSubscribedTo('/topic/d0')).toBe(false);
    // Below the threshold from the start: a scan, same answers.
    registry.sessionConnected('a2', 'ann');
    registry.subscribed('a2', 'x', '/topic/d0');
    expect([registry.getUser('ann')?.getSession('a2')?.isSubscribedTo('/topic/d0'), registry.getUser('ann')?.getSession('a2')?.isSubscribedTo('/topic/d1')]).toEqual([true, false]);
  });

  it('serializes to names, ids and destinations', () => {
    const registry = new DefaultSimpUserRegistry();
    registry.sessionConnected('a1', 'ann');
    registry.subscribed('a1', 's1', '/topic/chat');
    expect(JSON.parse(JSON.stringify(registry))).toEqual({
      users: [{ name: 'ann', sessions: [{ id: 'a1', subscriptions: [{ id: 's1', destination: '/topic/chat' }] }] }],
    });
  });
});
