import { randomUUID } from 'node:crypto';
import {
  SimpUserRegistry,
  type SimpSession,
  type SimpSubscription,
  type SimpSubscriptionMatcher,
  type SimpUser,
} from './simp-user-registry.js';

/** One instance's users as broadcast: `{ instance, users: [{ name, sessions: [{ id, subscriptions: [{ id, destination }] }] }] }`. */
export interface UserRegistrySnapshot {
  readonly instance: string;
  readonly users: readonly {
    readonly name: string;
    readonly sessions: readonly { readonly id: string; readonly subscriptions: readonly { readonly id: string; readonly destination: string }[] }[];
  }[];
}

class RemoteUser implements SimpUser {
  readonly sessions = new Map<string, SimpSession>();
  constructor(readonly name: string) {}
  hasSessions(): boolean {
    return this.sessions.size > 0;
  }
  getSession(sessionId: string): SimpSession | undefined {
    return this.sessions.get(sessionId);
  }
}

class RemoteSession implements SimpSession {
  readonly subscriptions = new Map<string, SimpSubscription>();
  private readonly destinations = new Set<string>();
  constructor(
    readonly id: string,
    readonly user: SimpUser,
  ) {}
  add(id: string, destination: string): void {
    this.subscriptions.set(id, { id, destination, session: this });
    this.destinations.add(destination);
  }
  isSubscribedTo(destination: string): boolean {
    return this.destinations.has(destination);
  }
}

/** A user as seen across instances: the local sessions and those other instances broadcast. */
class MergedUser implements SimpUser {
  readonly sessions = new Map<string, SimpSession>();
  constructor(readonly name: string) {}
  hasSessions(): boolean {
    return this.sessions.size > 0;
  }
  getSession(sessionId: string): SimpSession | undefined {
    return this.sessions.get(sessionId);
  }
}

/**
 * Spring's `MultiServerUserRegistry`: this instance's registry plus the users, sessions and
 * subscriptions other instances broadcast over the relay (`broker.userRegistryBroadcast`), each
 * instance's snapshot forgotten `expiration` ms after it arrived unless a newer one replaces it.
 * The user-destination resolver goes through it, so a message for a user connected only to
 * another instance goes straight to that session's broker destination.
 *
 * Cost: a snapshot is parsed once on arrival; lookups of a user merge the instances' entries
 * (one map lookup per instance); `getUsers` and the counts walk every instance's snapshot.
 */
export class MultiServerUserRegistry extends SimpUserRegistry {
  /** This instance's id in its broadcasts, so it ignores its own. */
  readonly instance = randomUUID();
  private readonly remote = new Map<string, { users: Map<string, RemoteUser>; expiresAt: number }>();

  constructor(
    private readonly local: SimpUserRegistry,
    private readonly expiration: number,
  ) {
    super();
  }

  /** This instance's users, to broadcast. */
  snapshot(): UserRegistrySnapshot {
    return {
      instance: this.instance,
      users: this.local.getUsers().map((user) => ({
        name: user.name,
        sessions: [...user.sessions.values()].map((session) => ({
          id: session.id,
          subscriptions: [...session.subscriptions.values()].map((s) => ({ id: s.id, destination: s.destination })),
        })),
      })),
    };
  }

  /**
   * Takes another instance's broadcast (a parsed JSON body). A malformed one is ignored and
   * `false` returned; our own is ignored too.
   */
  accept(snapshot: unknown, now = Date.now()): boolean {
    if (!isSnapshot(snapshot) || snapshot.instance === this.instance) return false;
    const users = new Map<string, RemoteUser>();
    for (const u of snapshot.users) {
      const user = new RemoteUser(u.name);
      for (const s of u.sessions) {
        const session = new RemoteSession(s.id, user);
        for (const sub of s.subscriptions) session.add(sub.id, sub.destination);
        user.sessions.set(s.id, session);
      }
      users.set(u.name, user);
    }
    this.remote.set(snapshot.instance, { users, expiresAt: now + this.expiration });
    return true;
  }

  /** Instances heard from and not expired. */
  get remoteInstances(): number {
    this.expire();
    return this.remote.size;
  }

  getUser(userName: string): SimpUser | undefined {
    this.expire();
    const own = this.local.getUser(userName);
    let merged: MergedUser | undefined;
    for (const { users } of this.remote.values()) {
      const user = users.get(userName);
      if (user === undefined) continue;
      if (merged === undefined) {
        merged = new MergedUser(userName);
        if (own !== undefined) for (const [id, s] of own.sessions) merged.sessions.set(id, s);
      }
      for (const [id, s] of user.sessions) merged.sessions.set(id, s);
    }
    return merged ?? own;
  }

  getUsers(): SimpUser[] {
    this.expire();
    const names = new Set(this.local.getUsers().map((u) => u.name));
    for (const { users } of this.remote.values()) for (const name of users.keys()) names.add(name);
    return [...names].map((name) => this.getUser(name)).filter((u): u is SimpUser => u !== undefined);
  }

  getUserCount(): number {
    return this.getUsers().length;
  }

  getSessionCount(): number {
    return this.getUsers().reduce((n, u) => n + u.sessions.size, 0);
  }

  getSubscriptionCount(): number {
    return this.findSubscriptions(() => true).length;
  }

  findSubscriptions(matcher: SimpSubscriptionMatcher): SimpSubscription[] {
    const out: SimpSubscription[] = [];
    for (const user of this.getUsers()) {
      for (const session of user.sessions.values()) for (const s of session.subscriptions.values()) if (matcher(s)) out.push(s);
    }
    return out;
  }

  findSubscriptionsByDestination(destination: string): SimpSubscription[] {
    const out = this.local.findSubscriptionsByDestination(destination);
    this.expire();
    for (const { users } of this.remote.values()) {
      for (const user of users.values()) {
        for (const session of user.sessions.values()) for (const s of session.subscriptions.values()) if (s.destination === destination) out.push(s);
      }
    }
    return out;
  }

  private expire(now = Date.now()): void {
    for (const [instance, entry] of this.remote) if (entry.expiresAt <= now) this.remote.delete(instance);
  }
}

function isSnapshot(value: unknown): value is UserRegistrySnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { instance?: unknown; users?: unknown };
  if (typeof v.instance !== 'string' || !Array.isArray(v.users)) return false;
  return v.users.every(
    (u: { name?: unknown; sessions?: unknown }) =>
      typeof u === 'object' &&
      u !== null &&
      typeof u.name === 'string' &&
      Array.isArray(u.sessions) &&
      u.sessions.every(
        (s: { id?: unknown; subscriptions?: unknown }) =>
          typeof s === 'object' &&
          s !== null &&
          typeof s.id === 'string' &&
          Array.isArray(s.subscriptions) &&
          s.subscriptions.every((x: { id?: unknown; destination?: unknown }) => typeof x === 'object' && x !== null && typeof x.id === 'string' && typeof x.destination === 'string'),
      ),
  );
}
