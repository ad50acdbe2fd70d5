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
import { unescapeHeader } from './header-escaping.js';
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

const CONTENT_LENGTH = /^[0-9]{1,15}$/;

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
 * After a {@link StompProtocolError} the decoder is failed and ignores further input.
 */
export class FrameDecoder {
  version: StompVersion = '1.2';

  private state = State.Command;
  private lineParts: Buffer[] = [];
  private lineLength = 0;
  private frameSize = 0;
  private command = '';
  private headers: StompHeaders = NO_HEADERS;
  private headerCount = 0;
  private fixedBody: Buffer = EMPTY_BODY;
  private fixedOffset = 0;
  private bodyParts: Buffer[] = [];
  private bodyLength = 0;
  private stopped = false;

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

  push(chunk: Buffer): void {
    if (this.stopped) return;
    try {
      this.consume(chunk);
    } catch (err) {
      this.stopped = true;
      throw err;
    }
  }

  private consume(chunk: Buffer): void {
    const length = chunk.length;
    let pos = 0;
    while (pos < length && !this.stopped) {
      switch (this.state) {
        case State.Command:
        case State.Header: {
          const lf = chunk.indexOf(LF, pos);
          const end = lf === -1 ? length : lf;
          this.lineLength += end - pos;
          // A CR before the LF is part of the EOL, so allow one extra byte for it.
          if (this.lineLength > this.limits.maxHeaderLineLength + 1) {
            throw new StompProtocolError(
              'HEADER_LINE_TOO_LONG',
              `${this.state === State.Command ? 'Command' : 'Header'} line exceeds the limit of ${this.limits.maxHeaderLineLength} bytes`,
            );
          }
          this.addFrameBytes(end - pos);
          if (lf === -1) {
            this.lineParts.push(Buffer.from(chunk.subarray(pos)));
            pos = length;
          } else {
            const start = pos;
            this.lineLength = 0;
            pos = lf + 1;
            if (this.lineParts.length === 0) {
              this.onLine(chunk, start, lf);
            } else {
              const line = Buffer.concat([...this.lineParts, chunk.subarray(start, lf)]);
              this.lineParts = [];
              this.onLine(line, 0, line.length);
            }
          }
          break;
        }
        case State.FixedBody: {
          const take = Math.min(this.fixedBody.length - this.fixedOffset, length - pos);
          chunk.copy(this.fixedBody, this.fixedOffset, pos, pos + take);
          this.fixedOffset += take;
          pos += take;
          if (this.fixedOffset === this.fixedBody.length) this.state = State.Terminator;
          break;
        }
        case State.Terminator: {
          if (chunk[pos] !== NUL) {
            throw new StompProtocolError(
              'MISSING_NULL_TERMINATOR',
              `Frame body is not followed by a NULL octet after content-length ${this.fixedBody.length} bytes`,
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
              `Frame body exceeds the limit of ${this.limits.maxBodyLength} bytes`,
            );
          }
          this.addFrameBytes(end - pos);
          if (nul === -1) {
            this.bodyParts.push(Buffer.from(chunk.subarray(pos)));
            pos = length;
          } else {
            const piece = chunk.subarray(pos, nul);
            const body =
              this.bodyParts.length === 0 ? piece : Buffer.concat([...this.bodyParts, piece]);
            this.bodyParts = [];
            this.bodyLength = 0;
            pos = nul + 1;
            this.emit(body);
          }
          break;
        }
      }
    }
  }

  private addFrameBytes(count: number): void {
    this.frameSize += count;
    if (this.frameSize > this.limits.maxFrameSize) {
      throw new StompProtocolError(
        'FRAME_TOO_LARGE',
        `Frame exceeds the limit of ${this.limits.maxFrameSize} bytes`,
      );
    }
  }

  /** One line, `bytes[start, end)` without its LF. */
  private onLine(bytes: Buffer, start: number, lineEnd: number): void {
    const end = lineEnd > start && bytes[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    const length = end - start;
    if (length > this.limits.maxHeaderLineLength) {
      throw new StompProtocolError(
        'HEADER_LINE_TOO_LONG',
        `${this.state === State.Command ? 'Command' : 'Header'} line exceeds the limit of ${this.limits.maxHeaderLineLength} bytes`,
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
      this.startBody();
      return;
    }
    if (++this.headerCount > this.limits.maxHeaders) {
      throw new StompProtocolError(
        'TOO_MANY_HEADERS',
        `Frame has more than the limit of ${this.limits.maxHeaders} headers`,
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
    const size = Number(declared);
    if (size > this.limits.maxBodyLength) {
      throw new StompProtocolError(
        'BODY_TOO_LARGE',
        `Frame body of ${size} bytes exceeds the limit of ${this.limits.maxBodyLength} bytes`,
      );
    }
    this.addFrameBytes(size);
    this.fixedBody = size === 0 ? EMPTY_BODY : Buffer.allocUnsafe(size);
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
