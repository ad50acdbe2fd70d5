import type { AckMode } from '../broker/message-broker.js';
import type { StompVersion } from '../protocol/frame.js';
import type { StompPrincipal } from '../user/stomp-principal.js';

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
  /**
   * The name of the principal named at CONNECT, or `undefined` for an anonymous session.
   * Application code may assign it, as gateway guards do with `client.user = claims`: the value
   * then reads back from this view and is stored as the session attribute `'user'`, but the
   * principal the server routes user destinations by ({@link principal}) does not change.
   */
  readonly user: string | undefined;
  /** The principal named at CONNECT (`{ name, ...claims }`), or `undefined` for an anonymous session. */
  readonly principal: StompPrincipal | undefined;
  /**
   * Spring's `simpSessionAttributes`: the application's per-session values, filled by the
   * authenticator, guards and interceptors; read in handlers with `@SessionAttributes()` or
   * `@SessionAttribute(key)`. Never written by client frames. Lives as long as the session.
   */
  readonly attributes: Map<string, unknown>;
  /** Negotiated STOMP version (`'1.2'` until CONNECT is handled). */
  readonly version: StompVersion;
  readonly state: SessionState;
  readonly handshake: StompHandshake;
  /** The session's subscriptions by id. */
  readonly subscriptions: ReadonlyMap<string, StompSubscriptionInfo>;
}
