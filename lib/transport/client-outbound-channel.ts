import { Logger } from '@nestjs/common';
import { applyInterceptors, type StompChannelInterceptor } from '../messaging/channel-interceptor.js';
import { createHeaders, type StompFrame, type StompVersion } from '../protocol/frame.js';
import { encodeFrame } from '../protocol/frame-encoder.js';
import { isTextBody, passThroughHeaders, type OutboundMessage } from '../protocol/message-frame.js';
import type { StompSessionInfo } from './stomp-session-info.js';

/** The session an outbound channel writes for. */
export interface OutboundOwner {
  readonly id: string;
  readonly version: StompVersion;
  readonly info: StompSessionInfo;
  /** False when the connection carries text only (SockJS). */
  readonly supportsBinary: boolean;
  /** A body as the text-only connection carries it (see `textOnlyBody`). */
  textOnly(body: Buffer): Buffer;
  /** Writes encoded bytes to the connection. */
  writeEncoded(data: Buffer, binary: boolean): void;
}

/** A frame, or a step (the close), waiting behind an asynchronous interceptor. */
type OutboundItem = { frame: StompFrame; binary: boolean } | (() => void);

/**
 * The client outbound channel of one session, when it has interceptors (Spring's
 * `clientOutboundChannel`): every frame to the client passes the `clientOutbound` interceptors as
 * data, then is encoded for the session's version. Order is kept: while an interceptor's Promise
 * is pending, later frames (and the close) wait behind it. Sessions without outbound interceptors
 * never create one; their frames keep the shared, pre-encoded fast path.
 */
export class ClientOutboundChannel {
  private static readonly logger = new Logger('StompSession');
  private queue?: OutboundItem[];

  constructor(
    private readonly interceptors: readonly StompChannelInterceptor[],
    private readonly owner: OutboundOwner,
  ) {}

  /** True while frames wait behind an asynchronous interceptor. */
  get holding(): boolean {
    return this.queue !== undefined;
  }

  /** Runs the interceptors on `frame` and writes what they leave, in order. */
  send(frame: StompFrame, binary: boolean): void {
    if (this.queue !== undefined) this.queue.push({ frame, binary });
    else this.intercept(frame, binary);
  }

  /** Runs `step` once the frames already on their way out are written (now, if none wait). */
  after(step: () => void): void {
    if (this.queue !== undefined) this.queue.push(step);
    else step();
  }

  /** Forgets what waits (the connection is gone, or the close would wait no longer). */
  drop(): void {
    this.queue = undefined;
  }

  private intercept(frame: StompFrame, binary: boolean): void {
    let result: StompFrame | null | Promise<StompFrame | null>;
    try {
      result = applyInterceptors(this.interceptors, frame, { channel: 'clientOutbound', session: this.owner.info });
    } catch (err) {
      this.refused(frame, err);
      return;
    }
    if (!(result instanceof Promise)) {
      this.write(result, binary);
      return;
    }
    this.queue = [];
    result
      .then(
        (f) => this.write(f, binary),
        (err: unknown) => this.refused(frame, err),
      )
      .finally(() => this.drain());
  }

  /** Carries on with the frames (and steps) that waited behind an asynchronous interceptor. */
  private drain(): void {
    const queue = this.queue;
    this.queue = undefined;
    if (queue === undefined) return;
    for (let i = 0; i < queue.length; i++) {
      const item = queue[i];
      if (typeof item === 'function') item();
      else this.intercept(item.frame, item.binary);
      if (this.holding) {
        // Asynchronous again: the rest waits behind it.
        (this.queue as OutboundItem[] | undefined)?.push(...queue.slice(i + 1));
        return;
      }
    }
  }

  private write(frame: StompFrame | null, binary: boolean): void {
    if (frame === null) return;
    // A MESSAGE body an interceptor replaced decides the frame type again (text only for UTF-8).
    const asBinary = frame.command === 'MESSAGE' ? !isTextBody(frame.headers['content-type'], frame.body) : binary;
    const body = asBinary && !this.owner.supportsBinary ? this.owner.textOnly(frame.body) : frame.body;
    this.owner.writeEncoded(encodeFrame(frame.command, frame.headers, body, this.owner.version), asBinary);
  }

  private refused(frame: StompFrame, err: unknown): void {
    const destination = frame.headers['destination'];
    ClientOutboundChannel.logger.warn(
      `Session ${this.owner.id}: an outbound interceptor refused a ${frame.command} frame${destination === undefined ? '' : ` for ${destination}`}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** A MESSAGE as a frame, for the outbound interceptors: what the encoded one would carry, in its order. */
export function messageFrame(subscriptionId: string, message: OutboundMessage, ackId: string | undefined): StompFrame {
  const headers = createHeaders();
  headers['subscription'] = subscriptionId;
  headers['destination'] = message.destination;
  headers['message-id'] = message.messageId;
  if (ackId !== undefined) headers['ack'] = ackId;
  if (message.redelivered) headers['redelivered'] = 'true';
  // Its value is the body's length whatever an interceptor writes here (see encodeFrame).
  headers['content-length'] = String(message.body.length);
  const contentType = message.headers['content-type'];
  if (contentType !== undefined) headers['content-type'] = contentType;
  const passed = passThroughHeaders(message.headers);
  for (const name in passed) if (headers[name] === undefined) headers[name] = passed[name];
  return { command: 'MESSAGE', headers, body: message.body };
}

/** CONNECTED, RECEIPT or ERROR as a frame, for the outbound interceptors. */
export function controlFrame(command: string, headers: Readonly<Record<string, string | undefined>>, body?: Buffer | string): StompFrame {
  const frameHeaders = createHeaders();
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) frameHeaders[name] = value;
  }
  const payload = body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return { command, headers: frameHeaders, body: payload };
}
