/**
 * The load generator: its own process (pinned to its own core when `taskset` exists), driven by
 * bench/run.js over IPC. It opens raw `ws` STOMP clients against one server at a time, runs one
 * measured phase per call and answers with the figures. Every loop is bounded in count and time.
 */
import { serveRpc } from '../ipc.js';
import { processUsage } from '../usage.js';
import { Histogram, type LatencySummary } from './histogram.js';
import { LiteClient, nowMicros, readStamp, SendTemplate, stamp, type ConnectLogin } from './stomp-lite.js';

const CONNECT_TIMEOUT_MS = 10_000;
/** A phase with no delivery for this long is abandoned and reported as stalled. */
const STALL_MS = 3000;
/** After the sending stops, how long a phase waits for the deliveries still in flight. */
const DRAIN_MS = 5000;

export interface PhaseResult {
  /** Deliveries received by subscribers while the phase was sending. */
  deliveries: number;
  /** All deliveries received, including those that arrived after the sending stopped. */
  received: number;
  seconds: number;
  deliveriesPerSecond: number;
  messagesSent: number;
  /** Deliveries that never arrived (the phase drained with some still missing). */
  missing: number;
  stalled: boolean;
  latency: LatencySummary;
  clientErrors: number;
}

export interface OpenResult {
  opened: number;
  failed: number;
  seconds: number;
  perSecond: number;
  latency: LatencySummary;
  firstError?: string;
}

let clients: LiteClient[] = [];
/** Sequence numbers never repeat in a run, so a late delivery from an earlier phase is ignored. */
let nextSeq = 1;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Opens `count` sessions, at most `concurrency` handshakes at a time, each optionally with one
 * subscription (SUBSCRIBE with a receipt). Latency is handshake + CONNECT (+ SUBSCRIBE).
 */
