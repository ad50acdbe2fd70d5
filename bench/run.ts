/**
 * `npm run bench [-- options]`: runs the ceiling server and the sample app, one after the other,
 * each in its own process, against the same load generator (a third process), then prints a
 * table of figures and ratios to the ceiling and writes the JSON to bench/results/.
 *
 * Options:
 *   --scenario <list>   fanout,pairs,idle,connect,relay (comma-separated, repeatable; default: all,
 *                       relay only when RabbitMQ answers on 127.0.0.1:61613 and :15674)
 *   --quick             a short smoke run (about 30 s)
 *   --rounds <n>        rounds per scenario, alternating which server goes first; each figure is
 *                       the best of the rounds (default 2, 1 with --quick)
 *   --paced-rate <n>    fan-out paced phase, messages/s (default 50, i.e. 50,000 deliveries/s)
 *   --no-pin            do not pin processes to CPUs even if taskset exists
 *   --cpu-prof          run both servers with --cpu-prof (profiles in bench/results/profiles)
 *   --ceiling-cork      let the ceiling batch its writes per socket and tick, as the library does
 *   --reference <js>    A/B mode: run this server script in place of the ceiling, e.g. the
 *                       sample-server.js of another build of the library (ratios are then
 *                       this build / that build)
 *   --interleave        fanout and pairs only: both servers up at once, each with its own
 *                       clients; after a warm-up of both, --rounds (default 6) measured phases
 *                       of each, alternating ABBA; figures are medians, with each round's
 *                       ratio of server CPU per delivery (median and range)
 *   --help
 */
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { selectNames } from './cli.js';
import { FULL, QUICK, SCENARIOS, SERVERS, type BenchConfig, type Scenario, type ServerKind } from './config.js';
import type { OpenResult, PhaseResult } from './generator/load-generator.js';
import { RpcClient } from './ipc.js';
import { formatTable, row, type Row } from './report.js';
import { machineBusyMicros, processUsage, type CpuUse, type ProcessUsage } from './usage.js';

const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));
const RESULTS_DIR = here('../../bench/results/');
const SERVER_CPU = 0;
const GENERATOR_CPU = 1;
const startedAt = new Date();
const runStamp = startedAt.toISOString().replace(/[:.]/g, '-');

// ---- command line ---------------------------------------------------------------------------

