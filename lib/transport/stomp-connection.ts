/**
 * The seam between a STOMP session and the transport that carries its bytes (Spring's
 * `WebSocketSession`, stompjs's `IStompSocket`): a plain WebSocket or a SockJS session. The
 * session never sees a concrete socket class; it writes frames, pauses and resumes reading, and
 * asks to close with a {@link SessionCloseReason}, which each transport maps to its own close
 * code (a WebSocket close code, a SockJS close frame).
 */
import type { IncomingMessage } from 'node:http';
import type { StompErrorCode, StompProtocolError } from '../protocol/stomp-protocol-error.js';

/**
 * Why a session ended, as reported in the disconnect event and in stats.
 * - `client-disconnect`: the client sent DISCONNECT.
 * - `socket-closed`: the connection went away without DISCONNECT (the peer closed it, a TCP reset).
 * - `heartbeat-timeout`: nothing received for `tolerance` heart-beat intervals (a half-open socket).
 * - `error`: the server sent an ERROR frame (see `errorCode`) and closed.
 * - `slow-consumer`: outbound data did not drain (`limits.sendBufferSizeLimit` or
 *   `limits.sendTimeLimit`; the disconnect event's `limit` says which).
 * - `server-shutdown`: `app.close()`.
 */
export type SessionCloseReason = (typeof SESSION_CLOSE_REASONS)[number];

/** Every {@link SessionCloseReason}, in the order stats list them. */
export const SESSION_CLOSE_REASONS = [
  'client-disconnect',
  'socket-closed',
  'heartbeat-timeout',
  'error',
  'slow-consumer',
  'server-shutdown',
] as const;

/** The option a slow consumer broke (see `StompLimits`). */
export type SlowConsumerLimit = 'sendBufferSizeLimit' | 'sendTimeLimit';

/** What a connection tells the session that owns it. */
export interface StompConnectionHandler {
  /** Bytes received, in order. Not called while reading is paused (bytes in flight may still arrive). */
  onData(data: Buffer): void;
  /**
   * The connection is closed (handshake done, dropped, or reset). Called exactly once.
   * `code` is the close code the transport saw (WebSocket: the peer's close code, 1006 when none).
   */
  onClose(code: number): void;
  /**
   * Outbound bytes did not drain within the transport's limits: the session must close as a slow
   * consumer. `limit` names the rule broken: more than `sendBufferSizeLimit` bytes unsent, or
   * nothing sent for `sendTimeLimit` ms while bytes waited. Called at most once, outside the
   * write that found it.
   */
  onSlowConsumer(limit: SlowConsumerLimit): void;
  /**
   * The transport refused what the client sent (a SockJS message that is not a string, too much
   * data while reading is paused): the session answers with an ERROR and closes.
   */
  onTransportError(error: StompProtocolError): void;
}

/**
 * One client connection as a STOMP session uses it. Writes are ordered; a transport may batch the
 * writes of one event-loop turn into one system call.
 */
export interface StompConnection {
  /** Transport name for events and stats: `'websocket'`, `'sockjs/xhr-streaming'`… */
  readonly transport: string;
  /** The endpoint path the client connected to, e.g. `/ws`. */
  readonly endpoint: string;
  readonly remoteAddress: string | undefined;
  /** False when the transport carries text only (SockJS): binary bodies must be sent another way. */
  readonly supportsBinary: boolean;
  /**
   * For transports whose data come by several HTTP requests (SockJS's `xhr_send`): the request
   * that carried the data delivered last. CONNECT interceptors and `authenticate` see it, in
   * place of the request that opened the connection. `undefined` elsewhere.
   */
  readonly latestRequest?: IncomingMessage;
  /** True until closing starts. */
  readonly isOpen: boolean;
  /**
   * Bytes queued for the client that its socket has not taken yet, as the slow-consumer rules
   * count them (WebSocket: `ws`'s `bufferedAmount`; SockJS: characters queued plus what the
   * receiving socket holds).
   */
  readonly unsentBytes: number;
  /** Registers the session that receives this connection's data and close; called once. */
  bind(handler: StompConnectionHandler): void;
  /** Sends one whole frame. Returns false when it was not queued (closed, or a slow consumer). */
  send(data: Buffer, binary: boolean): boolean;
  /**
   * Sends one frame in parts without copying them (a large body shared by all subscribers):
   * `head`, then `body`, then `tail`, as one message. Returns false when not queued.
   */
  sendParts(head: Buffer, body: Buffer, tail: Buffer, binary: boolean): boolean;
  /** Stops reading from the peer (inbound backpressure). */
  pause(): void;
  resume(): void;
  /**
   * Closes after what is already queued, for `reason` (mapped to the transport's close code;
   * `errorCode` refines `error`). A peer that does not finish the close within the transport's
   * close timeout is dropped.
   * @returns the close code sent.
   */
  close(reason: SessionCloseReason, errorCode?: StompErrorCode, message?: string): number;
  /** Drops the connection at once, without a close handshake. */
  terminate(): void;
}
