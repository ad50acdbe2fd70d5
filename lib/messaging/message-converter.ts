import { isUtf8 } from 'node:buffer';
import { createHeaders, type StompHeaders } from '../protocol/frame.js';

/** A payload became a body. */
export interface ConvertedMessage {
  body: Buffer;
  headers: StompHeaders;
}

/** A body that its content-type says is JSON but is not. */
export class MessageConversionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MessageConversionError';
  }
}

const JSON_TYPE = /^application\/([^;]*\+)?json\b/i;
const TEXT_TYPE = /^text\//i;
/**
 * The JSON text of a body, without a leading UTF-8 byte-order mark: JSON text must not start with
 * one (RFC 8259 §8.1), but parsers may ignore it, and Jackson (Spring's converter) does.
 */
function jsonText(body: Buffer, maxNestingDepth: number): string {
  // U+FEFF in UTF-8 is EF BB BF.
  const start = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  const text = body.toString('utf8', start);
  // Nesting deeper than n levels takes at least 2n characters: short bodies need no scan.
  if (text.length > 2 * maxNestingDepth && nestedDeeperThan(text, maxNestingDepth)) {
    throw new SyntaxError(`nested deeper than ${maxNestingDepth} levels`);
  }
  return text;
}

/** Whether `{`/`[` outside strings nest deeper than `max` anywhere in `text`. */
function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** Bounds of {@link MessageConverter}. */
export interface MessageConverterLimits {
  /** Levels of JSON nesting accepted when reading; deeper is a conversion error. Default 1000 (Jackson's). */
  maxJsonNestingDepth?: number;
}

/**
 * Converts between message bodies and payloads by `content-type`, the way Spring's default
 * converters do:
 * - reading: JSON types → parsed value; `text/*` → string; any other type → `Buffer`;
 *   no content-type → parsed JSON if the body is JSON, else a string (else a `Buffer`);
 *   a UTF-8 byte-order mark before JSON is skipped, as Jackson does;
 * - writing: `Buffer`/`Uint8Array` → `application/octet-stream`; strings →
 *   `text/plain;charset=UTF-8`; anything else → JSON, `application/json`.
 */
export class MessageConverter {
  private readonly maxJsonNestingDepth: number;

  constructor(limits: MessageConverterLimits = {}) {
    this.maxJsonNestingDepth = limits.maxJsonNestingDepth ?? 1000;
  }

  /**
   * The payload of a body. Throws {@link MessageConversionError} when a JSON content-type's body
   * does not parse or nests deeper than `maxJsonNestingDepth`.
   */
  fromMessage(body: Buffer, contentType: string | undefined): unknown {
    if (contentType === undefined || contentType === '') {
      if (!isUtf8(body)) return body;
      try {
        return JSON.parse(jsonText(body, this.maxJsonNestingDepth)) as unknown;
      } catch {
        return body.toString('utf8');
      }
    }
    if (JSON_TYPE.test(contentType)) {
      try {
        return JSON.parse(jsonText(body, this.maxJsonNestingDepth)) as unknown;
      } catch (err) {
        throw new MessageConversionError(`Body is not valid JSON: ${(err as Error).message}`);
      }
    }
    if (TEXT_TYPE.test(contentType)) return body.toString('utf8');
    return body;
  }

  toMessage(payload: unknown, headers?: Readonly<Record<string, string>>): ConvertedMessage {
    const out = createHeaders();
    if (headers) Object.assign(out, headers);
    let body: Buffer;
    let contentType: string;
    if (Buffer.isBuffer(payload)) {
      body = payload;
      contentType = 'application/octet-stream';
    } else if (payload instanceof Uint8Array) {
      body = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
      contentType = 'application/octet-stream';
    } else if (typeof payload === 'string') {
      body = Buffer.from(payload, 'utf8');
      contentType = 'text/plain;charset=UTF-8';
    } else {
      body = Buffer.from(JSON.stringify(payload) ?? 'null', 'utf8');
      contentType = 'application/json';
    }
    if (out['content-type'] === undefined) out['content-type'] = contentType;
    return { body, headers: out };
  }
}
