import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Logger } from '@nestjs/common';
import type { BrokerSession, BrokerSubscription } from '../broker/message-broker.js';
import type { StompEvents } from '../events/stomp-events.service.js';
import {
  applyInterceptors,
  type ChannelInterceptorContext,
  type StompChannelInterceptor,
} from '../messaging/channel-interceptor.js';
import { isClientCommand, type StompFrame, type StompVersion } from '../protocol/frame.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { encodeFrame, HEARTBEAT_EOL, type HeaderEntries } from '../protocol/frame-encoder.js';
import {
  formatHeartbeat,
  MAX_TIMER_DELAY,
  negotiateHeartbeat,
  NO_HEARTBEAT,
  parseHeartbeat,
  type NegotiatedHeartbeat,
} from '../protocol/heartbeat.js';
import { isWritableUnescaped } from '../protocol/header-escaping.js';
import { FRAME_TERMINATOR, isTextBody, textOnlyBody, type OutboundMessage } from '../protocol/message-frame.js';
import { StompProtocolError, type StompErrorCode } from '../protocol/stomp-protocol-error.js';
import { negotiateVersion } from '../protocol/version.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import type { StompCounters } from '../stats/stomp-counters.js';
import { ClientOutboundChannel, controlFrame, messageFrame } from './client-outbound-channel.js';
import { HeartbeatScheduler, type HeartbeatTarget } from './heartbeat-scheduler.js';
import { OrderedInbound, type OrderedInboundSink } from './ordered-inbound.js';
import type { SessionCloseReason, SlowConsumerLimit, StompConnection, StompConnectionHandler } from './stomp-connection.js';
import { SessionLimitError, type CountedLimit, type SessionLimits } from './session-limits.js';
import type { SessionState, StompHandshake, StompSessionInfo, StompSubscriptionInfo } from './stomp-session-info.js';
import type { SessionSubscription } from './session-subscription.js';
import type { StompPrincipal } from '../user/stomp-principal.js';

/**
 * The router behind the client inbound channel: what a session hands each client frame to once
 * the inbound interceptors let it pass (CONNECT and DISCONNECT included), and whom it tells when
 * it connects and ends.
 */
export interface ClientInboundHandler {
  /** Routes one frame of `session`. A Promise holds the session's later frames until it settles. */
  handle(session: StompSession, frame: StompFrame): void | Promise<void>;
  /** CONNECTED was sent: the session has its version and user. */
  sessionConnected?(session: StompSession): void;
  /**
   * The session is gone or closing: abort its transactions, drop its subscriptions. Called once,
   * when closing starts (or when the connection drops without a close).
   */
  sessionClosed(session: StompSession): void;
}

/** The interceptor lists a session runs (see `ChannelInterceptors`). */
export interface SessionInterceptors {
  readonly clientInbound: readonly StompChannelInterceptor[];
  readonly clientOutbound: readonly StompChannelInterceptor[];
}

/** What a session works with besides its connection: one shared set per server. */
export interface SessionServices {
  readonly handler: ClientInboundHandler;
  readonly interceptors: SessionInterceptors;
  readonly events: StompEvents;
  readonly counters: StompCounters;
  /** `limits.maxSessions` / `maxSessionsPerUser`, checked before CONNECTED; none: no session limits. */
  readonly limits?: SessionLimits;
}

/**
 * Refuses a user name CONNECTED's `user-name` cannot carry: CONNECTED is never escaped, so CR, LF
 * or NUL would inject headers into it. Logs one warning naming the value and who named it
 * (`authenticate`, a CONNECT interceptor) and throws `INVALID_USER_NAME`.
 */
export function assertUserNameWritable(name: unknown, sessionId: string, namedBy: string): asserts name is string {
  if (typeof name === 'string' && isWritableUnescaped(name)) return;
  StompSession.logger.warn(
    `Session ${sessionId}: ${namedBy} named the user ${JSON.stringify(name)}, which cannot be sent in CONNECTED's user-name header (it contains CR, LF or NUL, or is not a string); refusing the CONNECT`,
  );
  throw new StompProtocolError(
    'INVALID_USER_NAME',
    'The user name given by authentication contains CR, LF or NUL and cannot be sent in CONNECTED',
  );
}