async function openSessions(
  url: string,
  count: number,
  concurrency: number,
  subscribeTo?: (i: number) => string,
  login?: ConnectLogin,
): Promise<{ opened: LiteClient[]; result: OpenResult }> {
  const opened: LiteClient[] = new Array(count);
  const histogram = new Histogram();
  let started = 0;
  let failed = 0;
  let firstError: string | undefined;
  const t0 = nowMicros();
  const worker = async () => {
    while (started < count) {
      const i = started++;
      const begin = nowMicros();
      try {
        const client = await LiteClient.connect(url, CONNECT_TIMEOUT_MS, login);
        opened[i] = client;
        clients.push(client);
        if (subscribeTo) await client.subscribe(subscribeTo(i), 'sub-0', CONNECT_TIMEOUT_MS);
        histogram.record(nowMicros() - begin);
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const seconds = (nowMicros() - t0) / 1e6;
  return {
    opened: opened.filter((c) => c !== undefined),
    result: {
      opened: count - failed,
      failed,
      seconds,
      perSecond: (count - failed) / seconds,
      latency: histogram.summary(),
      firstError,
    },
  };
}

function clientErrors(list: LiteClient[]): number {
  let n = 0;
  for (const c of list) n += c.errors;
  return n;
}

// ---- fan-out ------------------------------------------------------------------------------

interface FanoutState {
  publisher: LiteClient;
  subscribers: LiteClient[];
  template: SendTemplate;
  bodySize: number;
}

/**
 * Set-ups by key: the runner's interleaved mode (`--interleave`) keeps one set of clients per
 * server open at once and alternates the measured phases between them.
 */
const fanouts = new Map<string, FanoutState>();

async function fanoutSetup(args: {
  url: string;
  subscribers: number;
  destination: string;
  bodySize: number;
  concurrency: number;
  key?: string;
}): Promise<OpenResult> {
  const { opened, result } = await openSessions(args.url, args.subscribers, args.concurrency, () => args.destination);
  if (result.failed > 0) throw new Error(`fan-out set-up: ${result.failed} subscribers failed: ${result.firstError}`);
  const publisher = await LiteClient.connect(args.url, CONNECT_TIMEOUT_MS);
  clients.push(publisher);
  fanouts.set(args.key ?? '', {
    publisher,
    subscribers: opened,
    template: new SendTemplate(args.destination, args.bodySize),
    bodySize: args.bodySize,
  });
  return result;
}

/**
 * One fan-out phase. `max`: keep `window` messages in flight (a message is in flight until every
 * subscriber has it). `paced`: send `rate` messages per second on a timer, whatever comes back
 * (at most `window` in flight, as a safety bound).
 */
async function fanoutRun(args: {
  mode: 'max' | 'paced';
  durationMs: number;
  window: number;
  rate?: number;
  maxMessages: number;
  key?: string;
}): Promise<PhaseResult> {
  const state = fanouts.get(args.key ?? '');
  if (!state) throw new Error('fan-out not set up');
  const { publisher, subscribers, template, bodySize } = state;
  const expected = subscribers.length;
  const ringSize = 1 << 16;
  if (args.window >= ringSize) throw new Error(`window must be below ${ringSize}`);
  const remaining = new Int32Array(ringSize);
  const histogram = new Histogram();
  const firstSeq = nextSeq;
  let inFlight = 0;
  let sent = 0;
  let received = 0;
  let receivedWhileSending = 0;
  let sending = true;
  let lastProgress = Date.now();
  let wake: (() => void) | undefined;

  const send = () => {
    const seq = nextSeq++;
    remaining[seq & (ringSize - 1)] = expected;
    inFlight++;
    sent++;
    publisher.send(template.build(seq, nowMicros()));
  };
  const pump = () => {
    while (sending && inFlight < args.window && sent < args.maxMessages) send();
  };
  const onMessage = (data: Buffer) => {
    if (!readStamp(data, bodySize) || stamp.seq < firstSeq) return;
    histogram.record(nowMicros() - stamp.micros);
    received++;
    if (sending) receivedWhileSending++;
    lastProgress = Date.now();
    if (--remaining[stamp.seq & (ringSize - 1)] === 0) {
      inFlight--;
      if (args.mode === 'max') pump();
      if (inFlight === 0) wake?.();
    }
  };
  for (const s of subscribers) s.onMessage = onMessage;

  const t0 = nowMicros();
  let pacer: NodeJS.Timeout | undefined;
  if (args.mode === 'max') {
    pump();
  } else {
    const rate = args.rate ?? 1;
    const tick = () => {
      if (!sending) return;
      const due = Math.min(args.maxMessages, Math.floor(((nowMicros() - t0) / 1e6) * rate) + 1);
      while (sent < due && inFlight < args.window) send();
      const next = t0 + ((sent + 1) / rate) * 1e6;
      pacer = setTimeout(tick, Math.max(0, (next - nowMicros()) / 1000));
    };
    tick();
  }
  // Run for the duration, or until the message budget is spent, or until nothing moves.
  const stalled = await runPhase(args.durationMs, () => sent >= args.maxMessages, () => lastProgress);
  sending = false;
  clearTimeout(pacer);
  const seconds = (nowMicros() - t0) / 1e6;
  const deliveries = receivedWhileSending;
  // Let what is in flight arrive (its latency counts), bounded.
  if (inFlight > 0 && !stalled) {
    await Promise.race([new Promise<void>((r) => (wake = r)), sleep(DRAIN_MS)]);
  }
  for (const s of subscribers) s.onMessage = () => undefined;
  return {
    deliveries,
    received,
    seconds,
    deliveriesPerSecond: deliveries / seconds,
    messagesSent: sent,
    missing: sent * expected - received,
    stalled,
    latency: histogram.summary(),
    clientErrors: clientErrors(subscribers) + publisher.errors,
  };
}

// ---- pairs --------------------------------------------------------------------------------

interface Pair {
  publisher: LiteClient;
  subscriber: LiteClient;
  template: SendTemplate;
}

/** Set-ups by key, as {@link fanouts}. */
const pairSets = new Map<string, { list: Pair[]; bodySize: number }>();

async function pairsSetup(args: {
  url: string;
  pairs: number;
  bodySize: number;
  concurrency: number;
  destinationPrefix: string;
  key?: string;
  /** CONNECT credentials other than the sample's (RabbitMQ direct: guest/guest on `/`). */
  login?: ConnectLogin;
}): Promise<OpenResult> {
  const destination = (i: number) => `${args.destinationPrefix}${i}`;
  const subs = await openSessions(args.url, args.pairs, args.concurrency, destination, args.login);
  const pubs = await openSessions(args.url, args.pairs, args.concurrency, undefined, args.login);
  const failed = subs.result.failed + pubs.result.failed;
  if (failed > 0) throw new Error(`pairs set-up: ${failed} sessions failed: ${subs.result.firstError ?? pubs.result.firstError}`);
  pairSets.set(args.key ?? '', {
    bodySize: args.bodySize,
    list: subs.opened.map((subscriber, i) => ({
      subscriber,
      publisher: pubs.opened[i],
      template: new SendTemplate(destination(i), args.bodySize),
    })),
  });
  return subs.result;
}

/**
 * Unpaced (no `rate`): every publisher keeps `window` messages in flight to its own subscriber.
 * Paced (`rate`, messages/s in total): a timer sends round-robin over the pairs at that rate,
 * skipping a pair that already has `window` in flight (a safety bound, as in fan-out's paced phase).
 */
async function pairsRun(args: { durationMs: number; window: number; maxMessages: number; key?: string; rate?: number }): Promise<PhaseResult> {
  const state = pairSets.get(args.key ?? '');
  if (!state) throw new Error('pairs not set up');
  const { list, bodySize } = state;
  const histogram = new Histogram();
  const firstSeq = nextSeq;
  let sent = 0;
  let received = 0;
  let receivedWhileSending = 0;
  let inFlight = 0;
  let sending = true;
  let lastProgress = Date.now();
  let wake: (() => void) | undefined;

  const paced = args.rate !== undefined;
  const pairInFlight = new Int32Array(list.length);
  const send = (pair: Pair, i: number) => {
    sent++;
    inFlight++;
    pairInFlight[i]++;
    pair.publisher.send(pair.template.build(nextSeq++, nowMicros()));
  };
  list.forEach((pair, i) => {
    pair.subscriber.onMessage = (data: Buffer) => {
      if (!readStamp(data, bodySize) || stamp.seq < firstSeq) return;
      histogram.record(nowMicros() - stamp.micros);
      received++;
      inFlight--;
      pairInFlight[i]--;
      lastProgress = Date.now();
      if (sending) {
        receivedWhileSending++;
        if (!paced && sent < args.maxMessages) send(pair, i);
      }
      if (inFlight === 0) wake?.();
    };
  });
  const t0 = nowMicros();
  let pacer: NodeJS.Timeout | undefined;
  if (args.rate !== undefined) {
    const rate = args.rate;
    let next = 0;
    const tick = () => {
      if (!sending) return;
      const due = Math.min(args.maxMessages, Math.floor(((nowMicros() - t0) / 1e6) * rate) + 1);
      // Bounded: at most one full turn over the pairs per due message.
      for (let tries = 0; sent < due && tries < list.length; tries++) {
        const i = next;
        next = (next + 1) % list.length;
        if (pairInFlight[i] < args.window) {
          send(list[i], i);
          tries = -1;
        }
      }
      const at = t0 + ((sent + 1) / rate) * 1e6;
      pacer = setTimeout(tick, Math.max(0, (at - nowMicros()) / 1000));
    };
    tick();
  } else {
    for (let w = 0; w < args.window; w++) list.forEach((pair, i) => send(pair, i));
  }
  const stalled = await runPhase(args.durationMs, () => sent >= args.maxMessages, () => lastProgress);
  sending = false;
  clearTimeout(pacer);
  const seconds = (nowMicros() - t0) / 1e6;
  const deliveries = receivedWhileSending;
  if (inFlight > 0 && !stalled) {
    await Promise.race([new Promise<void>((r) => (wake = r)), sleep(DRAIN_MS)]);
  }
  for (const pair of list) pair.subscriber.onMessage = () => undefined;
  return {
    deliveries,
    received,
    seconds,
    deliveriesPerSecond: deliveries / seconds,
    messagesSent: sent,
    missing: sent - received,
    stalled,
    latency: histogram.summary(),
    clientErrors: list.reduce((n, p) => n + p.publisher.errors + p.subscriber.errors, 0),
  };
}

// ---- idle sessions and connection rate ----------------------------------------------------

async function idleOpen(args: {
  url: string;
  sessions: number;
  concurrency: number;
  destinationPrefix: string;
}): Promise<OpenResult> {
  const { result } = await openSessions(
    args.url,
    args.sessions,
    args.concurrency,
    (i) => `${args.destinationPrefix}${i}`,
  );
  return result;
}

async function connectRun(args: { url: string; count: number; concurrency: number }): Promise<OpenResult> {
  const { result } = await openSessions(args.url, args.count, args.concurrency);
  return result;
}

/** Drops every client and waits (bounded) until their sockets are closed. */
async function closeAll(): Promise<{ closed: number }> {
  const list = clients;
  clients = [];
  fanouts.clear();
  pairSets.clear();
  await Promise.race([Promise.all(list.map((c) => c.terminate())), sleep(10_000)]);
  (globalThis as { gc?: () => void }).gc?.();
  return { closed: list.length };
}

serveRpc({
  'fanout.setup': fanoutSetup,
  'fanout.run': fanoutRun,
  'pairs.setup': pairsSetup,
  'pairs.run': pairsRun,
  'idle.open': idleOpen,
  'connect.run': connectRun,
  close: closeAll,
  usage: processUsage,
  stop: async () => {
    await closeAll();
    setImmediate(() => process.exit(0));
    return true;
  },
});

/**
 * Waits out one measured phase: until `durationMs` passes or the message budget is spent, both
 * bounded. Returns true when nothing arrived for STALL_MS (the phase is abandoned as stalled).
 */
async function runPhase(durationMs: number, budgetSpent: () => boolean, lastProgress: () => number): Promise<boolean> {
  const deadline = Date.now() + durationMs;
  while (Date.now() < deadline && !budgetSpent()) {
    await sleep(Math.min(100, Math.max(1, deadline - Date.now())));
    if (Date.now() - lastProgress() > STALL_MS) return true;
  }
  return false;
}
