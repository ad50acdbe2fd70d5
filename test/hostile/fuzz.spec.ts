// Issue 7, general: random and mutated frames (fast-check, fixed seed, 2,000 cases), each on its own
// connection, against one app. Each connection must either stay healthy (two probe SENDs after the
// fuzz frame: the second one's RECEIPT comes back) or be answered with an ERROR frame, never
// "Internal server error", and then closed; a DISCONNECT may close it normally; a frame that
// declares more bytes than were sent may leave it waiting, open. Nothing may be logged as an
// internal error or with a stack trace, and a bystander keeps its round trips throughout.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import WebSocket from 'ws';
import type { RunningApp } from '../support/stomp-app.js';
import { Bystander,
  startWithBystander,
  stopWithBystander, expectNoInternalErrors } from './hostile-support.js';

const RUNS = 2000;
const SEED = 20261204;
const CONCURRENCY = 25;
/** How long a connection that answered nothing is watched before it counts as "waiting for bytes". */
const QUIET_MS = 1000;

/** Repeated entries weigh more: most frames should be ones a server has to look into. */
const COMMANDS = [
  'SEND', 'SEND', 'SEND', 'SEND', 'SUBSCRIBE', 'SUBSCRIBE', 'SUBSCRIBE', 'CONNECT', 'CONNECT', 'STOMP',
  'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT', 'DISCONNECT', 'MESSAGE', 'ERROR', 'send', '',
];
/** Sent after CONNECTED and before the fuzz frame, so UNSUBSCRIBE s1, COMMIT/ABORT tx1 can pass. */
const PRELUDE = 'BEGIN\ntransaction:tx1\n\n\0SUBSCRIBE\nid:s1\ndestination:/topic/fuzz-prelude\nack:client\n\n\0';
const NAMES = [
  'destination', 'id', 'ack', 'receipt', 'transaction', 'content-length', 'content-type', 'heart-beat',
  'accept-version', 'host', 'login', 'message-id', 'subscription', 'redelivered', 'content-length\\c1',
  'x\\ny', 'x\\r', '\\t', 'Destination', 'user-name',
];
const VALUES = [
  '/topic/fuzz', '/queue/fuzz', '/app/fuzz', '/user/queue/fuzz', '/user/u%zz/queue/x', '/user/a/queue/x', '/topic/**/**/x',
  '/topic/#', '/topic/*', `/topic${'/a'.repeat(40)}`, '/queue/fuzz-user00000000-0000-0000-0000-000000000000', '/nowhere',
  '0', '1', '5', '-1', '99999999999999999999', '1e3', ' 5', 'auto', 'client', 'client-individual', 'bogus',
  '\\', '\\x', '\\c', '\\n', '1.0', '1.1', '1.2', '1.2,1.0', '9.9', '0,0', '1073741824,0', '0,4294967296', '10,10',
  'tx1', '', ':', '%', 'text/plain', 'application/json', 'application/json;charset=utf-8',
];
const SPECIAL_BYTES = [0x00, 0x0a, 0x0d, 0x3a, 0x5c, 0xff, 0xc3, 0x80, 0x20, 0x2a, 0x23, 0x25];

interface FuzzCase {
  connectFirst: boolean;
  command: string;
  headers: Array<[string, string]>;
  body: string | Uint8Array;
  crlf: boolean;
  nul: boolean;
  mutations: Array<{ kind: 'flip' | 'insert' | 'delete' | 'dup'; at: number; byte: number; length: number }>;
  splits: number[];
}

const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 6 }));
const DESTINATIONS = VALUES.filter((v) => v.startsWith('/'));
const destination = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...DESTINATIONS) }, { weight: 1, arbitrary: text });
const anyValue = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...VALUES) }, { weight: 1, arbitrary: text });

