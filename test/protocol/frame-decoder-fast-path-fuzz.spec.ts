/**
 * Differential fuzzing of the decoder's whole-frame path: hostile byte strings (non-ASCII and
 * invalid UTF-8, lone CR, CRLF mixes, escapes valid and not per version, NUL in headers and
 * bodies, odd content-lengths, repeated headers, limits near the input's size, pipelines,
 * heart-beats, arbitrary chunk splits, pauses) are decoded with the whole-frame path on and with
 * it forced off. The general path is the reference: frames, header order, bodies, heart-beats,
 * errors (code, message, receipt-id), bytes consumed per push and pauses must all be the same.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { FrameDecoder, type FrameDecoderLimits } from '../../lib/protocol/frame-decoder.js';
import type { StompFrame, StompVersion } from '../../lib/protocol/frame.js';
import { StompProtocolError } from '../../lib/protocol/stomp-protocol-error.js';
import { GENEROUS_LIMITS, splitAt } from './helpers.js';

type WholeFrame = { wholeFrame(chunk: Buffer, pos: number): number };

afterEach(() => {
  jest.restoreAllMocks();
});

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.FUZZ_RUNS ?? 600);
/** Each property stops after this many milliseconds even if it has runs left. */
const TIME_BUDGET = Number(process.env.FUZZ_MS ?? 2500);
// A passing run prints nothing; a failing property's report from fast-check names the seed and
// the shrunk input (FUZZ_SEED reruns it).
const params = { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: TIME_BUDGET, markInterruptAsFailure: false };

/** Frames the whole-frame path decoded itself, to show the inputs reach it. */
let taken = 0;

interface Trace {
  frames: { command: string; names: string[]; headers: Record<string, string>; body: string }[];
  heartbeats: number;
  consumed: number[];
  error?: { code: string; message: string; headers?: Record<string, string> } | string;
  stopped: boolean;
}

/**
 * Pushes `chunks` into a fresh decoder; after the i-th frame the handler pauses when
 * `pauses[i % pauses.length]`, and the driver pushes the rest of the chunk again.
 */
function run(
  chunks: readonly Buffer[],
  version: StompVersion,
  limits: FrameDecoderLimits,
  pauses: readonly boolean[],
  fast: boolean,
): Trace {
  const spy = jest.spyOn(FrameDecoder.prototype as unknown as WholeFrame, 'wholeFrame');
  if (!fast) spy.mockReturnValue(-1);
  const trace: Trace = { frames: [], heartbeats: 0, consumed: [], stopped: false };
  const decoder: FrameDecoder = new FrameDecoder(limits, {
    onFrame: (f: StompFrame) => {
      trace.frames.push({
        command: f.command,
        names: Object.keys(f.headers),
        headers: { ...f.headers },
        body: Buffer.from(f.body).toString('hex'),
      });
      if (Object.getPrototypeOf(f.headers) !== null) throw new Error('headers with a prototype');
      if (pauses.length > 0 && pauses[(trace.frames.length - 1) % pauses.length]) decoder.pause();
    },
    onHeartbeat: () => {
      trace.heartbeats++;
    },
  });
  decoder.version = version;
  try {
    for (let chunk of chunks) {
      for (let guard = 0; ; guard++) {
        const n = decoder.push(chunk);
        trace.consumed.push(n);
        if (n >= chunk.length || guard > chunk.length) break;
        chunk = chunk.subarray(n);
      }
    }
  } catch (err) {
    trace.error =
      err instanceof StompProtocolError ? { code: err.code, message: err.message, headers: err.headers } : String(err);
  } finally {
    if (fast) taken += spy.mock.results.filter((r) => r.type === 'return' && r.value !== -1).length;
    spy.mockRestore();
  }
  trace.stopped = decoder.isStopped;
  return trace;
}

const b = (s: string) => Buffer.from(s, 'utf8');
const bytes = (...xs: number[]) => Buffer.from(xs);