const { values: opts } = parseArgs({
  options: {
    scenario: { type: 'string', multiple: true },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    'paced-rate': { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    reference: { type: 'string' },
    'ceiling-cork': { type: 'boolean', default: false },
    interleave: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  console.log(
    'npm run bench -- [--scenario fanout,pairs,idle,connect,relay] [--quick] [--rounds N] [--paced-rate N] [--no-pin] [--cpu-prof] [--ceiling-cork] [--interleave] [--reference other-build/sample-server.js]',
  );
  process.exit(0);
}
const SCRIPTS: Record<ServerKind | 'generator' | 'direct', string> = {
  direct: here('./servers/rabbitmq-direct.js'),
  ceiling: opts.reference ? path.resolve(opts.reference) : here('./servers/ceiling-server.js'),
  sample: here('./servers/sample-server.js'),
  generator: here('./generator/load-generator.js'),
};
const scenarios: Scenario[] = selectNames(opts.scenario, SCENARIOS, 'scenario');
const config: BenchConfig = structuredClone(opts.quick ? QUICK : FULL);
const pacedRateOption = opts['paced-rate'] === undefined ? undefined : Number(opts['paced-rate']);
const interleave = opts.interleave;
const rounds = opts.rounds === undefined ? (interleave ? 6 : opts.quick ? 1 : 2) : Number(opts.rounds);
const maxRounds = interleave ? 40 : 10;
if (!Number.isInteger(rounds) || rounds < 1 || rounds > maxRounds) {
  console.error(`--rounds must be an integer from 1 to ${maxRounds}`);
  process.exit(2);
}
if (interleave && scenarios.some((s) => s !== 'fanout' && s !== 'pairs')) {
  console.error('--interleave measures the fanout and pairs scenarios only: add --scenario fanout,pairs');
  process.exit(2);
}
if (pacedRateOption !== undefined && !(pacedRateOption > 0)) {
  console.error('--paced-rate must be a positive number of messages per second');
  process.exit(2);
}

// ---- environment: CPU pinning and file descriptors ------------------------------------------

function detectPinning(): { applied: boolean; note: string } {
  if (opts['no-pin']) return { applied: false, note: 'not applied (--no-pin)' };
  const which = spawnSync('which', ['taskset'], { encoding: 'utf8' });
  if (which.status !== 0) return { applied: false, note: 'not applied: taskset not found' };
  const cpus = os.availableParallelism();
  if (cpus < 2) return { applied: false, note: `not applied: only ${cpus} CPU available` };
  const probe = spawnSync('taskset', ['-c', String(GENERATOR_CPU), 'true']);
  if (probe.status !== 0) return { applied: false, note: 'not applied: taskset -c failed here' };
  return {
    applied: true,
    note: `applied (taskset): servers on CPU ${SERVER_CPU}, load generator on CPU ${GENERATOR_CPU}`,
  };
}

function fdLimits(): { soft: number; hard: number } {
  const out = spawnSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).stdout.trim().split('\n');
  const parse = (s: string | undefined) => (s === undefined || s === 'unlimited' ? Infinity : Number(s));
  return { soft: parse(out[0]), hard: parse(out[1]) };
}

/** Descriptors a child needs: every session of the biggest scenario, plus room. */
function descriptorsNeeded(): number {
  return (
    Math.max(
      config.fanout.subscribers + 1,
      config.pairs.pairs * 2,
      config.idle.sessions,
      config.connect.count + config.connect.warmupCount,
    ) + 1000
  );
}

const pinning = detectPinning();
const fds = fdLimits();
const fdsNeeded = descriptorsNeeded();
let raiseFdsTo: number | undefined;
let fdNote = `ulimit -n ${fds.soft} (hard ${fds.hard}), need about ${fdsNeeded}`;
if (fds.soft < fdsNeeded) {
  if (fds.hard >= fdsNeeded) {
    raiseFdsTo = fdsNeeded;
    fdNote += `: raised to ${fdsNeeded} in the children`;
  } else {
    const room = fds.hard - 1000;
    config.idle.sessions = Math.min(config.idle.sessions, room);
    config.connect.count = Math.min(config.connect.count, room - config.connect.warmupCount);
    raiseFdsTo = fds.hard;
    fdNote += `: hard limit too low, idle sessions cut to ${config.idle.sessions}, connects to ${config.connect.count}`;
  }
}

// ---- child processes ------------------------------------------------------------------------

interface Child {
  rpc: RpcClient;
  /** Recent output lines, for diagnosing a failure. */
  output: string[];
}

function spawnChild(name: string, script: string, nodeArgs: string[], cpu: number, env: NodeJS.ProcessEnv = {}): Child {
  let argv = [process.execPath, ...nodeArgs, script];
  if (pinning.applied) argv = ['taskset', '-c', String(cpu), ...argv];
  if (raiseFdsTo !== undefined) argv = ['sh', '-c', `ulimit -n ${raiseFdsTo} && exec "$@"`, 'sh', ...argv];
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, BENCH_CEILING_CORK: opts['ceiling-cork'] ? '1' : '0', ...env },
  });
  const output: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null, isErr: boolean) => {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        output.push(line);
        if (output.length > 50) output.shift();
        // Warnings and errors of a server are part of the result: show them.
        if (isErr || /\b(WARN|ERROR)\b/.test(line)) console.error(`  [${name}] ${line}`);
      }
    });
  };
  collect(child.stdout, false);
  collect(child.stderr, true);
  return { rpc: new RpcClient(name, child), output };
}

interface ServerHandle extends Child {
  kind: ServerKind;
  url: string;
  gc: boolean;
}

/**
 * Node flags per scenario. The idle scenario caps V8's young generation at 1 MB semi-spaces:
 * otherwise its size (which the Nest boot alone grows to 2 × 16 MB, and the ceiling only grows
 * while sessions open) lands in or hides from the RSS delta and drowns the per-session figure.
 */
const SCENARIO_NODE_ARGS: Partial<Record<Scenario, string[]>> = {
  idle: ['--max-semi-space-size=1'],
};

async function startServer(kind: ServerKind, scenario: Scenario, round: number): Promise<ServerHandle> {
  const nodeArgs = ['--expose-gc', ...(SCENARIO_NODE_ARGS[scenario] ?? [])];
  if (opts['cpu-prof']) {
    mkdirSync(`${RESULTS_DIR}profiles`, { recursive: true });
    nodeArgs.push(
      '--cpu-prof',
      `--cpu-prof-dir=${RESULTS_DIR}profiles`,
      `--cpu-prof-name=${runStamp}-${scenario}-${kind}-${round}.cpuprofile`,
    );
  }
  // The relay scenario: the "ceiling" is RabbitMQ's Web-STOMP itself, the sample runs the relay.
  const relay = scenario === 'relay';
  const script = relay && kind === 'ceiling' ? SCRIPTS.direct : SCRIPTS[kind];
  const child = spawnChild(kind, script, nodeArgs, SERVER_CPU, relay && kind === 'sample' ? { BROKER: 'relay' } : {});
  const ready = await child.rpc.waitFor('ready', 30_000);
  return { ...child, kind, url: `ws://127.0.0.1:${String(ready.port)}${String(ready.path)}`, gc: ready.gc === true };
}

