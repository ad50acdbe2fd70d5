/**
 * `npm run bench:hostile [-- options]`: the attacks of issue 7 against the sample app, each against
 * a fresh server process (so heap and CPU figures are the server's alone), on 127.0.0.1. Every
 * attack is bounded in count and time; one that runs past its cap is abandoned and reported as
 * `> cap`. Prints a table, then the same figures as JSON.
 *
 * Options:
 *   --server <dir>          checkout whose build to attack: runs <dir>/dist-bench/bench/servers/
 *                           sample-server.js (build it first: `npx tsc -p <dir>/bench/tsconfig.json`).
 *                           Default: this checkout.
 *   --attack <list>         comma-separated subset of: heartbeat-recv, heartbeat-send, body-1byte,
 *                           pattern-8k, deep-publish, deep-publish-limits, pipeline, user-queue,
 *                           headers, user-dest, sockjs-chunked
 *   --pipeline-frames <n>   SEND /app/hello frames in the one pipelined WebSocket message (20000;
 *                           the issue's 10 MiB message holds 145,000)
 *   --segments <list>       destination depths of the deep publish against `/topic/**` x4 (100,200;
 *                           the issue's is 300)
 *   --body-bytes <n>        body bytes sent as 1-byte WebSocket messages (200000)
 *   --patterns <n>          8 KiB `#` pattern SUBSCRIBEs (20)
 *   --chunked-bytes <n>     bytes of the SockJS xhr_send body posted in 1-byte HTTP chunks (262144)
 *   --json <file>           also write the JSON there
 *   --no-pin                do not pin the server to CPU 0 and this process to CPU 1
 *   --compare <a.json> --compare <b.json>
 *                           print two runs' figures side by side (from --json), run nothing
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { selectNames } from './cli.js';
import { encodeFrame } from './generator/stomp-lite.js';
import { RpcClient } from './ipc.js';
import type { ProcessUsage } from './usage.js';

const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));

const { values: opts } = parseArgs({
  options: {
    server: { type: 'string' },
    attack: { type: 'string', multiple: true },
    'pipeline-frames': { type: 'string', default: '20000' },
    segments: { type: 'string', default: '100,200' },
    'body-bytes': { type: 'string', default: '200000' },
    patterns: { type: 'string', default: '20' },
    'chunked-bytes': { type: 'string', default: '262144' },
    json: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    compare: { type: 'string', multiple: true },
    help: { type: 'boolean', default: false },
  },
});
if (opts.compare) {
  compareRuns(opts.compare);
  process.exit(0);
}
if (opts.help) {
  console.log(
    'npm run bench:hostile -- [--server <checkout dir>] [--attack a,b] [--pipeline-frames N] [--segments 100,200] [--body-bytes N] [--patterns N] [--chunked-bytes N] [--json file] [--no-pin]',
  );
  process.exit(0);
}

const ATTACKS = [
  'heartbeat-recv',
  'heartbeat-send',
  'body-1byte',
  'pattern-8k',
  'deep-publish',
  'deep-publish-limits',
  'pipeline',
  'user-queue',
  'headers',
  'user-dest',
  'sockjs-chunked',
] as const;
type Attack = (typeof ATTACKS)[number];

const attacks: Attack[] = selectNames(opts.attack, ATTACKS, 'attack');

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
  return n;
}
const PIPELINE_FRAMES = positive('pipeline-frames', opts['pipeline-frames']);
const SEGMENTS = opts.segments.split(',').map((s) => positive('segments', s));
const BODY_BYTES = positive('body-bytes', opts['body-bytes']);
const PATTERNS = positive('patterns', opts.patterns);
const CHUNKED_BYTES = positive('chunked-bytes', opts['chunked-bytes']);

const serverDir = path.resolve(opts.server ?? here('../..'));
const SERVER_SCRIPT = opts.server
  ? path.join(serverDir, 'dist-bench/bench/servers/sample-server.js')
  : here('./servers/sample-server.js');
if (!existsSync(SERVER_SCRIPT)) {
  console.error(`${SERVER_SCRIPT} not found: build it first with npx tsc -p ${path.join(serverDir, 'bench/tsconfig.json')}`);
  process.exit(2);
}

// ---- pinning --------------------------------------------------------------------------------

function canPin(): boolean {
  if (opts['no-pin'] || os.availableParallelism() < 2) return false;
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0;
}
const PIN = canPin();
if (PIN) spawnSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' });

// ---- the server process ---------------------------------------------------------------------

interface Server {
  rpc: RpcClient;
  child: ChildProcess;
  url: string;
  /** Output lines that betray an internal error: "Internal server error" or a stack frame. */
  internalLines: string[];
  output: string[];
}

const INTERNAL = /Internal server error|^\s+at |RangeError|URIError|TypeError/;

