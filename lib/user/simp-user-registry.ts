/**
 * A connected user, as a {@link SimpUserRegistry} knows it (Spring's `SimpUser`): a principal
 * name with one session per connection (a user with three browser tabs has three sessions).
 * A live, read-only view: read it when needed rather than keep it.
 */
export interface SimpUser {
  /** The principal name given at CONNECT (CONNECTED's `user-name`). */
  readonly name: string;
  /** The user's sessions by session id. */
  readonly sessions: ReadonlyMap<string, SimpSession>;
  /** True while the user has a session (a registry drops a user with none). */
  hasSessions(): boolean;
  /** One session of this user by id, or `undefined`. */
  getSession(sessionId: string): SimpSession | undefined;
}

/** One STOMP session of a {@link SimpUser} (Spring's `SimpSession`). */
export interface SimpSession {
  /** The session id (CONNECTED's `session` header). */
  readonly id: string;
  readonly user: SimpUser;
  /** The session's subscriptions by subscription id. */
  readonly subscriptions: ReadonlyMap<string, SimpSubscription>;
  /**
   * True when one of the session's subscriptions has exactly `destination` (as the client wrote
   * it: `/user/queue/news`, not `/queue/news-user<id>`). One lookup, no scan of the
   * subscriptions: user destinations are resolved with it on every message.
   */
  isSubscribedTo(destination: string): boolean;
}

/** One SUBSCRIBE of a {@link SimpSession} (Spring's `SimpSubscription`). */
export interface SimpSubscription {
  /** The SUBSCRIBE's `id` header. */
  readonly id: string;
  /**
   * The destination as the client wrote it: `/topic/chat`, `/app/rooms`, or for a user
   * destination `/user/queue/news` (the broker sees `/queue/news-user<session id>`).
   */
  readonly destination: string;
  readonly session: SimpSession;
}

/** Selects subscriptions for {@link SimpUserRegistry.findSubscriptions} (Spring's `SimpSubscriptionMatcher`). */
export type SimpSubscriptionMatcher = (subscription: SimpSubscription) => boolean;

/**
 * The connected users, their sessions and their subscriptions (Spring's `SimpUserRegistry`).
 * Inject it by this class, which is both the interface and the Nest injection token:
 *
 * ```ts
 * constructor(private readonly users: SimpUserRegistry) {}
 * ```
 *
 * The server's own is {@link DefaultSimpUserRegistry}, which knows this server's sessions. Another
 * implementation (for example one that spans several server instances) is given with the
 * `userRegistry` module option; user destinations (`convertAndSendToUser`, `@SendToUser`, a
 * client SEND to `/user/<name>/…`) are resolved through whichever is configured: user → its
 * sessions → `<destination>-user<session id>` for each session subscribed to
 * `/user<destination>`.
 *
 * Anonymous sessions (no principal at CONNECT) are not users, as in Spring: no registry lists
 * them or their subscriptions, and a message for a user never reaches them. They still receive
 * what is sent to their own session (`@SendToUser` in reply to their frame,
 * `convertAndSendToSession`).
 */
export abstract class SimpUserRegistry {
  /** The connected user with that name, or `undefined`. */
  abstract getUser(userName: string): SimpUser | undefined;
  /** Every connected user (a new array). */
  abstract getUsers(): SimpUser[];
  /** How many users are connected. */
  abstract getUserCount(): number;
  /** How many sessions the connected users have, together (anonymous sessions not counted). */
  abstract getSessionCount(): number;
  /**
   * How many subscriptions the users' sessions hold, together (Spring issue #23016; anonymous
   * sessions not counted).
   */
  abstract getSubscriptionCount(): number;
  /** The subscriptions `matcher` accepts, across every session of every user (a scan). */
  abstract findSubscriptions(matcher: SimpSubscriptionMatcher): SimpSubscription[];
  /**
   * The subscriptions to exactly `destination`, as clients wrote it (no pattern matching): from
   * an index, without a scan of every subscription.
   */
  abstract findSubscriptionsByDestination(destination: string): SimpSubscription[];
}
