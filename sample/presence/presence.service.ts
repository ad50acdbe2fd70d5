import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { StompEvents, StompMessagingTemplate, type StompSessionEvent } from '../../lib/index.js';

/** Where the list of connected users is published, as a sorted JSON array of names. */
export const PRESENCE_TOPIC = '/topic/presence';

/**
 * Changes are published at most once per this many ms (the last list of a burst), so a storm of
 * connections costs one publish per interval, not one per connection to every subscriber.
 */
export const PRESENCE_INTERVAL_MS = 250;

/** At most this many names are listed (the first ones in sort order), so one list stays small. */
export const MAX_PRESENCE_NAMES = 200;

/**
 * Who is online, kept from the session lifecycle events: a user is listed while at least one of
 * their sessions is connected (two tabs count once), and goes when the last one ends, however it
 * ends (DISCONNECT, a closed tab, a heart-beat timeout, an ERROR). Anonymous sessions are not
 * listed. When the list changes (a user's first session connects, their last one ends), it is
 * published to {@link PRESENCE_TOPIC}, at most once per {@link PRESENCE_INTERVAL_MS}. Holds one
 * entry per connected session.
 */
@Injectable()
export class PresenceService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(PresenceService.name);
  /** Connected sessions by id, with their user (`undefined`: anonymous). */
  private readonly sessions = new Map<string, string | undefined>();
  /** Open sessions per user. */
  private readonly users = new Map<string, number>();
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;
  private lastPublished = 0;

  constructor(
    private readonly events: StompEvents,
    private readonly template: StompMessagingTemplate,
  ) {}

  onModuleInit(): void {
    this.subscription = this.events.events$.subscribe((event) => this.onEvent(event));
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The names of the users connected now, sorted (the first {@link MAX_PRESENCE_NAMES}). */
  online(): string[] {
    return [...this.users.keys()].sort().slice(0, MAX_PRESENCE_NAMES);
  }

  private onEvent(event: StompSessionEvent): void {
    const id = event.session.id;
    if (event.type === 'connected') {
      const user = event.session.user;
      this.sessions.set(id, user);
      if (user === undefined) return;
      const open = (this.users.get(user) ?? 0) + 1;
      this.users.set(user, open);
      if (open === 1) this.changed();
    } else if (event.type === 'disconnect') {
      // Only sessions that were connected; the user as it was at CONNECTED.
      if (!this.sessions.has(id)) return;
      const user = this.sessions.get(id);
      this.sessions.delete(id);
      if (user === undefined) return;
      const left = (this.users.get(user) ?? 1) - 1;
      if (left > 0) {
        this.users.set(user, left);
        return;
      }
      this.users.delete(user);
      // On app.close() every session goes at once and nobody is left to tell.
      if (event.reason !== 'server-shutdown') this.changed();
    }
  }

  /** The list changed: published now, or at the end of the current interval. */
  private changed(): void {
    if (this.timer !== undefined) return;
    const wait = this.lastPublished + PRESENCE_INTERVAL_MS - Date.now();
    if (wait <= 0) {
      this.publish();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.publish();
    }, wait);
    this.timer.unref();
  }

  private publish(): void {
    this.lastPublished = Date.now();
    this.template.convertAndSend(PRESENCE_TOPIC, this.online()).catch((err: unknown) => {
      this.logger.warn(`Could not publish presence: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
}
