import type { AckMode, BrokerSession, BrokerSubscription } from '../broker/message-broker.js';
import type { StompHeaders } from '../protocol/frame.js';
import { messageFramePrefix } from '../protocol/message-frame.js';

/** Where a subscription lives: with the broker, or answered once by an application handler. */
export type SubscriptionTarget = 'broker' | 'application';

/** One SUBSCRIBE of one session. Caches the start of its MESSAGE frames. */
export class SessionSubscription implements BrokerSubscription {
  readonly framePrefix: Buffer;

  constructor(
    readonly session: BrokerSession,
    readonly id: string,
    readonly destination: string,
    readonly ack: AckMode,
    readonly headers: Readonly<StompHeaders>,
    readonly target: SubscriptionTarget,
  ) {
    this.framePrefix = messageFramePrefix(id, session.version);
  }
}
