import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import type { BrokerSession, BrokerSubscription } from '../broker/message-broker.js';
import { isClientCommand, type StompFrame, type StompVersion } from '../protocol/frame.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { encodeFrame, HEARTBEAT_EOL, type HeaderEntries } from '../protocol/frame-encoder.js';
import {
  formatHeartbeat,
  negotiateHeartbeat,
  NO_HEARTBEAT,
  parseHeartbeat,
  type NegotiatedHeartbeat,
} from '../protocol/heartbeat.js';
import { FRAME_TERMINATOR, type OutboundMessage } from '../protocol/message-frame.js';
import { StompProtocolError } from '../protocol/stomp-protocol-error.js';
import { negotiateVersion } from '../protocol/version.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import type { StompConnectDecision } from '../module/stomp-options.js';
import type { SessionSubscription } from './session-subscription.js';

/** What a session needs from the layer above it: the router of inbound frames. */
export interface StompFrameHandler {
  /** Handles SEND, SUBSCRIBE, UNSUBSCRIBE, ACK, NACK, BEGIN, COMMIT, ABORT. */
  handle(session: StompSession, frame: StompFrame): void | Promise<void>;
  /** CONNECTED was sent: the session has its version and user. */
  sessionConnected?(session: StompSession): void;
  /**
   * The session is gone or closing: abort its transactions, drop its subscriptions. Called once,
   * when closing starts (or when the socket drops without a close).
   */
  sessionClosed(session: StompSession): void;
}

export type SessionState = 'connecting' | 'connected' | 'closing' | 'closed';

/**
 * What a session keeps of its WebSocket handshake. The full request (headers, cookies) is seen by
 * `authenticate`, which can name the user from it; keeping it for the session's lifetime would
 * cost about 1 KiB per idle connection.
 */
export interface StompHandshake {
  /** Request URL: path and query string. */
  url: string;
  remoteAddress: string | undefined;
}

const SESSION = Symbol('nestjs-stomp:session');
type SessionSocket = WebSocket & { [SESSION]: StompSession };

function sessionOf(socket: WebSocket): StompSession {
  return (socket as SessionSocket)[SESSION];
}

function onSocketMessage(this: WebSocket, data: Buffer): void {
  sessionOf(this).onData(data);
}

function onSocketClose(this: WebSocket): void {
  sessionOf(this).cleanup();
}

function onSocketError(this: WebSocket, err: Error): void {
  StompSession.debug(`Session ${sessionOf(this).id}: ${err.message}`);
}

/**
 * The event-loop turn, advanced by one shared `setImmediate` per turn in which any session handled
 * a frame: each session may handle `limits.inboundFramesPerTurn` frames per turn, then yields.
 */
let loopTurn = 0;
let turnScheduled = false;

function advanceTurn(): void {
  loopTurn++;
  turnScheduled = false;
}

function currentTurn(): number {
  if (!turnScheduled) {
    turnScheduled = true;
    setImmediate(advanceTurn);
  }
  return loopTurn;
}

function drainSession(session: StompSession): void {
  session.drainTurn();
}

function closeSlowConsumer(session: StompSession): void {
  session.close(CLOSE_POLICY, 'Send buffer limit exceeded');
}

/** A user name goes into CONNECTED's `user-name`, which is never escaped. */
// eslint-disable-next-line no-control-regex
const UNWRITABLE_IN_CONNECTED = /[\r\n\0]/;

const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;
/** The fragments of a MESSAGE whose body is shared (see {@link OutboundMessage.sharesBody}). */
const TEXT_PART = { binary: false, fin: false } as const;
const TEXT_LAST = { binary: false, fin: true } as const;
const BINARY_PART = { binary: true, fin: false } as const;
const BINARY_LAST = { binary: true, fin: true } as const;

/**
 * Sessions that wrote during the current tick (their TCP socket corked, their tick's byte count
 * running), uncorked and reset together once it ends: every frame written to one socket in one tick (the MESSAGEs of several SENDs read in one
 * chunk, a MESSAGE and the RECEIPT of the SEND that caused it) leaves in one system call instead
 * of one each.
 */
const corkedSessions: StompSession[] = [];

function uncorkSessions(): void {
  for (const session of corkedSessions) session.uncork();
  corkedSessions.length = 0;
}

