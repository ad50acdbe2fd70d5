import { Inject, Injectable, Optional } from '@nestjs/common';
import { MESSAGE_BROKER, type BrokerSession, type MessageBroker } from '../broker/message-broker.js';
import { hasPrefix, sessionsNamedIn } from '../broker/destination-prefixes.js';
import { StompProtocolError } from '../protocol/stomp-protocol-error.js';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import { SessionRegistry } from '../transport/session-registry.js';
import type { StompSession } from '../transport/stomp-session.js';
import type { SessionSubscription } from '../transport/session-subscription.js';
import { DefaultSimpUserRegistry } from './default-simp-user-registry.js';
import { SimpUserRegistry } from './simp-user-registry.js';

const ENCODED_SLASH = /%2F/gi;

/** A user name as written in a user destination: literal, `%2F` → `/` (Spring's only decoding). */
export function decodeUserName(segment: string): string {
  return segment.includes('%') ? segment.replace(ENCODED_SLASH, '/') : segment;
}

/**
 * Spring's `UserDestinationResolver`: turns user destinations into unique broker destinations.
 *
 * - SUBSCRIBE `/user/queue/news` becomes a subscription to `/queue/news-user<session id>`.
 * - A message for user `ann` on `/queue/news` (sent to `/user/ann/queue/news`, by
 *   `convertAndSendToUser('ann', '/queue/news', …)` or by `@SendToUser`) goes to
 *   `/queue/news-user<id>` for each of Ann's sessions subscribed to `/user/queue/news`. Ann's
 *   sessions and their subscriptions come from the {@link SimpUserRegistry} (the `userRegistry`
 *   option's, else this server's {@link DefaultSimpUserRegistry}), as in Spring's
 *   `DefaultUserDestinationResolver`.
 *
 * It is told of every session's lifecycle by the inbound dispatcher ({@link sessionConnected},
 * {@link subscribed}, {@link unsubscribed}, {@link sessionClosed}) and keeps the local
 * registry up to date at the same moments, so routing and registry never disagree.
 */
@Injectable()
export class UserDestinationResolver {
  readonly prefix: string;
  /**
   * Per session, its SUBSCRIBEs to user destinations: client destination (`/user/queue/news`) →
   * how many of its subscriptions have it. Makes {@link sessionTarget} one lookup however many
   * subscriptions the session holds. Kept by {@link subscribed} and {@link unsubscribed}.
   */
  private readonly userSubscriptions = new WeakMap<BrokerSession, Map<string, number>>();

  /** Where user → sessions lookups go. */
  private readonly registry: SimpUserRegistry;
  /** The registries the session lifecycle is written to: the local one, and the configured one when it is another local one. */
  private readonly fed: readonly DefaultSimpUserRegistry[];

  /**
   * Without registries (a test building it by hand), it keeps a {@link DefaultSimpUserRegistry}
   * of its own and resolves through it.
   */
  constructor(
    @Inject(STOMP_OPTIONS) private readonly options: ResolvedStompOptions,
    @Inject(MESSAGE_BROKER) private readonly broker: MessageBroker,
    // The local session table; kept as a parameter so hand-built resolvers keep their shape.
    _sessions: SessionRegistry,
    @Optional() local?: DefaultSimpUserRegistry,
    @Optional() @Inject(SimpUserRegistry) registry?: SimpUserRegistry,
  ) {
    this.prefix = options.userDestinationPrefix;
    const own = local ?? new DefaultSimpUserRegistry();
    this.registry = registry ?? own;
    // A configured registry that is itself a DefaultSimpUserRegistry (a subclass) is fed too.
    this.fed = this.registry !== own && this.registry instanceof DefaultSimpUserRegistry ? [own, this.registry] : [own];
  }

  isUserDestination(destination: string): boolean {
    return hasPrefix(destination, this.prefix);
  }

  /**
   * `/user/queue/news` → `/queue/news-user<session id>` for this session's SUBSCRIBE.
   * @throws StompProtocolError `FORBIDDEN_DESTINATION` for `/user/<name>/queue/news`: a SUBSCRIBE
   *   names no user (it always reaches the subscriber's own), and that form asks for another
   *   user's queue (Spring would quietly subscribe to a destination that receives nothing).
   * @throws StompProtocolError `UNKNOWN_DESTINATION` when the rest is no broker destination.
   */
  subscriptionDestination(session: StompSession, destination: string): string {
    const target = destination.slice(this.prefix.length);
    const slash = target.indexOf('/', 1);
    if (!this.broker.handles(target) && slash > 1 && this.broker.handles(target.slice(slash))) {
      throw new StompProtocolError(
        'FORBIDDEN_DESTINATION',
        `SUBSCRIBE to ${destination} is refused: a client subscribes to its own user destinations as ${this.prefix}${target.slice(slash)}, never to another user's`,
      );
    }
    this.assertBrokerDestination(target, destination);
    return this.sessionDestination(session.id, target);
  }

  /**
   * `/user/ann/queue/news` → `{ user: 'ann', destination: '/queue/news' }`. The user name is
   * taken literally except that `%2F` (either case) stands for `/`, as in Spring's
   * `DefaultUserDestinationResolver`: names are not URI-decoded, so `promo%zz` is the user
   * `promo%zz` and never an error.
   * @throws StompProtocolError `UNKNOWN_DESTINATION` when there is no user segment or the rest is
   *   not a broker destination.
   */
  parseSendDestination(destination: string): { user: string; destination: string } {
    const rest = destination.slice(this.prefix.length + 1);
    const slash = rest.indexOf('/');
    if (slash <= 0) {
      throw new StompProtocolError(
        'UNKNOWN_DESTINATION',
        `User destination ${destination} must look like ${this.prefix}/<user>/<destination>`,
      );
    }
    const user = decodeUserName(rest.slice(0, slash));
    const target = rest.slice(slash);
    this.assertBrokerDestination(target, destination);
    return { user, destination: target };
  }

