/**
 * The decoder's whole-frame path (a plain frame entirely inside one chunk, decoded with one string
 * conversion for its header block) must accept exactly what the general, line-by-line path
 * accepts and build the same frames; anything else it leaves to the general path, whose errors
 * must come out unchanged. The reference is the same input decoded with the whole-frame path
 * switched off (and, for good frames, split into 1-byte chunks).
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { FrameDecoder, type FrameDecoderLimits } from '../../lib/protocol/frame-decoder.js';
import type { StompFrame } from '../../lib/protocol/frame.js';
import { StompProtocolError } from '../../lib/protocol/stomp-protocol-error.js';
import { bytewise, decode, GENEROUS_LIMITS, type DecodeResult } from './helpers.js';

type WholeFrame = { wholeFrame(chunk: Buffer, pos: number): number };

/** Spies on the whole-frame path: how many frames it decoded itself (it returns -1 otherwise). */
function spyWholeFrame(): () => number {
  const spy = jest.spyOn(FrameDecoder.prototype as unknown as WholeFrame, 'wholeFrame');
  return () => spy.mock.results.filter((r) => r.type === 'return' && r.value !== -1).length;
}

afterEach(() => {
  jest.restoreAllMocks();
});

/** Frames with their header names in order (`toEqual` alone ignores key order) and error details. */
function outcome(result: DecodeResult) {
  const error = result.error;
  return {
    frames: result.frames.map((f: StompFrame) => ({
      command: f.command,
      names: Object.keys(f.headers),
      headers: { ...f.headers },
      body: Buffer.from(f.body).toString('hex'),
      prototype: Object.getPrototypeOf(f.headers),
    })),
    heartbeats: result.heartbeats,
    error:
      error instanceof StompProtocolError
        ? { code: error.code, message: error.message, headers: error.headers }
        : error === undefined
          ? undefined
          : String(error),
  };
}

/** The same chunks decoded as usual, and with the whole-frame path switched off. */
function bothWays(input: Buffer | string, limits: Partial<FrameDecoderLimits> = {}) {
  const whole = outcome(decode([input], { limits }));
  const off = jest.spyOn(FrameDecoder.prototype as unknown as WholeFrame, 'wholeFrame').mockReturnValue(-1);
  const general = outcome(decode([input], { limits }));
  off.mockRestore();
  return { whole, general };
}

const plainText = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom('a', 'b', 'z', '-', '/', '.', '0', '9', ' ', '_'), minLength: min, maxLength: max });

/** Frames the whole-frame path takes (and near misses it must leave alone). */
const frameText = fc
  .record({
    command: fc.constantFrom('SEND', 'SUBSCRIBE', 'ACK', 'DISCONNECT', 'MESSAGE', 'FOO'),
    headers: fc.array(
      fc.tuple(
        fc.oneof(fc.constantFrom('destination', 'id', 'receipt', '__proto__', 'constructor', 'x'), plainText(1, 6)),
        plainText(0, 12),
      ),
      { maxLength: 6 },
    ),
    body: plainText(0, 40),
    sized: fc.boolean(),
    zeros: fc.nat(3),
    crlf: fc.boolean(),
    escape: fc.boolean(),
  })
  .map(({ command, headers, body, sized, zeros, crlf, escape }) => {
    const eol = crlf ? '\r\n' : '\n';
    let text = command + eol;
    for (const [name, value] of headers) text += `${name}:${escape ? value.replace(/a/g, '\\c') : value}${eol}`;
    if (sized) text += `content-length:${'0'.repeat(zeros)}${Buffer.byteLength(body)}${eol}`;
    return `${text}${eol}${body}\0`;
  });