/** WebSocket close codes. */
const CLOSE_NORMAL = 1000;
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_POLICY = 1008;
const CLOSE_TOO_BIG = 1009;

function closeCodeFor(error: StompProtocolError): number {
  switch (error.code) {
    case 'FRAME_TOO_LARGE':
    case 'BODY_TOO_LARGE':
    case 'TOO_MANY_HEADERS':
    case 'HEADER_LINE_TOO_LONG':
      return CLOSE_TOO_BIG;
    case 'CONNECT_REJECTED':
    case 'INVALID_USER_NAME':
      return CLOSE_POLICY;
    default:
      return CLOSE_PROTOCOL_ERROR;
  }
}

/**
 * One STOMP connection over one WebSocket: decoding with limits, the CONNECT handshake,
 * heart-beats, ordered handling of inbound frames, receipts, and ERROR-then-close.
 *
 * Ordering: frames of one session are handled strictly in the order received. A frame whose
 * handling returns a Promise holds back the following frames of that session (and only that
 * session) until it settles. Outbound frames are written to the socket in the order they are
 * produced; `ws` keeps that order.
 */
export class StompSession implements BrokerSession {
  private static readonly logger = new Logger('StompSession');

  /** @internal */
  static debug(message: string): void {
    StompSession.logger.debug(message);
  }

  readonly id = randomUUID();
  readonly subscriptions = new Map<string, SessionSubscription>();
  /** What is kept of the WebSocket handshake for the session's lifetime. */
  readonly handshake: StompHandshake;

  private _state: SessionState = 'connecting';
  private _version: StompVersion = '1.2';
  private _user: string | undefined;
  private heartbeat: NegotiatedHeartbeat = NO_HEARTBEAT;
  private readonly decoder: FrameDecoder;
  /** Frames waiting for an earlier one's handling; created when first needed. */
  private pending?: StompFrame[];
  /** Bytes received but not yet decoded (the decoder paused at the high-water mark), in order. */
  private input?: Buffer[];
  private busy = false;
  /** A decoding error found while earlier frames still wait: reported once they are handled. */
  private decodeError?: unknown;
  /** Set when the session was found to be a slow consumer; it is closed in the next turn. */
  private slowConsumer = false;
  private drainScheduled = false;
  /** The {@link loopTurn} this session last handled a frame in, and how many it handled then. */
  private turn = -1;
  private turnFrames = 0;
  private detached = false;
  private paused = false;
  private readSinceCheck = false;
  private wroteSinceTick = false;
  /** The socket corked by this tick's writes, and the bytes written to it since. */
  private corkedSocket?: Duplex;
  private tickBytes = 0;
  /** Whether this session is in {@link corkedSessions} (it wrote during the current tick). */
  private inTick = false;
  private timers?: NodeJS.Timeout[];
  private _transactions?: Map<string, StompFrame[]>;
  /** The full upgrade request, for `authenticate`; dropped once CONNECT is decided. */
  private upgradeRequest?: IncomingMessage;
  private closedPromise?: Promise<void>;
  private markClosed?: () => void;

  constructor(
    private readonly socket: WebSocket,
    request: IncomingMessage,
    private readonly options: ResolvedStompOptions,
    private readonly handler: StompFrameHandler,
    private readonly subprotocolVersion: StompVersion | undefined,
  ) {
    this.upgradeRequest = request;
    this.handshake = { url: request.url ?? '/', remoteAddress: request.socket.remoteAddress };
    this.decoder = new FrameDecoder(options.limits, {
      onFrame: (frame) => this.onFrame(frame),
    });
    // One set of listener functions for all sessions (no closures per connection).
    (socket as SessionSocket)[SESSION] = this;
    socket.on('message', onSocketMessage);
    socket.on('close', onSocketClose);
    socket.on('error', onSocketError);
    // Counts until CONNECTED is sent, including while an asynchronous `authenticate` runs.
    const connectTimer = setTimeout(() => {
      if (this._state !== 'connecting') return;
      const timeout = options.limits.connectTimeout;
      this.fail(
        new StompProtocolError(
          'CONNECT_TIMEOUT',
          this.busy
            ? `CONNECT not completed within ${timeout} ms: authentication did not answer in time`
            : `No CONNECT frame received within ${timeout} ms`,
        ),
      );
    }, options.limits.connectTimeout);
    connectTimer.unref();
    (this.timers ??= []).push(connectTimer);
  }

