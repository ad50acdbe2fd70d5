import type { IncomingMessage } from 'node:http';
import type { StompFrame } from '../protocol/frame.js';
import type { StompSessionInfo } from '../transport/stomp-session-info.js';
import type { StompPrincipal } from '../user/stomp-principal.js';

/**
 * The three message channels of Spring's `simp` design:
 * - `clientInbound`: every frame a client sends (CONNECT/STOMP, SUBSCRIBE, UNSUBSCRIBE, SEND,
 *   ACK, NACK, BEGIN, COMMIT, ABORT, DISCONNECT), before it is routed;
 * - `clientOutbound`: every frame to a client (CONNECTED, MESSAGE, RECEIPT, ERROR), before it is
 *   encoded;
 * - `broker`: every message server code sends to the broker (`@SendTo`, `@SendToUser`,
 *   `StompMessagingTemplate`), before user destinations are resolved. Its frames are `SEND`
 *   frames: `destination`, the message headers, the body.
 */
export type StompChannel = 'clientInbound' | 'clientOutbound' | 'broker';

/** What an interceptor is told besides the frame. */
export interface ChannelInterceptorContext {
  readonly channel: StompChannel;
  /**
   * The session the frame comes from or goes to. On the `broker` channel: the session whose
   * frame caused the send (`@SendTo` in a handler), or `undefined` for server code such as the
   * template called from an HTTP controller.
   */
  readonly session: StompSessionInfo | undefined;
  /**
   * CONNECT on `clientInbound` only: the HTTP request behind the CONNECT (the WebSocket upgrade,
   * or the SockJS post that carried it: headers, cookies, URL; see `StompConnectRequest.request`), and a way
   * to name the session's principal (sent in CONNECTED's `user-name`). `undefined` elsewhere.
   */
  readonly connect?: {
    readonly request: IncomingMessage;
    /** The endpoint path the client connected to (`/ws`). */
    readonly endpoint: string;
    /**
     * Names the principal: a name (`'ann'` is `{ name: 'ann' }`) or `{ name, ...claims }`. A name
     * that is not a string or holds CR, LF or NUL refuses the CONNECT (`INVALID_USER_NAME`).
     */
    setUser(user: string | StompPrincipal): void;
    /** The session's attributes (see `StompSessionInfo.attributes`), to fill at CONNECT. */
    readonly attributes: Map<string, unknown>;
    /**
     * When the session's credentials run out, in ms since the epoch: from then on the session
     * ends with an ERROR `CREDENTIALS_EXPIRED` (see `StompConnectDecision.expiresAt`). Called
     * twice, the earlier time wins.
     */
    expireAt(epochMs: number): void;
  };
}

/**
 * What `preSend` may return: the frame to carry on with (the same object, changed in place, or a
 * new one), `undefined` for "unchanged", or `null` to drop the frame silently (Spring's `null`
 * from `preSend`: no ERROR, no RECEIPT, nothing routed or sent). A CONNECT cannot be dropped
 * (the client would wait for CONNECTED until the connect timeout): `null` refuses it, with
 * ERROR `CONNECT_REJECTED` "CONNECT refused".
 */
export type ChannelInterceptorResult = StompFrame | null | undefined | void;

/**
 * Sees every frame on one channel before it goes on (Spring's `ChannelInterceptor.preSend`).
 * Register it in `StompModule.forRoot({ interceptors: { clientInbound: [MyInterceptor] } })` or
 * with the `@StompChannelInterceptor('clientInbound')` class decorator on a provider; either way
 * it is a Nest provider and can inject services.
 *
 * To refuse a frame, throw: on `clientInbound` the client gets an ERROR whose `message` is the
 * error's message (with `receipt-id` when the frame asked for a receipt) and the connection
 * closes (a refused CONNECT closes with 1008); on `broker` the sender's Promise rejects (a
 * handler's error goes through its exception filters). On `clientOutbound` a throw drops the
 * frame and is logged.
 *
 * A Promise holds back that session's following frames until it settles, so order is kept.
 * Interceptors run in registration order: those in options first, then decorated providers.
 */
export interface StompChannelInterceptor {
  preSend(
    frame: StompFrame,
    context: ChannelInterceptorContext,
  ): ChannelInterceptorResult | Promise<ChannelInterceptorResult>;
}

/**
 * Runs `interceptors` in order on `frame`. Stays synchronous while they are; after the first
 * Promise, the rest wait for it. Returns the frame to carry on with, or `null` when one dropped
 * it. Errors thrown (or rejections) propagate to the caller, which answers them per channel.
 * Callers skip this entirely when the list is empty.
 */
export function applyInterceptors(
  interceptors: readonly StompChannelInterceptor[],
  frame: StompFrame,
  context: ChannelInterceptorContext,
  from = 0,
): StompFrame | null | Promise<StompFrame | null> {
  let current = frame;
  for (let i = from; i < interceptors.length; i++) {
    const result = interceptors[i].preSend(current, context);
    if (result instanceof Promise) {
      return result.then((r) => {
        if (r === null) return null;
        return applyInterceptors(interceptors, r ?? current, context, i + 1);
      });
    }
    if (result === null) return null;
    if (result !== undefined) current = result;
  }
  return current;
}

