import { isUtf8 } from 'node:buffer';
import {
  createHeaders,
  isKnownCommand,
  EMPTY_BODY,
  isEscapeExempt,
  mayHaveBody,
  type StompFrame,
  type StompHeaders,
  type StompVersion,
} from './frame.js';
import { isWritableHeaderName, unescapeHeader } from './header-escaping.js';
import { StompProtocolError } from './stomp-protocol-error.js';

export interface FrameDecoderLimits {
  /** Bytes in one frame: command, headers, EOLs and body. */
  maxFrameSize: number;
  /** Header lines in one frame. */
  maxHeaders: number;
  /** Bytes in the command line or in one header line, EOL excluded. */
  maxHeaderLineLength: number;
  /** Bytes in one frame body. */
  maxBodyLength: number;
}

export interface FrameDecoderHandlers {
  /** A complete frame. Calling {@link FrameDecoder.pause} here stops decoding right after it. */
  onFrame(frame: StompFrame): void;
  /** An EOL between frames: the peer's heart-beat. */
  onHeartbeat?(): void;
}

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;

const enum State {
  Command,
  Header,
  FixedBody,
  Terminator,
  OpenBody,
}

const CONTENT_LENGTH = /^[0-9]+$/;
/** Digits of a content-length beyond which it is surely over any limit (2^53 has 16). */
const MAX_CONTENT_LENGTH_DIGITS = 15;


/** Smallest capacity of the growable line and body buffers. */
const MIN_CAPACITY = 256;
/** What is allocated at first for a body with a content-length; it grows as bytes arrive. */
const FIRST_FIXED_BODY = 64 * 1024;

/**
 * Bodies of at most {@link SMALL_BODY} bytes are carved from shared slabs of {@link SLAB_BYTES}
 * instead of each getting an ArrayBuffer of its own, which costs about three times as much to
 * create and to collect (with 100-byte bodies, a fifth of the decoding). A retained small body
 * keeps at most its slab alive: 512 bytes, which is at most twice what the byte bounds count for
 * any message (`messageSize`: a 256-byte overhead plus the body and headers). Not Node's shared
 * pool: its 8 KiB slabs would let a 1-byte body pin 32 times its count.
 */
const SLAB_BYTES = 512;
const SMALL_BODY = 256;
let slab: Buffer = EMPTY_BODY;
let slabUsed = 0;

/**
 * A new Buffer of `size` bytes (not zeroed) that no other body shares memory with: a slice of the
 * current slab for a small body (see {@link SMALL_BODY}), otherwise an ArrayBuffer of its own.
 */
function bodyBuffer(size: number): Buffer {
  if (size > SMALL_BODY) return Buffer.allocUnsafeSlow(size);
  if (slabUsed + size > slab.length) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += size;
  return out;
}

/** Placeholder between frames; never written to (a command line replaces it first). */
const NO_HEADERS: StompHeaders = Object.freeze(createHeaders()) as StompHeaders;

/**
 * Incremental, byte-level STOMP decoder. Feed it bytes as they arrive with {@link push}; it calls
 * `onFrame` for every complete frame, so a frame may span many chunks and a chunk may hold many
 * frames. Each byte is looked at once: the decoder keeps its place between chunks and never
 * re-scans buffered input. Header escaping follows {@link version}, which the session sets after
 * CONNECT; because frames are delivered synchronously, a CONNECT followed by other frames in one
 * chunk is decoded with the right rules.
 *
 * Bytes of a frame in progress are copied into one growable buffer per line and one for an
 * unsized body (capacity at most twice the bytes held), never one object per chunk: a frame
 * trickled in one byte per WebSocket message costs what its bytes cost.
 *
 * {@link pause} (from `onFrame`) stops decoding mid-chunk; {@link push} then returns how many
 * bytes it consumed, and the caller pushes the rest later.
 *
 * After a {@link StompProtocolError} the decoder is failed and ignores further input. An error
 * found inside a frame that asked for a receipt carries it as the ERROR header `receipt-id`
 * (in {@link StompProtocolError.headers}), even when the `receipt` header comes after the line
 * that failed: the decoder looks ahead in the header block bytes it already holds.
 */
