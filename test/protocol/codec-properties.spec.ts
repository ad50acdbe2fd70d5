import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { encodeFrame } from '../../lib/protocol/frame-encoder.js';
import { escapeHeader, unescapeHeader } from '../../lib/protocol/header-escaping.js';
import { isEscapeExempt, mayHaveBody, type StompVersion } from '../../lib/protocol/frame.js';
import { decode, splitAt, type PlainFrame, plain } from './helpers.js';

const VERSIONS: readonly StompVersion[] = ['1.0', '1.1', '1.2'];
const BODY_COMMANDS = ['SEND', 'MESSAGE', 'ERROR'] as const;
const NO_BODY_COMMANDS = [
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'ACK',
  'NACK',
  'BEGIN',
  'COMMIT',
  'ABORT',
  'DISCONNECT',
  'RECEIPT',
] as const;
/** Their headers are never escaped, so they can only carry what 1.0 can. */
const EXEMPT_COMMANDS = ['CONNECT', 'STOMP', 'CONNECTED'] as const;

const NUM_RUNS = 250;

/**
 * One code point: often one of the characters escaping cares about (or near-misses of escape
 * sequences), otherwise anything in the Unicode range except lone surrogates.
 */
const anyChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(':', '\\', '\n', '\r', 'n', 'c', 'r', 't', '\0', ' ', 'é', '€', '😀') },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);

function stringWithout(excluded: string, minLength: number): fc.Arbitrary<string> {
  const unit = excluded === '' ? anyChar : anyChar.filter((ch) => !excluded.includes(ch));
  return fc.string({ unit, minLength, maxLength: 12 });
}

/**
 * Header names and values each version can carry unchanged. Names are never empty (grammar) and
 * never hold ':', CR, LF or NUL in any version: the decoder refuses those, since a peer of another
 * version could not read them back. Values never hold NUL (no version can escape it; the decoder
 * refuses it and the encoder writes U+FFFD instead).
 */
function headerArbitraries(version: StompVersion): { name: fc.Arbitrary<string>; value: fc.Arbitrary<string> } {
  const name = stringWithout('\n\r:\0', 1);
  switch (version) {
    case '1.2':
      return { name, value: stringWithout('\0', 0) };
    case '1.1':
      return { name, value: stringWithout('\r\0', 0) };
    case '1.0':
      return { name, value: stringWithout('\n\r\0', 0) };
  }
}

interface FrameSpec {
  command: string;
  headers: Array<[string, string]>;
  body: Uint8Array;
}

function headersArb(version: StompVersion): fc.Arbitrary<Array<[string, string]>> {
  const { name, value } = headerArbitraries(version);
  return fc.uniqueArray(
    fc.tuple(
      // content-length is the encoder's to write.
      name.filter((n) => n !== 'content-length'),
      value,
    ),
    { selector: ([n]) => n, maxLength: 8 },
  );
}

function frameArb(version: StompVersion): fc.Arbitrary<FrameSpec> {
  const withBody = fc.record({
    command: fc.constantFrom(...BODY_COMMANDS),
    headers: headersArb(version),
    body: fc.uint8Array({ maxLength: 200 }),
  });
  const withoutBody = fc.record({
    command: fc.constantFrom(...NO_BODY_COMMANDS),
    headers: headersArb(version),
    body: fc.constant(new Uint8Array(0)),
  });
  const exempt = fc.record({
    command: fc.constantFrom(...EXEMPT_COMMANDS),
    headers: headersArb('1.0'),
    body: fc.constant(new Uint8Array(0)),
  });
  return fc.oneof({ weight: 3, arbitrary: withBody }, { weight: 2, arbitrary: withoutBody }, { weight: 1, arbitrary: exempt });
}

function encode(spec: FrameSpec, version: StompVersion): Buffer {
  return encodeFrame(spec.command, Object.fromEntries(spec.headers), Buffer.from(spec.body), version);
}

/** What the decoder must produce for a spec: its headers, plus content-length where one is added. */
function expected(spec: FrameSpec): PlainFrame {
  const headers: Record<string, string> = Object.fromEntries(spec.headers);
  if (mayHaveBody(spec.command)) headers['content-length'] = String(spec.body.length);
  return { command: spec.command, headers, body: Buffer.from(spec.body).toString('hex') };
}