  /** Open transactions: their SEND/ACK/NACK frames, replayed on COMMIT. Created on first use. */
  get transactions(): Map<string, StompFrame[]> {
    return (this._transactions ??= new Map());
  }

  /** Aborts every open transaction. */
  clearTransactions(): void {
    this._transactions = undefined;
  }

  /** Settles once the WebSocket is closed and the session cleaned up. */
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

  /** The principal named at CONNECT, if any. */
  get user(): string | undefined {
    return this._user;
  }

  get negotiatedHeartbeat(): NegotiatedHeartbeat {
    return this.heartbeat;
  }

  // ---- outbound -------------------------------------------------------------------------

  deliver(subscription: BrokerSubscription, message: OutboundMessage, ackId?: string): void {
    const sub = subscription as SessionSubscription;
    // A user-destination subscription shows the client the destination it asked for (Spring's way).
    const outbound = sub.clientDestination === sub.destination ? message : message.withDestination(sub.clientDestination);
    if (!outbound.sharesBody) {
      this.write(outbound.frameFor(sub.framePrefix, this._version, ackId), outbound.binary);
      return;
    }
    // A large body is not copied per subscriber: the MESSAGE goes out as three fragments of one
    // WebSocket message (headers, the body every subscriber shares, the NUL). `ws` writes a
    // server's (unmasked) data to the socket as given, so every queued delivery points at the
    // same bytes. The three sends are synchronous: nothing can come between them.
    const head = outbound.headFor(sub.framePrefix, this._version, ackId);
    if (!this.admit(head.length + outbound.body.length + 1)) return;
    this.socket.send(head, outbound.binary ? BINARY_PART : TEXT_PART);
    this.socket.send(outbound.body, outbound.binary ? BINARY_PART : TEXT_PART);
    this.socket.send(FRAME_TERMINATOR, outbound.binary ? BINARY_LAST : TEXT_LAST);
  }

  /** Sends one frame built from parts; headers are escaped for this session's version. */
  sendFrame(command: string, headers: HeaderEntries, body?: Buffer | string, binary = false): void {
    this.write(encodeFrame(command, headers, body, this._version), binary);
  }

  private write(data: Buffer, binary: boolean): void {
    if (this.admit(data.length)) this.socket.send(data, binary ? BINARY : TEXT);
  }

  /**
   * Whether `bytes` more may be queued to the socket now; counts them if so. Otherwise the session
   * is a slow consumer and is closed (see `limits.sendBufferSizeLimit`): more than the limit is
   * still unsent after the socket had a chance to take it.
   *
   * This tick's writes are corked and have had no such chance yet, so they do not count: a
   * healthy client receiving a burst is not cut off. But once they reach the limit they are
   * flushed at once, and what the socket cannot take then counts as unsent. So one SEND fanned
   * out to many subscriptions of a session that stopped reading cannot queue more than about
   * twice the limit to it, however many subscriptions it holds.
   */
  private admit(bytes: number): boolean {
    if (this._state === 'closed' || this.slowConsumer || this.socket.readyState !== this.socket.OPEN) return false;
    const limit = this.options.limits.sendBufferSizeLimit;
    if (this.tickBytes > 0 && this.tickBytes + bytes > limit) this.flushTick();
    if (this.socket.bufferedAmount - this.tickBytes > limit) {
      StompSession.logger.warn(
        `Session ${this.id} is a slow consumer: more than ${limit} bytes unsent; disconnecting it`,
      );
      // The close frame (1008) queues behind the unsent bytes: a client that reads again within
      // limits.closeTimeout sees it; one that does not is dropped then (and sees 1006).
      // Closed in the next turn, not inside this write: closing requeues the session's
      // unacknowledged messages, which would be written to the next consumer from here, which
      // may be slow as well, and so on, one stack frame chain per session. Until then nothing
      // more is written to it.
      this.slowConsumer = true;
      setImmediate(closeSlowConsumer, this);
      return false;
    }
    if (!this.inTick) {
      this.inTick = true;
      // `ws` does not expose its socket; without one, frames simply go out one write each.
      const raw = (this.socket as unknown as { _socket?: Duplex })._socket;
      if (raw) {
        raw.cork();
        this.corkedSocket = raw;
      }
      if (corkedSessions.push(this) === 1) process.nextTick(uncorkSessions);
    }
    this.tickBytes += bytes;
    this.wroteSinceTick = true;
    return true;
  }

