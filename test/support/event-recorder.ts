import type { Subscription } from 'rxjs';
import type { StompEvents, StompSessionEvent, StompSessionEventType } from '../../lib/index.js';
import { GUARD_MS } from './stomp-client.js';

/**
 * Records every lifecycle event of an app's {@link StompEvents} stream and lets a test wait for
 * one (GUARD_MS is a failure guard only). Tests tell their connections apart by a tag in the
 * WebSocket URL's query string (`/ws?t=<tag>`), which the session keeps in `handshake.url`, so a
 * session is found even when it never got as far as CONNECTED.
 */
export class EventRecorder {
  readonly events: StompSessionEvent[] = [];
  /** `event.session` is a live view: what its `user` was when each event was emitted. */
  private readonly users = new WeakMap<StompSessionEvent, string | undefined>();
  private readonly subscription: Subscription;
  private readonly checks = new Set<() => void>();

  constructor(stream: StompEvents) {
    this.subscription = stream.events$.subscribe((event) => {
      this.events.push(event);
      this.users.set(event, event.session.user);
      for (const check of [...this.checks]) check();
    });
  }

  /** The events of the sessions whose URL carries `?t=<tag>`, in emission order. */
  tagged(tag: string): StompSessionEvent[] {
    return this.events.filter((e) => tagOf(e.session.handshake.url) === tag);
  }

  /** Their types, e.g. `['connect', 'connected', 'disconnect']`. */
  types(tag: string): StompSessionEventType[] {
    return this.tagged(tag).map((e) => e.type);
  }

  /** The session's `user` at the moment each of `tag`'s events was emitted. */
  usersAtEmit(tag: string): Array<string | undefined> {
    return this.tagged(tag).map((e) => this.users.get(e));
  }

  /** Resolves with the first event of `tag`'s sessions of `type` (already recorded or still to come). */
  waitFor<T extends StompSessionEventType>(tag: string, type: T, timeoutMs = GUARD_MS): Promise<Extract<StompSessionEvent, { type: T }>> {
    const find = () => this.tagged(tag).find((e): e is Extract<StompSessionEvent, { type: T }> => e.type === type);
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = find();
        if (hit) {
          finish();
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for a ${type} event of ${tag}; got ${JSON.stringify(this.types(tag))}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.checks.delete(check);
      };
      this.checks.add(check);
      check();
    });
  }

  stop(): void {
    this.subscription.unsubscribe();
  }
}

function tagOf(url: string): string | undefined {
  const q = url.indexOf('?');
  return q === -1 ? undefined : (new URLSearchParams(url.slice(q + 1)).get('t') ?? undefined);
}
