import { isUtf8 } from 'node:buffer';
import { escapeHeader, isWritableHeaderName } from './header-escaping.js';
import { createHeaders, type StompHeaders, type StompVersion } from './frame.js';

/**
 * Headers the server or broker vouches for on a MESSAGE, and a SEND's own control headers. A
 * sender's header with one of these names, in any letter case (`Message-Id`, `DESTINATION`), is
 * dropped on the way to subscribers: a subscriber must be able to trust `redelivered`,
 * `user-name` and the framing headers, whatever client library (and case rule) it uses.
 */
export const RESERVED_MESSAGE_HEADERS: ReadonlySet<string> = new Set([
  'destination',
  'message-id',
  'subscription',
  'ack',
  'content-length',
  'receipt',
  'transaction',
  'redelivered',
  'user-name',
]);

/**
 * Whether a sender's header passes through to subscribers: not a {@link RESERVED_MESSAGE_HEADERS}
 * name in any case, not a case variant of `content-type` (only `content-type` itself, the one
 * that types the body, passes), and not empty.
 */
export function isPassThroughHeader(name: string): boolean {
  if (name === 'content-type') return true;
  if (name === '') return false;
  const lower = name.toLowerCase();
  return !RESERVED_MESSAGE_HEADERS.has(lower) && lower !== 'content-type';
}

/** The sender headers that reach subscribers (see {@link isPassThroughHeader}), in their order. */
export function passThroughHeaders(headers: Readonly<StompHeaders>): StompHeaders {
  const out = createHeaders();
  for (const name in headers) if (isPassThroughHeader(name)) out[name] = headers[name];
  return out;
}

const TEXT_TYPE = /^(text\/|application\/(json|xml|javascript)\b|[^;]*\+(json|xml)\b)|;\s*charset=utf-?8\b/i;

/**
 * Whether a body travels in a text WebSocket frame: it must be valid UTF-8 and, when a
 * content-type is given, the type must be textual. Everything else goes as a binary frame.
 */
export function isTextBody(contentType: string | undefined, body: Buffer): boolean {
  if (contentType !== undefined && contentType !== '' && !TEXT_TYPE.test(contentType)) return false;
  return isUtf8(body);
}

/**
 * A message about to be delivered to many subscriptions. Everything but the per-subscription
 * headers is serialized once per STOMP version (lazily), so fan-out costs one allocation and
 * one copy per subscriber, and no header work at all.
 */
export class OutboundMessage {
  /** True when the frame must go out as a binary WebSocket message. */
  readonly binary: boolean;
  private readonly shared: Partial<Record<StompVersion, Buffer>> = {};

  constructor(
    readonly destination: string,
    readonly messageId: string,
    /**
     * Sender headers to pass through and `content-type`. Names that {@link isPassThroughHeader}
     * or `isWritableHeaderName` (empty, `:`, CR, LF, NUL) refuse are not written, whoever built
     * the message.
     */
    readonly headers: StompHeaders,
    readonly body: Buffer,
    /** Adds `redelivered:true` (the broker's word that an earlier delivery went unsettled). */
    readonly redelivered = false,
  ) {
    this.binary = !isTextBody(headers['content-type'], body);
  }

  /**
   * `destination`, `message-id`, `redelivered`, `content-length`, `content-type`, then the
   * sender's other headers, blank line, body, NUL. The server's own headers come first because
   * the first of repeated headers wins (STOMP 1.2, "Repeated Header Entries"), so nothing a
   * sender wrote can stand in for them even in a peer that ignores our filtering.
   */
  sharedPart(version: StompVersion): Buffer {
    const cached = this.shared[version];
    if (cached) return cached;
    let head =
      `destination:${escapeHeader(this.destination, version)}\n` +
      `message-id:${escapeHeader(this.messageId, version)}\n` +
      (this.redelivered ? 'redelivered:true\n' : '') +
      `content-length:${this.body.length}\n`;
    const contentType = this.headers['content-type'];
    if (contentType !== undefined) head += `content-type:${escapeHeader(contentType, version)}\n`;
    for (const name in this.headers) {
      if (name === 'content-type' || !isPassThroughHeader(name) || !isWritableHeaderName(name)) continue;
      head += `${escapeHeader(name, version)}:${escapeHeader(this.headers[name], version)}\n`;
    }
    head += '\n';
    const headLength = Buffer.byteLength(head);
    const out = Buffer.allocUnsafe(headLength + this.body.length + 1);
    out.write(head, 0, 'utf8');
    this.body.copy(out, headLength);
    out[out.length - 1] = 0;
    this.shared[version] = out;
    return out;
  }

  /**
   * The same message under another `destination` header, e.g. the `/user/queue/x` a client
   * subscribed to rather than the broker's `/queue/x-user<session>`. The last variant is cached.
   */
  withDestination(destination: string): OutboundMessage {
    if (destination === this.destination) return this;
    if (this.variant?.destination !== destination) {
      this.variant = new OutboundMessage(destination, this.messageId, this.headers, this.body, this.redelivered);
    }
    return this.variant;
  }

  private variant?: OutboundMessage;

  /**
   * The complete MESSAGE frame for one subscription. `prefix` comes from
   * {@link messageFramePrefix} and is cached by the subscription.
   */
  frameFor(prefix: Buffer, version: StompVersion, ackId?: string): Buffer {
    const shared = this.sharedPart(version);
    if (ackId === undefined) return Buffer.concat([prefix, shared], prefix.length + shared.length);
    return Buffer.concat([prefix, Buffer.from(`ack:${escapeHeader(ackId, version)}\n`), shared]);
  }
}

/** `MESSAGE\nsubscription:<id>\n`, built once per subscription. */
export function messageFramePrefix(subscriptionId: string, version: StompVersion): Buffer {
  return Buffer.from(`MESSAGE\nsubscription:${escapeHeader(subscriptionId, version)}\n`);
}
