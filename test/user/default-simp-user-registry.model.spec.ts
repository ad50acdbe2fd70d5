import { describe, expect, it } from '@jest/globals';
import { DefaultSimpUserRegistry } from '../../lib/index.js';

/**
 * Model-based check of the registry's indexes (the destination index keeps a lone subscription
 * without a Set): random connects, subscribes (duplicate ids, shared destinations), unsubscribes
 * and closes, in every order, against a naive model that keeps one flat list of subscriptions.
 * Seeded, so a failure names the seed and step that reproduce it.
 */

/** mulberry32: a small seeded generator, so that every run plays the same operations. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ModelSubscription {
  session: string;
  id: string;
  destination: string;
}

/** The registry's rules, as plainly as they can be written. */
class Model {
  /** Session id → user name (anonymous sessions are not recorded). */
  readonly sessions = new Map<string, string>();
  subscriptions: ModelSubscription[] = [];

  connected(session: string, user: string | undefined): void {
    if (user !== undefined && !this.sessions.has(session)) this.sessions.set(session, user);
  }
  subscribed(session: string, id: string, destination: string): void {
    if (!this.sessions.has(session)) return;
    this.unsubscribed(session, id);
    this.subscriptions.push({ session, id, destination });
  }
  unsubscribed(session: string, id: string): void {
    this.subscriptions = this.subscriptions.filter((s) => !(s.session === session && s.id === id));
  }
  closed(session: string): void {
    this.sessions.delete(session);
    this.subscriptions = this.subscriptions.filter((s) => s.session !== session);
  }
}

const SESSIONS = ['s0', 's1', 's2', 's3', 's4', 's5'];
const USERS = ['ann', 'bob', undefined];
const IDS = ['0', '1', '2'];
const DESTINATIONS = ['/topic/a', '/topic/b', '/queue/c'];

function expectSame(registry: DefaultSimpUserRegistry, model: Model, where: string): void {
  const key = (s: { session: string; id: string; destination: string }) => `${s.session}/${s.id} → ${s.destination}`;
  const expected = model.subscriptions.map(key).sort();
  const users = new Set(model.sessions.values());
  const state = {
    counts: [registry.getUserCount(), registry.getSessionCount(), registry.getSubscriptionCount()],
    users: registry.getUsers().map((u) => `${u.name}:${[...u.sessions.keys()].sort().join(',')}`).sort(),
    all: registry.findSubscriptions(() => true).map((s) => key({ session: s.session.id, id: s.id, destination: s.destination })).sort(),
    byDestination: DESTINATIONS.map((d) =>
      registry.findSubscriptionsByDestination(d).map((s) => key({ session: s.session.id, id: s.id, destination: s.destination })).sort(),
    ),
    subscribedTo: SESSIONS.map((id) => {
      const user = model.sessions.get(id) ?? 'nobody';
      const session = registry.getUser(user)?.getSession(id);
      return DESTINATIONS.map((d) => session?.isSubscribedTo(d) ?? null);
    }),
  };
  expect({ where, ...state }).toEqual({
    where,
    counts: [users.size, model.sessions.size, model.subscriptions.length],
    users: [...users].map((u) => `${u}:${[...model.sessions].filter(([, n]) => n === u).map(([s]) => s).sort().join(',')}`).sort(),
    all: expected,
    byDestination: DESTINATIONS.map((d) => model.subscriptions.filter((s) => s.destination === d).map(key).sort()),
    subscribedTo: SESSIONS.map((id) =>
      model.sessions.has(id) ? DESTINATIONS.map((d) => model.subscriptions.some((s) => s.session === id && s.destination === d)) : DESTINATIONS.map(() => null),
    ),
  });
}

describe('DefaultSimpUserRegistry against a naive model', () => {
  it.each([1, 2, 3, 42, 1234, 99991])('agrees after every step of 600 random operations (seed %i)', (seed) => {
    const random = generator(seed);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
    const registry = new DefaultSimpUserRegistry();
    const model = new Model();
    for (let step = 0; step < 600; step++) {
      const session = pick(SESSIONS);
      const roll = random();
      let op: string;
      if (roll < 0.2) {
        const user = pick(USERS);
        op = `connect ${session} ${user}`;
        registry.sessionConnected(session, user);
        model.connected(session, user);
      } else if (roll < 0.6) {
        const id = pick(IDS);
        const destination = pick(DESTINATIONS);
        op = `subscribe ${session} ${id} ${destination}`;
        registry.subscribed(session, id, destination);
        model.subscribed(session, id, destination);
      } else if (roll < 0.85) {
        const id = pick(IDS);
        op = `unsubscribe ${session} ${id}`;
        registry.unsubscribed(session, id);
        model.unsubscribed(session, id);
      } else {
        op = `close ${session}`;
        registry.sessionClosed(session);
        model.closed(session);
      }
      expectSame(registry, model, `seed ${seed} step ${step}: ${op}`);
    }
    // Everything closed: nothing is left in any index.
    for (const session of SESSIONS) {
      registry.sessionClosed(session);
      model.closed(session);
    }
    expectSame(registry, model, `seed ${seed}: all closed`);
    expect(registry.getSubscriptionCount()).toBe(0);
  });
});
