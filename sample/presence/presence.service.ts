import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { StompEvents, StompMessagingTemplate, type StompSessionEvent } from '../../lib/index.js';

/** Where the list of connected users is published, as a sorted JSON array of names. */
export const PRESENCE_TOPIC = '/topic/presence';

/**
 * Who is online, kept from the session lifecycle events: a user is listed while at least one of
 * their sessions is connected (two tabs count once), and goes when the last one ends, however it
 * ends (DISCONNECT, a closed tab, a heart-beat timeout, an ERROR). Anonymous sessions are not
 * listed. Every time a session connects or disconnects, the list is published to
 * {@link PRESENCE_TOPIC}. Holds one entry per connected session.
 */
@Injectable()
export class PresenceService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(PresenceService.name);
  /** Connected sessions by id, with their user (`undefined`: anonymous). */
  private readonly sessions = new Map<string, string | undefined>();
  /** Open sessions per user. */
  private readonly users = new Map<string, number>();
  private subscription?: Subscription;

  constructor(
    private readonly events: StompEvents,
    private readonly template: StompMessagingTemplate,
  ) {}

  onModuleInit(): void {
    this.subscription = this.events.events$.subscribe((event) => this.onEvent(event));
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  /** The names of the users connected now, sorted. */
  online(): string[] {
    return [...this.users.keys()].sort();
  }

  private onEvent(event: StompSessionEvent): void {
    const id = event.session.id;
    if (event.type === 'connected') {
      const user = event.session.user;
      this.sessions.set(id, user);
      if (user !== undefined) this.users.set(user, (this.users.get(user) ?? 0) + 1);
      this.publish();
    } else if (event.type === 'disconnect') {
      // Only sessions that were connected; the user as it was at CONNECTED.
      if (!this.sessions.has(id)) return;
      const user = this.sessions.get(id);
      this.sessions.delete(id);
      if (user !== undefined) {
        const left = (this.users.get(user) ?? 1) - 1;
        if (left > 0) this.users.set(user, left);
        else this.users.delete(user);
      }
      // On app.close() every session goes at once and nobody is left to tell.
      if (event.reason !== 'server-shutdown') this.publish();
    }
  }

  private publish(): void {
    this.template.convertAndSend(PRESENCE_TOPIC, this.online()).catch((err: unknown) => {
      this.logger.warn(`Could not publish presence: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
}
