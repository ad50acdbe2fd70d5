import type { IncomingMessage } from 'node:http';
import type { StompFrame } from '../protocol/frame.js';
import { StompProtocolError } from '../protocol/stomp-protocol-error.js';
import type { StompConnectDecision, StompConnectRequest } from '../module/stomp-options.js';
import type { StompAuthenticator, StompHandshakeDecision } from '../auth/stomp-authenticator.js';
import type { ChannelInterceptorContext, StompChannelInterceptor } from './channel-interceptor.js';
import { principalOf } from '../transport/stomp-session.js';
import type { StompPrincipal } from '../user/stomp-principal.js';

type ConnectContext = NonNullable<ChannelInterceptorContext['connect']>;
type Authenticate = (request: StompConnectRequest) => StompConnectDecision | Promise<StompConnectDecision>;

/** What an accepted handshake named, kept with its request until the CONNECT. */
interface HandshakeOutcome {
  readonly principal?: StompPrincipal;
  readonly attributes?: Readonly<Record<string, unknown>>;
  readonly expiresAt?: number;
}

/** A refused handshake: the HTTP status and the plain-text reason. */
export interface HandshakeRefusal {
  readonly status: 401 | 403;
  readonly reason: string;
}

function rejected(err: unknown): StompProtocolError {
  return new StompProtocolError('CONNECT_REJECTED', err instanceof Error ? err.message : String(err));
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The authenticator (`authenticator` option, or `authenticate` as its `authenticateConnect`) in
 * its two places:
 *
 * - {@link handshake}, called by the endpoint before a WebSocket upgrade: a refusal becomes an
 *   HTTP 401/403; an acceptance is kept with the request (a `WeakMap`, so nothing outlives it).
 * - {@link preSend}, the first `clientInbound` interceptor, on CONNECT and STOMP frames only: it
 *   applies what the handshake named (or, when the CONNECT came over a SockJS HTTP transport,
 *   runs `authenticateHandshake` on the post that carried it), then calls `authenticateConnect`
 *   with the session id, the CONNECT headers as sent, `login`, `passcode`, the HTTP request and
 *   the handshake's principal, and names the principal with `context.connect.setUser`:
 *   - `{ user }` names the user (a name or `{ name, ...claims }`), `{}` (or `undefined`) keeps the
 *     handshake's principal or leaves the session anonymous; `attributes` are copied into the
 *     session's attributes; `expiresAt` is handed to the session;
 *   - `{ reject }`, a throw or a rejected Promise throws `StompProtocolError('CONNECT_REJECTED')`
 *     with that message (the session answers ERROR and closes with 1008);
 *   - a user name that is not a string or holds CR, LF or NUL throws `INVALID_USER_NAME`, with a
 *     warning naming the value (CONNECTED could not carry it).
 * A synchronous decision stays synchronous: only a Promise holds the session's next frames.
 */
export class AuthenticateInterceptor implements StompChannelInterceptor {
  private readonly authenticator: StompAuthenticator;
  private readonly accepted = new WeakMap<IncomingMessage, HandshakeOutcome>();

  constructor(authenticator: StompAuthenticator | Authenticate) {
    this.authenticator = typeof authenticator === 'function' ? { authenticateConnect: authenticator } : authenticator;
  }

  /** Whether the authenticator looks at handshakes at all (else the endpoint skips {@link handshake}). */
  get checksHandshakes(): boolean {
    return typeof this.authenticator.authenticateHandshake === 'function';
  }

  /**
   * Runs `authenticateHandshake` on an upgrade request. Resolves `undefined` when accepted (the
   * outcome is kept for the CONNECT), or the refusal; never rejects.
   */
  handshake(request: IncomingMessage): HandshakeRefusal | undefined | Promise<HandshakeRefusal | undefined> {
    let decision: StompHandshakeDecision | Promise<StompHandshakeDecision>;
    try {
      decision = this.callHandshake(request);
    } catch (err) {
      return { status: 401, reason: reasonOf(err) };
    }
    if (!(decision instanceof Promise)) return this.handshakeDecided(request, decision);
    return decision.then(
      (d) => this.handshakeDecided(request, d),
      (err: unknown) => ({ status: 401, reason: reasonOf(err) }) as HandshakeRefusal,
    );
  }

  preSend(frame: StompFrame, context: ChannelInterceptorContext): undefined | Promise<undefined> {
    if (frame.command !== 'CONNECT' && frame.command !== 'STOMP') return undefined;
    const connect = context.connect;
    if (connect === undefined) {
      throw new Error('AuthenticateInterceptor: a CONNECT on clientInbound came without context.connect');
    }
    const sessionId = context.session?.id ?? '';
    const known = this.accepted.get(connect.request);
    if (known !== undefined || !this.checksHandshakes) return this.connectWith(frame, sessionId, connect, known);
    // A CONNECT whose request passed no upgrade check: SockJS over HTTP (see StompAuthenticator).
    let decision: StompHandshakeDecision | Promise<StompHandshakeDecision>;
    try {
      decision = this.callHandshake(connect.request);
    } catch (err) {
      throw rejected(err);
    }
    if (!(decision instanceof Promise)) {
      return this.connectWith(frame, sessionId, connect, this.handshakeAtConnect(decision, sessionId));
    }
    return decision.then(
      (d) => this.connectWith(frame, sessionId, connect, this.handshakeAtConnect(d, sessionId)),
      (err: unknown) => {
        throw rejected(err);
      },
    );
  }

  private callHandshake(request: IncomingMessage): StompHandshakeDecision | Promise<StompHandshakeDecision> {
    // Called only when checksHandshakes is true.
    return nativePromise((this.authenticator.authenticateHandshake as (r: IncomingMessage) => StompHandshakeDecision)(request));
  }

  private handshakeDecided(request: IncomingMessage, decision: StompHandshakeDecision | undefined): HandshakeRefusal | undefined {
    if (decision?.reject !== undefined) return { status: decision.status === 403 ? 403 : 401, reason: String(decision.reject) };
    try {
      this.accepted.set(request, this.outcomeOf(decision, '(handshake)'));
    } catch (err) {
      return { status: 401, reason: reasonOf(err) };
    }
    return undefined;
  }

  /** A handshake decision taken at CONNECT time: a refusal refuses the CONNECT. */
  private handshakeAtConnect(decision: StompHandshakeDecision | undefined, sessionId: string): HandshakeOutcome {
    if (decision?.reject !== undefined) throw new StompProtocolError('CONNECT_REJECTED', String(decision.reject));
    return this.outcomeOf(decision, sessionId);
  }

  private outcomeOf(decision: StompHandshakeDecision | undefined, sessionId: string): HandshakeOutcome {
    if (decision === undefined || decision.reject !== undefined) return {};
    const { user, attributes, expiresAt } = decision;
    return {
      principal: user === undefined ? undefined : principalOf(user, sessionId, 'authenticateHandshake'),
      attributes,
      expiresAt: validExpiry(expiresAt, 'authenticateHandshake'),
    };
  }

  private connectWith(
    frame: StompFrame,
    sessionId: string,
    connect: ConnectContext,
    handshake: HandshakeOutcome | undefined,
  ): undefined | Promise<undefined> {
    if (handshake !== undefined) this.apply(handshake, connect);
    const authenticateConnect = this.authenticator.authenticateConnect;
    if (authenticateConnect === undefined) return undefined;
    const headers = frame.headers;
    let decision: StompConnectDecision | Promise<StompConnectDecision>;
    try {
      decision = nativePromise(authenticateConnect.call(this.authenticator, {
        sessionId,
        endpoint: connect.endpoint,
        headers,
        login: headers['login'],
        passcode: headers['passcode'],
        request: connect.request,
        ...(handshake?.principal === undefined ? {} : { principal: handshake.principal }),
      }));
    } catch (err) {
      throw rejected(err);
    }
    if (!(decision instanceof Promise)) {
      this.decided(decision, sessionId, connect);
      return undefined;
    }
    return decision.then(
      (d) => {
        this.decided(d, sessionId, connect);
        return undefined;
      },
      (err: unknown) => {
        throw rejected(err);
      },
    );
  }

  private decided(decision: StompConnectDecision | undefined, sessionId: string, connect: ConnectContext): void {
    if (decision?.reject !== undefined) throw new StompProtocolError('CONNECT_REJECTED', decision.reject);
    if (decision === undefined) return;
    const user: unknown = decision.user;
    // Checked here too, before setUser, so the warning names `authenticate` as the source.
    const principal = user === undefined ? undefined : principalOf(user, sessionId, 'authenticate');
    this.apply({ principal, attributes: decision.attributes, expiresAt: validExpiry(decision.expiresAt, 'authenticate') }, connect);
  }

  private apply(outcome: HandshakeOutcome, connect: ConnectContext): void {
    if (outcome.principal !== undefined) connect.setUser(outcome.principal);
    const attributes = outcome.attributes;
    if (attributes !== undefined) for (const key of Object.keys(attributes)) connect.attributes.set(key, attributes[key]);
    if (outcome.expiresAt !== undefined) connect.expireAt(outcome.expiresAt);
  }
}

/**
 * A decision as a value or a native Promise: another thenable (a Bluebird promise, a Promise of
 * another realm) is adopted by a native one. Told apart from a decision by `instanceof Promise`
 * only, a thenable's `{ reject }` went unseen and the handshake or CONNECT was accepted.
 */
function nativePromise<T>(decision: T | Promise<T>): T | Promise<T> {
  if (decision instanceof Promise) return decision;
  const then: unknown = typeof decision === 'object' && decision !== null ? (decision as { then?: unknown }).then : undefined;
  return typeof then === 'function' ? Promise.resolve(decision as PromiseLike<T>) : decision;
}

/**
 * Below this an `expiresAt` (ms) is before March 1973: no credentials expire then, so it is a time
 * in seconds (a JWT's `exp` given as is), which would end every session at once as "expired in 1970".
 */
const SECONDS_NOT_MS_BELOW = 1e11;

/**
 * `expiresAt` must be a finite number of ms since the epoch, not seconds (a JWT's `exp` without
 * `* 1000`): such a CONNECT is refused (`CONNECT_REJECTED`) with a message that says so.
 */
function validExpiry(value: unknown, source: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new StompProtocolError('CONNECT_REJECTED', `${source} gave an invalid expiresAt (ms since the epoch expected)`);
  }
  if (value > 0 && value < SECONDS_NOT_MS_BELOW) {
    throw new StompProtocolError(
      'CONNECT_REJECTED',
      `${source} gave expiresAt ${value}, which looks like seconds (ms since the epoch expected, a JWT's exp * 1000)`,
    );
  }
  return value;
}