async function startServer(): Promise<Server> {
  let argv = [process.execPath, '--expose-gc', SERVER_SCRIPT];
  if (PIN) argv = ['taskset', '-c', '0', ...argv];
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, SAMPLE_USERS: 'guest:guest', NO_COLOR: '1' },
  });
  const server: Server = { rpc: new RpcClient('sample', child), child, url: '', internalLines: [], output: [] };
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        server.output.push(line);
        if (server.output.length > 200) server.output.shift();
        if (INTERNAL.test(line)) server.internalLines.push(line.slice(0, 200));
      }
    });
  }
  const ready = await server.rpc.waitFor('ready', 30_000);
  server.url = `ws://127.0.0.1:${String(ready.port)}${String(ready.path)}`;
  return server;
}

async function usage(server: Server, gc: boolean, timeoutMs = 120_000): Promise<ProcessUsage> {
  return server.rpc.call<ProcessUsage>('usage', { gc }, timeoutMs);
}

/** Heap after full GCs, read until two reads agree within 1 % (at most 5 reads). */
async function settledHeap(server: Server): Promise<number> {
  let last = (await usage(server, true)).heapUsed;
  for (let i = 0; i < 4; i++) {
    await sleep(200);
    const now = (await usage(server, true)).heapUsed;
    if (Math.abs(now - last) <= last * 0.01) return now;
    last = now;
  }
  return last;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => performance.now();

// ---- a raw STOMP peer -----------------------------------------------------------------------

interface Frame {
  command: string;
  headers: Record<string, string>;
  /** Header lines as received, in order (names not deduplicated). */
  lines: string[];
  body: string;
  at: number;
}

/** A raw `ws` STOMP client that records every frame and heart-beat it receives. */
class Peer {
  readonly frames: Frame[] = [];
  heartbeats = 0;
  /** Longest silence between two received heart-beats or frames, ms (after CONNECTED). */
  maxGap = 0;
  lastRx = 0;
  closed: { code: number; reason: string } | undefined;
  onFrame: (f: Frame) => void = () => undefined;
  private waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.receive(data));
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.poke();
    });
    ws.on('error', () => undefined);
  }

  static open(url: string, protocols = ['v12.stomp', 'v11.stomp', 'v10.stomp']): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
      const peer = new Peer(ws);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error('handshake timed out'));
      }, 10_000);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(peer);
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  static async connected(url: string, headers: Record<string, string> = {}, protocols?: string[]): Promise<Peer> {
    const peer = await Peer.open(url, protocols);
    const f = await peer.connect(headers);
    if (f?.command !== 'CONNECTED') throw new Error(`CONNECT failed: ${describe(f)}`);
    return peer;
  }

  private receive(data: Buffer): void {
    const t = now();
    if (this.lastRx > 0) this.maxGap = Math.max(this.maxGap, t - this.lastRx);
    this.lastRx = t;
    let pos = 0;
    for (let guard = 0; guard < 100_000 && pos < data.length; guard++) {
      while (pos < data.length && (data[pos] === 0x0a || data[pos] === 0x0d)) {
        if (data[pos] === 0x0a) this.heartbeats++;
        pos++;
      }
      if (pos >= data.length) break;
      const headEnd = data.indexOf('\n\n', pos);
      if (headEnd === -1) break;
      const lines = data.toString('utf8', pos, headEnd).split('\n');
      const command = lines.shift() ?? '';
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon);
        if (!(name in headers)) headers[name] = line.slice(colon + 1);
      }
      const bodyStart = headEnd + 2;
      const declared = headers['content-length'];
      let bodyEnd = declared !== undefined && /^\d+$/.test(declared) ? bodyStart + Number(declared) : data.indexOf(0, bodyStart);
      if (bodyEnd < 0 || bodyEnd > data.length) bodyEnd = data.length;
      const frame: Frame = { command, headers, lines, body: data.toString('utf8', bodyStart, bodyEnd), at: t };
      this.frames.push(frame);
      this.onFrame(frame);
      pos = bodyEnd + 1;
    }
    this.poke();
  }

  private poke(): void {
    for (const w of [...this.waiters]) w();
  }

  send(data: Buffer | string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary: false });
  }

  frame(command: string, headers: Record<string, string>, body = ''): void {
    this.send(encodeFrame(command, headers, body));
  }

  /** The first frame from index `from` on that matches, or undefined after `timeoutMs` or a close. */
  waitFor(predicate: (f: Frame) => boolean, timeoutMs: number, from = 0): Promise<Frame | undefined> {
    let next = from;
    return new Promise((resolve) => {
      const check = () => {
        // Each frame is looked at once per waiter, however many arrive.
        for (; next < this.frames.length; next++) {
          if (predicate(this.frames[next])) return done(this.frames[next]);
        }
        if (this.closed) done(undefined);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (f: Frame | undefined) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(f);
      };
      this.waiters.add(check);
      check();
    });
  }

  waitClosed(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(true);
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  async connect(headers: Record<string, string>): Promise<Frame | undefined> {
    // The sample's /ws refuses a CONNECT without a login.
    this.frame('CONNECT', { 'accept-version': '1.0,1.1,1.2', host: '127.0.0.1', 'heart-beat': '0,0', login: 'attacker', ...headers });
    return this.waitFor((f) => f.command === 'CONNECTED' || f.command === 'ERROR', 10_000);
  }

  /** Sends `command` with a receipt; resolves with the RECEIPT, an ERROR, or undefined (cap, close). */
  async request(command: string, headers: Record<string, string>, timeoutMs: number, body = ''): Promise<Frame | undefined> {
    const receipt = `r-${++receiptCounter}`;
    const from = this.frames.length;
    this.frame(command, { ...headers, receipt }, body);
    return this.waitFor(
      (f) => (f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt) || f.command === 'ERROR',
      timeoutMs,
      from,
    );
  }

  terminate(): void {
    this.ws.terminate();
  }
}
let receiptCounter = 0;

