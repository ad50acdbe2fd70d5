import { expect } from '@jest/globals';
import { FrameDecoder, type FrameDecoderLimits } from '../../lib/protocol/frame-decoder.js';
import type { StompFrame, StompVersion } from '../../lib/protocol/frame.js';
import { StompProtocolError, type StompErrorCode } from '../../lib/protocol/stomp-protocol-error.js';

/** Generous limits, so only the limit tests ever hit one. */
export const GENEROUS_LIMITS: FrameDecoderLimits = {
  maxFrameSize: 10 * 1024 * 1024,
  maxHeaders: 1000,
  maxHeaderLineLength: 1024 * 1024,
  maxBodyLength: 10 * 1024 * 1024,
};

export interface DecodeResult {
  frames: StompFrame[];
  heartbeats: number;
  /** The error thrown by `push`, if any (decoding stops at the first one). */
  error?: unknown;
  decoder: FrameDecoder;
}

export interface DecodeOptions {
  version?: StompVersion;
  limits?: Partial<FrameDecoderLimits>;
}

export function toBuffer(chunk: Buffer | string): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}

/** Pushes the chunks one by one into a fresh decoder, recording frames, heart-beats and the error. */
export function decode(chunks: ReadonlyArray<Buffer | string>, options: DecodeOptions = {}): DecodeResult {
  const frames: StompFrame[] = [];
  let heartbeats = 0;
  const decoder = new FrameDecoder(
    { ...GENEROUS_LIMITS, ...options.limits },
    {
      onFrame: (frame) => frames.push(frame),
      onHeartbeat: () => {
        heartbeats++;
      },
    },
  );
  if (options.version !== undefined) decoder.version = options.version;
  const result: DecodeResult = { frames, heartbeats: 0, decoder };
  try {
    for (const chunk of chunks) decoder.push(toBuffer(chunk));
  } catch (err) {
    result.error = err;
  }
  result.heartbeats = heartbeats;
  return result;
}

/** Splits a buffer into one-byte chunks. */
export function bytewise(input: Buffer | string): Buffer[] {
  const buf = toBuffer(input);
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1));
  return out;
}

/** Splits a buffer at the given (sorted, in-range) offsets. */
export function splitAt(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    out.push(buf.subarray(from, cut));
    from = cut;
  }
  out.push(buf.subarray(from));
  return out;
}

/** Asserts that `err` is a StompProtocolError with the given code and returns it. */
export function expectProtocolError(err: unknown, code: StompErrorCode): StompProtocolError {
  expect(err).toBeInstanceOf(StompProtocolError);
  const protocolError = err as StompProtocolError;
  expect(protocolError.code).toBe(code);
  return protocolError;
}

/** A plain, comparable view of a frame: own headers only, body as hex. */
export interface PlainFrame {
  command: string;
  headers: Record<string, string>;
  body: string;
}

export function plain(frame: StompFrame): PlainFrame {
  return {
    command: frame.command,
    headers: Object.fromEntries(Object.entries(frame.headers)),
    body: Buffer.from(frame.body).toString('hex'),
  };
}
