import type { IncomingMessage } from 'node:http';
import { StompEvents } from '../../lib/events/stomp-events.service.js';
import type { StompSessionEvent } from '../../lib/events/stomp-events.js';
import type { StompChannelInterceptor } from '../../lib/messaging/channel-interceptor.js';
import type { StompErrorCode } from '../../lib/protocol/stomp-protocol-error.js';
import { StompCounters } from '../../lib/stats/stomp-counters.js';
import type { SessionCloseReason, StompConnection, StompConnectionHandler } from '../../lib/transport/stomp-connection.js';
import type { ClientInboundHandler, SessionServices } from '../../lib/transport/stomp-session.js';
import { webSocketCloseCode } from '../../lib/transport/websocket-connection.js';

/**
 * A {@link StompConnection} with no socket behind it, for unit tests of the session: it records
 * what the session writes (as whole frames: parts are joined), pauses, resumes and closes, and
 * lets the test feed bytes and end the connection.
 */
export class FakeConnection implements StompConnection {
  readonly transport = 'fake';
  readonly endpoint = '/ws';
  readonly remoteAddress = '127.0.0.1';
  readonly supportsBinary = true;
  /** Writes are taken at once: nothing waits. */
  readonly unsentBytes = 0;
  handler?: StompConnectionHandler;
  /** Everything written, in order, one entry per frame or heart-beat. */
  readonly written: Array<{ data: Buffer; binary: boolean }> = [];
  readonly closes: Array<{ reason: SessionCloseReason; errorCode?: StompErrorCode; message?: string; code: number }> = [];
  paused = false;
  pauses = 0;
  terminated = false;
  /** When false, writes are refused (as a transport that found a slow consumer does). */
  accepting = true;

  get isOpen(): boolean {
    return this.closes.length === 0;
  }

  bind(handler: StompConnectionHandler): void {
    this.handler = handler;
  }

  send(data: Buffer, binary: boolean): boolean {
    if (!this.accepting || !this.isOpen) return false;
    this.written.push({ data: Buffer.from(data), binary });
    return true;
  }

  sendParts(head: Buffer, body: Buffer, tail: Buffer, binary: boolean): boolean {
    return this.send(Buffer.concat([head, body, tail]), binary);
  }

  pause(): void {
    if (!this.paused) this.pauses++;
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  close(reason: SessionCloseReason, errorCode?: StompErrorCode, message?: string): number {
    const code = webSocketCloseCode(reason, errorCode);
    if (this.isOpen) this.closes.push({ reason, errorCode, message, code });
    return code;
  }

  terminate(): void {
    this.terminated = true;
  }

  /** The peer sends `text` (or bytes). */
  receive(data: string | Buffer): void {
    this.handler?.onData(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  /** The connection ends (the close handshake finished, or the peer dropped it). */
  end(code = 1006): void {
    this.handler?.onClose(code);
  }

  /** The written frames as text, heart-beats (`\n`) included. */
  get texts(): string[] {
    return this.written.map((w) => w.data.toString('utf8'));
  }

  /** The commands of the written frames, heart-beats left out. */
  get commands(): string[] {
    return this.texts.filter((t) => t !== '\n').map((t) => t.slice(0, t.indexOf('\n')));
  }
}

/** A minimal upgrade request for sessions built in tests. */
export const fakeRequest = { url: '/ws', socket: { remoteAddress: '127.0.0.1' }, headers: {} } as unknown as IncomingMessage;

/** The shared services a session needs, with its events recorded. */
export function sessionServices(
  handler: ClientInboundHandler,
  interceptors: { clientInbound?: StompChannelInterceptor[]; clientOutbound?: StompChannelInterceptor[] } = {},
): SessionServices & { recorded: StompSessionEvent[] } {
  const events = new StompEvents();
  const recorded: StompSessionEvent[] = [];
  events.events$.subscribe((e) => recorded.push(e));
  return {
    handler,
    interceptors: { clientInbound: interceptors.clientInbound ?? [], clientOutbound: interceptors.clientOutbound ?? [] },
    events,
    counters: new StompCounters(),
    recorded,
  };
}
