import { Injectable } from '@nestjs/common';
import {
  SimpUserRegistry,
  type SimpSession,
  type SimpSubscription,
  type SimpSubscriptionMatcher,
  type SimpUser,
} from './simp-user-registry.js';

class LocalSubscription implements SimpSubscription {
  constructor(
    readonly id: string,
    readonly destination: string,
    readonly session: LocalSession,
  ) {}

  toJSON(): object {
    return { id: this.id, destination: this.destination };
  }
}

/** Subscriptions a session holds before {@link LocalSession.isSubscribedTo} uses an index. */
const SCAN_LIMIT = 8;

class LocalSession implements SimpSession {
  readonly subscriptions = new Map<string, LocalSubscription>();
  /**
   * Destination → how many of this session's subscriptions have it (two ids may share one);
   * made once the session holds more than {@link SCAN_LIMIT} subscriptions (most hold a few,
   * and a Map each would cost an idle session some 200 bytes).
   */
  private destinations?: Map<string, number>;

  constructor(
    readonly id: string,
    readonly user: LocalUser,
  ) {}

  /** One lookup, or a scan of at most {@link SCAN_LIMIT} subscriptions. */
  isSubscribedTo(destination: string): boolean {
    if (this.destinations !== undefined) return this.destinations.has(destination);
    for (const subscription of this.subscriptions.values()) if (subscription.destination === destination) return true;
    return false;
  }

  /** Call after `subscription` was added to {@link subscriptions}. */
  added(subscription: LocalSubscription): void {
    if (this.destinations === undefined) {
      if (this.subscriptions.size <= SCAN_LIMIT) return;
      this.destinations = new Map();
      for (const s of this.subscriptions.values()) this.destinations.set(s.destination, (this.destinations.get(s.destination) ?? 0) + 1);
      return;
    }
    this.destinations.set(subscription.destination, (this.destinations.get(subscription.destination) ?? 0) + 1);
  }

  /** Call after `subscription` was removed from {@link subscriptions}. */
  removed(subscription: LocalSubscription): void {
    const destinations = this.destinations;
    if (destinations === undefined) return;
    const count = destinations.get(subscription.destination) ?? 0;
    if (count > 1) destinations.set(subscription.destination, count - 1);
    else destinations.delete(subscription.destination);
  }

  toJSON(): object {
    return { id: this.id, subscriptions: [...this.subscriptions.values()] };
  }
}

class LocalUser implements SimpUser {
  readonly sessions = new Map<string, LocalSession>();

  constructor(readonly name: string) {}

  hasSessions(): boolean {
    return this.sessions.size > 0;
  }

  getSession(sessionId: string): SimpSession | undefined {
    return this.sessions.get(sessionId);
  }

  toJSON(): object {
    return { name: this.name, sessions: [...this.sessions.values()] };
  }
}

/**
 * The user registry of this server (Spring's `DefaultSimpUserRegistry`): the users connected
 * here, each with its sessions and their subscriptions, by name, session id and subscription id,
 * plus an index of subscriptions by destination. It holds names, ids and destinations only (no
 * connection objects), which is what a registry spanning several instances could share.
 *
 * The server keeps it up to date as sessions connect (with a principal), subscribe, unsubscribe
 * and end: the `UserDestinationResolver` calls {@link sessionConnected}, {@link subscribed},
 * {@link unsubscribed} and {@link sessionClosed} at the moments it updates its own routing, so
 * the registry and routing never disagree. A session leaves the registry when it starts closing
 * (ERROR, DISCONNECT, slow consumer, a dropped connection), before its `disconnect` event. It is
 * always provided under this class, even when the `userRegistry` option names another registry,
 * which may inject it to read this server's part.
 *
 * Anonymous sessions are ignored (Spring's rule): {@link sessionConnected} without a user name
 * records nothing, and the subscriptions of an unknown session are not recorded.
 *
 * Cost: every operation is a few map operations, except {@link getUsers},
 * {@link findSubscriptions} (a scan) and {@link findSubscriptionsByDestination} (the matches).
 */
