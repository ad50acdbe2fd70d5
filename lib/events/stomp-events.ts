import type { CountedLimit } from '../transport/session-limits.js';
import type { StompErrorCode } from '../protocol/stomp-protocol-error.js';
import type { StompHeaders } from '../protocol/frame.js';
import type { SessionCloseReason } from '../transport/stomp-connection.js';
import type { StompSessionInfo } from '../transport/stomp-session-info.js';

/**
 * Session lifecycle events, Spring's set (`SessionConnectEvent`, `SessionConnectedEvent`,
 * `SessionSubscribeEvent`, `SessionUnsubscribeEvent`, `SessionDisconnectEvent`). For one session
 * they come in this order: `connect` and `connected` once each (only when the CONNECT was
 * accepted), `subscribe`/`unsubscribe` once per accepted SUBSCRIBE/UNSUBSCRIBE, and `disconnect`
 * exactly once for every session the server opened, however it ended, after the connection is
 * closed.
 */
export type StompSessionEventType = 'connect' | 'connected' | 'subscribe' | 'unsubscribe' | 'disconnect';

interface SessionEventBase {
  /** The session, read-only; its `user` is set from `connected` on. */
  readonly session: StompSessionInfo;
  /** `Date.now()` when the event was emitted, in ms. */
  readonly timestamp: number;
}

/** A CONNECT (or STOMP) frame was received and passed the inbound interceptors. */
export interface SessionConnectEvent extends SessionEventBase {
  readonly type: 'connect';
  /** The CONNECT frame's headers (as the interceptors left them). */
  readonly headers: Readonly<StompHeaders>;
}

/** CONNECTED was sent. */
export interface SessionConnectedEvent extends SessionEventBase {
  readonly type: 'connected';
}

/** A SUBSCRIBE was accepted (routed to the broker or to a `@SubscribeMapping`). */
export interface SessionSubscribeEvent extends SessionEventBase {
  readonly type: 'subscribe';
  readonly subscriptionId: string;
  /** The destination as the client wrote it. */
  readonly destination: string;
  readonly headers: Readonly<StompHeaders>;
}

/** An UNSUBSCRIBE was accepted. Subscriptions that end with the session get no event. */
export interface SessionUnsubscribeEvent extends SessionEventBase {
  readonly type: 'unsubscribe';
  readonly subscriptionId: string;
  readonly destination: string;
}

/** The session ended and its connection is closed. */
export interface SessionDisconnectEvent extends SessionEventBase {
  readonly type: 'disconnect';
  readonly reason: SessionCloseReason;
  /** The close code: the one the server sent when it closed, else the one the transport saw (1006: no close frame). */
  readonly closeCode: number;
  /** For `reason: 'error'`: the code of the ERROR frame sent. */
  readonly errorCode?: StompErrorCode;
  /**
   * The limit broken, for `reason: 'slow-consumer'` (`sendBufferSizeLimit`, `sendTimeLimit`) and
   * for `errorCode: 'SESSION_LIMIT'` (`maxSessions`, `maxSessionsPerUser`).
   */
  readonly limit?: CountedLimit;
}

export type StompSessionEvent =
  | SessionConnectEvent
  | SessionConnectedEvent
  | SessionSubscribeEvent
  | SessionUnsubscribeEvent
  | SessionDisconnectEvent;

/** The `@nestjs/event-emitter` event name of each type: `stomp.session.connect`, … */
export const STOMP_EVENT_NAMES: Readonly<Record<StompSessionEventType, string>> = {
  connect: 'stomp.session.connect',
  connected: 'stomp.session.connected',
  subscribe: 'stomp.session.subscribe',
  unsubscribe: 'stomp.session.unsubscribe',
  disconnect: 'stomp.session.disconnect',
};

/**
 * The broker became available or unavailable (Spring's `BrokerAvailabilityEvent`): emitted by the
 * relay when its system connection to the external broker comes up (the first time and after
 * every reconnect) or goes down. The simple broker is always available and emits none. Not a
 * session event: see `StompEvents.brokerAvailability$`.
 */
export interface BrokerAvailabilityEvent {
  readonly type: 'brokerAvailability';
  readonly available: boolean;
  /** `Date.now()` when the event was emitted, in ms. */
  readonly timestamp: number;
}

/** The `@nestjs/event-emitter` event name of {@link BrokerAvailabilityEvent}. */
export const BROKER_AVAILABILITY_EVENT_NAME = 'stomp.broker.availability';