  /**
   * Broker destinations reaching every session of `user` subscribed to `/user` + `destination`,
   * as the {@link SimpUserRegistry} knows them: one `getUser`, then one lookup per session of
   * that user (never a scan of all sessions or of a session's subscriptions).
   */
  userTargets(user: string, destination: string): string[] {
    return this.targetsIn(this.registry, user, destination);
  }

  /**
   * As {@link userTargets}, but only this instance's sessions (the local registry): for a message
   * another instance broadcast because it found none, which every instance delivers to its own.
   */
  localTargets(user: string, destination: string): string[] {
    return this.targetsIn(this.fed[0], user, destination);
  }

  private targetsIn(registry: SimpUserRegistry, user: string, destination: string): string[] {
    const out: string[] = [];
    const found = registry.getUser(user);
    // A SUBSCRIBE to `/user/<not a broker destination>` that was reported rather than refused is
    // in the registry too, but leads nowhere.
    if (found === undefined || !this.broker.handles(destination)) return out;
    const subscribed = this.prefix + destination;
    for (const session of found.sessions.values()) {
      if (session.isSubscribedTo(subscribed)) out.push(this.sessionDestination(session.id, destination));
    }
    return out;
  }

  /**
   * The broker destination reaching `session` on user destination `destination`
   * (`/queue/news` → `/queue/news-user<session id>`), if the session subscribed to
   * `/user/queue/news`; as Spring's `DefaultUserDestinationResolver`, which only targets the
   * sessions subscribed. One map lookup per session. The session is local (the one a reply
   * goes to), anonymous or not: this needs no registry.
   */
  sessionTarget(session: StompSession, destination: string): string | undefined {
    const subscribed = this.userSubscriptions.get(session)?.has(this.prefix + destination) ?? false;
    return subscribed ? this.sessionDestination(session.id, destination) : undefined;
  }

  /** CONNECTED was sent: a session with a user joins the registry (anonymous ones do not). */
  sessionConnected(session: StompSession): void {
    for (const registry of this.fed) registry.sessionConnected(session.id, session.user);
  }

  /**
   * Records a session's subscription, any destination, in the registry (under the destination
   * the client wrote); user-destination subscriptions are also indexed for {@link sessionTarget}.
   */
  subscribed(subscription: SessionSubscription): void {
    for (const registry of this.fed) registry.subscribed(subscription.session.id, subscription.id, subscription.clientDestination);
    if (!this.isUserSubscription(subscription)) return;
    const session = subscription.session;
    let index = this.userSubscriptions.get(session);
    if (!index) this.userSubscriptions.set(session, (index = new Map()));
    index.set(subscription.clientDestination, (index.get(subscription.clientDestination) ?? 0) + 1);
  }

  /** Forgets a subscription recorded by {@link subscribed}. */
  unsubscribed(subscription: SessionSubscription): void {
    for (const registry of this.fed) registry.unsubscribed(subscription.session.id, subscription.id);
    if (!this.isUserSubscription(subscription)) return;
    const session = subscription.session;
    const index = this.userSubscriptions.get(session);
    const count = index?.get(subscription.clientDestination);
    if (!index || count === undefined) return;
    if (count > 1) index.set(subscription.clientDestination, count - 1);
    else index.delete(subscription.clientDestination);
    if (index.size === 0) this.userSubscriptions.delete(session);
  }

  /** Forgets every subscription of a session that ended. */
  sessionClosed(session: StompSession): void {
    for (const registry of this.fed) registry.sessionClosed(session.id);
    this.userSubscriptions.delete(session);
  }

  /**
   * Refuses a client's SUBSCRIBE or SEND to any destination that names another session's resolved
   * user destination (`/queue/errors-user<other session>`), in any spelling (case, percent-escapes,
   * trailing separators, `..`, a user destination around it: see `sessionsNamedIn`): subscribing
   * would take that session's private replies, sending would forge them. The session's own
   * resolved destinations stay open to it. Called for every destination a client names.
   * @throws StompProtocolError `FORBIDDEN_DESTINATION`
   */
  assertNotOtherSession(session: StompSession, destination: string, command: string): void {
    for (const owner of sessionsNamedIn(destination)) {
      if (owner === session.id) continue;
      throw new StompProtocolError(
        'FORBIDDEN_DESTINATION',
        `${command} to ${destination} is refused: it is another session's user destination (use ${this.prefix}/... destinations)`,
      );
    }
  }

  /** A broker subscription made for a user destination: the client asked for `/user/...`. */
  private isUserSubscription(subscription: SessionSubscription): boolean {
    return subscription.target === 'broker' && subscription.clientDestination !== subscription.destination;
  }

  private sessionDestination(sessionId: string, destination: string): string {
    return `${destination}-user${sessionId}`;
  }

  private assertBrokerDestination(target: string, original: string): void {
    if (!this.broker.handles(target)) {
      throw new StompProtocolError(
        'UNKNOWN_DESTINATION',
        `User destination ${original} does not lead to a broker destination (${this.options.broker.prefixes.join(', ')})`,
      );
    }
  }
}
