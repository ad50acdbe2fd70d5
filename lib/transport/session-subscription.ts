import type { AckMode, BrokerSession, BrokerSubscription } from '../broker/message-broker.js';
import type { StompHeaders } from '../protocol/frame.js';
import { messageFramePrefix } from '../protocol/message-frame.js';

/** Where a subscription lives: with the broker, or answered once by an application handler. */
export type SubscriptionTarget = 'broker' | 'application';

/**
 * One SUBSCRIBE of one session. Caches the start of its MESSAGE frames. `destination` is what
 * the broker matches; `clientDestination` is what the client asked for, which differs for user
 * destinations (`/user/queue/errors` → `/queue/errors-user<session id>`).
 */
export class SessionSubscription implements BrokerSubscription {
  readonly clientDestination: string;
  private prefix?: Buffer;

  constructor(
    readonly session: BrokerSession,
    readonly id: string,
    readonly destination: string,
    readonly ack: AckMode,
    readonly headers: Readonly<StompHeaders>,
    readonly target: SubscriptionTarget,
    clientDestination?: string,
  ) {
    this.clientDestination = clientDestination ?? destination;
  }

  /** `MESSAGE\nsubscription:<id>\n`, built on the first delivery (idle subscriptions never need it). */
  get framePrefix(): Buffer {
    return (this.prefix ??= messageFramePrefix(this.id, this.session.version));
  }
}
