import type { IncomingMessage } from 'node:http';
import type { StompConnectDecision, StompConnectRequest } from '../module/stomp-options.js';
import type { StompPrincipal } from '../user/stomp-principal.js';

/**
 * The answer of {@link StompAuthenticator.authenticateHandshake}:
 * - `{ user, attributes, expiresAt }` accepts and names the principal (a name or
 *   `{ name, ...claims }`), copies `attributes` into the session's attributes, and ends the
 *   session at `expiresAt` (ms since the epoch, e.g. a JWT's `exp * 1000`; see
 *   {@link StompConnectDecision});
 * - `{}` accepts without a principal (the CONNECT may still name one);
 * - `{ reject, status }` refuses the handshake with HTTP `status` (401 unless 403 is given) and
 *   `reject` as the plain-text body. Throwing (or rejecting) refuses with 401 and the error's
 *   message.
 */
export type StompHandshakeDecision =
  | {
      user?: string | StompPrincipal;
      attributes?: Readonly<Record<string, unknown>>;
      expiresAt?: number;
      reject?: undefined;
    }
  | { reject: string; status?: 401 | 403 };

/**
 * Decides who a client is (Spring's `HandshakeHandler#determineUser` plus a CONNECT
 * `ChannelInterceptor`), as a Nest provider: give the class in
 * `StompModule.forRoot({ authenticator: JwtStompAuthenticator })` and it is taken from Nest's
 * container when a module provides it, else created once with its constructor dependencies
 * injected (a `JwtService`, a repository), as channel interceptors are. Implement either method
 * or both:
 *
 * 1. `authenticateHandshake(request)` runs on the HTTP request that opens the WebSocket (plain, or
 *    SockJS's `websocket` transport) before the upgrade, so a refusal is an HTTP 401/403 and no
 *    WebSocket is opened; use it for cookies, an `Authorization` header or `?access_token=`. Over
 *    SockJS's HTTP transports (`xhr-streaming`, `xhr-polling`, …) it runs when the CONNECT
 *    arrives, on the post that carried it (the request that opened such a session may come from
 *    another site's page with the user's cookies), and a refusal is an ERROR `CONNECT_REJECTED`.
 *    The decision must come within `limits.connectTimeout`, else the handshake gets 503.
 * 2. `authenticateConnect(request)` runs on the CONNECT frame (`login`/`passcode`, an
 *    `Authorization: Bearer …` header), after the handshake; `request.principal` is what the
 *    handshake named. Its `{ user }` replaces that principal; `{}` keeps it.
 *
 * Every refusal is logged as one warning line (no stack) naming the endpoint, the remote address
 * and the reason.
 */
export interface StompAuthenticator {
  authenticateHandshake?(request: IncomingMessage): StompHandshakeDecision | Promise<StompHandshakeDecision>;
  authenticateConnect?(request: StompConnectRequest): StompConnectDecision | Promise<StompConnectDecision>;
}