describe('FrameDecoder whole-frame path', () => {
  it('decodes a plain frame in one chunk itself, with the same frame as the general path', () => {
    const input = 'SEND\ndestination:/topic/a\ncontent-type:text/plain\ncontent-length:5\nx:1\nx:2\n\nhello\0';
    const taken = spyWholeFrame();
    decode([input]);
    expect(taken()).toBe(1);
    jest.restoreAllMocks();
    const { whole, general } = bothWays(input);
    expect(whole).toEqual(general);
    expect(whole.frames[0]).toEqual({
      command: 'SEND',
      names: ['destination', 'content-type', 'content-length', 'x'],
      headers: { destination: '/topic/a', 'content-type': 'text/plain', 'content-length': '5', x: '1' },
      body: Buffer.from('hello').toString('hex'),
      prototype: null,
    });
  });

  it('gives every frame a body of its own, never a view of the chunk', () => {
    const frames: StompFrame[] = [];
    const decoder = new FrameDecoder(GENEROUS_LIMITS, { onFrame: (f) => frames.push(f) });
    const chunk = Buffer.from('SEND\ndestination:/q\ncontent-length:3\n\nabc\0SEND\ndestination:/q\n\nxyz\0');
    decoder.push(chunk);
    expect(frames.map((f) => f.body.toString())).toEqual(['abc', 'xyz']);
    for (const f of frames) expect(f.body.buffer).not.toBe(chunk.buffer);
  });

  it('stops right after the frame whose handler pauses, and reports the bytes consumed', () => {
    const frames: StompFrame[] = [];
    const decoder: FrameDecoder = new FrameDecoder(GENEROUS_LIMITS, {
      onFrame: (f) => {
        frames.push(f);
        decoder.pause();
      },
    });
    const first = 'SEND\ndestination:/q\n\na\0';
    const chunk = Buffer.from(`${first}SEND\ndestination:/q\n\nb\0`);
    expect(decoder.push(chunk)).toBe(Buffer.byteLength(first));
    expect(frames).toHaveLength(1);
    expect(decoder.push(chunk.subarray(Buffer.byteLength(first)))).toBe(chunk.length - Buffer.byteLength(first));
    expect(frames.map((f) => f.body.toString())).toEqual(['a', 'b']);
  });

  it('agrees with the general path on arbitrary frames, pipelines and heart-beats', () => {
    fc.assert(
      fc.property(fc.array(frameText, { minLength: 1, maxLength: 4 }), fc.boolean(), (frames, beats) => {
        const input = frames.join(beats ? '\n\n' : '');
        const { whole, general } = bothWays(input);
        expect(whole).toEqual(general);
        if (whole.error === undefined) expect(outcome(decode(bytewise(input)))).toEqual(whole);
      }),
      { numRuns: 400 },
    );
  });

  it('agrees with the general path at and around every limit, errors included', () => {
    fc.assert(
      fc.property(
        frameText,
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 0, max: 45 }),
        (input, maxHeaderLineLength, maxHeaders, maxFrameSize, maxBodyLength) => {
          const limits = { maxHeaderLineLength, maxHeaders, maxFrameSize, maxBodyLength };
          const { whole, general } = bothWays(input, limits);
          expect(whole).toEqual(general);
        },
      ),
      { numRuns: 800 },
    );
  });

  it('accepts a frame exactly at each limit and refuses one byte, line or header over, as the general path does', () => {
    const frame = 'SEND\nab:cd\nef:gh\ncontent-length:4\n\nbody\0';
    const headerBlock = Buffer.byteLength('SEND\nab:cd\nef:gh\ncontent-length:4\n\n');
    const exact = { maxHeaderLineLength: 'content-length:4'.length, maxHeaders: 3, maxFrameSize: headerBlock + 4, maxBodyLength: 4 };
    const taken = spyWholeFrame();
    expect(outcome(decode([frame], { limits: exact })).frames).toHaveLength(1);
    expect(taken()).toBe(1);
    jest.restoreAllMocks();
    for (const [limit, code] of [
      ['maxHeaderLineLength', 'HEADER_LINE_TOO_LONG'],
      ['maxHeaders', 'TOO_MANY_HEADERS'],
      ['maxFrameSize', 'FRAME_TOO_LARGE'],
      ['maxBodyLength', 'BODY_TOO_LARGE'],
    ] as const) {
      const limits = { ...exact, [limit]: exact[limit] - 1 };
      const { whole, general } = bothWays(frame, limits);
      expect(whole.error).toMatchObject({ code });
      expect(whole).toEqual(general);
    }
  });

  it('leaves non-ASCII, escaped, CRLF and receipt-carrying faulty frames to the general path, with its answers', () => {
    const cases = [
      'SEND\ndestination:/topic/caf\u00e9\n\nx\0',
      'SEND\ndestination:/topic/a\\cb\n\nx\0',
      'SEND\r\ndestination:/topic/a\r\n\r\nx\0',
      'SEND\ndestination:/topic/a\\t\nreceipt:r-1\n\nx\0',
      'SEND\n:no-name\nreceipt:r-2\n\nx\0',
      'SEND\nno-colon\n\nx\0',
      'SEND\ncontent-length:1x\nreceipt:r-3\n\nx\0',
      'SEND\ncontent-length:2\n\nx\0\0',
      'SUBSCRIBE\nid:1\nreceipt:r-4\n\nbody\0',
      Buffer.concat([Buffer.from('SEND\ndestination:/topic/'), Buffer.from([0xff]), Buffer.from('\n\nx\0')]),
    ];
    for (const input of cases) {
      const { whole, general } = bothWays(input);
      expect(whole).toEqual(general);
    }
    expect(bothWays(cases[3]).whole.error).toMatchObject({ code: 'INVALID_ESCAPE', headers: { 'receipt-id': 'r-1' } });
    expect(bothWays(cases[8]).whole.error).toMatchObject({ code: 'BODY_NOT_ALLOWED', headers: { 'receipt-id': 'r-4' } });
  });
});