  /**
   * Writes this tick's corked frames to the socket now (what the kernel takes leaves at once; the
   * rest stays buffered and from now on counts as unsent), and corks again for the rest of the tick.
   */
  private flushTick(): void {
    const raw = this.corkedSocket;
    if (raw) {
      raw.uncork();
      raw.cork();
    }
    this.tickBytes = 0;
  }

  /** @internal End of tick: lets this tick's writes go out together. */
  uncork(): void {
    this.corkedSocket?.uncork();
    this.corkedSocket = undefined;
    this.tickBytes = 0;
    this.inTick = false;
  }

  // ---- inbound --------------------------------------------------------------------------

  /** @internal Bytes from the socket. */
  onData(data: Buffer): void {
    this.readSinceCheck = true;
    // Bytes behind a backlog wait their turn, so frames stay in order.
    if (this.input !== undefined) this.input.push(data);
    else this.decode(data);
  }

  /** Decodes until the chunk ends or the decoder pauses at the high-water mark (rest kept first). */
  private decode(data: Buffer): void {
    let consumed: number;
    try {
      consumed = this.decoder.push(data);
    } catch (err) {
      if (this.busy || (this.pending?.length ?? 0) > 0) {
        // Frames decoded before the faulty one are still handled, in order, and the ERROR
        // follows them (see pump); what came after it is dropped with the failed decoder.
        this.decodeError = err;
        this.input = undefined;
        if (!this.busy) this.scheduleDrain();
        return;
      }
      this.fail(err);
      return;
    }
    if (consumed < data.length && !this.decoder.isStopped) {
      (this.input ??= []).unshift(data.subarray(consumed));
      this.pauseReading();
    }
  }

  private onFrame(frame: StompFrame): void {
    if (this.busy || (this.pending !== undefined && this.pending.length > 0) || !this.withinTurnBudget()) {
      const pending = (this.pending ??= []);
      pending.push(frame);
      if (pending.length >= this.options.limits.inboundHighWaterMark) {
        // Stop mid-message: what is not decoded yet costs its bytes, not a frame object each.
        this.decoder.pause();
        this.pauseReading();
      }
      if (!this.busy) this.scheduleDrain();
      return;
    }
    this.process(frame);
  }

  /** Counts one frame against this turn's budget; false once the budget is spent. */
  private withinTurnBudget(): boolean {
    const turn = currentTurn();
    if (turn !== this.turn) {
      this.turn = turn;
      this.turnFrames = 0;
    }
    return ++this.turnFrames <= this.options.limits.inboundFramesPerTurn;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(drainSession, this);
  }

  /** @internal A later turn of the event loop: carry on with the backlog, with a fresh budget. */
  drainTurn(): void {
    this.drainScheduled = false;
    this.turn = loopTurn;
    this.turnFrames = 0;
    this.pump();
  }

