import { Injectable } from '@nestjs/common';
import type { StompSession } from './stomp-session.js';

/**
 * The open sessions of this server, the live objects, by id and by user: a user with three
 * browser tabs has three sessions. The application's view of users, sessions and subscriptions
 * (names, ids and destinations, possibly spanning several instances) is the `SimpUserRegistry`.
 */
@Injectable()
export class SessionRegistry {
  private readonly sessions = new Map<string, StompSession>();
  private readonly byUser = new Map<string, Set<StompSession>>();

  add(session: StompSession): void {
    this.sessions.set(session.id, session);
  }

  /** Indexes a connected session under its user, if it has one. */
  connected(session: StompSession): void {
    const user = session.user;
    if (user === undefined) return;
    let set = this.byUser.get(user);
    if (!set) this.byUser.set(user, (set = new Set()));
    set.add(session);
  }

  remove(session: StompSession): void {
    this.sessions.delete(session.id);
    const user = session.user;
    const set = user === undefined ? undefined : this.byUser.get(user);
    if (set?.delete(session) && set.size === 0) this.byUser.delete(user as string);
  }

  get(id: string): StompSession | undefined {
    return this.sessions.get(id);
  }

  /** The connected sessions of a user (empty when the user is not connected). */
  sessionsOf(user: string): ReadonlySet<StompSession> {
    return this.byUser.get(user) ?? EMPTY;
  }

  /** Names of the users with at least one connected session. */
  users(): IterableIterator<string> {
    return this.byUser.keys();
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): IterableIterator<StompSession> {
    return this.sessions.values();
  }
}

const EMPTY: ReadonlySet<StompSession> = new Set();
