import type { AckMode } from '../broker/message-broker.js';
import type { StompVersion } from '../protocol/frame.js';

/**
 * What the session kept of its connection's handshake. The full HTTP request (headers, cookies)
 * is seen only by CONNECT interceptors and `authenticate`; keeping it for the session's lifetime
 * would cost about 1 KiB per idle connection.
 */
export interface StompHandshake {
  /** Request URL: path and query string. */
  readonly url: string;
  readonly remoteAddress: string | undefined;
  /** Endpoint path the client connected to, e.g. `/ws`. */
  readonly endpoint: string;
  /** Transport name: `'websocket'` (SockJS transports are named `'sockjs/<transport>'`). */
  readonly transport: string;
}

/** One subscription of a session, as handlers and interceptors see it. */
export interface StompSubscriptionInfo {
  /** The SUBSCRIBE's `id` header. */
  readonly id: string;
  /** The destination the client subscribed to, e.g. `/user/queue/errors`. */
  readonly destination: string;
  readonly ack: AckMode;
}

/** @see StompSessionInfo.state */
export type SessionState = 'connecting' | 'connected' | 'closing' | 'closed';

/**
 * A read-only view of one STOMP session (Spring's `SimpSession`): what handlers
 * (`@ConnectedSession()`, `context.switchToWs().getClient()`), guards, interceptors and event
 * listeners see. Closing or failing a session is the server's business; a handler that wants a
 * client gone throws, and the error is answered the way the session's rules say.
 */
export interface StompSessionInfo {
  /** Server-assigned id, also sent in CONNECTED's `session` header. */
  readonly id: string;
  /** The principal named at CONNECT, or `undefined` for an anonymous session. */
  readonly user: string | undefined;
  /** Negotiated STOMP version (`'1.2'` until CONNECT is handled). */
  readonly version: StompVersion;
  readonly state: SessionState;
  readonly handshake: StompHandshake;
  /** The session's subscriptions by id. */
  readonly subscriptions: ReadonlyMap<string, StompSubscriptionInfo>;
}
