import { isUtf8 } from 'node:buffer';
import { escapeHeader } from './header-escaping.js';
import type { StompHeaders, StompVersion } from './frame.js';

/** Headers the broker sets on every MESSAGE; a sender's values for them are dropped. */
export const RESERVED_MESSAGE_HEADERS: ReadonlySet<string> = new Set([
  'destination',
  'message-id',
  'subscription',
  'ack',
  'content-length',
  'receipt',
  'transaction',
]);

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
    /** Sender headers to pass through (reserved names already removed) and `content-type`. */
    readonly headers: StompHeaders,
    readonly body: Buffer,
  ) {
    this.binary = !isTextBody(headers['content-type'], body);
  }

  /** `destination`, `message-id`, the other headers, `content-length`, blank line, body, NUL. */
  sharedPart(version: StompVersion): Buffer {
    const cached = this.shared[version];
    if (cached) return cached;
    let head =
      `destination:${escapeHeader(this.destination, version)}\n` +
      `message-id:${escapeHeader(this.messageId, version)}\n`;
    for (const name in this.headers) {
      head += `${escapeHeader(name, version)}:${escapeHeader(this.headers[name], version)}\n`;
    }
    head += `content-length:${this.body.length}\n\n`;
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
      this.variant = new OutboundMessage(destination, this.messageId, this.headers, this.body);
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