export class FrameDecoder {
  version: StompVersion = '1.2';

  private state = State.Command;
  /** The current line's bytes from earlier chunks (`lineLength` of them are used). */
  private lineBuffer: Buffer = EMPTY_BODY;
  private lineLength = 0;
  private frameSize = 0;
  private command = '';
  private headers: StompHeaders = NO_HEADERS;
  private headerCount = 0;
  /** A sized body: `fixedSize` declared bytes, `fixedOffset` of them received into `fixedBody`. */
  private fixedBody: Buffer = EMPTY_BODY;
  private fixedOffset = 0;
  private fixedSize = 0;
  /** An unsized body's bytes so far (`bodyLength` of them are used). */
  private bodyBuffer: Buffer = EMPTY_BODY;
  private bodyLength = 0;
  private stopped = false;
  private paused = false;

  constructor(
    private readonly limits: FrameDecoderLimits,
    private readonly handlers: FrameDecoderHandlers,
  ) {}

  /** Stops decoding: the rest of the current chunk and every later chunk are ignored. */
  stop(): void {
    this.stopped = true;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Stops decoding after the frame being delivered (call it from `onFrame`): {@link push} returns
   * at once with the bytes it consumed. The next `push` resumes.
   */
  pause(): void {
    this.paused = true;
  }

  /**
   * Decodes `chunk`. Returns how many of its bytes were consumed: all of them, unless
   * {@link pause} was called, in which case the caller pushes `chunk.subarray(consumed)` later.
   */
  push(chunk: Buffer): number {
    if (this.stopped) return chunk.length;
    this.paused = false;
    try {
      return this.consume(chunk);
    } catch (err) {
      this.stopped = true;
      throw this.withReceipt(err, chunk);
    }
  }

  private consume(chunk: Buffer): number {
    const length = chunk.length;
    let pos = 0;
    this.lookAheadFrom = -1;
    while (pos < length && !this.stopped && !this.paused) {
      if (this.state === State.Command && this.lineLength === 0) {
        const next = this.wholeFrame(chunk, pos);
        if (next !== -1) {
          pos = next;
          continue;
        }
      }
      switch (this.state) {
        case State.Command:
        case State.Header: {
          const lf = chunk.indexOf(LF, pos);
          const end = lf === -1 ? length : lf;
          const previous = this.lineLength;
          this.lineLength += end - pos;
          // A CR before the LF is part of the EOL, so allow one extra byte for it.
          if (this.lineLength > this.limits.maxHeaderLineLength + 1) {
            throw new StompProtocolError(
              'HEADER_LINE_TOO_LONG',
              `${this.state === State.Command ? 'Command' : 'Header'} line exceeds the limit of ${this.limits.maxHeaderLineLength} bytes (limits.maxHeaderLineLength)`,
            );
          }
          this.addFrameBytes(end - pos);
          if (lf === -1) {
            this.lineBuffer = append(this.lineBuffer, previous, chunk, pos, length);
            pos = length;
          } else {
            const start = pos;
            this.lineLength = 0;
            pos = lf + 1;
            if (previous === 0) {
              this.onLine(chunk, start, lf, chunk, lf + 1);
            } else {
              const line = append(this.lineBuffer, previous, chunk, start, lf);
              this.lineBuffer = EMPTY_BODY;
              this.onLine(line, 0, previous + lf - start, chunk, lf + 1);
            }
          }
          break;
        }
        case State.FixedBody: {
          const take = Math.min(this.fixedSize - this.fixedOffset, length - pos);
          if (this.fixedOffset + take > this.fixedBody.length) {
            // Grow with what arrives, never past the declared size: a content-length alone
            // (4 MiB declared, 1 byte sent) does not make the server hold 4 MiB.
            const grown = Buffer.allocUnsafeSlow(
              Math.min(this.fixedSize, Math.max(this.fixedOffset + take, 2 * this.fixedBody.length)),
            );
            this.fixedBody.copy(grown, 0, 0, this.fixedOffset);
            this.fixedBody = grown;
          }
          chunk.copy(this.fixedBody, this.fixedOffset, pos, pos + take);
          this.fixedOffset += take;
          pos += take;
          if (this.fixedOffset === this.fixedSize) this.state = State.Terminator;
          break;
        }
        case State.Terminator: {
          if (chunk[pos] !== NUL) {
            throw new StompProtocolError(
              'MISSING_NULL_TERMINATOR',
              `Frame body is not followed by a NULL octet after content-length ${this.fixedSize} bytes`,
            );
          }
          pos += 1;
          const body = this.fixedBody;
          this.fixedBody = EMPTY_BODY;
          this.emit(body);
          break;
        }
        case State.OpenBody: {
          const nul = chunk.indexOf(NUL, pos);
          const end = nul === -1 ? length : nul;
          this.bodyLength += end - pos;
          if (this.bodyLength > this.limits.maxBodyLength) {
            throw new StompProtocolError(
              'BODY_TOO_LARGE',
              `Frame body exceeds the limit of ${this.limits.maxBodyLength} bytes (limits.maxBodyLength)`,
            );
          }
          this.addFrameBytes(end - pos);
          const before = this.bodyLength - (end - pos);
          if (nul === -1) {
            this.bodyBuffer = append(this.bodyBuffer, before, chunk, pos, length);
            pos = length;
          } else {
            let body: Buffer;
            if (before === 0) body = chunk.subarray(pos, nul);
            else {
              body = append(this.bodyBuffer, before, chunk, pos, nul).subarray(0, this.bodyLength);
            }
            this.bodyBuffer = EMPTY_BODY;
            this.bodyLength = 0;
            pos = nul + 1;
            this.emit(ownedBody(body));
          }
          break;
        }
      }
    }
    return pos;
  }

  /**
   * The fast path for the common case: a whole frame at `chunk[pos]` with plain headers. When
   * the command line, the headers, the body and its NUL are all in `chunk`, the header block is
   * ASCII with LF line ends and has no backslash, NUL or other irregularity, and no limit is
   * reached, the frame is decoded with one string conversion for the whole header block (instead
   * of one per line), emitted, and the position after its NUL is returned. Otherwise nothing is
   * changed and -1 is returned: the general path then decodes the same bytes, with all its
   * checks and error messages. So this path only ever accepts what the general path accepts, and
   * builds the same frame (same command, headers in the same order with the first of repeated
   * names winning, and a body that owns its bytes).
   *
   * It looks at the same bytes the general path would for that frame and gives up at the first
   * line that is not plain, so trying costs at most one more scan of the frame's header lines.
   */
  private wholeFrame(chunk: Buffer, pos: number): number {
    const length = chunk.length;
    const first = chunk[pos];
    if (first === LF || first === CR) return -1; // heart-beats and CRLF frames: general path
    const { maxHeaderLineLength, maxHeaders, maxFrameSize, maxBodyLength } = this.limits;
    // The blank line that ends the header block, found line by line as the general path does.
    let lineStart = pos;
    let lines = 0;
    let blank = -1;
    while (lineStart < length) {
      const lf = chunk.indexOf(LF, lineStart);
      if (lf === -1) return -1;
      if (lf === lineStart) {
        blank = lf;
        break;
      }
      if (lf - lineStart > maxHeaderLineLength || chunk[lf - 1] === CR) return -1;
      // The command line and at most maxHeaders header lines.
      if (++lines > maxHeaders + 1) return -1;
      lineStart = lf + 1;
    }
    if (blank === -1) return -1;
    const bodyStart = blank + 1;
    const headBytes = bodyStart - pos;
    if (headBytes > maxFrameSize) return -1;
    const head = chunk.toString('utf8', pos, blank);
    // As many UTF-16 units as bytes and no U+FFFD: every byte was ASCII, so string offsets are
    // byte offsets and the line limits checked above hold for the string too. A CR inside a line
    // is left to the general path too: in a header name it must be refused.
    if (
      head.length !== blank - pos ||
      head.includes('\uFFFD') ||
      head.includes('\\') ||
      head.includes('\0') ||
      head.includes('\r')
    ) {
      return -1;
    }
    let eol = head.indexOf('\n');
    if (eol === -1) eol = head.length;
    const command = head.slice(0, eol);
    const headers = createHeaders();
    for (let start = eol + 1; start < head.length; start = eol + 1) {
      eol = head.indexOf('\n', start);
      if (eol === -1) eol = head.length;
      const colon = head.indexOf(':', start);
      if (colon <= start || colon >= eol) return -1; // empty name or no colon: general path
      const name = head.slice(start, colon);
      if (!(name in headers)) headers[name] = head.slice(colon + 1, eol);
    }
    let body: Buffer;
    let next: number;
    const declared = headers['content-length'];
    if (declared !== undefined) {
      const size = decimal(declared);
      if (size < 0 || size > maxBodyLength || headBytes + size > maxFrameSize) return -1;
      const end = bodyStart + size;
      if (end >= length || chunk[end] !== NUL) return -1;
      if (size === 0) body = EMPTY_BODY;
      else {
        body = bodyBuffer(size);
        chunk.copy(body, 0, bodyStart, end);
      }
      next = end + 1;
    } else {
      const nul = chunk.indexOf(NUL, bodyStart);
      if (nul === -1 || nul - bodyStart > maxBodyLength || headBytes + (nul - bodyStart) > maxFrameSize) return -1;
      body = ownedBody(chunk.subarray(bodyStart, nul));
      next = nul + 1;
    }
    if (body.length > 0 && !mayHaveBody(command) && isKnownCommand(command)) return -1;
    // As in emit: between frames before the handler runs.
    this.command = command;
    this.state = State.Command;
    this.lookAheadFrom = -1;
    this.frameSize = 0;
    this.headers = NO_HEADERS;
    this.handlers.onFrame({ command, headers, body });
    return next;
  }

  /**
   * Adds the `receipt` of the frame being decoded to a protocol error as `receipt-id`: from the
   * headers decoded so far or, failing that, from the header lines still ahead in `chunk`.
   */
  private withReceipt(err: unknown, chunk: Buffer): unknown {
    if (!(err instanceof StompProtocolError) || err.headers?.['receipt-id'] !== undefined) return err;
    let receipt: string | undefined = this.headers['receipt'];
    // Only while the header block is being read: once it is complete, what follows is body.
    const inHeaders = this.state === State.Command || this.state === State.Header;
    if (receipt === undefined && inHeaders && this.lookAheadFrom >= 0) {
      receipt = this.receiptAhead(chunk, this.lookAheadFrom);
    }
    if (receipt === undefined) return err;
    const withReceipt = new StompProtocolError(err.code, err.message, { ...err.headers, 'receipt-id': receipt });
    withReceipt.stack = err.stack;
    return withReceipt;
  }

  /** Where the header lines not yet decoded start in the current chunk; -1 when unknown. */
  private lookAheadFrom = -1;

  /**
   * Finds a `receipt` header among the header lines of `chunk` from `from` up to the blank line
   * that ends the header block, reading no more lines and bytes than the header limits allow.
   */
  private receiptAhead(chunk: Buffer, from: number): string | undefined {
    const maxBytes = Math.min(chunk.length, from + this.limits.maxHeaders * (this.limits.maxHeaderLineLength + 2));
    let pos = from;
    for (let lines = this.headerCount; lines <= this.limits.maxHeaders && pos < maxBytes; lines++) {
      const lf = chunk.indexOf(LF, pos);
      if (lf === -1 || lf >= maxBytes) return undefined;
      const end = lf > pos && chunk[lf - 1] === CR ? lf - 1 : lf;
      if (end === pos) return undefined; // the blank line: end of the headers
      if (end - pos > 8 && chunk.toString('latin1', pos, pos + 8) === 'receipt:') {
        const raw = chunk.toString('utf8', pos + 8, end);
        if (isEscapeExempt(this.command)) return raw;
        try {
          return unescapeHeader(raw, this.version);
        } catch {
          return raw;
        }
      }
      pos = lf + 1;
    }
    return undefined;
  }

  private addFrameBytes(count: number): void {
    this.frameSize += count;
    if (this.frameSize > this.limits.maxFrameSize) {
      throw new StompProtocolError(
        'FRAME_TOO_LARGE',
        `Frame exceeds the limit of ${this.limits.maxFrameSize} bytes (limits.maxFrameSize)`,
      );
    }
  }

  /**
   * One line, `bytes[start, end)` without its LF. The lines after it start at `chunk[next]`
   * (for the receipt look-ahead when this line is refused).
   */
  private onLine(bytes: Buffer, start: number, lineEnd: number, chunk: Buffer, next: number): void {
    this.lookAheadFrom = next;
    const end = lineEnd > start && bytes[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    const length = end - start;
    if (length > this.limits.maxHeaderLineLength) {
      throw new StompProtocolError(
        'HEADER_LINE_TOO_LONG',
        `${this.state === State.Command ? 'Command' : 'Header'} line exceeds the limit of ${this.limits.maxHeaderLineLength} bytes (limits.maxHeaderLineLength)`,
      );
    }
    if (this.state === State.Command) {
      if (length === 0) {
        // EOLs between frames are heart-beats and do not count towards any frame.
        this.frameSize = 0;
        this.handlers.onHeartbeat?.();
        return;
      }
      this.addFrameBytes(1);
      this.command = this.text(bytes, start, end, 'command');
      this.headers = createHeaders();
      this.headerCount = 0;
      this.state = State.Header;
      return;
    }
    this.addFrameBytes(1);
    if (length === 0) {
      this.lookAheadFrom = -1;
      this.startBody();
      return;
    }
    if (++this.headerCount > this.limits.maxHeaders) {
      throw new StompProtocolError(
        'TOO_MANY_HEADERS',
        `Frame has more than the limit of ${this.limits.maxHeaders} headers (limits.maxHeaders)`,
      );
    }
    // One decode per line; ':' is ASCII, so splitting the string splits the bytes the same way.
    const line = this.text(bytes, start, end, 'header');
    const colon = line.indexOf(':');
    if (colon <= 0) {
      throw new StompProtocolError(
        'INVALID_HEADER',
        colon === 0 ? 'Header with an empty name' : 'Header line without a colon',
      );
    }
    let name = line.slice(0, colon);
    let value = line.slice(colon + 1);
    if (!isEscapeExempt(this.command)) {
      name = unescapeHeader(name, this.version);
      value = unescapeHeader(value, this.version);
    }
    // Passed on, such a name becomes another header (`content-length\c1` is written to a
    // STOMP 1.0 peer as `content-length:1:`) or ends the line early.
    if (!isWritableHeaderName(name)) {
      throw new StompProtocolError(
        'INVALID_HEADER',
        `Header name ${JSON.stringify(name.slice(0, 64))} contains ':', CR, LF or NUL: no STOMP peer can read it back`,
      );
    }
    if (value.indexOf('\0') !== -1) {
      // No version can write a NUL inside a header: passed on, it would end the frame early for
      // a subscriber's reader and let the rest of the value pose as a frame of its own.
      throw new StompProtocolError(
        'INVALID_HEADER',
        `Header ${JSON.stringify(name.slice(0, 64))} has a NUL in its value: a NUL ends a STOMP frame, so no peer can read it back`,
      );
    }
    if (!(name in this.headers)) this.headers[name] = value;
  }

  private startBody(): void {
    const declared = this.headers['content-length'];
    if (declared === undefined) {
      this.state = State.OpenBody;
      return;
    }
    if (!CONTENT_LENGTH.test(declared)) {
      throw new StompProtocolError(
        'INVALID_CONTENT_LENGTH',
        `Invalid content-length header: ${JSON.stringify(declared.slice(0, 32))}`,
      );
    }
    // Leading zeros are still decimal; a number too long to hold exactly is over any limit.
    const digits = declared.replace(/^0+(?=.)/, '');
    const size = digits.length > MAX_CONTENT_LENGTH_DIGITS ? Infinity : Number(digits);
    if (size > this.limits.maxBodyLength) {
      throw new StompProtocolError(
        'BODY_TOO_LARGE',
        `Frame body of ${size === Infinity ? `${digits.slice(0, 20)}… (${digits.length} digits)` : size} bytes exceeds the limit of ${this.limits.maxBodyLength} bytes (limits.maxBodyLength)`,
      );
    }
    this.addFrameBytes(size);
    this.fixedSize = size;
    // Not from Node's shared pool: a body may be held for long (a queue, a transaction), and a
    // pooled slice would keep a whole 8 KiB pool slab alive for a few counted bytes.
    this.fixedBody = size === 0 ? EMPTY_BODY : bodyBuffer(Math.min(size, FIRST_FIXED_BODY));
    this.fixedOffset = 0;
    this.state = size === 0 ? State.Terminator : State.FixedBody;
  }

  private emit(body: Buffer): void {
    // Unknown commands pass through: the session answers them with "Unknown command".
    if (body.length > 0 && !mayHaveBody(this.command) && isKnownCommand(this.command)) {
      throw new StompProtocolError(
        'BODY_NOT_ALLOWED',
        `${this.command} frames must not have a body`,
      );
    }
    const frame: StompFrame = { command: this.command, headers: this.headers, body };
    this.state = State.Command;
    this.lookAheadFrom = -1;
    this.frameSize = 0;
    // The next command line starts a fresh headers object; until then hold none (idle sessions).
    this.headers = NO_HEADERS;
    this.handlers.onFrame(frame);
  }

  /**
   * Decodes `bytes[start, end)` as UTF-8. Invalid bytes decode to U+FFFD, so the (slower) strict
   * check only runs for lines that contain one, which may also be a genuine U+FFFD.
   */
  private text(bytes: Buffer, start: number, end: number, what: string): string {
    const text = bytes.toString('utf8', start, end);
    if (text.includes('\uFFFD') && !isUtf8(bytes.subarray(start, end))) {
      throw new StompProtocolError('INVALID_UTF8', `The ${what} is not valid UTF-8`);
    }
    return text;
  }
}

/**
 * The value of a content-length of 1 to 15 decimal digits (leading zeros allowed), or -1 for
 * anything else (left to the general path, which refuses it or finds it over the limits).
 */
function decimal(text: string): number {
  const n = text.length;
  if (n === 0 || n > MAX_CONTENT_LENGTH_DIGITS) return -1;
  let value = 0;
  for (let i = 0; i < n; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * `body` itself when it owns most of the memory it keeps alive, else a copy that owns its bytes
 * (a small one in a 512-byte slab, see {@link SMALL_BODY}). A body decoded straight from a chunk
 * is a view of the whole WebSocket message (up to `maxWebSocketMessageSize`) or of `ws`'s read
 * buffer; held by the broker or a transaction, a 1-byte view would pin megabytes that no limit
 * counts. So what the server retains of a body is at most twice the bytes counted for it (plus
 * one small allocation), and a large body that already has its buffer to itself (most of a
 * WebSocket message) is not copied.
 */
export function ownedBody(body: Buffer): Buffer {
  if (body.length === 0) return EMPTY_BODY;
  if (body.buffer.byteLength <= 2 * body.length) return body;
  const copy = bodyBuffer(body.length);
  body.copy(copy);
  return copy;
}

/**
 * Copies `chunk[from, to)` after the first `used` bytes of `buffer`, growing it (doubling, at least
 * {@link MIN_CAPACITY}) when it is full. Returns the buffer that now holds them.
 */
function append(buffer: Buffer, used: number, chunk: Buffer, from: number, to: number): Buffer {
  const needed = used + (to - from);
  let out = buffer;
  if (needed > buffer.length) {
    out = Buffer.allocUnsafe(Math.max(needed, buffer.length * 2, MIN_CAPACITY));
    buffer.copy(out, 0, 0, used);
  }
  chunk.copy(out, used, from, to);
  return out;
}