const plainPiece = fc.constantFrom('a', 'z', 'Q', '0', '9', '-', '/', ' ', '.', 'x').map(b);
/** Escapes, near-miss escapes, control bytes, non-ASCII, bad UTF-8. */
const hostilePiece = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(':', '\\c', '\\n', '\\r', '\\\\', '\\t', '\\', '\\C', '\r', '\0', '\t', '\x01', '\x7f')
      .map(b),
  },
  { weight: 1, arbitrary: fc.constantFrom('é', '€', '😀', '\uFFFD', '\u00a0').map(b) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      bytes(0xff),
      bytes(0xc3),
      bytes(0x80),
      bytes(0xe2, 0x82),
      bytes(0xed, 0xa0, 0x80),
      bytes(0xc0, 0xaf),
      bytes(0xf0, 0x9f, 0x98),
    ),
  },
);
const piece = fc.oneof({ weight: 2, arbitrary: plainPiece }, { weight: 1, arbitrary: hostilePiece });
/** Mostly plain text (what the whole-frame path takes), often with exactly one hostile piece in it. */
const text = (min: number, max: number) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.array(plainPiece, { minLength: min, maxLength: max }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(plainPiece, { maxLength: max }), hostilePiece, fc.array(plainPiece, { maxLength: max }))
        .map(([x, h, y]) => [...x, h, ...y]),
    },
    { weight: 1, arbitrary: fc.array(piece, { minLength: min, maxLength: max }) },
  ).map((ps) => Buffer.concat(ps));

const command = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .constantFrom(
        'SEND', 'MESSAGE', 'ERROR', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT',
        'DISCONNECT', 'CONNECT', 'STOMP', 'CONNECTED', 'RECEIPT', 'FOO', 'send', ' SEND', 'SEND ',
      )
      .map(b),
  },
  { weight: 2, arbitrary: text(1, 4) },
);

const headerName = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .constantFrom(
        'destination', 'receipt', 'content-length', 'Content-Length', 'CONTENT-LENGTH', 'id', 'x',
        '__proto__', 'constructor', 'hasOwnProperty', 'content-type', 'receipt ', ' receipt',
      )
      .map(b),
  },
  { weight: 3, arbitrary: text(1, 4) },
  { weight: 1, arbitrary: text(0, 4) },
);

const contentLengthValue = (bodyLength: number) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(String(bodyLength)) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '', '0', `0${bodyLength}`, `000${bodyLength}`, `+${bodyLength}`, ` ${bodyLength}`, `${bodyLength} `,
        `-${bodyLength}`, String(bodyLength + 1), String(Math.max(0, bodyLength - 1)), `${bodyLength}x`, '1e1',
        '0x1', '999999999999999', '9999999999999999', '99999999999999999999', '000000000000000000001', '٣',
        `${bodyLength}\\c`, `${bodyLength}\r`,
      ),
    },
  ).map(b);

const eol = fc.oneof(
  { weight: 30, arbitrary: fc.constant('\n') },
  { weight: 2, arbitrary: fc.constant('\r\n') },
  { weight: 1, arbitrary: fc.constantFrom('\r', '\r\r\n', '\n\r') },
).map(b);

const bodyBytes = fc.oneof(
  { weight: 6, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 6, arbitrary: fc.array(plainPiece, { maxLength: 12 }).map((ps) => Buffer.concat(ps)) },
  { weight: 2, arbitrary: text(0, 12) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a)) },
);

/**
 * One frame: a well-formed plain one (what the whole-frame path takes), then up to three
 * mutations inserted anywhere in its command line and header block.
 */
const frame = fc
  .record({
    command,
    headers: fc.array(fc.record({ name: headerName, sep: fc.oneof({ weight: 20, arbitrary: fc.constant(':') }, { weight: 1, arbitrary: fc.constantFrom('', '::') }).map(b), value: text(0, 6) }), {
      maxLength: 6,
    }),
    body: bodyBytes,
    sized: fc.option(fc.nat(6), { nil: undefined }),
    trailer: fc.constantFrom('\0', '\0', '\0', '\0', '\0', '', 'x\0', '\0\0').map(b),
    crlf: fc.nat(7),
    mutations: fc.oneof(
      { weight: 4, arbitrary: fc.constant([]) },
      {
        weight: 3,
        arbitrary: fc.array(
          fc.record({ at: fc.nat(), what: fc.oneof(hostilePiece, eol, fc.constantFrom('\n\n', '\n:x', '\nreceipt:m', '\n\r\n').map(b)) }),
          { minLength: 1, maxLength: 3 },
        ),
      },
    ),
  })
  .chain((f) =>
    (f.sized === undefined ? fc.constant(undefined) : contentLengthValue(f.body.length)).map((cl) => {
      const lines = [f.command];
      for (const h of f.headers) lines.push(Buffer.concat([h.name, h.sep, h.value]));
      if (cl !== undefined) lines.splice(1 + Math.min(f.sized!, f.headers.length), 0, Buffer.concat([b('content-length:'), cl]));
      const nl = b(f.crlf === 0 ? '\r\n' : '\n');
      let head = Buffer.concat(lines.flatMap((line) => [line, nl]));
      for (const m of f.mutations) {
        const at = m.at % (head.length + 1);
        head = Buffer.concat([head.subarray(0, at), m.what, head.subarray(at)]);
      }
      return Buffer.concat([head, nl, f.body, f.trailer]);
    }),
  );

