/** Scenario sizes for a full run and for `--quick`. */

export const SCENARIOS = ['fanout', 'pairs', 'idle', 'connect', 'relay'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const SERVERS = ['ceiling', 'sample'] as const;
export type ServerKind = (typeof SERVERS)[number];

export interface BenchConfig {
  /** Handshakes in flight while sessions are being opened. */
  openConcurrency: number;
  fanout: {
    subscribers: number;
    destination: string;
    bodySize: number;
    /** Messages in flight in the max-rate phase (a message is in flight until all have it). */
    window: number;
    warmupMs: number;
    durationMs: number;
    pacedDurationMs: number;
    /** Messages per second in the paced phase (× subscribers = deliveries/s); --paced-rate overrides. */
    pacedRate: number;
    /** Hard bound on messages per phase. */
    maxMessages: number;
  };
  pairs: {
    pairs: number;
    destinationPrefix: string;
    bodySize: number;
    /** Messages in flight per pair. */
    window: number;
    warmupMs: number;
    durationMs: number;
    maxMessages: number;
  };
  idle: {
    sessions: number;
    destinationPrefix: string;
    /** Sessions opened and dropped before the baseline, so start-up costs are not counted. */
    warmupSessions: number;
  };
  connect: {
    count: number;
    concurrency: number;
    warmupCount: number;
  };
  /**
   * Issue 11: the sample with the broker relay against RabbitMQ's Web-STOMP directly, pairs on
   * their own `/topic/bench.relay.<i>`. **paced**: `pacedRate` messages/s in total, well below
   * saturation, for latency; **max**: `window` in flight per pair, for deliveries/s.
   */
  relay: {
    pairs: number;
    destinationPrefix: string;
    bodySize: number;
    window: number;
    pacedRate: number;
    warmupMs: number;
    durationMs: number;
    pacedDurationMs: number;
    maxMessages: number;
  };
}

export const FULL: BenchConfig = {
  openConcurrency: 100,
  fanout: {
    subscribers: 1000,
    destination: '/topic/bench.fanout',
    bodySize: 100,
    window: 8,
    warmupMs: 1500,
    durationMs: 5000,
    pacedDurationMs: 5000,
    pacedRate: 50,
    maxMessages: 200_000,
  },
  pairs: {
    pairs: 200,
    destinationPrefix: '/topic/bench.pair.',
    bodySize: 100,
    window: 4,
    warmupMs: 1500,
    durationMs: 5000,
    maxMessages: 10_000_000,
  },
  idle: { sessions: 5000, destinationPrefix: '/topic/bench.idle.', warmupSessions: 300 },
  connect: { count: 3000, concurrency: 50, warmupCount: 300 },
  relay: {
    pairs: 50,
    destinationPrefix: '/topic/bench.relay.',
    bodySize: 100,
    window: 4,
    pacedRate: 1000,
    warmupMs: 1500,
    durationMs: 5000,
    pacedDurationMs: 5000,
    maxMessages: 2_000_000,
  },
};

export const QUICK: BenchConfig = {
  ...FULL,
  fanout: { ...FULL.fanout, warmupMs: 400, durationMs: 1200, pacedDurationMs: 1200 },
  pairs: { ...FULL.pairs, warmupMs: 400, durationMs: 1200 },
  idle: { ...FULL.idle, sessions: 2500, warmupSessions: 100 },
  connect: { count: 600, concurrency: 50, warmupCount: 100 },
  relay: { ...FULL.relay, warmupMs: 400, durationMs: 1200, pacedDurationMs: 1200 },
};
