import type { Duplex } from 'node:stream';
import { Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import type { StompErrorCode } from '../protocol/stomp-protocol-error.js';
import { SendTimeWatch, socketProgress, type SendProgress } from './send-time-limit.js';
import type { SessionCloseReason, StompConnection, StompConnectionHandler } from './stomp-connection.js';

/** WebSocket close codes (RFC 6455 §7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL_ERROR = 1011;

/**
 * The WebSocket close code for a session's end. Oversized input is 1009 ("message too big"),
 * refusals of the client (authentication, an interceptor, a slow consumer) 1008 ("policy
 * violation"), a failure of the server's own code 1011 ("internal error"), other protocol errors
 * 1002; DISCONNECT closes normally, `app.close()` with 1001 ("going away").
 */
export function webSocketCloseCode(reason: SessionCloseReason, errorCode?: StompErrorCode): number {
  switch (reason) {
    case 'client-disconnect':
    case 'socket-closed':
      return CLOSE_NORMAL;
    case 'server-shutdown':
      return CLOSE_GOING_AWAY;
    case 'slow-consumer':
      return CLOSE_POLICY;
    case 'heartbeat-timeout':
      return CLOSE_PROTOCOL_ERROR;
    case 'error':
      switch (errorCode) {
        case 'FRAME_TOO_LARGE':
        case 'BODY_TOO_LARGE':
        case 'TOO_MANY_HEADERS':
        case 'HEADER_LINE_TOO_LONG':
          return CLOSE_TOO_BIG;
        case 'CONNECT_REJECTED':
        case 'INVALID_USER_NAME':
        case 'MESSAGE_REFUSED':
        case 'INBOUND_QUEUE_FULL':
        case 'CREDENTIALS_EXPIRED':
        case 'SESSION_LIMIT':
        case 'ACCESS_DENIED':
          return CLOSE_POLICY;
        case 'INTERNAL_ERROR':
          return CLOSE_INTERNAL_ERROR;
        default:
          return CLOSE_PROTOCOL_ERROR;
      }
  }
}

/** Limits of one WebSocket connection (from `limits.*`). */
export interface WebSocketConnectionLimits {
  /** Bytes that may stay unsent before the peer is a slow consumer (`limits.sendBufferSizeLimit`). */
  readonly sendBufferSizeLimit: number;
  /** Ms a peer may take nothing while bytes wait for it before it is a slow consumer; 0 or absent: no such rule (`limits.sendTimeLimit`). */
  readonly sendTimeLimit?: number;
  /** Ms a peer has to finish the close handshake before it is dropped (`limits.closeTimeout`). */
  readonly closeTimeout: number;
}

const CONNECTION = Symbol('nestjs-stomp:connection');
type TaggedSocket = WebSocket & { [CONNECTION]: WebSocketConnection };

function connectionOf(socket: WebSocket): WebSocketConnection {
  return (socket as TaggedSocket)[CONNECTION];
}

// One set of listener functions for all connections (no closures per connection).
function onSocketMessage(this: WebSocket, data: Buffer): void {
  connectionOf(this).handler?.onData(data);
}

function onSocketClose(this: WebSocket, code: number): void {
  connectionOf(this).closed(code);
}

function onSocketError(this: WebSocket, err: Error): void {
  WebSocketConnection.logger.debug(`WebSocket error: ${err.message}`);
}

function reportSlowConsumer(connection: WebSocketConnection): void {
  connection.handler?.onSlowConsumer('sendBufferSizeLimit');
}

/** What the send time watch of one WebSocket connection reads (see {@link SendProgress}). */
class WebSocketProgress implements SendProgress {
  constructor(private readonly connection: WebSocketConnection) {}
  unsentBytes(): number {
    return this.connection.unsentBytes;
  }
  progress(): number {
    return this.connection.sentBytes();
  }
  stalled(): void {
    this.connection.sendTimeExceeded();
  }
}

/** Bytes of UTF-8 a close frame's reason may hold (RFC 6455 §5.5: 125 payload bytes, 2 of them the code). */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * `message` cut to what a close frame carries, on a character boundary: `ws` throws a RangeError
 * for a longer reason, and a cut in the middle of a character would not be valid UTF-8.
 */
export function closeReason(message: string): string {
  if (Buffer.byteLength(message) <= MAX_CLOSE_REASON_BYTES) return message;
  let reason = '';
  let size = 0;
  for (const char of message) {
    size += Buffer.byteLength(char);
    if (size > MAX_CLOSE_REASON_BYTES) break;
    reason += char;
  }
  return reason;
}

const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;
const TEXT_PART = { binary: false, fin: false } as const;
const TEXT_LAST = { binary: false, fin: true } as const;
const BINARY_PART = { binary: true, fin: false } as const;
const BINARY_LAST = { binary: true, fin: true } as const;

/**
 * Connections that wrote during the current tick (their TCP socket corked, their tick's byte count
 * running), uncorked together once it ends: every frame written to one socket in one tick (the
 * MESSAGEs of several SENDs read in one chunk, a MESSAGE and the RECEIPT of the SEND that caused
 * it) leaves in one system call instead of one each.
 */
const corked: WebSocketConnection[] = [];

function uncorkAll(): void {
  for (const connection of corked) connection.uncork();
  corked.length = 0;
}

/**
 * A {@link StompConnection} over one `ws` WebSocket (the role of Spring's
 * `ConcurrentWebSocketSessionDecorator`): tick-wide corking of the TCP socket, the slow-consumer
 * policy, close codes and the close timeout.
 *
 * `socket` is the TCP socket of the HTTP `upgrade` event, which `ws` writes to (the public way to
 * cork it; `ws` does not expose its own reference).
 */
export class WebSocketConnection implements StompConnection {
  /** @internal */
  static readonly logger = new Logger('StompWebSocketConnection');

  readonly transport = 'websocket';
  readonly supportsBinary = true;
  /** @internal */
  handler?: StompConnectionHandler;
  private closing = false;
  private isClosed = false;
  private slow = false;
  private paused = false;
  /** This tick's bytes, corked and not yet offered to the kernel. */
  private tickBytes = 0;
  private inTick = false;
  private dropTimer?: NodeJS.Timeout;
  /** The `limits.sendTimeLimit` rule, created the first time data wait for the client. */
  private sendTime?: SendTimeWatch;
  /** `limits.sendTimeLimit`, 0 for off. */
  private readonly sendTimeLimit: number;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
    readonly endpoint: string,
    readonly remoteAddress: string | undefined,
    private readonly limits: WebSocketConnectionLimits,
  ) {
    (ws as TaggedSocket)[CONNECTION] = this;
    ws.on('message', onSocketMessage);
    ws.on('close', onSocketClose);
    ws.on('error', onSocketError);
    this.sendTimeLimit = limits.sendTimeLimit ?? 0;
  }

  get unsentBytes(): number {
    return this.ws.bufferedAmount;
  }

  /** @internal How far the TCP socket got (see {@link socketProgress}). */
  sentBytes(): number {
    return socketProgress(this.socket);
  }

  /** @internal The send time watch saw no progress for `limits.sendTimeLimit` ms. */
  sendTimeExceeded(): void {
    if (this.closing || this.slow || this.isClosed) return;
    this.slow = true;
    this.handler?.onSlowConsumer('sendTimeLimit');
  }

  get isOpen(): boolean {
    return !this.closing && !this.isClosed;
  }

  bind(handler: StompConnectionHandler): void {
    this.handler = handler;
  }

  send(data: Buffer, binary: boolean): boolean {
    if (!this.admit(data.length)) return false;
    this.ws.send(data, binary ? BINARY : TEXT);
    return true;
  }

  sendParts(head: Buffer, body: Buffer, tail: Buffer, binary: boolean): boolean {
    if (!this.admit(head.length + body.length + tail.length)) return false;
    // `ws` writes a server's (unmasked) data to the socket as given, so a body shared by many
    // connections is queued by reference, not copied. The three sends are synchronous: nothing
    // can come between them.
    this.ws.send(head, binary ? BINARY_PART : TEXT_PART);
    this.ws.send(body, binary ? BINARY_PART : TEXT_PART);
    this.ws.send(tail, binary ? BINARY_LAST : TEXT_LAST);
    return true;
  }

  /**
   * Whether `bytes` more may be queued now; counts them if so. Otherwise the peer is a slow
   * consumer (see `limits.sendBufferSizeLimit`): more than the limit is still unsent after the
   * socket had a chance to take it.
   *
   * This tick's writes are corked and have had no such chance yet, so they do not count: a
   * healthy client receiving a burst is not cut off. But once they reach the limit they are
   * flushed at once, and what the socket cannot take then counts as unsent. So one SEND fanned
   * out to many subscriptions of a session that stopped reading cannot queue more than about
   * twice the limit to it, however many subscriptions it holds.
   */
  private admit(bytes: number): boolean {
    if (this.closing || this.slow || this.isClosed) return false;
    const limit = this.limits.sendBufferSizeLimit;
    if (this.tickBytes > 0 && this.tickBytes + bytes > limit) this.flushTick();
    if (this.ws.bufferedAmount - this.tickBytes > limit) {
      // Reported (and logged by the session) in the next turn, not inside this write: closing the session requeues its
      // unacknowledged messages, which would be written to the next consumer from here, which
      // may be slow as well, and so on, one stack frame chain per session. Until then nothing
      // more is written.
      this.slow = true;
      setImmediate(reportSlowConsumer, this);
      return false;
    }
    if (!this.inTick) {
      this.inTick = true;
      this.socket.cork();
      if (corked.push(this) === 1) process.nextTick(uncorkAll);
    }
    this.tickBytes += bytes;
    return true;
  }

  /**
   * Writes this tick's corked frames to the socket now (what the kernel takes leaves at once; the
   * rest stays buffered and from now on counts as unsent), and corks again for the rest of the tick.
   */
  private flushTick(): void {
    this.socket.uncork();
    this.socket.cork();
    this.tickBytes = 0;
  }

  /** @internal End of tick: lets this tick's writes go out together. */
  uncork(): void {
    if (this.inTick) this.socket.uncork();
    this.tickBytes = 0;
    this.inTick = false;
    // What the kernel did not take now is watched (one check per writing tick, no timer while
    // nothing waits).
    if (this.sendTimeLimit > 0 && (this.sendTime !== undefined || this.unsentBytes > 0)) {
      (this.sendTime ??= new SendTimeWatch(this.sendTimeLimit, new WebSocketProgress(this))).pending();
    }
  }

  pause(): void {
    if (this.paused || this.closing) return;
    this.paused = true;
    this.ws.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.ws.resume();
  }

  close(reason: SessionCloseReason, errorCode?: StompErrorCode, message = ''): number {
    const code = webSocketCloseCode(reason, errorCode);
    if (this.closing || this.isClosed) return code;
    this.closing = true;
    this.sendTime?.stop();
    // Read again (frames are ignored from now on): a socket paused for inbound backpressure
    // would not see the peer's close frame, and closing would wait for the close timeout.
    if (this.paused) {
      this.paused = false;
      this.ws.resume();
    }
    // The close frame queues behind what is unsent: a client that reads again within the close
    // timeout sees it; one that does not is dropped then (and sees 1006).
    this.ws.close(code, closeReason(message));
    const timeout = this.limits.closeTimeout;
    this.dropTimer = setTimeout(() => {
      if (this.isClosed) return;
      WebSocketConnection.logger.debug(`Connection from ${this.remoteAddress ?? 'a client'}: close handshake not completed within ${timeout} ms; dropping the connection`);
      this.ws.terminate();
    }, timeout);
    this.dropTimer.unref();
    return code;
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** @internal The socket closed. */
  closed(code: number): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closing = true;
    this.sendTime?.stop();
    clearTimeout(this.dropTimer);
    this.handler?.onClose(code);
  }
}
