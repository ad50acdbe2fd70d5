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
  // The names every SEND carries (destination, content-length) are refused without lower-casing.
  if (name === '' || RESERVED_MESSAGE_HEADERS.has(name)) return false;
  const lower = name.toLowerCase();
  return lower === name || (!RESERVED_MESSAGE_HEADERS.has(lower) && lower !== 'content-type');
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
 * A body as a text-only transport (SockJS) can carry it: UTF-8 bytes unchanged, anything else
 * decoded as UTF-8 with U+FFFD for each invalid sequence. Spring sends every STOMP frame over
 * SockJS as a text message decoded the same way; here the frame's `content-length` is then the
 * new body's, so the client's parser stays in step.
 */
export function textOnlyBody(body: Buffer): Buffer {
  return isUtf8(body) ? body : Buffer.from(body.toString('utf8'), 'utf8');
}

/**
 * Bodies longer than this many bytes are not copied into each subscriber's frame: the MESSAGE
 * goes out as WebSocket fragments (headers, then the one shared body, then the NUL), so a 4 MiB
 * message fanned out to 1000 subscribers costs 4 MiB, not 4 GB. Shorter bodies take the faster
 * single-buffer path (one copy per subscriber). 16 KiB.
 */
export const SHARED_BODY_THRESHOLD = 16 * 1024;

/** The NUL that ends every frame, as a fragment of its own after a shared body. */
export const FRAME_TERMINATOR: Buffer = Buffer.from([0]);

/**
 * A message about to be delivered to many subscriptions. Everything but the per-subscription
 * headers is serialized once per STOMP version (lazily), so fan-out costs one allocation and
 * one copy per subscriber, and no header work at all. A body longer than
 * {@link SHARED_BODY_THRESHOLD} is never copied: see {@link sharesBody} and {@link headFor}.
 */
export class OutboundMessage {
  /** True when the frame must go out as a binary WebSocket message. */
  readonly binary: boolean;
  /**
   * True when the body is longer than {@link SHARED_BODY_THRESHOLD}: deliver
   * {@link headFor}, then {@link body} itself, then {@link FRAME_TERMINATOR}, as fragments of
   * one WebSocket message, rather than {@link frameFor}'s copy.
   */
  readonly sharesBody: boolean;
  private readonly shared: Partial<Record<StompVersion, Buffer>> = {};
  /** {@link headers} once filtered; unset while {@link given} is a sender's own (see {@link fromSender}). */
  private passThrough: StompHeaders | undefined;

  constructor(
    readonly destination: string,
    readonly messageId: string,
    /**
     * Sender headers to pass through and `content-type`. Names that {@link isPassThroughHeader}
     * or `isWritableHeaderName` (empty, `:`, CR, LF, NUL) refuse are not written, whoever built
     * the message.
     */
    private readonly given: StompHeaders,
    readonly body: Buffer,
    /** Adds `redelivered:true` (the broker's word that an earlier delivery went unsettled). */
    readonly redelivered = false,
  ) {
    this.passThrough = given;
    // A sender's `content-type` passes through under exactly that name, filtered or not.
    this.binary = !isTextBody(given['content-type'], body);
    this.sharesBody = body.length > SHARED_BODY_THRESHOLD;
  }

  /**
   * A message from a sender's own headers (a SEND's, with `destination`, `receipt` and the like):
   * the same as `new OutboundMessage(destination, messageId, passThroughHeaders(senderHeaders),
   * body)`, but the filtered copy is only made when {@link headers} is first read. A message
   * delivered at once to `auto` subscriptions (most topic traffic) never needs it: its frame is
   * serialized straight from the sender's headers, through the same filter. Whatever holds the
   * message beyond the call that publishes it (a queue, an unacknowledged delivery) reads
   * {@link headers} (its byte count) first, and from then on only the copy is used; so
   * `senderHeaders` must not change until then.
   */
  static fromSender(destination: string, messageId: string, senderHeaders: StompHeaders, body: Buffer): OutboundMessage {
    const message = new OutboundMessage(destination, messageId, senderHeaders, body);
    message.passThrough = undefined;
    return message;
  }