function describe(f: Frame | undefined): string {
  if (!f) return 'nothing';
  if (f.command === 'ERROR') return `ERROR "${(f.headers['message'] ?? '').slice(0, 90)}"`;
  return f.command;
}

/**
 * Two bystanders during an attack: one does round trips (SEND /app/hello → MESSAGE on
 * /topic/greetings) one after the other; one only exchanges heart-beats (1000,1000: it sends an EOL
 * every 500 ms and must receive one at least every second).
 */
class Victims {
  rtts: number[] = [];
  outstandingSince: number | undefined;
  lostAt: number | undefined;
  private stopped = false;
  private loop?: Promise<void>;
  private hbTimer?: NodeJS.Timeout;

  private constructor(
    readonly rtt: Peer,
    readonly hb: Peer,
  ) {}

  static async start(url: string): Promise<Victims> {
    const rtt = await Peer.connected(url);
    const sub = await rtt.request('SUBSCRIBE', { id: 'g', destination: '/topic/greetings' }, 10_000);
    if (sub?.command !== 'RECEIPT') throw new Error(`victim SUBSCRIBE failed: ${describe(sub)}`);
    const hb = await Peer.connected(url, { 'heart-beat': '1000,1000' });
    const v = new Victims(rtt, hb);
    v.hbTimer = setInterval(() => hb.send('\n'), 500);
    v.loop = v.run();
    return v;
  }

  private async run(): Promise<void> {
    for (let n = 0; n < 100_000 && !this.stopped && !this.rtt.closed; n++) {
      const name = `probe-${n}`;
      const from = this.rtt.frames.length;
      const t0 = now();
      this.outstandingSince = t0;
      this.rtt.frame('SEND', { destination: '/app/hello', 'content-type': 'application/json' }, JSON.stringify({ name }));
      const got = await this.rtt.waitFor(
        (f) => (f.command === 'MESSAGE' && f.body.includes(`Hello, ${name}!`)) || f.command === 'ERROR',
        120_000,
        from,
      );
      if (!got || got.command === 'ERROR') {
        // Lost: the round trip never completed; it counts up to now (or up to the close).
        this.lostAt = now();
        return;
      }
      this.outstandingSince = undefined;
      this.rtts.push(now() - t0);
      await sleep(20);
    }
  }

  /** Starts a measurement window: forget what came before. */
  mark(): void {
    this.rtts = [];
    this.hb.maxGap = 0;
  }

  async stop(): Promise<VictimFigures> {
    this.stopped = true;
    const stuck = this.outstandingSince === undefined ? 0 : (this.lostAt ?? now()) - this.outstandingSince;
    const closeOf = (p: Peer) => (p.closed ? `closed ${p.closed.code} ${p.closed.reason}`.trim() : 'open');
    clearInterval(this.hbTimer);
    const figures: VictimFigures = {
      victimRoundTrips: this.rtts.length,
      victimMaxRttMs: round(Math.max(0, stuck, ...this.rtts)),
      // A silence still going on at the end counts too.
      victimHeartbeatMaxGapMs: round(Math.max(this.hb.maxGap, this.hb.lastRx > 0 ? now() - this.hb.lastRx : 0)),
      victimsAlive: !this.rtt.closed && !this.hb.closed,
      victimRoundTripPeer: closeOf(this.rtt),
      victimHeartbeatPeer: closeOf(this.hb),
      victimErrors: [...this.rtt.frames, ...this.hb.frames].filter((f) => f.command === 'ERROR').map(describe).join('; '),
    };
    this.rtt.terminate();
    this.hb.terminate();
    await Promise.race([this.loop, sleep(1000)]);
    return figures;
  }
}

