import { escapeHeader, isWritableHeaderName } from './header-escaping.js';
import { EMPTY_BODY, isEscapeExempt, mayHaveBody, type StompVersion } from './frame.js';

export type HeaderEntries = Readonly<Record<string, string | undefined>>;

/** One EOL: the heart-beat a peer sends when it has nothing else to say. */
export const HEARTBEAT_EOL: Buffer = Buffer.from('\n');

/**
 * Serializes one frame. Headers are escaped for `version`; entries whose value is `undefined` are
 * skipped. Frames that may carry a body always get a `content-length` with the body's real length:
 * in the place of one the caller passed (its value ignored), else after the other headers; frames
 * that may not carry a body never get one.
 *
 * Nothing written can be read back differently by a peer of that version: a header whose name
 * {@link isWritableHeaderName} refuses is left out, and in frames that are never escaped
 * (CONNECT/CONNECTED, STOMP 1.2 "Value Encoding") or in STOMP 1.0, line breaks in values become
 * spaces rather than start new header lines.
 */
export function encodeFrame(
  command: string,
  headers: HeaderEntries,
  body: Buffer | string = EMPTY_BODY,
  version: StompVersion = '1.2',
): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const exempt = isEscapeExempt(command);
  const withLength = mayHaveBody(command);
  let lengthWritten = false;
  let head = command + '\n';
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || !isWritableHeaderName(name)) continue;
    if (name === 'content-length') {
      // The real length, where the caller put the header (a MESSAGE keeps the server's headers first).
      if (withLength && !lengthWritten) head += `content-length:${payload.length}\n`;
      lengthWritten = true;
      continue;
    }
    head += exempt
      ? `${name}:${escapeHeader(value, '1.0')}\n`
      : `${escapeHeader(name, version)}:${escapeHeader(value, version)}\n`;
  }
  if (withLength && !lengthWritten) head += `content-length:${payload.length}\n`;
  head += '\n';
  const headLength = Buffer.byteLength(head);
  const out = Buffer.allocUnsafe(headLength + payload.length + 1);
  out.write(head, 0, 'utf8');
  payload.copy(out, headLength);
  out[out.length - 1] = 0;
  return out;
}