@Injectable()
export class DefaultSimpUserRegistry extends SimpUserRegistry {
  private readonly users = new Map<string, LocalUser>();
  /** Every session of every user, by session id. */
  private readonly sessions = new Map<string, LocalSession>();
  /**
   * Destination → the subscription to it, or a Set once it has several: most destinations have
   * one subscriber (a Set each would cost some 200 bytes per idle subscription).
   */
  private readonly byDestination = new Map<string, LocalSubscription | Set<LocalSubscription>>();
  private subscriptionCount = 0;

  getUser(userName: string): SimpUser | undefined {
    return this.users.get(userName);
  }

  getUsers(): SimpUser[] {
    return [...this.users.values()];
  }

  getUserCount(): number {
    return this.users.size;
  }

  getSessionCount(): number {
    return this.sessions.size;
  }

  getSubscriptionCount(): number {
    return this.subscriptionCount;
  }

  findSubscriptions(matcher: SimpSubscriptionMatcher): SimpSubscription[] {
    const found: SimpSubscription[] = [];
    for (const session of this.sessions.values()) {
      for (const subscription of session.subscriptions.values()) if (matcher(subscription)) found.push(subscription);
    }
    return found;
  }

  findSubscriptionsByDestination(destination: string): SimpSubscription[] {
    const found = this.byDestination.get(destination);
    return found === undefined ? [] : found instanceof Set ? [...found] : [found];
  }

  /**
   * A session connected. With a user name it is recorded under that user (created with its first
   * session); without one (anonymous) nothing is recorded. A session id already known is left
   * as it is.
   */
  sessionConnected(sessionId: string, userName: string | undefined): void {
    if (userName === undefined || this.sessions.has(sessionId)) return;
    let user = this.users.get(userName);
    if (user === undefined) this.users.set(userName, (user = new LocalUser(userName)));
    const session = new LocalSession(sessionId, user);
    user.sessions.set(sessionId, session);
    this.sessions.set(sessionId, session);
  }

  /**
   * A session subscribed to `destination` (as the client wrote it) under `subscriptionId`. An id
   * the session already holds is replaced; a session not recorded (anonymous, unknown) is ignored.
   */
  subscribed(sessionId: string, subscriptionId: string, destination: string): void {
    const session = this.sessions.get(sessionId);
    if (session === undefined) return;
    if (session.subscriptions.has(subscriptionId)) this.unsubscribed(sessionId, subscriptionId);
    const subscription = new LocalSubscription(subscriptionId, destination, session);
    session.subscriptions.set(subscriptionId, subscription);
    session.added(subscription);
    const found = this.byDestination.get(destination);
    if (found === undefined) this.byDestination.set(destination, subscription);
    else if (found instanceof Set) found.add(subscription);
    else this.byDestination.set(destination, new Set([found, subscription]));
    this.subscriptionCount++;
  }

  /** A session's subscription ended (UNSUBSCRIBE). Unknown ids are ignored. */
  unsubscribed(sessionId: string, subscriptionId: string): void {
    const session = this.sessions.get(sessionId);
    const subscription = session?.subscriptions.get(subscriptionId);
    if (session === undefined || subscription === undefined) return;
    session.subscriptions.delete(subscriptionId);
    this.forget(session, subscription);
  }

  /** A session ended: it and its subscriptions go, and its user with its last session. */
  sessionClosed(sessionId: string): void {
    const session = this.sessions.get(sessionId);
    if (session === undefined) return;
    this.sessions.delete(sessionId);
    for (const subscription of session.subscriptions.values()) this.forget(session, subscription);
    session.subscriptions.clear();
    const user = session.user;
    user.sessions.delete(sessionId);
    if (user.sessions.size === 0) this.users.delete(user.name);
  }

  private forget(session: LocalSession, subscription: LocalSubscription): void {
    const destination = subscription.destination;
    session.removed(subscription);
    const found = this.byDestination.get(destination);
    if (found === subscription) this.byDestination.delete(destination);
    else if (found instanceof Set && found.delete(subscription) && found.size === 0) this.byDestination.delete(destination);
    this.subscriptionCount--;
  }

  toJSON(): object {
    return { users: this.getUsers() };
  }
}