interface VictimFigures {
  victimRoundTrips: number;
  victimMaxRttMs: number;
  victimHeartbeatMaxGapMs: number;
  victimsAlive: boolean;
  victimRoundTripPeer: string;
  victimHeartbeatPeer: string;
  victimErrors: string;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

// ---- attacks --------------------------------------------------------------------------------

type Figures = Record<string, number | string | boolean>;

interface AttackResult {
  attack: Attack;
  what: string;
  figures: Figures;
  /** What the attacker got: an ERROR and its message, or nothing. */
  attacker: string;
  serverAlive: boolean;
  internalErrors: number;
  internalSample: string;
  capped: boolean;
  failure?: string;
}

/** heart-beat:1073741824,0: the doubled window overflows setInterval's 32 bits. */
async function heartbeatRecv(server: Server): Promise<Figures & { attacker: string; capped: boolean }> {
  const CAP = 3000;
  const peer = await Peer.open(server.url);
  const t0 = now();
  const reply = await peer.connect({ 'accept-version': '1.2', 'heart-beat': '1073741824,0' });
  const error = reply?.command === 'ERROR' ? reply : await peer.waitFor((f) => f.command === 'ERROR', CAP);
  const figures = {
    connected: reply?.command === 'CONNECTED',
    connectedHeartBeat: reply?.headers['heart-beat'] ?? '',
    errorAfterMs: error ? round(error.at - t0) : `> ${CAP}`,
    closedBy: error ? ((await peer.waitClosed(2000)) ? `close ${peer.closed?.code}` : 'still open') : 'still open',
  };
  peer.terminate();
  return { ...figures, attacker: describe(error), capped: false };
}

/** heart-beat:0,4294967296: the half interval overflows, the server sends an EOL every 1 ms. */
async function heartbeatSend(server: Server): Promise<Figures & { attacker: string; capped: boolean }> {
  const WINDOW = 2000;
  const peer = await Peer.open(server.url);
  const reply = await peer.connect({ 'accept-version': '1.2', 'heart-beat': '0,4294967296' });
  const before = peer.heartbeats;
  await sleep(WINDOW);
  const figures = {
    connectedHeartBeat: reply?.headers['heart-beat'] ?? '',
    heartbeatsPerSecond: round(((peer.heartbeats - before) * 1000) / WINDOW),
  };
  const error = peer.frames.find((f) => f.command === 'ERROR');
  peer.terminate();
  return { ...figures, attacker: describe(error ?? (reply?.command === 'ERROR' ? reply : undefined)), capped: false };
}

/** A SEND whose body arrives as 1-byte WebSocket messages: server heap per body byte. */
async function body1byte(server: Server): Promise<Figures & { attacker: string; capped: boolean }> {
  const CAP = 60_000;
  const peer = await Peer.connected(server.url, { 'accept-version': '1.2' });
  const heap0 = await settledHeap(server);
  const t0 = now();
  peer.send(Buffer.from('SEND\ndestination:/topic/sink\ncontent-type:text/plain\n\n'));
  const one = Buffer.from('x');
  let sent = 0;
  let capped = false;
  while (sent < BODY_BYTES && !peer.closed) {
    for (let i = 0; i < 5000 && sent < BODY_BYTES; i++, sent++) peer.ws.send(one, { binary: false });
    for (let w = 0; peer.ws.bufferedAmount > 256 * 1024 && w < 2000; w++) await sleep(5);
    if (now() - t0 > CAP) {
      capped = true;
      break;
    }
  }
  // Let the server read what is on the wire, then weigh its heap.
  await sleep(500);
  const heap1 = await settledHeap(server);
  const error = peer.frames.find((f) => f.command === 'ERROR');
  const figures = {
    bodyBytesSent: sent,
    heapGrowthMiB: round((heap1 - heap0) / 1048576, 2),
    heapBytesPerBodyByte: round((heap1 - heap0) / sent, 1),
    attackerClosed: peer.closed !== undefined,
  };
  peer.terminate();
  return { ...figures, attacker: describe(error), capped };
}

/** Victim round trip and a direct publish, after the attack; what they got. */
async function victimAfter(server: Server): Promise<Figures> {
  const peer = await Peer.connected(server.url);
  const sub = await peer.request('SUBSCRIBE', { id: 'g', destination: '/topic/greetings' }, 10_000);
  const from = peer.frames.length;
  peer.frame('SEND', { destination: '/app/hello', 'content-type': 'application/json' }, '{"name":"after"}');
  const hello = await peer.waitFor(
    (f) => (f.command === 'MESSAGE' && f.body.includes('Hello, after!')) || f.command === 'ERROR',
    15_000,
    from,
  );
  const publish = peer.closed ? undefined : await peer.request('SEND', { destination: '/topic/plain' }, 15_000, 'x');
  peer.terminate();
  return {
    victimSubscribe: describe(sub),
    victimHelloRoundTrip: hello?.command === 'MESSAGE' ? 'ok' : describe(hello),
    victimPublish: describe(publish),
  };
}

/** 8 KiB `#` patterns (about 4,080 segments each): heap per SUBSCRIBE, then can others publish? */
async function pattern8k(server: Server): Promise<Figures & { attacker: string; capped: boolean }> {
  const CAP = 60_000;
  // Distinct patterns (as distinct clients would send): identical ones would share trie nodes.
  // The first is all `#` right after /topic, so every later /topic publish walks it.
  const patternFor = (i: number) => {
    const head = i === 0 ? '/topic' : `/topic/p${i}`;
    return head + '/#'.repeat(Math.floor((8180 - head.length) / 2));
  };
  const pattern = patternFor(0);
  const peer = await Peer.connected(server.url, { 'accept-version': '1.2' });
  const heap0 = await settledHeap(server);
  const t0 = now();
  let accepted = 0;
  let error: Frame | undefined;
  let capped = false;
  for (let i = 0; i < PATTERNS; i++) {
    const reply = await peer.request('SUBSCRIBE', { id: `p${i}`, destination: patternFor(i) }, CAP);
    if (reply?.command === 'RECEIPT') accepted++;
    else {
      error = reply;
      capped = reply === undefined && !peer.closed;
      break;
    }
    if (now() - t0 > CAP) {
      capped = true;
      break;
    }
  }
  const heap1 = await settledHeap(server);
  const after = await victimAfter(server);
  peer.terminate();
  return {
    patternBytes: pattern.length,
    patternSegments: pattern.split('/').length - 1,
    subscribesAccepted: accepted,
    heapGrowthMiB: round((heap1 - heap0) / 1048576, 2),
    heapKiBPerSubscribe: accepted ? round((heap1 - heap0) / 1024 / accepted, 0) : 0,
    heapBytesPerPatternByte: accepted ? round((heap1 - heap0) / accepted / pattern.length, 1) : 0,
    ...after,
    attacker: describe(error),
    capped,
  };
}

/** `/topic/**` four times, then one SEND to a destination `segments` deep. */
async function deepPublish(
  server: Server,
  segments: number,
  wildcards = 4,
  CAP = 60_000,
): Promise<Figures & { attacker: string; capped: boolean }> {
  const attacker = await Peer.connected(server.url, { 'accept-version': '1.2' });
  const pattern = '/topic' + '/**'.repeat(wildcards) + '/x';
  const sub = await attacker.request('SUBSCRIBE', { id: 'p', destination: pattern }, 10_000);
  const victims = await Victims.start(server.url);
  await sleep(1500);
  victims.mark();
  const u0 = await usage(server, false);
  const t0 = now();
  const destination = '/topic' + '/a'.repeat(segments);
  const reply =
    sub?.command === 'RECEIPT' ? await attacker.request('SEND', { destination }, CAP, 'x') : undefined;
  const elapsed = now() - t0;
  // A server still busy with the publish cannot answer: the attempt is abandoned at the cap.
  const u1 = await usage(server, false, reply ? 120_000 : 5_000).catch(() => undefined);
  await sleep(1200);
  const v = await victims.stop();
  attacker.terminate();
  return {
    pattern: pattern.length > 40 ? `${pattern.slice(0, 37)}…` : pattern,
    segments,
    subscribe: describe(sub),
    publishMs: reply || sub?.command !== 'RECEIPT' ? round(elapsed) : `> ${CAP}`,
    serverCpuMs: u1 ? round((u1.cpuMicros - u0.cpuMicros) / 1000) : `> ${CAP}`,
    ...v,
    attacker: describe(sub?.command === 'ERROR' ? sub : reply),
    capped: sub?.command === 'RECEIPT' && reply === undefined && !attacker.closed,
  };
}

/** One WebSocket message holding `frames` SEND /app/hello frames. */
async function pipeline(server: Server): Promise<Figures & { attacker: string; capped: boolean }> {
  const CAP = 90_000;
  const one = encodeFrame('SEND', { destination: '/app/hello', 'content-type': 'application/json' }, '{"name":"a"}');
  const last = encodeFrame('SEND', { destination: '/app/hello', 'content-type': 'application/json', receipt: 'end' }, '{"name":"a"}');
  const message = Buffer.concat([...Array.from({ length: PIPELINE_FRAMES - 1 }, () => one), last]);
  const attacker = await Peer.connected(server.url, { 'accept-version': '1.2' });
  const victims = await Victims.start(server.url);
  await sleep(1500);
  victims.mark();
  const u0 = await usage(server, false);
  const t0 = now();
  attacker.send(message);
  const reply = await attacker.waitFor(
    (f) => (f.command === 'RECEIPT' && f.headers['receipt-id'] === 'end') || f.command === 'ERROR',
    CAP,
  );
  const elapsed = now() - t0;
  const u1 = await usage(server, false);
  await sleep(1200);
  const v = await victims.stop();
  attacker.terminate();
  const cpuMicros = u1.cpuMicros - u0.cpuMicros;
  return {
    frames: PIPELINE_FRAMES,
    messageMiB: round(message.length / 1048576, 2),
    drainMs: reply ? round(elapsed) : `> ${CAP}`,
    serverCpuMs: round(cpuMicros / 1000),
    serverCpuMicrosPerFrame: round(cpuMicros / PIPELINE_FRAMES, 1),
    ...v,
    attacker: describe(reply),
    capped: reply === undefined && !attacker.closed,
  };
}

/** Another session's user queue, and `/topic/**` over user topics. */
async function userQueue(server: Server): Promise<Figures & { attacker: string; capped: boolean }> {
  const COUNT = 10;
  const victim = await Peer.open(server.url);
  const connected = await victim.connect({ 'accept-version': '1.2', login: 'victim' });
  const victimId = connected?.headers['session'] ?? '';
  await victim.request('SUBSCRIBE', { id: 'q', destination: '/user/queue/reply' }, 10_000);
  await victim.request('SUBSCRIBE', { id: 't', destination: '/user/topic/news' }, 10_000);
  const attacker = await Peer.connected(server.url, { 'accept-version': '1.2' });
  const steal = await attacker.request('SUBSCRIBE', { id: 's', destination: `/queue/reply-user${victimId}` }, 10_000);
  const all = attacker.closed ? undefined : await attacker.request('SUBSCRIBE', { id: 'all', destination: '/topic/**' }, 10_000);
  const sender = await Peer.connected(server.url, { 'accept-version': '1.2' });
  for (let i = 0; i < COUNT; i++) sender.frame('SEND', { destination: '/user/victim/queue/reply' }, `private-${i}`);
  await sender.request('SEND', { destination: '/user/victim/topic/news' }, 10_000, 'news');
  // A marker after them: once the attacker has it, it has whatever it was going to get.
  const marker = attacker.closed ? undefined : await sender.request('SEND', { destination: '/topic/zz-marker' }, 10_000, 'marker');
  if (marker && !attacker.closed) await attacker.waitFor((f) => f.command === 'MESSAGE' && f.body === 'marker', 5000);
  await victim.waitFor((f) => f.command === 'MESSAGE' && f.body === 'news', 3000);
  const got = (p: Peer, prefix: string) => p.frames.filter((f) => f.command === 'MESSAGE' && f.body.startsWith(prefix));
  const leaked = got(attacker, 'news');
  const figures = {
    stealSubscribe: describe(steal),
    topicWildcardSubscribe: describe(all),
    privateToVictim: got(victim, 'private-').length,
    privateToAttacker: got(attacker, 'private-').length,
    userTopicLeakedToWildcard: leaked.length,
    leakedDestination: leaked[0]?.headers['destination'] ?? '',
  };
  for (const p of [victim, attacker, sender]) p.terminate();
  const error = [steal, all].find((f) => f?.command === 'ERROR');
  return { ...figures, attacker: describe(error), capped: false };
}

/** Header names with escaped `:` into a STOMP 1.0 subscriber; forged reserved headers. */
async function headers(server: Server): Promise<Figures & { attacker: string; capped: boolean }> {
  const sub10 = await Peer.connected(server.url, { 'accept-version': '1.0' }, ['v10.stomp']);
  await sub10.request('SUBSCRIBE', { destination: '/topic/h' }, 10_000);
  const sub12 = await Peer.connected(server.url, { 'accept-version': '1.2' });
  await sub12.request('SUBSCRIBE', { id: 's', destination: '/topic/h' }, 10_000);
  // Two SENDs, from two senders, so that refusing one does not hide the other.
  // `content-length\c1:x` is the header named "content-length:1"; 1.0 has no escaping.
  const injector = await Peer.connected(server.url, { 'accept-version': '1.2' });
  const injected = await injector.request('SEND', { destination: '/topic/h', 'content-length\\c1': 'x' }, 10_000, 'hello');
  const forger = await Peer.connected(server.url, { 'accept-version': '1.2' });
  const forged = await forger.request(
    'SEND',
    { destination: '/topic/h', redelivered: 'true', 'Message-Id': 'forged', DESTINATION: '/topic/forged', 'user-name': 'admin' },
    10_000,
    'forged',
  );
  const marker = await Peer.connected(server.url, { 'accept-version': '1.2' });
  await marker.request('SEND', { destination: '/topic/h' }, 10_000, 'marker');
  await sub10.waitFor((f) => f.command === 'MESSAGE' && f.body === 'marker', 3000);
  await sub12.waitFor((f) => f.command === 'MESSAGE' && f.body === 'marker', 3000);
  const m10 = sub10.frames.find((f) => f.command === 'MESSAGE' && f.body.startsWith('hello'));
  const m12 = sub12.frames.find((f) => f.command === 'MESSAGE' && f.body === 'forged');
  const lengthLines = m10?.lines.filter((l) => l.toLowerCase().startsWith('content-length:')) ?? [];
  const forgedNames = ['redelivered', 'Message-Id', 'DESTINATION', 'user-name'].filter((n) =>
    m12?.lines.some((l) => l.startsWith(`${n}:`)),
  );
  for (const p of [sub10, sub12, injector, forger, marker]) p.terminate();
  return {
    injectionSend: describe(injected),
    subscriber10ContentLengthLines: lengthLines.join(' | '),
    subscriber10Injected: lengthLines.length > 1,
    forgedSend: describe(forged),
    forgedHeadersReachingSubscriber: m12 ? forgedNames.join(',') || 'none' : 'no message',
    attacker: [injected, forged].filter((f) => f?.command === 'ERROR').map(describe).join('; '),
    capped: false,
  };
}

/** `/user/promo%zz/queue/inbox`: a malformed %-escape in the user name. */
async function userDest(server: Server): Promise<Figures & { attacker: string; capped: boolean }> {
  const peer = await Peer.connected(server.url, { 'accept-version': '1.2' });
  const reply = await peer.request('SEND', { destination: '/user/promo%zz/queue/inbox' }, 10_000, 'x');
  peer.terminate();
  return { reply: describe(reply), attacker: describe(reply?.command === 'ERROR' ? reply : undefined), capped: false };
}

const DESCRIPTIONS: Record<Attack, string> = {
  'heartbeat-recv': 'CONNECT heart-beat:1073741824,0',
  'heartbeat-send': 'CONNECT heart-beat:0,4294967296',
  'body-1byte': `SEND body as ${BODY_BYTES} 1-byte WebSocket messages`,
  'pattern-8k': `${PATTERNS} SUBSCRIBEs to distinct 8 KiB /topic/p<i>/#/#/… patterns`,
  'deep-publish': 'SUBSCRIBE /topic/**/**/**/**/x, SEND to a deep /topic/a/a/…',
  'deep-publish-limits':
    'the worst case the default limits allow: 8 `**` (maxPatternWildcards) against 64 segments (maxDestinationSegments)',
  pipeline: `${PIPELINE_FRAMES} SEND /app/hello in one WebSocket message`,
  'user-queue': 'SUBSCRIBE /queue/reply-user<victim session>, /topic/** over /user/topic',
  headers: 'SEND with content-length\\c1; another SEND with redelivered, Message-Id, DESTINATION, user-name',
  'user-dest': 'SEND /user/promo%zz/queue/inbox',
  'sockjs-chunked': `SockJS xhr_send body of ${CHUNKED_BYTES} bytes in 1-byte HTTP chunks`,
};

/**
 * One SockJS `xhr_send` whose body comes in 1-byte HTTP chunks (one `'data'` event each): the
 * server's CPU for reading it, and how long it took to answer. sockjs's own body reader copied
 * the whole body per chunk (quadratic); the server's replacement joins the chunks once.
 */
async function sockJsChunked(server: Server): Promise<Figures & { attacker: string; capped: boolean }> {
  const CAP = 120_000;
  const { hostname, port } = new URL(server.url);
  const cpu0 = (await usage(server, false)).cpuMicros;
  const t0 = now();
  const status = await new Promise<string>((resolve) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(
        `POST /ws/000/bench${process.pid}/xhr_send HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n`,
      );
      // 1-byte chunks, in writes of 4096 chunks, then the last chunk.
      const batch = '1\r\na\r\n'.repeat(4096);
      for (let sent = 0; sent < CHUNKED_BYTES; sent += 4096) socket.write(sent + 4096 <= CHUNKED_BYTES ? batch : '1\r\na\r\n'.repeat(CHUNKED_BYTES - sent));
      socket.write('0\r\n\r\n');
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`> ${CAP} ms`);
    }, CAP);
    socket.once('data', (data: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data.toString('latin1').split('\r\n', 1)[0]);
    });
    socket.on('error', () => undefined);
  });
  const answeredMs = round(now() - t0);
  const cpu1 = (await usage(server, false)).cpuMicros;
  return {
    answer: status,
    answeredAfterMs: answeredMs,
    serverCpuMs: round((cpu1 - cpu0) / 1000),
    attacker: status,
    capped: status.startsWith('>'),
  };
}

