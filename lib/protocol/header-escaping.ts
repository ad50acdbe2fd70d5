import { StompProtocolError } from './stomp-protocol-error.js';
import type { StompVersion } from './frame.js';

const BACKSLASH = 0x5c;

/**
 * Reverses header escaping in one left-to-right pass, so `\\n` stays a backslash followed by `n`.
 * 1.0 has no escaping; 1.1 knows `\n`, `\c` and `\\`; 1.2 adds `\r`. Any other escape is fatal.
 */
export function unescapeHeader(value: string, version: StompVersion): string {
  if (version === '1.0' || value.indexOf('\\') === -1) return value;
  let out = '';
  let from = 0;
  for (let i = value.indexOf('\\'); i !== -1; i = value.indexOf('\\', from)) {
    out += value.slice(from, i);
    const next = value.charCodeAt(i + 1);
    if (next === 0x6e /* n */) out += '\n';
    else if (next === 0x63 /* c */) out += ':';
    else if (next === BACKSLASH) out += '\\';
    else if (next === 0x72 /* r */ && version === '1.2') out += '\r';
    else {
      const seq = Number.isNaN(next) ? '\\ at end of value' : `\\${String.fromCharCode(next)}`;
      throw new StompProtocolError(
        'INVALID_ESCAPE',
        `Undefined escape sequence ${seq} in a header (STOMP ${version})`,
      );
    }
    from = i + 2;
  }
  return out + value.slice(from);
}

// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE_12 = /[\r\n:\\\0]/;
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE_11 = /[\n:\\\0]/;

// eslint-disable-next-line no-control-regex
const UNSAFE_10 = /[\r\n\0]/;
// eslint-disable-next-line no-control-regex
const UNSAFE_10_ALL = /[\r\n\0]/g;

/**
 * Whether `value` can be written where headers are never escaped (CONNECT, CONNECTED, STOMP 1.0,
 * STOMP 1.2 "Value Encoding"): no CR, LF or NUL, which would end the header or the frame.
 */
export function isWritableUnescaped(value: string): boolean {
  return !UNSAFE_10.test(value);
}

/** What a NUL in a header value is written as: no STOMP version can carry a NUL in a header. */
export const NUL_REPLACEMENT = '\uFFFD';

/**
 * Escapes a header name or value for the given version. 1.0 has no escaping, so line breaks
 * become spaces there: passed through, they would let one client's header inject headers or
 * whole frames into a 1.0 subscriber's stream. 1.1 cannot represent CR and leaves it. A NUL,
 * which ends the frame for a reader in every version (STOMP 1.2, "Augmented BNF") and has no
 * escape, becomes U+FFFD ({@link NUL_REPLACEMENT}), so the server never writes a NUL inside a
 * header whoever supplied the value (the decoder refuses NUL in client header values).
 */
export function escapeHeader(value: string, version: StompVersion): string {
  if (version === '1.0') {
    return UNSAFE_10.test(value)
      ? value.replace(UNSAFE_10_ALL, (ch) => (ch === '\0' ? NUL_REPLACEMENT : ' '))
      : value;
  }
  if (!(version === '1.2' ? NEEDS_ESCAPE_12 : NEEDS_ESCAPE_11).test(value)) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === ':') out += '\\c';
    else if (ch === '\r' && version === '1.2') out += '\\r';
    else if (ch === '\0') out += NUL_REPLACEMENT;
    else out += ch;
  }
  return out;
}

// eslint-disable-next-line no-control-regex
const UNWRITABLE_NAME = /[:\r\n\0]/;

/**
 * Whether a header name can be written to any peer and read back unchanged: not empty, and no
 * `:`, CR, LF or NUL. Escaping could carry `:` and LF to a 1.1/1.2 peer, but not to a 1.0 peer or
 * in CONNECT/CONNECTED (never escaped), and the decoder refuses such names from clients for the
 * same reason, so the server never writes them either.
 */
export function isWritableHeaderName(name: string): boolean {
  return name.length > 0 && !UNWRITABLE_NAME.test(name);
}