/** A frame the whole-frame path takes as it is (plain text, LF line ends, a body only where allowed). */
const plainText = (min: number, max: number) =>
  fc.array(plainPiece, { minLength: min, maxLength: max }).map((ps) => Buffer.concat(ps));
const cleanFrame = fc
  .record({
    command: fc.constantFrom('SEND', 'MESSAGE', 'ERROR', 'FOO', 'SUBSCRIBE', 'ACK', 'DISCONNECT', 'CONNECT', 'CONNECTED'),
    headers: fc.array(fc.tuple(fc.oneof(headerName.filter((n) => /^[^:\r\n\0\\\x80-\xff]+$/.test(n.toString('latin1'))), plainText(1, 4)), plainText(0, 8)), {
      maxLength: 8,
    }),
    body: plainText(0, 20),
    sized: fc.boolean(),
    zeros: fc.nat(2),
  })
  .map(({ command, headers, body, sized, zeros }) => {
    const withBody = ['SEND', 'MESSAGE', 'ERROR', 'FOO'].includes(command) ? body : Buffer.alloc(0);
    const lines = [b(command), ...headers.map(([n, v]) => Buffer.concat([n, b(':'), v]))];
    if (sized) lines.push(b(`content-length:${'0'.repeat(zeros)}${withBody.length}`));
    return Buffer.concat([...lines.flatMap((l) => [l, b('\n')]), b('\n'), withBody, b('\0')]);
  });

const anyFrame = fc.oneof({ weight: 1, arbitrary: cleanFrame }, { weight: 2, arbitrary: frame });

const beats = fc.array(fc.constantFrom('\n', '\r\n').map(b), { maxLength: 2 }).map((a) => Buffer.concat(a));

/** Several frames in one input, with heart-beats between them and after them. */
const stream = fc
  .tuple(beats, fc.array(fc.tuple(anyFrame, beats), { minLength: 1, maxLength: 4 }))
  .map(([lead, fs]) => Buffer.concat([lead, ...fs.flatMap(([f, e]) => [f, e])]));

const version = fc.constantFrom<StompVersion>('1.0', '1.1', '1.2');

/** Limits that are generous, or small enough that the input meets them. */
const limits = fc.oneof(
  { weight: 3, arbitrary: fc.constant(GENEROUS_LIMITS) },
  {
    weight: 1,
    arbitrary: fc.record({
      maxFrameSize: fc.integer({ min: 1, max: 160 }),
      maxHeaders: fc.integer({ min: 0, max: 8 }),
      maxHeaderLineLength: fc.integer({ min: 1, max: 40 }),
      maxBodyLength: fc.integer({ min: 0, max: 40 }),
    }),
  },
);