describe('codec properties', () => {
  describe.each(VERSIONS)('STOMP %s', (version) => {
    it('decode(encode(frame)) gives the frame back', () => {
      fc.assert(
        fc.property(frameArb(version), (spec) => {
          const result = decode([encode(spec, version)], { version });
          expect(result.error).toBeUndefined();
          expect(result.frames.map(plain)).toEqual([expected(spec)]);
          expect(result.heartbeats).toBe(0);
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('decoding is independent of how the stream is cut into chunks', () => {
      const streamArb = fc.array(
        fc.record({
          eols: fc.array(fc.constantFrom('\n', '\r\n'), { maxLength: 3 }),
          frame: frameArb(version),
        }),
        { minLength: 1, maxLength: 5 },
      );
      fc.assert(
        fc.property(
          streamArb,
          fc.array(fc.constantFrom('\n', '\r\n'), { maxLength: 3 }),
          fc.array(fc.nat(), { maxLength: 12 }),
          (items, trailingEols, rawCuts) => {
            const parts: Buffer[] = [];
            let eolCount = trailingEols.length;
            for (const { eols, frame } of items) {
              parts.push(Buffer.from(eols.join('')), encode(frame, version));
              eolCount += eols.length;
            }
            parts.push(Buffer.from(trailingEols.join('')));
            const stream = Buffer.concat(parts);

            const cuts = [...new Set(rawCuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
            const whole = decode([stream], { version });
            const chunked = decode(splitAt(stream, cuts), { version });

            expect(whole.error).toBeUndefined();
            expect(chunked.error).toBeUndefined();
            expect(chunked.frames.map(plain)).toEqual(whole.frames.map(plain));
            expect(chunked.heartbeats).toBe(whole.heartbeats);
            // And both are what was sent.
            expect(whole.frames.map(plain)).toEqual(items.map(({ frame }) => expected(frame)));
            expect(whole.heartbeats).toBe(eolCount);
          },
        ),
        { numRuns: NUM_RUNS },
      );
    });

    it('one-byte chunks decode like the whole stream', () => {
      fc.assert(
        fc.property(fc.array(frameArb(version), { minLength: 1, maxLength: 3 }), (specs) => {
          const stream = Buffer.concat(specs.map((s) => encode(s, version)));
          const cuts = Array.from({ length: stream.length }, (_, i) => i + 1);
          const result = decode(splitAt(stream, cuts), { version });
          expect(result.error).toBeUndefined();
          expect(result.frames.map(plain)).toEqual(specs.map(expected));
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('header escaping', () => {
    it('unescape(escape(s)) === s for any string without NUL in 1.2', () => {
      fc.assert(
        fc.property(stringWithout('\0', 0), (s) => {
          expect(unescapeHeader(escapeHeader(s, '1.2'), '1.2')).toBe(s);
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('unescape(escape(s)) === s for strings without CR or NUL in 1.1', () => {
      fc.assert(
        fc.property(stringWithout('\r\0', 0), (s) => {
          expect(unescapeHeader(escapeHeader(s, '1.1'), '1.1')).toBe(s);
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('escaped text never contains LF, colon or NUL (nor CR in 1.2)', () => {
      fc.assert(
        fc.property(stringWithout('', 0), (s) => {
          expect(escapeHeader(s, '1.2')).not.toMatch(/[\r\n:\0]/);
          expect(escapeHeader(s, '1.1')).not.toMatch(/[\n:\0]/);
          expect(escapeHeader(s, '1.0')).not.toMatch(/[\r\n\0]/);
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('is the identity in 1.0 for values without line breaks or NUL, and replaces CR/LF with spaces, NUL with U+FFFD', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme' }), (s) => {
          expect(escapeHeader(s, '1.0')).toBe(s.replace(/[\r\n]/g, ' ').replace(/\0/g, '\uFFFD'));
          expect(unescapeHeader(s, '1.0')).toBe(s);
        }),
      );
    });

    it('exempt commands are exactly CONNECT, STOMP and CONNECTED', () => {
      for (const command of EXEMPT_COMMANDS) expect(isEscapeExempt(command)).toBe(true);
      for (const command of [...BODY_COMMANDS, ...NO_BODY_COMMANDS]) expect(isEscapeExempt(command)).toBe(false);
    });
  });
});