/** The headers a command needs, with plausible (sometimes hostile) values: most frames get past the parser. */
function requiredHeaders(command: string): fc.Arbitrary<Array<[string, string]>> {
  switch (command) {
    case 'CONNECT':
    case 'STOMP':
      return fc.tuple(fc.constantFrom('1.2', '1.1', '1.0', '1.2,1.0', '9.9'), fc.constantFrom('0,0', '10,10', '1073741824,0', '0,4294967296', 'x')).map(
        ([v, hb]): Array<[string, string]> => [['accept-version', v], ['host', 'localhost'], ['heart-beat', hb]],
      );
    case 'SEND':
      return destination.map((d): Array<[string, string]> => [['destination', d]]);
    case 'SUBSCRIBE':
      return fc.tuple(destination, fc.constantFrom('s1', 's2', ''), fc.constantFrom('auto', 'client', 'client-individual', 'bogus')).map(
        ([d, id, ack]): Array<[string, string]> => [['destination', d], ['id', id], ['ack', ack]],
      );
    case 'UNSUBSCRIBE':
    case 'ACK':
    case 'NACK':
      return fc.constantFrom('s1', 's1', 'x', '').map((id): Array<[string, string]> => [['id', id]]);
    case 'BEGIN':
    case 'COMMIT':
    case 'ABORT':
      return fc.constantFrom('tx1', 'tx1', 'tx2', '').map((tx): Array<[string, string]> => [['transaction', tx]]);
    default:
      return fc.constant([]);
  }
}

const fuzzCase: fc.Arbitrary<FuzzCase> = fc
  .oneof({ weight: 6, arbitrary: fc.constantFrom(...COMMANDS) }, { weight: 1, arbitrary: text })
  .chain((command) =>
    fc.record({
      // A CONNECT is fuzzed as the first frame; everything else mostly after a good CONNECT.
      connectFirst:
        command === 'CONNECT' || command === 'STOMP'
          ? fc.constant(false)
          : fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      command: fc.constant(command),
      headers: fc
        .tuple(
          requiredHeaders(command),
          fc.array(fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: text }), anyValue), { maxLength: 3 }),
        )
        .map(([required, extra]) => [...required, ...extra]),
      body: (command === 'SEND'
        ? fc.oneof(fc.constant(''), fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }))
        : fc.constant('')) as fc.Arbitrary<string | Uint8Array>,
      crlf: fc.boolean(),
      nul: fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      mutations: fc.oneof(
        { weight: 3, arbitrary: fc.constant<FuzzCase['mutations']>([]) },
        {
          weight: 2,
          arbitrary: fc.array(
            fc.record({
              kind: fc.constantFrom('flip' as const, 'insert' as const, 'delete' as const, 'dup' as const),
              at: fc.nat(),
              byte: fc.constantFrom(...SPECIAL_BYTES),
              length: fc.integer({ min: 1, max: 8 }),
            }),
            { minLength: 1, maxLength: 3 },
          ),
        },
      ),
      splits: fc.array(fc.nat(), { maxLength: 2 }),
    }),
  );