/**
 * `'ann'` → `{ name: 'ann' }`; an object with a string `name` is copied and frozen, so that no
 * handler can rename the user under the user registry's feet. The name is checked as
 * {@link assertUserNameWritable} does (same warning, same `INVALID_USER_NAME`).
 */
export function principalOf(user: unknown, sessionId: string, namedBy: string): StompPrincipal {
  if (typeof user === 'string') {
    assertUserNameWritable(user, sessionId, namedBy);
    return Object.freeze({ name: user });
  }
  // Copied first, then checked: a getter cannot show the check one name and the server another.
  const principal: unknown = typeof user === 'object' && user !== null ? Object.freeze({ ...user }) : undefined;
  const name: unknown = principal === undefined ? user : (principal as { name?: unknown }).name;
  assertUserNameWritable(name, sessionId, namedBy);
  return principal as StompPrincipal;
}


/**
 * The client that message handlers, their guards, pipes, interceptors and exception filters get
 * (`switchToWs().getClient()`, `@ConnectedSocket()`, `@ConnectedSession()`): one object per
 * session, the same for every message, as a gateway's client is. It reads through to the
 * session's view, and what they assign on it (`client.user = claims`, `client.data = …`) stays on
 * it for the session's lifetime, as on a gateway client; the view events and the user registry
 * carry is a different object that keeps the principal's name in `user` (compare them by `id`).
 */
export function messageView(session: StompSession): StompSessionInfo {
  return session.handlerView;
}

/** Errors logged as one warning line when a session ends with them; the others at debug level. */
const LOGGED_AS_WARNINGS: ReadonlySet<StompErrorCode> = new Set<StompErrorCode>(['CONNECT_REJECTED', 'CREDENTIALS_EXPIRED']);

/** Errors whose raiser already logged one warning line: no second, debug line here. */
const LOGGED_WHERE_RAISED: ReadonlySet<StompErrorCode> = new Set<StompErrorCode>(['ACCESS_DENIED', 'SESSION_LIMIT']);

/** The read-only face of a session that handlers, guards, interceptors and listeners get. */
class SessionView implements StompSessionInfo {
  constructor(private readonly session: StompSession) {}
  get id(): string {
    return this.session.id;
  }
  get user(): string | undefined {
    return this.session.user;
  }
  set user(value: unknown) {
    // The gateway habit `client.user = claims` in a guard, on the client handlers get (see
    // messageView): shadows `user` on that object only, and is kept as the session attribute
    // 'user'. The view events and the registry carry keeps the principal's name.
    Object.defineProperty(this, 'user', { value, writable: true, configurable: true, enumerable: true });
    this.session.attributes.set('user', value);
  }
  get principal(): StompPrincipal | undefined {
    return this.session.principal;
  }
  get attributes(): Map<string, unknown> {
    return this.session.attributes;
  }
  get version(): StompVersion {
    return this.session.version;
  }
  get state(): SessionState {
    return this.session.state;
  }
  get handshake(): StompHandshake {
    return this.session.handshake;
  }
  get subscriptions(): ReadonlyMap<string, StompSubscriptionInfo> {
    return this.session.subscriptions;
  }
  toJSON(): object {
    return { id: this.id, user: this.session.user, version: this.version, state: this.state, handshake: this.handshake };
  }
}

/**
 * The STOMP protocol of one client connection (the role of Spring's `StompSubProtocolHandler`):
 * the CONNECT handshake, the client inbound channel (every client frame passes the inbound
 * interceptors, then the {@link ClientInboundHandler}), receipts, the client outbound channel
 * (every frame to the client passes the outbound interceptors before it is encoded),
 * ERROR-then-close, lifecycle events and counters. The bytes travel over a
 * {@link StompConnection}; the inbound order is kept by {@link OrderedInbound}; heart-beats are
 * timed by {@link HeartbeatScheduler}.
 *
 * Ordering: frames of one session are handled strictly in the order received. A frame whose
 * handling (interceptors included) returns a Promise holds back the following frames of that
 * session, and only that session, until it settles. Outbound frames are written in the order
 * they are produced; an asynchronous outbound interceptor holds back the frames after it.
 */