  private pauseReading(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  /**
   * Handles queued frames, then decodes held bytes, until the session waits for a handler's
   * Promise, the turn's budget is spent (it continues in a later turn), or nothing is left.
   */
  private pump(): void {
    while (!this.busy && (this._state === 'connecting' || this._state === 'connected')) {
      const pending = this.pending;
      if (pending !== undefined && pending.length > 0) {
        if (!this.withinTurnBudget()) {
          this.scheduleDrain();
          return;
        }
        this.process(pending.shift() as StompFrame);
        continue;
      }
      if (this.decodeError !== undefined) {
        const err = this.decodeError;
        this.decodeError = undefined;
        this.fail(err);
        return;
      }
      const input = this.input;
      if (input === undefined) break;
      const data = input.shift() as Buffer;
      if (input.length === 0) this.input = undefined;
      this.decode(data);
      // Frames the decoder handed over beyond the budget wait for the scheduled drain.
      if (this.drainScheduled) return;
    }
    const waiting = this.pending?.length ?? 0;
    if (this.paused && this.input === undefined && waiting < this.options.limits.inboundHighWaterMark / 2) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private process(frame: StompFrame): void {
    let result: void | Promise<void>;
    try {
      result = this.dispatch(frame);
    } catch (err) {
      this.fail(err, frame);
      return;
    }
    if (result instanceof Promise) {
      this.busy = true;
      result.then(
        () => {
          this.busy = false;
          this.afterFrame(frame);
          this.pump();
        },
        (err: unknown) => {
          this.busy = false;
          this.fail(err, frame);
        },
      );
      return;
    }
    this.afterFrame(frame);
  }

  private afterFrame(frame: StompFrame): void {
    const receipt = frame.headers['receipt'];
    if (receipt !== undefined && frame.command !== 'CONNECT' && frame.command !== 'STOMP') {
      this.sendFrame('RECEIPT', { 'receipt-id': receipt });
    }
    if (frame.command === 'DISCONNECT') this.close(CLOSE_NORMAL, 'DISCONNECT');
  }

  private dispatch(frame: StompFrame): void | Promise<void> {
    const command = frame.command;
    if (this._state === 'closing' || this._state === 'closed') return;
    if (command === 'CONNECT' || command === 'STOMP') return this.connect(frame);
    if (!isClientCommand(command)) {
      throw new StompProtocolError('UNKNOWN_COMMAND', `Unknown command ${JSON.stringify(command.slice(0, 32))}`);
    }
    if (this._state !== 'connected') {
      throw new StompProtocolError('NOT_CONNECTED', `Expected a CONNECT or STOMP frame, got ${command}`);
    }
    if (command === 'DISCONNECT') {
      this.decoder.stop();
      return;
    }
    return this.handler.handle(this, frame);
  }

  // ---- CONNECT --------------------------------------------------------------------------

  private connect(frame: StompFrame): void | Promise<void> {
    if (this._state !== 'connecting') {
      throw new StompProtocolError('ALREADY_CONNECTED', 'This session is already connected');
    }
    const headers = frame.headers;
    this._version = negotiateVersion(headers['accept-version'], this.subprotocolVersion);
    // Frames after CONNECT in the same chunk must be decoded with this version's escaping.
    this.decoder.version = this._version;
    // Heart-beating came with STOMP 1.1: a 1.0 peer (stompjs sends the header anyway) never pings.
    this.heartbeat =
      this._version === '1.0'
        ? NO_HEARTBEAT
        : negotiateHeartbeat(parseHeartbeat(headers['heart-beat']), this.options.heartbeat.floor, this.options.heartbeat.ceiling);

    const authenticate = this.options.authenticate;
    if (!authenticate) return this.connected(undefined);
    const rejected = (err: unknown) =>
      new StompProtocolError('CONNECT_REJECTED', err instanceof Error ? err.message : String(err));
    let decision: StompConnectDecision | Promise<StompConnectDecision>;
    try {
      decision = authenticate({
        sessionId: this.id,
        headers,
        login: headers['login'],
        passcode: headers['passcode'],
        request: this.upgradeRequest as IncomingMessage,
      });
    } catch (err) {
      throw rejected(err);
    }
    // A synchronous decision completes the CONNECT at once; only a Promise holds the session.
    if (!(decision instanceof Promise)) return this.decided(decision);
    return decision.then(
      (d) => this.decided(d),
      (err: unknown) => {
        throw rejected(err);
      },
    );
  }

  private decided(decision: StompConnectDecision | undefined): void {
    if (decision?.reject !== undefined) throw new StompProtocolError('CONNECT_REJECTED', decision.reject);
    const user = decision?.user;
    if (user !== undefined && (typeof user !== 'string' || UNWRITABLE_IN_CONNECTED.test(user))) {
      // CONNECTED is never escaped: such a name would inject headers into it.
      StompSession.logger.warn(
        `Session ${this.id}: authenticate named the user ${JSON.stringify(user)}, which cannot be sent in CONNECTED's user-name header (it contains CR, LF or NUL, or is not a string); refusing the CONNECT`,
      );
      throw new StompProtocolError(
        'INVALID_USER_NAME',
        'The user name given by authentication contains CR, LF or NUL and cannot be sent in CONNECTED',
      );
    }
    this.connected(user);
  }

  private connected(user: string | undefined): void {
    if (this._state !== 'connecting') return;
    this.upgradeRequest = undefined;
    this._user = user;
    this._state = 'connected';
    this.sendFrame('CONNECTED', {
      version: this._version,
      'heart-beat': formatHeartbeat(this.heartbeat),
      server: this.options.serverName,
      session: this.id,
      'user-name': user,
    });
    this.clearTimers();
    this.startHeartbeats();
    this.handler.sessionConnected?.(this);
  }

  private startHeartbeats(): void {
    const { serverToClient, clientToServer } = this.heartbeat;
    if (serverToClient > 0) {
      // Ticking at half the interval keeps every silence shorter than the promised interval;
      // one check per interval would allow almost two intervals after a write just past a tick.
      const timer = setInterval(() => {
        if (!this.wroteSinceTick) this.write(HEARTBEAT_EOL, false);
        this.wroteSinceTick = false;
      }, Math.max(1, Math.floor(serverToClient / 2)));
      timer.unref();
      (this.timers ??= []).push(timer);
    }
    if (clientToServer > 0) {
      const window = Math.round(clientToServer * this.options.heartbeat.tolerance);
      this.readSinceCheck = false;
      const timer = setInterval(() => {
        // While the session holds back reading (a slow handler), the client is not the silent one.
        if (this.readSinceCheck || this.paused) {
          this.readSinceCheck = false;
          return;
        }
        StompSession.logger.debug(`Session ${this.id}: no heart-beat for ${window} ms, closing`);
        this.fail(
          new StompProtocolError('HEARTBEAT_TIMEOUT', `No heart-beat received for ${window} ms`),
        );
      }, window);
      timer.unref();
      (this.timers ??= []).push(timer);
    }
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
    } else {
      StompSession.logger.debug(`Session ${this.id}: ${error.code}: ${error.message}`);
    }
    this.decoder.stop();
    this.sendFrame(
      'ERROR',
      {
        message: error.message,
        'receipt-id': frame?.headers['receipt'],
        'content-type': 'text/plain',
        ...error.headers,
      },
      frame ? `${error.message}\n\nOffending frame: ${frame.command}\n` : `${error.message}\n`,
    );
    this.close(closeCodeFor(error), error.code);
  }

  /**
   * Closes the WebSocket after everything already sent; the close handshake follows. A peer that
   * has not completed it within `limits.closeTimeout` ms is dropped.
   */
  close(code = CLOSE_NORMAL, reason = ''): void {
    if (this._state === 'closing' || this._state === 'closed') return;
    this._state = 'closing';
    this.decoder.stop();
    this.clearTimers();
    this.pending = undefined;
    this.input = undefined;
    // Read again (the decoder is stopped, so frames are ignored): a socket paused at the inbound
    // high-water mark would not see the peer's close frame, and closing would wait for closeTimeout.
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    this.socket.close(code, reason.slice(0, 120));
    const timeout = this.options.limits.closeTimeout;
    const dropTimer = setTimeout(() => {
      if (this._state === 'closed') return;
      StompSession.logger.debug(`Session ${this.id}: close handshake not completed within ${timeout} ms; dropping the connection`);
      this.socket.terminate();
    }, timeout);
    dropTimer.unref();
    (this.timers ??= []).push(dropTimer);
    this.detach();
  }

  /** Drops the connection at once, without a close handshake. */
  terminate(): void {
    this.socket.terminate();
  }

  private clearTimers(): void {
    for (const timer of this.timers ?? []) clearTimeout(timer);
    this.timers = undefined;
  }

  /** @internal The socket closed. */
  cleanup(): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    this.decoder.stop();
    this.clearTimers();
    this.pending = undefined;
    this.input = undefined;
    this.upgradeRequest = undefined;
    this.detach();
    this.markClosed?.();
  }

  /**
   * Tells the layer above, once, that this session is gone. Called as soon as closing starts, so
   * the broker stops routing messages to a socket that will not carry them and releases what the
   * session had not acknowledged, without waiting for the peer's close handshake.
   */
  private detach(): void {
    if (this.detached) return;
    this.detached = true;
    this._transactions = undefined;
    try {
      this.handler.sessionClosed(this);
    } catch (err) {
      StompSession.logger.error(`Session ${this.id} cleanup failed: ${String(err)}`);
    }
  }
}