function bytesOf(c: FuzzCase): Buffer[] {
  const eol = c.crlf ? '\r\n' : '\n';
  let head = c.command + eol;
  for (const [name, value] of c.headers) head += `${name}:${value}${eol}`;
  head += eol;
  let bytes = Buffer.concat([Buffer.from(head, 'utf8'), Buffer.from(c.body), Buffer.from(c.nul ? [0] : [])]);
  for (const m of c.mutations) {
    const at = bytes.length === 0 ? 0 : m.at % bytes.length;
    if (m.kind === 'flip' && bytes.length > 0) bytes[at] = m.byte;
    else if (m.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([m.byte]), bytes.subarray(at)]);
    else if (m.kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
    else if (m.kind === 'dup') bytes = Buffer.concat([bytes.subarray(0, at + m.length), bytes.subarray(at)]);
  }
  const points = [...new Set(c.splits.map((s) => (bytes.length === 0 ? 0 : s % bytes.length)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    if (p > from) pieces.push(bytes.subarray(from, p));
    from = Math.max(from, p);
  }
  pieces.push(bytes.subarray(from));
  return pieces.filter((p) => p.length > 0);
}

type Outcome = 'healthy' | 'error' | 'disconnected' | 'waiting';

interface CaseResult {
  outcome: Outcome;
  /** The ERROR's message, if one came. */
  message?: string;
  /** A violation of the rules above, if any. */
  problem?: string;
}

/** Runs one case on its own connection; resolves with what happened (never rejects). */
function runCase(url: string, c: FuzzCase, index: number): Promise<CaseResult> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, ['v12.stomp', 'v11.stomp', 'v10.stomp']);
    let received = '';
    let errorFrame: string | undefined;
    let connected = false;
    let settled = false;
    const finish = (result: CaseResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(quiet);
      clearTimeout(guard);
      ws.terminate();
      resolve(result);
    };
    const fuzz = bytesOf(c);
    const probe = (n: number) => Buffer.from(`SEND\ndestination:/topic/fuzz-probe\nreceipt:probe-${index}-${n}\n\n\0`);
    const sendFuzz = () => {
      for (const piece of fuzz) ws.send(piece, { binary: false });
      ws.send(probe(1), { binary: false });
      ws.send(probe(2), { binary: false });
      quiet = setTimeout(() => {
        // No answer and still open: a frame waiting for bytes that never came.
        if (errorFrame === undefined) finish({ outcome: 'waiting' });
      }, QUIET_MS);
    };
    let quiet: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => finish({ outcome: 'waiting', problem: 'no close after an ERROR' }), 5000);
    ws.on('error', () => undefined);
    ws.on('open', () => {
      if (c.connectFirst) ws.send(Buffer.from('CONNECT\naccept-version:1.2\nhost:localhost\n\n\0'), { binary: false });
      else sendFuzz();
    });
    ws.on('message', (data: Buffer) => {
      received += data.toString('latin1');
      if (!connected && c.connectFirst && received.startsWith('CONNECTED\n')) {
        connected = true;
        received = '';
        ws.send(Buffer.from(PRELUDE), { binary: false });
        sendFuzz();
        return;
      }
      const error = /(?:^|\0|\n)ERROR\r?\n([^\0]*)/.exec(received);
      if (error && errorFrame === undefined) {
        errorFrame = error[1];
        const message = /(?:^|\n)message:([^\n]*)/.exec(errorFrame)?.[1] ?? '';
        if (/Internal server error/i.test(message)) finish({ outcome: 'error', problem: `internal error: ${message}` });
        if (message === '') finish({ outcome: 'error', problem: `ERROR without a message: ${JSON.stringify(errorFrame.slice(0, 200))}` });
        // Then the connection must close (the close handler finishes).
      }
      if (received.includes(`receipt-id:probe-${index}-2`) && errorFrame === undefined) finish({ outcome: 'healthy' });
    });
    ws.on('close', (code) => {
      if (errorFrame !== undefined) finish({ outcome: 'error', message: /(?:^|\n)message:([^\n]*)/.exec(errorFrame)?.[1] });
      else if (code === 1000 && Buffer.concat(fuzz).includes('DISCONNECT')) finish({ outcome: 'disconnected' });
      else finish({ outcome: 'disconnected', problem: `closed with ${code} without an ERROR frame` });
    });
  });
}

describe('fuzzed frames', () => {
  let running: RunningApp;
  let bystander: Bystander;

  beforeAll(async () => {
    ({ running, bystander } = await startWithBystander({ authenticate: ({ login }) => (login ? { user: login } : {}) }));
  });
  afterAll(() => stopWithBystander(running, bystander));

  it(`${RUNS} random and mutated frames (seed ${SEED}): each connection healthy or answered with an ERROR, never an internal error`, async () => {
    const cases = fc.sample(fuzzCase, { numRuns: RUNS, seed: SEED });
    const results: CaseResult[] = new Array(cases.length);
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const i = next++;
        results[i] = await runCase(running.url, cases[i], i);
        if (i % 250 === 0) await bystander.roundTrip();
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    const problems = results
      .map((r, i) => ({ i, r }))
      .filter(({ r }) => r.problem !== undefined)
      .slice(0, 10)
      .map(({ i, r }) => ({ problem: r.problem, frame: bytesOf(cases[i]).map((b) => b.toString('latin1')).join('|').slice(0, 300), connectFirst: cases[i].connectFirst }));
    expect(problems).toEqual([]);
    const counts: Record<Outcome, number> = { healthy: 0, error: 0, disconnected: 0, waiting: 0 };
    for (const r of results) counts[r.outcome]++;
    if (process.env.FUZZ_DEBUG) {
      // FUZZ_DEBUG=1: the outcome counts and the commonest ERROR messages, to tune the generator.
      const messages = new Map<string, number>();
      for (const [i, r] of results.entries()) {
        if (r.outcome === 'error') messages.set(`${cases[i].command}: ${r.message?.slice(0, 60)}`, (messages.get(`${cases[i].command}: ${r.message?.slice(0, 60)}`) ?? 0) + 1);
      }
      console.log(counts, [...messages].sort((a, b) => b[1] - a[1]).slice(0, 25));
    }
    // The generator must reach both sides of the decoder: frames that pass and frames refused.
    expect(counts.healthy).toBeGreaterThan(RUNS / 20);
    expect(counts.error).toBeGreaterThan(RUNS / 20);
    await bystander.roundTrip();
    expectNoInternalErrors(running.logs);
  }, 60_000);
});