export class StompSession implements BrokerSession, OrderedInboundSink, StompConnectionHandler, HeartbeatTarget {
  /** @internal */
  static readonly logger = new Logger('StompSession');

  readonly id = randomUUID();
  /** The session's subscriptions by id; kept by the inbound handler. */
  readonly subscriptions = new Map<string, SessionSubscription>();
  /** What is kept of the handshake for the session's lifetime. */
  readonly handshake: StompHandshake;
  /** The client handlers get (see {@link messageView}); created on the first handled message. */
  get handlerView(): StompSessionInfo {
    return (this._handlerView ??= Object.create(this.info) as StompSessionInfo);
  }
  private _handlerView?: StompSessionInfo;
  /** The read-only view of this session given to application code. */
  readonly info: StompSessionInfo = new SessionView(this);

  private _state: SessionState = 'connecting';
  private _version: StompVersion = '1.2';
  private _principal: StompPrincipal | undefined;
  /**
   * Spring's `simpSessionAttributes`: the application's per-session values, filled by the
   * authenticator (from the handshake and the CONNECT), guards and interceptors, read in handlers
   * with `@SessionAttributes()` / `@SessionAttribute(key)`. Server-side only: no client frame
   * writes here.
   */
  get attributes(): Map<string, unknown> {
    return (this._attributes ??= new Map());
  }
  /** Created on first use: most sessions never have attributes. */
  private _attributes?: Map<string, unknown>;
  private heartbeat: NegotiatedHeartbeat = NO_HEARTBEAT;
  private readonly decoder: FrameDecoder;
  private readonly inbound: OrderedInbound;
  private readonly heartbeats: HeartbeatScheduler;
  private connectTimer?: NodeJS.Timeout;
  /** The broker took the receipt of the frame being handled (see {@link delegateReceipt}). */
  private receiptDelegated = false;
  /** The frame being handled, as the interceptors left it; `null` when one dropped it. */
  private routed?: StompFrame | null;
  /** For an UNSUBSCRIBE being handled: the destination of the subscription it ends. */
  private unsubscribing?: string;
  /** What inbound interceptors are told with every frame but CONNECT; made on first use. */
  private frameContext?: ChannelInterceptorContext;
  /** When the session's credentials run out (ms since the epoch), if the authenticator said. */
  private expiresAt?: number;
  private expiryTimer?: NodeJS.Timeout;
  /** The principal an inbound interceptor named during CONNECT. */
  private connectPrincipal?: StompPrincipal;
  /** The full upgrade request, for CONNECT interceptors; dropped once CONNECT is decided. */
  private upgradeRequest?: IncomingMessage;
  /** The client outbound channel, created when the first frame goes out through interceptors. */
  private outbound?: ClientOutboundChannel;
  private detached = false;
  private closeReason?: SessionCloseReason;
  private closeErrorCode?: StompErrorCode;
  private closeCode?: number;
  /** The limit broken, for the disconnect event. */
  private closeLimit?: CountedLimit;
  private closedPromise?: Promise<void>;
  private markClosed?: () => void;

  constructor(
    private readonly connection: StompConnection,
    request: IncomingMessage,
    private readonly options: ResolvedStompOptions,
    private readonly services: SessionServices,
    private readonly subprotocolVersion: StompVersion | undefined,
  ) {
    this.upgradeRequest = request;
    this.handshake = {
      url: request.url ?? '/',
      remoteAddress: connection.remoteAddress,
      endpoint: connection.endpoint,
      transport: connection.transport,
    };
    this.decoder = new FrameDecoder(options.limits, { onFrame: (frame) => this.inbound.onFrame(frame) });
    this.inbound = new OrderedInbound(this.decoder, this, options.limits);
    this.heartbeats = new HeartbeatScheduler(this, options.heartbeat.tolerance);
    connection.bind(this);
    // Counts until CONNECTED is sent, including while asynchronous CONNECT interceptors run.
    this.connectTimer = setTimeout(() => {
      if (this._state !== 'connecting') return;
      const timeout = options.limits.connectTimeout;
      this.fail(
        new StompProtocolError(
          'CONNECT_TIMEOUT',
          this.inbound.isBusy
            ? `CONNECT not completed within ${timeout} ms: authentication did not answer in time`
            : `No CONNECT frame received within ${timeout} ms`,
        ),
      );
    }, options.limits.connectTimeout);
    this.connectTimer.unref();
  }