async function runOne(attack: Attack, variant?: number): Promise<AttackResult> {
  const server = await startServer();
  const what = attack === 'deep-publish' ? `${DESCRIPTIONS[attack]} (${variant} segments)` : DESCRIPTIONS[attack];
  let result: Figures & { attacker: string; capped: boolean };
  let failure: string | undefined;
  try {
    switch (attack) {
      case 'heartbeat-recv':
        result = await heartbeatRecv(server);
        break;
      case 'heartbeat-send':
        result = await heartbeatSend(server);
        break;
      case 'body-1byte':
        result = await body1byte(server);
        break;
      case 'pattern-8k':
        result = await pattern8k(server);
        break;
      case 'deep-publish':
        result = await deepPublish(server, variant ?? 100);
        break;
      case 'deep-publish-limits':
        // `/topic` + 62 × `/a`: 64 segments as the broker counts them (the leading empty one too).
        result = await deepPublish(server, 62, 8, 20_000);
        break;
      case 'pipeline':
        result = await pipeline(server);
        break;
      case 'user-queue':
        result = await userQueue(server);
        break;
      case 'headers':
        result = await headers(server);
        break;
      case 'user-dest':
        result = await userDest(server);
        break;
      case 'sockjs-chunked':
        result = await sockJsChunked(server);
        break;
    }
  } catch (err) {
    failure = err instanceof Error ? err.message : String(err);
    result = { attacker: '', capped: false };
  }
  let serverAlive = false;
  try {
    await usage(server, false, result.capped ? 5_000 : 30_000);
    const probe = await Peer.connected(server.url);
    serverAlive = (await probe.request('SEND', { destination: '/topic/alive' }, 30_000, 'x'))?.command === 'RECEIPT';
    probe.terminate();
  } catch {
    serverAlive = false;
  }
  await server.rpc.stop(3000);
  const { attacker, capped, ...figures } = result;
  return {
    attack,
    what,
    figures,
    attacker,
    serverAlive,
    internalErrors: server.internalLines.length,
    internalSample: server.internalLines[0] ?? '',
    capped,
    failure,
  };
}

