import { Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { StompProtocolError, type StompErrorCode } from '../protocol/stomp-protocol-error.js';
import { SendTimeWatch, socketProgress, type SendProgress } from './send-time-limit.js';
import type { SessionCloseReason, StompConnection, StompConnectionHandler } from './stomp-connection.js';
import { deliveringRequest, endNow, queuedFrameCount, receiverSocket, type Connection } from './sockjs-internals.js';
import { closeReason, webSocketCloseCode } from './websocket-connection.js';

/** Limits of one SockJS connection (from `limits.*`). */
export interface SockJsConnectionLimits {
  /** Unsent characters before the client is a slow consumer (`limits.sendBufferSizeLimit`). */
  readonly sendBufferSizeLimit: number;
  /** Ms the client may take nothing while frames wait for it before it is a slow consumer; 0 or absent: no such rule (`limits.sendTimeLimit`). */
  readonly sendTimeLimit?: number;
  /** Ms a closing session has to deliver its last frames before it is dropped (`limits.closeTimeout`). */
  readonly closeTimeout: number;
  /** Bytes a client may send while the session is not reading (`limits.maxWebSocketMessageSize`). */
  readonly maxWebSocketMessageSize: number;
}

/** The last shared body turned into a string, so that a fan-out to many SockJS clients converts it once. */
let lastBody: Buffer | undefined;
let lastBodyText = '';

function bodyText(body: Buffer): string {
  if (body !== lastBody) {
    lastBody = body;
    lastBodyText = body.toString('utf8');
  }
  return lastBodyText;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function reportSlowConsumer(connection: SockJsConnection): void {
  connection.handler?.onSlowConsumer('sendBufferSizeLimit');
}

/** What the send time watch of one SockJS connection reads (see {@link SendProgress}). */
class SockJsProgress implements SendProgress {
  constructor(private readonly connection: SockJsConnection) {}
  unsentBytes(): number {
    return this.connection.unsentBytes;
  }
  progress(): number {
    return this.connection.sentProgress();
  }
  stalled(): void {
    this.connection.sendTimeExceeded();
  }
}

/**
 * A {@link StompConnection} over one SockJS session (Spring's `SockJsSession`). SockJS carries
 * text only: each STOMP frame goes out as one SockJS message (a string), and what the client sends
 * is read as UTF-8 whatever message boundaries it chose (a frame split across messages, several
 * frames in one message, even a character split between two messages).
 *
 * Bounds, as on the WebSocket transport: a client whose unsent frames (queued in the SockJS
 * session while no request can take them, plus what its socket has not taken) pass
 * `limits.sendBufferSizeLimit` characters is a slow consumer. SockJS's HTTP transports cannot be
 * paused: while the session does not read (inbound backpressure), what the client sends is kept,
 * up to `limits.maxWebSocketMessageSize` bytes, then the session fails with `INBOUND_QUEUE_FULL`.
 */
export class SockJsConnection implements StompConnection {
  /** @internal */
  static readonly logger = new Logger('StompSockJsConnection');

  readonly transport: string;
  readonly supportsBinary = false;
  readonly remoteAddress: string | undefined;
  /** @internal */
  handler?: StompConnectionHandler;
  private closing = false;
  private isClosed = false;
  private slow = false;
  private paused = false;
  /** Messages received while paused (each with the post that carried it), and their bytes. */
  private held?: { data: Buffer; request: IncomingMessage | undefined }[];
  /** The post that carried the data delivered last (see {@link latestRequest}). */
  private latest?: IncomingMessage;
  private heldBytes = 0;
  /** A high surrogate that ended the last message: the rest of its character comes next. */
  private carry = '';
  /** What this connection knows is queued in the SockJS session: frames, and their characters. */
  private queuedCount = 0;
  private queuedChars = 0;
  /** Times a request took what waited in the SockJS session's queue (a poll, a new streaming response). */
  private queueFlushes = 0;
  /** The `limits.sendTimeLimit` rule, created the first time data wait for the client. */
  private sendTime?: SendTimeWatch;
  /** `limits.sendTimeLimit`, 0 for off. */
  private readonly sendTimeLimit: number;

  constructor(
    private readonly sockjs: Connection,
    readonly endpoint: string,
    private readonly limits: SockJsConnectionLimits,
  ) {
    this.transport = `sockjs/${sockjs.protocol}`;
    this.remoteAddress = sockjs.remoteAddress;
    sockjs.on('data', (message) => this.received(message));
    // sockjs may report the close from inside close() (the websocket transport): the session
    // hears of it in the next tick, never while it is still closing.
    sockjs.on('close', () => process.nextTick(() => this.closed()));
    this.sendTimeLimit = limits.sendTimeLimit ?? 0;
  }

  get unsentBytes(): number {
    return this.unsent();
  }

  /**
   * @internal Changes when some unsent data left: a request took the queue, or the kernel took
   * more of what the receiving socket holds, or another socket receives.
   */
  sentProgress(): number {
    this.unsent();
    const socket = receiverSocket(this.sockjs);
    return this.queueFlushes + (socket === undefined ? 0 : socketProgress(socket));
  }

  /** @internal The send time watch saw no progress for `limits.sendTimeLimit` ms. */
  sendTimeExceeded(): void {
    if (this.closing || this.slow || this.isClosed) return;
    this.slow = true;
    this.handler?.onSlowConsumer('sendTimeLimit');
  }

  /**
   * The HTTP request that carried the data delivered last: the `xhr_send` / `jsonp_send` post
   * for the HTTP transports, `undefined` for the websocket transport (whose upgrade request the
   * session already has). A CONNECT is authenticated with the cookies and headers of the post
   * that carried it, not those of the request that opened the SockJS session: a page of another
   * site can open a session with the user's cookies (a GET transport started by an `<img>` tag
   * sends no `Origin`), but cannot post to it with them.
   */
  get latestRequest(): IncomingMessage | undefined {
    return this.latest;
  }

  get isOpen(): boolean {
    return !this.closing && !this.isClosed;
  }

  bind(handler: StompConnectionHandler): void {
    this.handler = handler;
  }

  send(data: Buffer, _binary: boolean): boolean {
    // The session made any binary body text (textOnlyBody): what is left is UTF-8.
    return this.write(data.toString('utf8'));
  }

  sendParts(head: Buffer, body: Buffer, tail: Buffer, _binary: boolean): boolean {
    return this.write(head.toString('utf8') + bodyText(body) + tail.toString('utf8'));
  }

  private write(message: string): boolean {
    if (this.closing || this.slow || this.isClosed) return false;
    if (this.unsent() > this.limits.sendBufferSizeLimit) {
      // Reported in the next turn, as on the WebSocket transport (see WebSocketConnection.admit).
      this.slow = true;
      setImmediate(reportSlowConsumer, this);
      return false;
    }
    if (!this.sockjs.write(message)) return false;
    // sockjs flushes its queue to the receiving request at once when there is one, and swaps the
    // whole queue out when it flushes; only this connection adds to it.
    const count = queuedFrameCount(this.sockjs);
    if (count === 0) this.queuedChars = 0;
    else if (count === this.queuedCount + 1) this.queuedChars += message.length;
    else this.queuedChars = message.length;
    this.queuedCount = count;
    if (this.sendTimeLimit > 0 && (this.sendTime !== undefined || this.unsentBytes > 0)) {
      (this.sendTime ??= new SendTimeWatch(this.sendTimeLimit, new SockJsProgress(this))).pending();
    }
    return true;
  }

  /** Characters queued in the SockJS session plus bytes its receiving socket has not sent. */
  private unsent(): number {
    if (queuedFrameCount(this.sockjs) < this.queuedCount) {
      this.queuedCount = 0;
      this.queuedChars = 0;
      this.queueFlushes++;
    }
    return this.queuedChars + (receiverSocket(this.sockjs)?.writableLength ?? 0);
  }

  private received(message: unknown): void {
    if (this.isClosed || this.closing) return;
    if (typeof message !== 'string') {
      // sockjs passes on whatever JSON the client sent; the SockJS protocol allows strings only.
      this.handler?.onTransportError(new StompProtocolError('INVALID_SOCKJS_MESSAGE', `SockJS messages must be strings, got ${message === null ? 'null' : typeof message}`));
      return;
    }
    let text = this.carry + message;
    this.carry = '';
    if (text.length > 0 && isHighSurrogate(text.charCodeAt(text.length - 1))) {
      this.carry = text.slice(-1);
      text = text.slice(0, -1);
    }
    if (text.length === 0) return;
    const data = Buffer.from(text, 'utf8');
    const request = deliveringRequest();
    if (!this.paused) {
      this.latest = request;
      this.handler?.onData(data);
      return;
    }
    this.heldBytes += data.length;
    if (this.heldBytes > this.limits.maxWebSocketMessageSize) {
      this.held = undefined;
      this.heldBytes = 0;
      this.handler?.onTransportError(
        new StompProtocolError(
          'INBOUND_QUEUE_FULL',
          `More than ${this.limits.maxWebSocketMessageSize} bytes received over SockJS while earlier frames were still being handled (limits.maxWebSocketMessageSize)`,
        ),
      );
      return;
    }
    (this.held ??= []).push({ data, request });
  }

  pause(): void {
    if (this.closing) return;
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.held;
    this.held = undefined;
    this.heldBytes = 0;
    if (held === undefined) return;
    for (let i = 0; i < held.length; i++) {
      // Handling one may pause the session again: the rest waits, in order.
      if (this.paused || this.closing || this.isClosed) {
        const rest = held.slice(i);
        if (!this.closing && !this.isClosed) {
          this.held = rest.concat(this.held ?? []);
          this.heldBytes = this.held.reduce((n, h) => n + h.data.length, 0);
        }
        return;
      }
      this.latest = held[i].request;
      this.handler?.onData(held[i].data);
    }
  }

  close(reason: SessionCloseReason, errorCode?: StompErrorCode, message = ''): number {
    const code = webSocketCloseCode(reason, errorCode);
    if (this.closing || this.isClosed) return code;
    this.closing = true;
    this.sendTime?.stop();
    this.paused = false;
    this.held = undefined;
    // The close frame follows what is queued. With a request attached it goes out now, after
    // which nothing more can reach the client: the session ends at once rather than after
    // sockjs's disconnect delay. Without one (between two polls) it waits for the next request,
    // at most the disconnect delay. Either way, a socket that has not sent everything within
    // the close timeout is dropped, with whatever it still holds.
    const socket: Socket | undefined = receiverSocket(this.sockjs);
    this.sockjs.close(code, closeReason(message));
    if (socket !== undefined) endNow(this.sockjs);
    const timeout = this.limits.closeTimeout;
    const dropTimer = setTimeout(() => {
      const current = receiverSocket(this.sockjs) ?? socket;
      if (!this.isClosed) endNow(this.sockjs);
      if (current !== undefined && current.writableLength > 0 && !current.destroyed) {
        SockJsConnection.logger.debug(
          `SockJS connection from ${this.remoteAddress ?? 'a client'}: last frames not sent within ${timeout} ms; dropping the connection`,
        );
        current.destroy();
      }
    }, timeout);
    dropTimer.unref();
    return code;
  }

  /**
   * @internal Serves a receiving request of this session (`serve` hands it to sockjs). When the
   * session is closing, sockjs gives that request what is queued and the close frame, after which
   * nothing more can reach the client: the session ends then, rather than after sockjs's
   * disconnect delay. Except that a polling request ends with its first write, and sockjs then
   * loses the close frame behind queued frames (the next poll gets it): such a poll ends the
   * session only when nothing was queued.
   */
  receive(serve: () => void, polling: boolean): void {
    const takesCloseFrame = this.closing && !this.isClosed && (!polling || queuedFrameCount(this.sockjs) === 0);
    serve();
    if (takesCloseFrame) endNow(this.sockjs);
  }

  terminate(): void {
    const socket = receiverSocket(this.sockjs);
    endNow(this.sockjs);
    socket?.destroy();
  }

  private closed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closing = true;
    this.sendTime?.stop();
    this.held = undefined;
    // SockJS reports no close code of its own; 1000 stands for "the session ended".
    this.handler?.onClose(1000);
  }
}