  /** Settles once the connection is closed and the session cleaned up. */
  get closed(): Promise<void> {
    if (this._state === 'closed') return Promise.resolve();
    return (this.closedPromise ??= new Promise<void>((resolve) => (this.markClosed = resolve)));
  }

  get state(): SessionState {
    return this._state;
  }

  get version(): StompVersion {
    return this._version;
  }

  /** The name of the principal named at CONNECT, if any. */
  get user(): string | undefined {
    return this._principal?.name;
  }

  /** The principal named at CONNECT, if any. */
  get principal(): StompPrincipal | undefined {
    return this._principal;
  }

  /** @internal The principal an accepted CONNECT is about to give the session (for the broker's `connect`). */
  get connectingPrincipal(): StompPrincipal | undefined {
    return this._principal ?? this.connectPrincipal;
  }

  get negotiatedHeartbeat(): NegotiatedHeartbeat {
    return this.heartbeat;
  }

  // ---- connection events ------------------------------------------------------------------

  /** @internal Bytes from the connection. */
  onData(data: Buffer): void {
    this.heartbeats.read = true;
    this.inbound.push(data);
  }

  /** @internal The connection is closed. */
  onClose(code: number): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    this.inbound.stop();
    this.stopTimers();
    this.upgradeRequest = undefined;
    this.outbound?.drop();
    this.detach();
    this.emitDisconnect(code);
    this.markClosed?.();
  }

  /** @internal Outbound data did not drain. */
  onSlowConsumer(limit: SlowConsumerLimit = 'sendBufferSizeLimit'): void {
    if (this._state === 'closing' || this._state === 'closed') return;
    const { sendBufferSizeLimit, sendTimeLimit } = this.options.limits;
    StompSession.logger.warn(
      limit === 'sendTimeLimit'
        ? `Session ${this.id} is a slow consumer: ${this.connection.unsentBytes} bytes unsent and none sent for ${sendTimeLimit} ms (limits.sendTimeLimit); disconnecting it`
        : `Session ${this.id} is a slow consumer: more than ${sendBufferSizeLimit} bytes unsent; disconnecting it`,
    );
    this.services.counters.limitExceeded(limit);
    this.closeLimit = limit;
    this.close('slow-consumer', undefined, limit === 'sendTimeLimit' ? 'Send time limit exceeded' : 'Send buffer limit exceeded');
  }

  /** @internal The transport found a fault in what the client sent (e.g. a SockJS message that is not a string). */
  onTransportError(error: StompProtocolError): void {
    this.fail(error);
  }

  /** @internal */
  get readingPaused(): boolean {
    return this.inbound.isPaused;
  }

  /** @internal */
  sendHeartbeat(): void {
    this.connection.send(HEARTBEAT_EOL, false);
  }

  /** @internal */
  heartbeatExpired(window: number): void {
    StompSession.logger.debug(`Session ${this.id}: no heart-beat for ${window} ms, closing`);
    this.fail(new StompProtocolError('HEARTBEAT_TIMEOUT', `No heart-beat received for ${window} ms`));
  }

  /** @internal */
  pauseReading(): void {
    this.connection.pause();
  }

  /** @internal */
  resumeReading(): void {
    this.connection.resume();
  }

  // ---- client inbound channel --------------------------------------------------------------

  /** @internal One decoded frame, in order: checked against the session's state, intercepted, routed. */
  handle(frame: StompFrame): void | Promise<void> {
    if (this._state === 'closing' || this._state === 'closed') return;
    const command = frame.command;
    if (command === 'CONNECT' || command === 'STOMP') {
      if (this._state !== 'connecting') {
        throw new StompProtocolError('ALREADY_CONNECTED', 'This session is already connected');
      }
      this.negotiate(frame);
    } else {
      if (!isClientCommand(command)) {
        throw new StompProtocolError('UNKNOWN_COMMAND', `Unknown command ${JSON.stringify(command.slice(0, 32))}`);
      }
      if (this._state !== 'connected') {
        throw new StompProtocolError('NOT_CONNECTED', `Expected a CONNECT or STOMP frame, got ${command}`);
      }
      if (this.expiresAt !== undefined && Date.now() >= this.expiresAt) throw this.expired();
    }
    this.services.counters.frameIn(command);
    const interceptors = this.services.interceptors.clientInbound;
    if (interceptors.length === 0) return this.route(frame);
    let result: StompFrame | null | Promise<StompFrame | null>;
    try {
      result = applyInterceptors(interceptors, frame, this.inboundContext(command));
    } catch (err) {
      throw this.refusal(err, command);
    }
    if (result instanceof Promise) {
      return result.then(
        (f) => this.routeIntercepted(f),
        (err: unknown) => {
          throw this.refusal(err, command);
        },
      );
    }
    return this.routeIntercepted(result);
  }

  private routeIntercepted(frame: StompFrame | null): void | Promise<void> {
    // An asynchronous interceptor may answer after the session ended (a connect timeout).
    if (this._state === 'closing' || this._state === 'closed') return;
    if (frame === null) {
      // A CONNECT must be answered: dropping it would leave the client waiting for the timeout.
      if (this._state === 'connecting') throw new StompProtocolError('CONNECT_REJECTED', 'CONNECT refused');
      this.routed = null;
      return;
    }
    return this.route(frame);
  }

  private route(frame: StompFrame): void | Promise<void> {
    this.routed = frame;
    const command = frame.command;
    if (command === 'CONNECT' || command === 'STOMP') return this.connect(frame);
    // Nothing after a DISCONNECT that goes through is read.
    if (command === 'DISCONNECT') this.decoder.stop();
    if (command === 'UNSUBSCRIBE') {
      const id = this.subscriptionIdOf(frame);
      this.unsubscribing = id === undefined ? undefined : this.subscriptions.get(id)?.clientDestination;
    }
    return this.services.handler.handle(this, frame);
  }

  /** The subscription a SUBSCRIBE/UNSUBSCRIBE names: its `id`, or in STOMP 1.0 its destination. */
  private subscriptionIdOf(frame: StompFrame): string | undefined {
    return frame.headers['id'] ?? (this._version === '1.0' ? frame.headers['destination'] : undefined);
  }

  /** @internal `frame` was handled: its events, its RECEIPT, and the close after DISCONNECT. */
  handled(frame: StompFrame): void {
    const routed = this.routed;
    this.routed = undefined;
    if (routed === null) return;
    const done = routed ?? frame;
    switch (done.command) {
      case 'SUBSCRIBE':
        this.emitSubscribe(done);
        break;
      case 'UNSUBSCRIBE':
        this.emitUnsubscribe(done);
        break;
    }
    const receipt = done.headers['receipt'];
    // A broker that took the receipt (capabilities.receipts 'broker') answers it itself.
    const delegated = this.receiptDelegated;
    this.receiptDelegated = false;
    if (receipt !== undefined && !delegated && done.command !== 'CONNECT' && done.command !== 'STOMP') {
      this.sendFrame('RECEIPT', { 'receipt-id': receipt });
    }
    if (done.command === 'DISCONNECT') this.close('client-disconnect', undefined, 'DISCONNECT');
  }

  /**
   * @internal The frame being handled gave its `receipt` to the broker (`capabilities.receipts`
   * `'broker'`), which answers it with {@link receipt}: the session sends none itself.
   */
  delegateReceipt(): void {
    this.receiptDelegated = true;
  }

  /** A RECEIPT the broker answers for a frame it took the receipt of (see {@link delegateReceipt}). */
  receipt(receiptId: string): void {
    if (this._state !== 'connected') return;
    this.sendFrame('RECEIPT', { 'receipt-id': receiptId });
  }

  /** A frame from the broker to the client, as is (see `BrokerSession.send`). */
  send(command: string, headers: HeaderEntries, body?: Buffer): void {
    if (this._state !== 'connected') return;
    this.sendFrame(command, headers, body, body !== undefined && !isTextBody(headers['content-type'], body));
  }

  /** @internal Handling or decoding failed. */
  failed(err: unknown, frame?: StompFrame): void {
    this.fail(err, frame);
  }

  /** An interceptor's refusal, as the ERROR the client gets. */
  private refusal(err: unknown, command: string): StompProtocolError {
    if (err instanceof StompProtocolError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return command === 'CONNECT' || command === 'STOMP'
      ? new StompProtocolError('CONNECT_REJECTED', message)
      : new StompProtocolError('MESSAGE_REFUSED', message);
  }

  private inboundContext(command: string): ChannelInterceptorContext {
    // One context per session for every frame but CONNECT (read-only: nothing in it changes).
    if (command !== 'CONNECT' && command !== 'STOMP') return (this.frameContext ??= { channel: 'clientInbound', session: this.info });
    const session = this;
    return {
      channel: 'clientInbound',
      session: this.info,
      connect: {
        // SockJS over HTTP: the post that carried the CONNECT (see SockJsConnection.latestRequest).
        request: this.connection.latestRequest ?? (this.upgradeRequest as IncomingMessage),
        endpoint: this.handshake.endpoint,
        setUser: (user: string | StompPrincipal) => {
          this.connectPrincipal = principalOf(user, this.id, 'authentication');
        },
        // A getter, so that a CONNECT nobody fills attributes at creates no Map.
        get attributes(): Map<string, unknown> {
          return session.attributes;
        },
        expireAt: (epochMs: number) => {
          this.expiresAt = this.expiresAt === undefined ? epochMs : Math.min(this.expiresAt, epochMs);
        },
      },
    };
  }

  // ---- CONNECT --------------------------------------------------------------------------

  /** Version and heart-beats, decided before the interceptors see the CONNECT. */
  private negotiate(frame: StompFrame): void {
    const headers = frame.headers;
    this._version = negotiateVersion(headers['accept-version'], this.subprotocolVersion);
    // Frames after CONNECT in the same chunk must be decoded with this version's escaping.
    this.decoder.version = this._version;
    // Heart-beating came with STOMP 1.1: a 1.0 peer (stompjs sends the header anyway) never pings.
    this.heartbeat =
      this._version === '1.0'
        ? NO_HEARTBEAT
        : negotiateHeartbeat(parseHeartbeat(headers['heart-beat']), this.options.heartbeat.floor, this.options.heartbeat.ceiling);
  }

  private connect(frame: StompFrame): void | Promise<void> {
    this.emit({ type: 'connect', session: this.info, timestamp: Date.now(), headers: frame.headers });
    const routed = this.services.handler.handle(this, frame);
    if (routed instanceof Promise) return routed.then(() => this.connected());
    this.connected();
  }

  private connected(): void {
    if (this._state !== 'connecting') return;
    this.upgradeRequest = undefined;
    this.services.limits?.checkConnect(this.id, this.connectPrincipal?.name);
    // Credentials already expired: refuse the CONNECT (closing after CONNECTED would run before the
    // registries learn of the session, which would then keep it for ever).
    if (this.expiresAt !== undefined && this.expiresAt <= Date.now()) throw this.expired();
    this._principal = this.connectPrincipal;
    this._state = 'connected';
    this.sendFrame('CONNECTED', {
      version: this._version,
      'heart-beat': formatHeartbeat(this.heartbeat),
      server: this.options.serverName,
      session: this.id,
      'user-name': this._principal?.name,
    });
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.heartbeats.start(this.heartbeat);
    this.services.handler.sessionConnected?.(this);
    this.armExpiry();
    this.emit({ type: 'connected', session: this.info, timestamp: Date.now() });
  }

  // ---- client outbound channel -------------------------------------------------------------

  /** The error of a session whose credentials ran out (see `StompConnectDecision.expiresAt`). */
  private expired(): StompProtocolError {
    return new StompProtocolError(
      'CREDENTIALS_EXPIRED',
      `The session's credentials expired at ${new Date(this.expiresAt ?? 0).toISOString()}: reconnect with new ones`,
    );
  }

  /**
   * Ends an idle session when its credentials run out, not only at its next frame. One timer,
   * re-armed in steps of Node's longest delay for expiries further away.
   */
  private armExpiry(): void {
    if (this.expiresAt === undefined) return;
    const left = this.expiresAt - Date.now();
    if (left <= 0) {
      this.fail(this.expired());
      return;
    }
    this.expiryTimer = setTimeout(() => this.armExpiry(), Math.min(left, MAX_TIMER_DELAY));
    this.expiryTimer.unref();
  }

  /** Sends a MESSAGE for one of this session's subscriptions, in call order. */
  deliver(subscription: BrokerSubscription, message: OutboundMessage, ackId?: string): void {
    const sub = subscription as SessionSubscription;
    // A user-destination subscription shows the client the destination it asked for (Spring's way).
    let outbound = sub.clientDestination === sub.destination ? message : message.withDestination(sub.clientDestination);
    if (outbound.binary && !this.connection.supportsBinary) {
      const text = outbound.textOnly();
      if (text !== outbound) this.warnLossyText();
      outbound = text;
    }
    this.services.counters.messagesOut++;
    const channel = this.outboundChannel();
    if (channel !== undefined) {
      channel.send(messageFrame(sub.id, outbound, ackId), outbound.binary);
      return;
    }
    if (!outbound.sharesBody) {
      this.writeEncoded(outbound.frameFor(sub.framePrefix, this._version, ackId), outbound.binary);
      return;
    }
    // A large body is not copied per subscriber: the MESSAGE goes out as parts of one message
    // (headers, the body every subscriber shares, the NUL).
    if (this.connection.sendParts(outbound.headFor(sub.framePrefix, this._version, ackId), outbound.body, FRAME_TERMINATOR, outbound.binary)) {
      this.heartbeats.wrote = true;
    }
  }

  /**
   * Sends one frame built from parts (CONNECTED, RECEIPT, ERROR); headers are escaped for this
   * session's version.
   */
  sendFrame(command: string, headers: HeaderEntries, body?: Buffer | string, binary = false): void {
    this.services.counters.frameOut(command);
    const channel = this.outboundChannel();
    if (channel !== undefined) {
      channel.send(controlFrame(command, headers, body), binary);
      return;
    }
    this.writeEncoded(encodeFrame(command, headers, body, this._version), binary);
  }

  /** @internal False when the connection carries text only (SockJS). */
  get supportsBinary(): boolean {
    return this.connection.supportsBinary;
  }

  /** @internal A body as this session's text-only connection carries it. */
  textOnly(body: Buffer): Buffer {
    const text = textOnlyBody(body);
    if (text !== body) this.warnLossyText();
    return text;
  }

  private warnedLossyText = false;

  /** Once per session: a body that is not UTF-8 lost bytes on a text-only transport. */
  private warnLossyText(): void {
    if (this.warnedLossyText) return;
    this.warnedLossyText = true;
    StompSession.logger.warn(
      `Session ${this.id} (${this.connection.transport}): a message body that is not UTF-8 was sent as text, its invalid bytes replaced by U+FFFD; SockJS carries text only: encode binary bodies (e.g. base64) for SockJS clients`,
    );
  }

  /** @internal Writes encoded bytes to the connection. */
  writeEncoded(data: Buffer, binary: boolean): void {
    if (this.connection.send(data, binary)) this.heartbeats.wrote = true;
  }

  /** The outbound channel when there are outbound interceptors (created on first use), else none. */
  private outboundChannel(): ClientOutboundChannel | undefined {
    if (this.outbound !== undefined) return this.outbound;
    const interceptors = this.services.interceptors.clientOutbound;
    if (interceptors.length === 0) return undefined;
    return (this.outbound = new ClientOutboundChannel(interceptors, this));
  }

  // ---- events -----------------------------------------------------------------------------

  private emit(event: Parameters<StompEvents['emit']>[0]): void {
    try {
      this.services.events.emit(event);
    } catch (err) {
      StompSession.logger.error(`A ${event.type} event listener failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private emitSubscribe(frame: StompFrame): void {
    const id = this.subscriptionIdOf(frame);
    const subscription = id === undefined ? undefined : this.subscriptions.get(id);
    if (subscription === undefined) return;
    this.emit({
      type: 'subscribe',
      session: this.info,
      timestamp: Date.now(),
      subscriptionId: subscription.id,
      destination: subscription.clientDestination,
      headers: frame.headers,
    });
  }

  private emitUnsubscribe(frame: StompFrame): void {
    const destination = this.unsubscribing;
    this.unsubscribing = undefined;
    const id = this.subscriptionIdOf(frame);
    if (id === undefined || destination === undefined) return;
    this.emit({ type: 'unsubscribe', session: this.info, timestamp: Date.now(), subscriptionId: id, destination });
  }

  private emitDisconnect(code: number): void {
    this.emit({
      type: 'disconnect',
      session: this.info,
      timestamp: Date.now(),
      reason: this.closeReason ?? 'socket-closed',
      closeCode: this.closeCode ?? code,
      errorCode: this.closeErrorCode,
      limit: this.closeLimit,
    });
  }

  // ---- closing --------------------------------------------------------------------------

  /**
   * Answers a failure with an ERROR frame (with `receipt-id` when the offending frame asked for a
   * receipt), then closes this connection. Anything that is not a `StompProtocolError` is an
   * internal error: it is logged and the client is told so without details.
   */
  fail(err: unknown, frame?: StompFrame): void {
    if (this._state === 'closing' || this._state === 'closed') return;
    const error =
      err instanceof StompProtocolError
        ? err
        : new StompProtocolError('INTERNAL_ERROR', 'Internal server error');
    if (!(err instanceof StompProtocolError)) {
      StompSession.logger.error(`Session ${this.id}: ${err instanceof Error ? err.stack : String(err)}`);
    } else if (LOGGED_AS_WARNINGS.has(error.code)) {
      // Security refusals are an operator's business: one line, no stack (Spring #26026).
      const who = this._principal === undefined ? 'anonymous' : `user ${JSON.stringify(this._principal.name)}`;
      StompSession.logger.warn(
        `Session ${this.id} (${who}, ${this.handshake.remoteAddress ?? 'unknown address'}): ${error.code}: ${JSON.stringify(error.message)}`,
      );
    } else if (!LOGGED_WHERE_RAISED.has(error.code)) {
      StompSession.logger.debug(`Session ${this.id}: ${error.code}: ${error.message}`);
    }
    this.inbound.stop();
    if (err instanceof SessionLimitError) this.closeLimit = err.limit;
    this.services.counters.errorSent(error.code);
    this.sendFrame(
      'ERROR',
      {
        message: error.message,
        'receipt-id': frame?.headers['receipt'],
        'content-type': 'text/plain',
        ...error.headers,
      },
      // The command as far as any known one goes: an unknown one may be as long as a header line.
      frame ? `${error.message}\n\nOffending frame: ${frame.command.slice(0, 32)}\n` : `${error.message}\n`,
    );
    this.close(error.code === 'HEARTBEAT_TIMEOUT' ? 'heartbeat-timeout' : 'error', error.code, error.code);
  }

  /**
   * Closes the connection after everything already sent, for `reason` (the transport picks the
   * close code). A peer that has not completed the close within `limits.closeTimeout` ms is
   * dropped.
   */
  close(reason: SessionCloseReason, errorCode?: StompErrorCode, message = ''): void {
    if (this._state === 'closing' || this._state === 'closed') return;
    this._state = 'closing';
    this.closeReason = reason;
    this.closeErrorCode = errorCode;
    this.inbound.stop();
    this.stopTimers();
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const closeConnection = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.closeCode = this.connection.close(reason, errorCode, message);
    };
    if (this.outbound === undefined) closeConnection();
    else this.outbound.after(closeConnection);
    if (!done) {
      // An outbound interceptor still holds frames: they may go out first, but an interceptor
      // that never answers does not keep the connection open past limits.closeTimeout.
      timer = setTimeout(() => {
        this.outbound?.drop();
        closeConnection();
      }, this.options.limits.closeTimeout);
      timer.unref();
    }
    this.detach();
  }

  /** Drops the connection at once, without a close handshake. */
  terminate(): void {
    this.connection.terminate();
  }

  private stopTimers(): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.heartbeats.stop();
  }

  /**
   * Tells the layer above, once, that this session is gone. Called as soon as closing starts, so
   * the broker stops routing messages to a connection that will not carry them and releases what
   * the session had not acknowledged, without waiting for the peer's close handshake.
   */
  private detach(): void {
    if (this.detached) return;
    this.detached = true;
    try {
      this.services.handler.sessionClosed(this);
    } catch (err) {
      StompSession.logger.error(`Session ${this.id} cleanup failed: ${String(err)}`);
    }
  }
}

export type { SessionState, StompHandshake } from './stomp-session-info.js';