function formatValue(v: number | string | boolean): string {
  if (typeof v === 'number') return v.toLocaleString('en-US');
  return String(v);
}

function table(results: AttackResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(`${r.attack}: ${r.what}`);
    for (const [k, v] of Object.entries(r.figures)) out.push(`    ${k.padEnd(34)} ${formatValue(v)}`);
    out.push(`    ${'attacker got'.padEnd(34)} ${r.attacker || 'no ERROR'}`);
    out.push(`    ${'server alive afterwards'.padEnd(34)} ${r.serverAlive}`);
    out.push(`    ${'internal-error log lines'.padEnd(34)} ${r.internalErrors}${r.internalSample ? `  e.g. ${r.internalSample.trim().slice(0, 100)}` : ''}`);
    if (r.capped) out.push(`    ${'capped'.padEnd(34)} yes: the attempt ran past its cap and was abandoned`);
    if (r.failure) out.push(`    ${'run failed'.padEnd(34)} ${r.failure}`);
  }
  return out.join('\n');
}

/** `--compare a.json --compare b.json`: one row per attack and figure, the runs side by side. */
function compareRuns(files: string[]): void {
  interface Run {
    git: string;
    results: Array<{ attack: string; what: string; figures: Record<string, unknown>; attacker: string; serverAlive: boolean; internalErrors: number; capped: boolean }>;
  }
  const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Run);
  const key = (r: Run['results'][number]) => `${r.attack}${r.figures['segments'] !== undefined ? ` (${String(r.figures['segments'])} segments)` : ''}`;
  const keys = [...new Set(runs.flatMap((run) => run.results.map(key)))];
  const show = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en-US') : v === undefined ? '-' : String(v)).slice(0, 64);
  const widths = [24, 30, ...runs.map(() => 66)];
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join(' ').trimEnd();
  console.log(line(['attack', 'figure', ...runs.map((r, i) => `${path.basename(files[i])} (${r.git})`)]));
  for (const k of keys) {
    const rows = runs.map((run) => run.results.find((r) => key(r) === k));
    const names = [...new Set(rows.flatMap((r) => (r ? Object.keys(r.figures) : [])))];
    const extra = (r: Run['results'][number] | undefined): Record<string, unknown> =>
      r ? { 'attacker got': r.attacker || 'no ERROR', 'server alive': r.serverAlive, 'internal-error lines': r.internalErrors, capped: r.capped } : {};
    let first = true;
    for (const name of [...names, 'attacker got', 'server alive', 'internal-error lines', 'capped']) {
      console.log(line([first ? k : '', name, ...rows.map((r) => show({ ...r?.figures, ...extra(r) }[name]))]));
      first = false;
    }
  }
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const rev = spawnSync('git', ['-C', serverDir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['-C', serverDir, 'status', '--porcelain', 'lib'], { encoding: 'utf8' }).stdout.trim() !== '';
  console.log(`hostile-input figures, ${startedAt.toISOString()}`);
  console.log(`server: ${SERVER_SCRIPT} (git ${rev}${dirty ? ', lib/ has uncommitted changes' : ''})`);
  console.log(`pinning: ${PIN ? 'server on CPU 0, attacker and victims on CPU 1' : 'not applied'}; loopback only`);
  console.log('');
  const results: AttackResult[] = [];
  for (const attack of attacks) {
    const variants = attack === 'deep-publish' ? SEGMENTS : [undefined];
    for (const variant of variants) {
      const r = await runOne(attack, variant);
      results.push(r);
      console.log(table([r]));
    }
  }
  const json = {
    startedAt: startedAt.toISOString(),
    server: SERVER_SCRIPT,
    git: rev,
    libDirty: dirty,
    config: { pipelineFrames: PIPELINE_FRAMES, segments: SEGMENTS, bodyBytes: BODY_BYTES, patterns: PATTERNS, pinned: PIN },
    results,
  };
  console.log('\nJSON:');
  console.log(JSON.stringify(json, null, 2));
  if (opts.json) writeFileSync(opts.json, JSON.stringify(json, null, 2));
  process.exit(0);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
