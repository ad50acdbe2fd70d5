import type { StompFrame } from '../protocol/frame.js';
import type { SessionSubscription } from '../transport/session-subscription.js';
import type { StompSession } from '../transport/stomp-session.js';

/**
 * Receives frames whose destination has an application prefix (`/app`). The annotated-handler
 * layer implements it; `lookupDestination` is the destination with the prefix removed.
 */
export interface ApplicationMessageHandler {
  handleMessage(
    session: StompSession,
    frame: StompFrame,
    lookupDestination: string,
  ): void | Promise<void>;
  handleSubscribe(
    session: StompSession,
    subscription: SessionSubscription,
    lookupDestination: string,
  ): void | Promise<void>;
  /** The session ended: whatever its handlers started (Observable subscriptions) ends too. */
  sessionClosed?(session: StompSession): void;
}

/** DI token under which the annotated-handler layer registers itself. */
export const APPLICATION_MESSAGE_HANDLER = Symbol('nestjs-stomp:APPLICATION_MESSAGE_HANDLER');
