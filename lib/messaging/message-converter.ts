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
 * Converts between message bodies and payloads by `content-type`, the way Spring's default
 * converters do:
 * - reading: JSON types → parsed value; `text/*` → string; any other type → `Buffer`;
 *   no content-type → parsed JSON if the body is JSON, else a string (else a `Buffer`);
 * - writing: `Buffer`/`Uint8Array` → `application/octet-stream`; strings →
 *   `text/plain;charset=UTF-8`; anything else → JSON, `application/json`.
 */
export class MessageConverter {
  fromMessage(body: Buffer, contentType: string | undefined): unknown {
    if (contentType === undefined || contentType === '') {
      if (!isUtf8(body)) return body;
      const text = body.toString('utf8');
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
    }
    if (JSON_TYPE.test(contentType)) {
      try {
        return JSON.parse(body.toString('utf8')) as unknown;
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
