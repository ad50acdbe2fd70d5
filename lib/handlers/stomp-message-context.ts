import type { StompFrame, StompHeaders } from '../protocol/frame.js';
import type { SessionSubscription } from '../transport/session-subscription.js';
import type { StompSession } from '../transport/stomp-session.js';
import type { StompSessionInfo } from '../transport/stomp-session-info.js';

/**
 * Everything known about the message a handler is invoked for. It travels in the handler's
 * arguments (`[session, payload, context, destination]`, so `context.switchToWs()` gives the
 * session as client, the payload as data and the destination as pattern) and is what the
 * parameter decorators read.
 */
export class StompMessageContext {
  /** Set when a `@MessageExceptionHandler` or a filter handles an error of this message. */
  exception?: unknown;

  constructor(
    /** @internal The session itself, for the server's own replies. */
    readonly stompSession: StompSession,
    readonly frame: StompFrame,
    /** The full destination, e.g. `/app/chat/lobby`. */
    readonly destination: string,
    /** The destination the mapping matched, e.g. `/chat/lobby`. */
    readonly lookupDestination: string,
    /** Template variables of the matched pattern, e.g. `{ room: 'lobby' }`. */
    readonly variables: Readonly<Record<string, string>>,
    readonly payload: unknown,
    /** For `@SubscribeMapping`: the subscription being created. */
    readonly subscription?: SessionSubscription,
    /**
     * The session that sent the frame, read-only, as this message's handler sees it: the
     * per-message view (see `messageView`), so what a guard assigns on it stays with this message.
     */
    readonly session: StompSessionInfo = stompSession.info,
  ) {}

  get headers(): Readonly<StompHeaders> {
    return this.frame.headers;
  }

  static from(args: readonly unknown[]): StompMessageContext | undefined {
    for (const arg of args) if (arg instanceof StompMessageContext) return arg;
    return undefined;
  }
}