  /** Sender headers to pass through, and `content-type` (see {@link passThroughHeaders}). */
  get headers(): StompHeaders {
    return (this.passThrough ??= passThroughHeaders(this.given));
  }

  /**
   * `destination`, `message-id`, `redelivered`, `content-length`, `content-type`, then the
   * sender's other headers, blank line, and (unless {@link sharesBody}) body and NUL. The
   * server's own headers come first because the first of repeated headers wins (STOMP 1.2,
   * "Repeated Header Entries"), so nothing a sender wrote can stand in for them even in a peer
   * that ignores our filtering.
   */
  sharedPart(version: StompVersion): Buffer {
    const cached = this.shared[version];
    if (cached) return cached;
    let head =
      `destination:${escapeHeader(this.destination, version)}\n` +
      `message-id:${escapeHeader(this.messageId, version)}\n` +
      (this.redelivered ? 'redelivered:true\n' : '') +
      `content-length:${this.body.length}\n`;
    // The filtered copy once there is one, else the sender's own headers through the same filter.
    const headers = this.passThrough ?? this.given;
    const contentType = headers['content-type'];
    if (contentType !== undefined) head += `content-type:${escapeHeader(contentType, version)}\n`;
    for (const name in headers) {
      if (name === 'content-type' || !isPassThroughHeader(name) || !isWritableHeaderName(name)) continue;
      head += `${escapeHeader(name, version)}:${escapeHeader(headers[name], version)}\n`;
    }
    head += '\n';
    let out: Buffer;
    if (this.sharesBody) {
      out = Buffer.from(head, 'utf8');
    } else {
      const headLength = Buffer.byteLength(head);
      out = Buffer.allocUnsafe(headLength + this.body.length + 1);
      out.write(head, 0, 'utf8');
      this.body.copy(out, headLength);
      out[out.length - 1] = 0;
    }
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
   * This message as a text-only transport (SockJS) can carry it: itself when its body is UTF-8
   * (whatever its `content-type`), else a copy whose body is {@link textOnlyBody}'s (made once
   * per message, however many subscribers receive it).
   */
  textOnly(): OutboundMessage {
    if (!this.binary || isUtf8(this.body)) return this;
    return (this.textVariant ??= new OutboundMessage(this.destination, this.messageId, this.headers, textOnlyBody(this.body), this.redelivered));
  }

  private textVariant?: OutboundMessage;

  /**
   * The complete MESSAGE frame for one subscription, in one new Buffer. `prefix` comes from
   * {@link messageFramePrefix} and is cached by the subscription. When {@link sharesBody}, this
   * copies the body: deliver with {@link headFor} instead.
   */
  frameFor(prefix: Buffer, version: StompVersion, ackId?: string): Buffer {
    const shared = this.sharedPart(version);
    if (this.sharesBody) {
      return Buffer.concat([this.headFor(prefix, version, ackId), this.body, FRAME_TERMINATOR]);
    }
    if (ackId === undefined) return Buffer.concat([prefix, shared], prefix.length + shared.length);
    return Buffer.concat([prefix, Buffer.from(`ack:${escapeHeader(ackId, version)}\n`), shared]);
  }

  /**
   * For a message that {@link sharesBody}: one subscription's command line and headers through
   * the blank line (a few hundred bytes). The frame is this, then {@link body}, then
   * {@link FRAME_TERMINATOR}.
   */
  headFor(prefix: Buffer, version: StompVersion, ackId?: string): Buffer {
    const head = this.sharesBody ? this.sharedPart(version) : this.sharedHead(version);
    if (ackId === undefined) return Buffer.concat([prefix, head], prefix.length + head.length);
    return Buffer.concat([prefix, Buffer.from(`ack:${escapeHeader(ackId, version)}\n`), head]);
  }

  /** The headers of a small message (whose {@link sharedPart} holds the body too). */
  private sharedHead(version: StompVersion): Buffer {
    const shared = this.sharedPart(version);
    return shared.subarray(0, shared.length - this.body.length - 1);
  }
}

/** `MESSAGE\nsubscription:<id>\n`, built once per subscription. */
export function messageFramePrefix(subscriptionId: string, version: StompVersion): Buffer {
  return Buffer.from(`MESSAGE\nsubscription:${escapeHeader(subscriptionId, version)}\n`);
}