function usage(server: ServerHandle, gc = false): Promise<ProcessUsage> {
  return server.rpc.call<ProcessUsage>('usage', { gc }, 30_000);
}

/** Runs one generator phase and measures the CPU use of server, generator and the rest around it. */
async function measured<T>(server: ServerHandle, gen: RpcClient, phase: () => Promise<T>): Promise<T & { cpu: CpuUse }> {
  const genUsage = () => gen.call<ProcessUsage>('usage', undefined, 30_000);
  const [s0, g0] = await Promise.all([usage(server), genUsage()]);
  const self0 = processUsage();
  const busy0 = machineBusyMicros();
  const result = await phase();
  const busy1 = machineBusyMicros();
  const self1 = processUsage();
  const [s1, g1] = await Promise.all([usage(server), genUsage()]);
  const wall = Math.max(1, self1.wallMicros - self0.wallMicros);
  const serverMicros = s1.cpuMicros - s0.cpuMicros;
  const generatorMicros = g1.cpuMicros - g0.cpuMicros;
  const selfMicros = self1.cpuMicros - self0.cpuMicros;
  const other =
    busy0 === undefined || busy1 === undefined
      ? undefined
      : Math.max(0, busy1 - busy0 - serverMicros - generatorMicros - selfMicros) / wall;
  return { ...result, cpu: { server: serverMicros / wall, serverMicros, generator: generatorMicros / wall, other } };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- scenarios ------------------------------------------------------------------------------

type Measured<T> = T & { cpu: CpuUse };

interface FanoutResult {
  setup: OpenResult;
  max: Measured<PhaseResult>;
  paced: Measured<PhaseResult> & { rate: number };
}
interface PairsResult {
  setup: OpenResult;
  run: Measured<PhaseResult>;
}
interface IdleResult {
  sessions: number;
  open: OpenResult;
  before: ProcessUsage;
  after: ProcessUsage;
  rssKiBPerSession: number;
  heapKiBPerSession: number;
  externalKiBPerSession: number;
}
interface ConnectResult {
  run: Measured<OpenResult>;
}
interface RelayResult {
  setup: OpenResult;
  /** Unpaced, `window` in flight per pair: deliveries/s. */
  max: Measured<PhaseResult>;
  /** Paced at `config.relay.pacedRate` messages/s in total: latency. */
  paced: Measured<PhaseResult> & { rate: number };
}
type ScenarioResult = FanoutResult | PairsResult | IdleResult | ConnectResult | RelayResult;

/** Paced fan-out rate, messages/s. */
const pacedRate = pacedRateOption ?? config.fanout.pacedRate;

async function runFanout(server: ServerHandle, gen: RpcClient): Promise<FanoutResult> {
  const c = config.fanout;
  const setup = await gen.call<OpenResult>(
    'fanout.setup',
    { url: server.url, subscribers: c.subscribers, destination: c.destination, bodySize: c.bodySize, concurrency: config.openConcurrency },
    120_000,
  );
  const phase = (mode: 'max' | 'paced', durationMs: number, rate?: number) =>
    gen.call<PhaseResult>(
      'fanout.run',
      { mode, durationMs, window: mode === 'max' ? c.window : 4096, rate, maxMessages: c.maxMessages },
      durationMs + 30_000,
    );
  await phase('max', c.warmupMs);
  const max = await measured(server, gen, () => phase('max', c.durationMs));
  const paced = await measured(server, gen, () => phase('paced', c.pacedDurationMs, pacedRate));
  return { setup, max, paced: { ...paced, rate: pacedRate } };
}

async function runPairs(server: ServerHandle, gen: RpcClient): Promise<PairsResult> {
  const c = config.pairs;
  const setup = await gen.call<OpenResult>(
    'pairs.setup',
    { url: server.url, pairs: c.pairs, bodySize: c.bodySize, concurrency: config.openConcurrency, destinationPrefix: c.destinationPrefix },
    120_000,
  );
  const phase = (durationMs: number) =>
    gen.call<PhaseResult>('pairs.run', { durationMs, window: c.window, maxMessages: c.maxMessages }, durationMs + 30_000);
  await phase(c.warmupMs);
  const run = await measured(server, gen, () => phase(c.durationMs));
  return { setup, run };
}

async function runIdle(server: ServerHandle, gen: RpcClient): Promise<IdleResult> {
  const c = config.idle;
  const open = (sessions: number) =>
    gen.call<OpenResult>(
      'idle.open',
      { url: server.url, sessions, concurrency: config.openConcurrency, destinationPrefix: c.destinationPrefix },
      180_000,
    );
  // Warm the connection path up, then take the baseline without those sessions.
  await open(c.warmupSessions);
  await gen.call('close', undefined, 30_000);
  await sleep(300);
  const before = await usage(server, true);
  const opened = await open(c.sessions);
  if (opened.failed > 0) throw new Error(`${opened.failed} idle sessions failed: ${opened.firstError}`);
  await sleep(300);
  const after = await usage(server, true);
  const perSession = (bytes: number) => bytes / 1024 / opened.opened;
  return {
    sessions: opened.opened,
    open: opened,
    before,
    after,
    rssKiBPerSession: perSession(after.rss - before.rss),
    heapKiBPerSession: perSession(after.heapUsed - before.heapUsed),
    externalKiBPerSession: perSession(after.external - before.external),
  };
}

async function runConnect(server: ServerHandle, gen: RpcClient): Promise<ConnectResult> {
  const c = config.connect;
  const connect = (count: number) =>
    gen.call<OpenResult>('connect.run', { url: server.url, count, concurrency: c.concurrency }, 180_000);
  await connect(c.warmupCount);
  await gen.call('close', undefined, 30_000);
  const run = await measured(server, gen, () => connect(c.count));
  if (run.failed > 0) throw new Error(`${run.failed} connections failed: ${run.firstError}`);
  return { run };
}

/** RabbitMQ's Web-STOMP wants its own users and a virtual host for `host`. */
const RABBITMQ_LOGIN = { login: 'guest', passcode: 'guest', host: '/' };

/** Issue 11: pairs through the sample's relay, or straight to RabbitMQ (the "ceiling" kind). */
async function runRelay(server: ServerHandle, gen: RpcClient): Promise<RelayResult> {
  const c = config.relay;
  const setup = await gen.call<OpenResult>(
    'pairs.setup',
    {
      url: server.url,
      pairs: c.pairs,
      bodySize: c.bodySize,
      concurrency: Math.min(config.openConcurrency, 20),
      destinationPrefix: c.destinationPrefix,
      login: server.kind === 'ceiling' ? RABBITMQ_LOGIN : undefined,
    },
    120_000,
  );
  const phase = (durationMs: number, rate?: number) =>
    gen.call<PhaseResult>('pairs.run', { durationMs, window: c.window, maxMessages: c.maxMessages, rate }, durationMs + 30_000);
  await phase(c.warmupMs);
  const paced = await measured(server, gen, () => phase(c.pacedDurationMs, c.pacedRate));
  const max = await measured(server, gen, () => phase(c.durationMs));
  return { setup, max, paced: { ...paced, rate: c.pacedRate } };
}

/** True when something accepts a TCP connection on 127.0.0.1:`port` within `timeoutMs`. */
function reachable(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const RUNNERS: Record<Scenario, (server: ServerHandle, gen: RpcClient) => Promise<ScenarioResult>> = {
  fanout: runFanout,
  pairs: runPairs,
  idle: runIdle,
  connect: runConnect,
  relay: runRelay,
};

// ---- interleaved mode (--interleave) --------------------------------------------------------

/** One measured phase per server and round, in the order they ran. */
type InterleavedResult = Record<ServerKind, Measured<PhaseResult>[]>;

/**
 * Both servers up at once (both pinned to the server CPU; the one not being measured is idle),
 * each with its own set of generator clients. Both are warmed up, twice each, then measured
 * alternately, ABBA, so that drift on the machine (another process starting, thermal state) falls
 * on both alike, and each round's two phases are close in time: their ratio is the figure.
 */
async function runInterleaved(scenario: 'fanout' | 'pairs', gen: RpcClient): Promise<InterleavedResult> {
  const out: InterleavedResult = { ceiling: [], sample: [] };
  const servers: Partial<Record<ServerKind, ServerHandle>> = {};
  try {
    for (const kind of SERVERS) {
      const server = (servers[kind] = await startServer(kind, scenario, 0));
      if (scenario === 'fanout') {
        const c = config.fanout;
        await gen.call<OpenResult>(
          'fanout.setup',
          { url: server.url, subscribers: c.subscribers, destination: c.destination, bodySize: c.bodySize, concurrency: config.openConcurrency, key: kind },
          120_000,
        );
      } else {
        const c = config.pairs;
        await gen.call<OpenResult>(
          'pairs.setup',
          { url: server.url, pairs: c.pairs, bodySize: c.bodySize, concurrency: config.openConcurrency, destinationPrefix: c.destinationPrefix, key: kind },
          120_000,
        );
      }
    }
    const phase = (kind: ServerKind, durationMs: number) =>
      scenario === 'fanout'
        ? gen.call<PhaseResult>(
            'fanout.run',
            { mode: 'max', durationMs, window: config.fanout.window, maxMessages: config.fanout.maxMessages, key: kind },
            durationMs + 30_000,
          )
        : gen.call<PhaseResult>(
            'pairs.run',
            { durationMs, window: config.pairs.window, maxMessages: config.pairs.maxMessages, key: kind },
            durationMs + 30_000,
          );
    const { warmupMs, durationMs } = config[scenario];
    for (let i = 0; i < 2; i++) for (const kind of SERVERS) await phase(kind, warmupMs);
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? SERVERS : [...SERVERS].reverse();
      for (const kind of order) {
        const server = servers[kind] as ServerHandle;
        out[kind].push(await measured(server, gen, () => phase(kind, durationMs)));
      }
      process.stdout.write('.');
    }
  } finally {
    for (const kind of SERVERS) await servers[kind]?.rpc.stop();
    await gen.call('close', undefined, 30_000).catch(() => undefined);
  }
  return out;
}

function median(values: number[]): number | undefined {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Server CPU time per delivery, µs. */
const cpuPerDelivery = (p: Measured<PhaseResult>) => p.cpu.serverMicros / Math.max(1, p.received);

/** Median, lowest and highest of each round's sample / ceiling ratio of `get`. */
function roundRatios(r: InterleavedResult, get: (p: Measured<PhaseResult>) => number) {
  const ratios = r.sample.map((s, i) => get(s) / get(r.ceiling[i])).filter(Number.isFinite);
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), n: ratios.length };
}