/** Chunk boundaries: none, a few random ones, or one byte per chunk. */
function chunked(input: Buffer, mode: number, cuts: number[]): Buffer[] {
  if (mode === 0 || input.length < 2) return [input];
  if (mode === 2) return [...input].map((x) => bytes(x));
  return splitAt(input, [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((x, y) => x - y));
}

function differ(input: Buffer, v: StompVersion, l: FrameDecoderLimits, mode: number, cuts: number[], pauses: boolean[]) {
  const chunks = chunked(input, mode, cuts);
  const fast = run(chunks, v, l, pauses, true);
  const general = run(chunks, v, l, pauses, false);
  expect(fast).toEqual(general);
}

describe('FrameDecoder whole-frame path, differential fuzzing against the general path', () => {
  it('agrees on hostile single frames and pipelines, in every version, at any limits, chunking and pausing', () => {
    fc.assert(
      fc.property(
        stream,
        version,
        limits,
        fc.nat(5).map((n) => (n < 3 ? 0 : n < 5 ? 1 : 2)),
        fc.array(fc.nat(400), { maxLength: 4 }),
        fc.array(fc.boolean(), { maxLength: 3 }),
        (input, v, l, mode, cuts, pauses) => differ(input, v, l, mode, cuts, pauses),
      ),
      params,
    );
    expect(taken).toBeGreaterThan(50);
  });

  it('agrees at and around each limit derived from the frame itself', () => {
    fc.assert(
      fc.property(
        anyFrame,
        version,
        fc.record({ frame: fc.integer({ min: -2, max: 2 }), headers: fc.integer({ min: -1, max: 1 }), line: fc.integer({ min: -2, max: 2 }), body: fc.integer({ min: -1, max: 1 }) }),
        fc.constantFrom('frame', 'headers', 'line', 'body', 'all'),
        (input, v, d, which) => {
          const head = input.indexOf('\n\n') === -1 ? input.length : input.indexOf('\n\n') + 2;
          const lines = input.subarray(0, head).toString('latin1').split('\n');
          const exact: FrameDecoderLimits = {
            maxFrameSize: Math.max(1, input.length - 1),
            maxHeaders: Math.max(0, lines.filter((x) => x !== '').length - 1),
            maxHeaderLineLength: Math.max(1, ...lines.map((x) => x.length)),
            maxBodyLength: Math.max(0, input.length - head - 1),
          };
          const l: FrameDecoderLimits = {
            maxFrameSize: which === 'frame' || which === 'all' ? Math.max(1, exact.maxFrameSize + d.frame) : GENEROUS_LIMITS.maxFrameSize,
            maxHeaders: which === 'headers' || which === 'all' ? Math.max(0, exact.maxHeaders + d.headers) : GENEROUS_LIMITS.maxHeaders,
            maxHeaderLineLength:
              which === 'line' || which === 'all' ? Math.max(1, exact.maxHeaderLineLength + d.line) : GENEROUS_LIMITS.maxHeaderLineLength,
            maxBodyLength: which === 'body' || which === 'all' ? Math.max(0, exact.maxBodyLength + d.body) : GENEROUS_LIMITS.maxBodyLength,
          };
          differ(input, v, l, 0, [], []);
        },
      ),
      params,
    );
  });

  it('agrees when a pipeline is split at every byte offset', () => {
    const pipeline = b(
      '\nSEND\ndestination:/q\nreceipt:r1\ncontent-length:3\n\na\0b\0\r\nSUBSCRIBE\nid:1\ndestination:/t\n\n\0' +
        'SEND\ndestination:/q\n\nhi\0\n\nDISCONNECT\nreceipt:r2\n\n\0',
    );
    const bad = b('SEND\ndestination:/q\n\nok\0SEND\nx:1\nbad\nreceipt:r3\n\n\0');
    for (const input of [pipeline, bad]) {
      for (const v of ['1.0', '1.1', '1.2'] as const) {
        for (let cut = 0; cut <= input.length; cut++) {
          differ(input, v, GENEROUS_LIMITS, 1, [cut], []);
          differ(input, v, GENEROUS_LIMITS, 1, [cut], [true]);
        }
      }
    }
  });

  it('leaves a header name holding a CR to the general path, which refuses it (regression)', () => {
    // The whole-frame path took `a\rb` as a header name; the README says a name holding CR is refused.
    for (const input of [b('SEND\na\rb:c\n\n\0'), b('SEND\nreceipt:r\n\rx:1\n\n\0'), b('SUBSCRIBE\nid:1\ndestination\r:/q\n\n\0')]) {
      const general = run([input], '1.2', GENEROUS_LIMITS, [], false);
      expect(general.error).toMatchObject({ code: 'INVALID_HEADER' });
      expect(run([input], '1.2', GENEROUS_LIMITS, [], true)).toEqual(general);
    }
  });
});