function interleavedRows(scenario: 'fanout' | 'pairs', r: InterleavedResult): Row[] {
  const name =
    scenario === 'fanout'
      ? `fanout ${config.fanout.subscribers} subs, max (window ${config.fanout.window})`
      : `pairs ${config.pairs.pairs} (window ${config.pairs.window})`;
  const med = (list: Measured<PhaseResult>[], get: (p: Measured<PhaseResult>) => number) => median(list.map(get));
  const medianCpu = (list: Measured<PhaseResult>[]): CpuUse | undefined =>
    list.length === 0
      ? undefined
      : {
          server: median(list.map((p) => p.cpu.server)) ?? 0,
          serverMicros: median(list.map((p) => p.cpu.serverMicros)) ?? 0,
          generator: median(list.map((p) => p.cpu.generator)) ?? 0,
          other: median(list.map((p) => p.cpu.other ?? NaN)),
        };
  const pair = (get: (p: Measured<PhaseResult>) => number) => [med(r.ceiling, get), med(r.sample, get)] as const;
  return [
    row(name, 'deliveries/s', '/s', ...pair((p) => p.deliveriesPerSecond), undefined, {
      ceiling: medianCpu(r.ceiling),
      sample: medianCpu(r.sample),
    }),
    row(name, 'server CPU per delivery', 'µs', ...pair(cpuPerDelivery), { kind: 'max', ratio: 1.1 }),
    row(name, 'latency p50', 'ms', ...pair((p) => p.latency.p50)),
    row(name, 'latency p99', 'ms', ...pair((p) => p.latency.p99)),
  ];
}

async function interleavedMain(generator: Child): Promise<{ rows: Row[]; results: Partial<Record<Scenario, InterleavedResult>>; notes: string[] }> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const results: Partial<Record<Scenario, InterleavedResult>> = {};
  for (const scenario of scenarios as ('fanout' | 'pairs')[]) {
    const t0 = Date.now();
    process.stdout.write(`  ${scenario}, ceiling and sample interleaved, ${rounds} rounds `);
    const r = await runInterleaved(scenario, generator.rpc);
    console.log(` done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    results[scenario] = r;
    rows.push(...interleavedRows(scenario, r));
    const cpu = roundRatios(r, cpuPerDelivery);
    const rate = roundRatios(r, (p) => p.deliveriesPerSecond);
    const f = (v: number | undefined) => (v === undefined ? '—' : `${v.toFixed(2)}×`);
    notes.push(
      `${scenario}: per-round server CPU per delivery ratio median ${f(cpu.median)} (range ${f(cpu.min)}–${f(cpu.max)}, ${cpu.n} rounds); ` +
        `deliveries/s ratio median ${f(rate.median)} (range ${f(rate.min)}–${f(rate.max)})`,
    );
    for (const kind of SERVERS) {
      r[kind].forEach((p, i) => {
        if (p.stalled || p.missing > 0 || p.clientErrors > 0) notes.push(`warning: ${scenario} × ${kind} round ${i + 1}: stalled ${p.stalled}, missing ${p.missing}, client errors ${p.clientErrors}`);
        if (p.cpu.other !== undefined && p.cpu.other > 0.15) {
          notes.push(`warning: ${scenario} × ${kind} round ${i + 1}: other processes used ${Math.round(p.cpu.other * 100)}% of a core meanwhile`);
        }
      });
    }
  }
  return { rows, results, notes };
}

// ---- report ---------------------------------------------------------------------------------

type Outcome = ScenarioResult | { error: string };
/** Every round's outcome, per scenario and server. */
type Results = Partial<Record<Scenario, Record<ServerKind, Outcome[]>>>;

function succeeded<T extends ScenarioResult>(list: Outcome[] | undefined): T[] {
  return (list ?? []).filter((o): o is T => !('error' in o));
}

/** The best of the rounds: highest for rates, lowest for latencies and memory. */
function best<T>(list: T[], get: (t: T) => number | undefined, higherIsBetter: boolean): number | undefined {
  let found: number | undefined;
  for (const item of list) {
    const v = get(item);
    if (v === undefined || !Number.isFinite(v)) continue;
    if (found === undefined || (higherIsBetter ? v > found : v < found)) found = v;
  }
  return found;
}

/** The CPU figures of the round with the highest rate. */
function cpuOfBest<T>(list: T[], rate: (t: T) => number, cpu: (t: T) => CpuUse): CpuUse | undefined {
  let chosen: T | undefined;
  for (const item of list) if (chosen === undefined || rate(item) > rate(chosen)) chosen = item;
  return chosen === undefined ? undefined : cpu(chosen);
}

function buildRows(results: Results): Row[] {
  const rows: Row[] = [];
  const phaseRows = (
    scenario: string,
    c: Measured<PhaseResult>[],
    s: Measured<PhaseResult>[],
    targets: { rate?: number; p99?: number },
  ) => {
    const rate = (p: Measured<PhaseResult>) => p.deliveriesPerSecond;
    const cpu = {
      ceiling: cpuOfBest(c, rate, (p) => p.cpu),
      sample: cpuOfBest(s, rate, (p) => p.cpu),
    };
    const pair = (get: (p: Measured<PhaseResult>) => number, higher: boolean) =>
      [best(c, get, higher), best(s, get, higher)] as const;
    rows.push(
      row(scenario, 'deliveries/s', '/s', ...pair(rate, true), targets.rate ? { kind: 'min', ratio: targets.rate } : undefined, cpu),
      row(scenario, 'server CPU per delivery', 'µs', ...pair((p) => p.cpu.serverMicros / p.received, false)),
      row(scenario, 'latency p50', 'ms', ...pair((p) => p.latency.p50, false)),
      row(scenario, 'latency p99', 'ms', ...pair((p) => p.latency.p99, false),
        targets.p99 ? { kind: 'max', ratio: targets.p99 } : undefined),
      row(scenario, 'latency max', 'ms', ...pair((p) => p.latency.max, false)),
    );
  };
  if (results.fanout) {
    const c = succeeded<FanoutResult>(results.fanout.ceiling);
    const s = succeeded<FanoutResult>(results.fanout.sample);
    const subs = config.fanout.subscribers;
    phaseRows(`fanout ${subs} subs, max (window ${config.fanout.window})`, c.map((r) => r.max), s.map((r) => r.max), { rate: 0.9, p99: 1.5 });
    phaseRows(`fanout ${subs} subs, paced ${pacedRate} msg/s`, c.map((r) => r.paced), s.map((r) => r.paced), { p99: 1.5 });
  }
  if (results.pairs) {
    const c = succeeded<PairsResult>(results.pairs.ceiling);
    const s = succeeded<PairsResult>(results.pairs.sample);
    phaseRows(`pairs ${config.pairs.pairs} (window ${config.pairs.window})`, c.map((r) => r.run), s.map((r) => r.run), { rate: 0.8 });
  }
  if (results.idle) {
    const c = succeeded<IdleResult>(results.idle.ceiling);
    const s = succeeded<IdleResult>(results.idle.sample);
    const name = `idle ${config.idle.sessions} sessions`;
    const pair = (get: (r: IdleResult) => number) => [best(c, get, false), best(s, get, false)] as const;
    rows.push(
      row(name, 'RSS per session', 'KiB', ...pair((r) => r.rssKiBPerSession), { kind: 'max', ratio: 1.3 }),
      row(name, 'JS heap per session', 'KiB', ...pair((r) => r.heapKiBPerSession)),
    );
  }
  if (results.connect) {
    const c = succeeded<ConnectResult>(results.connect.ceiling).map((r) => r.run);
    const s = succeeded<ConnectResult>(results.connect.sample).map((r) => r.run);
    const name = `connect ${config.connect.count} (${config.connect.concurrency} at a time)`;
    const rate = (r: Measured<OpenResult>) => r.perSecond;
    rows.push(
      row(name, 'connects/s', '/s', best(c, rate, true), best(s, rate, true), { kind: 'min', ratio: 0.8 }, {
        ceiling: cpuOfBest(c, rate, (r) => r.cpu),
        sample: cpuOfBest(s, rate, (r) => r.cpu),
      }),
      row(name, 'server CPU per connect', 'µs', best(c, (r) => r.cpu.serverMicros / r.opened, false), best(s, (r) => r.cpu.serverMicros / r.opened, false)),
      row(name, 'connect p50', 'ms', best(c, (r) => r.latency.p50, false), best(s, (r) => r.latency.p50, false)),
      row(name, 'connect p99', 'ms', best(c, (r) => r.latency.p99, false), best(s, (r) => r.latency.p99, false)),
    );
  }
  if (results.relay) {
    const c = succeeded<RelayResult>(results.relay.ceiling);
    const s = succeeded<RelayResult>(results.relay.sample);
    const r = config.relay;
    const rate = (p: Measured<PhaseResult>) => p.deliveriesPerSecond;
    const cpuCols = (d: Measured<PhaseResult>[], v: Measured<PhaseResult>[]) => ({ ceiling: cpuOfBest(d, rate, (p) => p.cpu), sample: cpuOfBest(v, rate, (p) => p.cpu) });
    const paced = `relay ${r.pairs} pairs, paced ${r.pacedRate} msg/s`;
    const max = `relay ${r.pairs} pairs, max (window ${r.window})`;
    const [cp, sp, cm, sm] = [c.map((x) => x.paced), s.map((x) => x.paced), c.map((x) => x.max), s.map((x) => x.max)];
    const lat = (list: Measured<PhaseResult>[], get: (p: Measured<PhaseResult>) => number) => best(list, get, false);
    rows.push(
      row(paced, 'latency p50', 'ms', lat(cp, (p) => p.latency.p50), lat(sp, (p) => p.latency.p50), { kind: 'max', ratio: 1.25 }, cpuCols(cp, sp)),
      row(paced, 'latency p99', 'ms', lat(cp, (p) => p.latency.p99), lat(sp, (p) => p.latency.p99), { kind: 'max', ratio: 1.25 }),
      row(paced, 'server CPU per delivery', 'µs', undefined, lat(sp, (p) => p.cpu.serverMicros / p.received)),
      row(max, 'deliveries/s', '/s', best(cm, rate, true), best(sm, rate, true), { kind: 'min', ratio: 0.8 }, cpuCols(cm, sm)),
      row(max, 'server CPU per delivery', 'µs', undefined, lat(sm, (p) => p.cpu.serverMicros / p.received)),
      row(max, 'latency p50', 'ms', lat(cm, (p) => p.latency.p50), lat(sm, (p) => p.latency.p50)),
      row(max, 'latency p99', 'ms', lat(cm, (p) => p.latency.p99), lat(sm, (p) => p.latency.p99)),
    );
  }
  return rows;
}

/** Phases of one outcome with their names, for warnings. */
function phasesOf(result: ScenarioResult): [string, Measured<PhaseResult | OpenResult>][] {
  if ('max' in result) return [['max', result.max], ['paced', result.paced]];
  if ('run' in result) return [['', result.run]];
  return [];
}

function warningsOf(label: string, result: ScenarioResult): string[] {
  const out: string[] = [];
  for (const [name, phase] of phasesOf(result)) {
    const where = `${label}${name ? ` ${name}` : ''}`;
    if ('stalled' in phase) {
      if (phase.stalled) out.push(`${where}: stalled (no delivery for 3 s)`);
      if (phase.missing > 0) out.push(`${where}: ${phase.missing} deliveries missing`);
      if (phase.clientErrors > 0) out.push(`${where}: ${phase.clientErrors} client errors`);
    }
    if (phase.cpu.other !== undefined && phase.cpu.other > 0.15) {
      out.push(`${where}: other processes used ${Math.round(phase.cpu.other * 100)}% of a core meanwhile`);
    }
  }
  return out;
}

// ---- main -----------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (scenarios.includes('relay') && !interleave) {
    const [stomp, web] = await Promise.all([reachable(61613), reachable(Number(process.env.RABBITMQ_WS_PORT ?? 15674))]);
    if (!stomp || !web) {
      console.log('relay scenario skipped: RabbitMQ not running (bash scripts/rabbitmq.sh start)');
      scenarios.splice(scenarios.indexOf('relay'), 1);
    }
  }
  console.log(`nestjs-stomp benchmark${opts.quick ? ' (--quick)' : ''}: ${scenarios.join(', ')}, ${rounds} round(s)`);
  console.log(`  node ${process.version}, ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model ?? '?'})`);
  console.log(`  CPU pinning: ${pinning.note}`);
  if (opts.reference) console.log(`  A/B mode: the "ceiling" column is ${opts.reference}`);
  else if (opts['ceiling-cork']) console.log('  ceiling batches its writes per socket and tick (--ceiling-cork)');
  console.log(`  file descriptors: ${fdNote}`);
  const load = os.loadavg()[0];
  if (load > 0.5) console.log(`  note: load average ${load.toFixed(2)} before starting; other work on this machine skews figures`);
  const generator = spawnChild('generator', SCRIPTS.generator, ['--expose-gc', '--max-old-space-size=2048'], GENERATOR_CPU);
  if (interleave) {
    let out: Awaited<ReturnType<typeof interleavedMain>>;
    try {
      out = await interleavedMain(generator);
    } finally {
      await generator.rpc.stop();
    }
    console.log('');
    console.log(formatTable(out.rows));
    console.log('');
    console.log(
      `figures are medians of ${rounds} interleaved rounds (ABBA) after a warm-up; ratio = sample / ceiling. ` +
        'cpu% = server/generator/other processes, % of one core.',
    );
    for (const n of out.notes) console.log(n);
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = `${RESULTS_DIR}${runStamp}.json`;
    writeFileSync(
      file,
      JSON.stringify(
        { startedAt: startedAt.toISOString(), interleave: true, rounds, node: process.version, pinning, reference: opts.reference, ceilingCork: opts['ceiling-cork'], config, rows: out.rows, notes: out.notes, results: out.results },
        null,
        2,
      ),
    );
    console.log(`results: ${file}`);
    console.log(`total ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s`);
    return;
  }
  const results: Results = {};
  const warnings: string[] = [];
  try {
    for (const scenario of scenarios) {
      const outcomes: Record<ServerKind, Outcome[]> = { ceiling: [], sample: [] };
      results[scenario] = outcomes;
      for (let round = 1; round <= rounds; round++) {
        // Alternate which server goes first, so neither always runs on a fresher machine.
        const order = round % 2 === 1 ? SERVERS : [...SERVERS].reverse();
        for (const kind of order) {
          const t0 = Date.now();
          const label = `${scenario} × ${kind}${rounds > 1 ? ` (round ${round})` : ''}`;
          process.stdout.write(`  ${label} ... `);
          let server: ServerHandle | undefined;
          try {
            server = await startServer(kind, scenario, round);
            const result = await RUNNERS[scenario](server, generator.rpc);
            outcomes[kind].push(result);
            warnings.push(...warningsOf(label, result));
            console.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
          } catch (err) {
            const message = err instanceof Error ? err.message : String(err);
            outcomes[kind].push({ error: message });
            warnings.push(`${label} failed: ${message}`);
            console.log('FAILED');
            if (server) console.error(server.output.slice(-10).map((l) => `    | ${l}`).join('\n'));
          } finally {
            await server?.rpc.stop();
            await generator.rpc.call('close', undefined, 30_000).catch(() => undefined);
          }
        }
      }
    }
  } finally {
    await generator.rpc.stop();
  }

  const rows = buildRows(results);
  console.log('');
  console.log(formatTable(rows));
  console.log('');
  console.log(
    `ratio = sample / ceiling, same run${rounds > 1 ? `; each figure is the best of ${rounds} rounds` : ''}. ` +
      'cpu% = server/generator/other processes, % of one core (other ≫ 0: a noisy machine).',
  );
  if (results.relay) {
    console.log(
      'relay rows: "ceiling" = clients straight to RabbitMQ Web-STOMP (ws://127.0.0.1:15674/ws), "sample" = the sample app with ' +
        'BROKER=relay; server CPU = the sample process only (RabbitMQ\'s CPU is not measured, its srv% in the direct column is a stub\'s).',
    );
  }
  for (const w of warnings) console.log(`warning: ${w}`);
  const judged = rows.filter((r) => r.pass !== undefined);
  console.log(`targets met: ${judged.filter((r) => r.pass).length}/${judged.length}`);

  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}${runStamp}.json`;
  writeFileSync(
    file,
    JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        seconds: (Date.now() - startedAt.getTime()) / 1000,
        quick: opts.quick,
        rounds,
        node: process.version,
        cpus: os.availableParallelism(),
        cpuModel: os.cpus()[0]?.model,
        loadAverageAtStart: load,
        pinning,
        reference: opts.reference,
        ceilingCork: opts['ceiling-cork'],
        fileDescriptors: fdNote,
        pacedRate,
        config,
        rows,
        results,
        warnings,
      },
      null,
      2,
    ),
  );
  console.log(`results: ${file}`);
  console.log(`total ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
