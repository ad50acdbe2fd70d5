import { describe, expect, it } from '@jest/globals';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import type { StompFrame } from '../../lib/protocol/frame.js';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import { StompProtocolError } from '../../lib/protocol/stomp-protocol-error.js';
import { OrderedInbound, type OrderedInboundLimits, type OrderedInboundSink } from '../../lib/transport/ordered-inbound.js';

const decoderLimits = resolveStompOptions().limits;

/** `SEND` frames numbered by their `n` header. */
function frames(from: number, to: number): string {
  let text = '';
  for (let n = from; n <= to; n++) text += `SEND\ndestination:/queue/a\nn:${n}\n\nbody ${n}\0`;
  return text;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Lets pending Promise callbacks run (not a new event-loop turn). */
const microtasks = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A sink that records what the queue does. By default every frame is handled synchronously;
 * `async` lists frame numbers whose handling returns a Promise the test settles.
 */
class RecordingSink implements OrderedInboundSink {
  readonly log: string[] = [];
  readonly pending = new Map<number, Deferred>();
  readonly started: number[] = [];
  readonly handledOrder: number[] = [];
  failures: Array<{ err: unknown; frame?: number }> = [];
  paused = false;
  pauses = 0;
  resumes = 0;
  /** Frames handed to the queue by the decoder so far. */
  decoded = 0;
  /** The most frames ever decoded but not yet started. */
  maxWaiting = 0;
  /** Handled-count when reading was resumed (one entry per resume). */
  resumedAfter: number[] = [];
  throwOn?: number;

  constructor(private readonly async: ReadonlySet<number> = new Set()) {}

  handle(frame: StompFrame): void | Promise<void> {
    const n = Number(frame.headers['n']);
    this.started.push(n);
    this.log.push(`handle ${n}`);
    if (n === this.throwOn) throw new Error(`handler failed on ${n}`);
    if (this.async.has(n)) {
      const d = deferred();
      this.pending.set(n, d);
      return d.promise;
    }
  }

  handled(frame: StompFrame): void {
    const n = Number(frame.headers['n']);
    this.handledOrder.push(n);
    this.log.push(`handled ${n}`);
  }

  failed(err: unknown, frame?: StompFrame): void {
    const n = frame === undefined ? undefined : Number(frame.headers['n']);
    this.failures.push({ err, frame: n });
    this.log.push(`failed ${err instanceof StompProtocolError ? err.code : String(err)}${n === undefined ? '' : ` on ${n}`}`);
  }

  pauseReading(): void {
    this.paused = true;
    this.pauses++;
    this.log.push('pause');
  }

  resumeReading(): void {
    this.paused = false;
    this.resumes++;
    this.resumedAfter.push(this.handledOrder.length);
    this.log.push('resume');
  }

  settle(n: number): void {
    const d = this.pending.get(n);
    if (d === undefined) throw new Error(`frame ${n} is not waiting`);
    this.pending.delete(n);
    d.resolve();
  }
}

function queue(
  sink: RecordingSink,
  limits: Partial<OrderedInboundLimits> = {},
): { inbound: OrderedInbound; push(text: string): void } {
  const all: OrderedInboundLimits = { inboundFramesPerTurn: 1000, inboundHighWaterMark: 1000, ...limits };
  const decoder = new FrameDecoder(decoderLimits, {
    onFrame: (frame) => {
      sink.decoded++;
      inbound.onFrame(frame);
      sink.maxWaiting = Math.max(sink.maxWaiting, sink.decoded - sink.started.length);
    },
  });
  const inbound = new OrderedInbound(decoder, sink, all);
  return { inbound, push: (text) => inbound.push(Buffer.from(text, 'utf8')) };
}

describe('OrderedInbound', () => {
  it('handles synchronous frames at once, in order, across chunk boundaries', () => {
    const sink = new RecordingSink();
    const { push } = queue(sink);
    const text = frames(1, 5);
    // Split mid-frame: the decoder keeps its place, the queue its order.
    push(text.slice(0, 37));
    push(text.slice(37, 90));
    push(text.slice(90));
    expect(sink.handledOrder).toEqual([1, 2, 3, 4, 5]);
    expect(sink.failures).toEqual([]);
  });

  it('a Promise from handle holds back later frames (also ones pushed later) until it settles', async () => {
    const sink = new RecordingSink(new Set([2, 4]));
    const { inbound, push } = queue(sink);
    push(frames(1, 3));
    expect(sink.started).toEqual([1, 2]);
    expect(inbound.isBusy).toBe(true);
    push(frames(4, 6));
    await microtasks();
    await nextTurn();
    // Still held: nothing after 2 started, and 2 is not reported handled before it settles.
    expect(sink.started).toEqual([1, 2]);
    expect(sink.handledOrder).toEqual([1]);
    sink.settle(2);
    await microtasks();
    expect(sink.started).toEqual([1, 2, 3, 4]);
    expect(sink.handledOrder).toEqual([1, 2, 3]);
    sink.settle(4);
    await microtasks();
    expect(sink.log).toEqual([
      'handle 1', 'handled 1',
      'handle 2', 'handled 2',
      'handle 3', 'handled 3',
      'handle 4', 'handled 4',
      'handle 5', 'handled 5',
      'handle 6', 'handled 6',
    ]);
    expect(inbound.isBusy).toBe(false);
  });

  it('a rejected Promise is reported as failed for that frame, and nothing after it is handled', async () => {
    const sink = new RecordingSink(new Set([2]));
    const { push } = queue(sink);
    push(frames(1, 4));
    sink.pending.get(2)?.reject(new Error('no'));
    await microtasks();
    await nextTurn();
    expect(sink.started).toEqual([1, 2]);
    expect(sink.failures).toHaveLength(1);
    expect(sink.failures[0].frame).toBe(2);
    expect((sink.failures[0].err as Error).message).toBe('no');
    expect(sink.handledOrder).toEqual([1]);
  });

  it('a handler that throws is reported as failed for that frame; the queue stops (no later frame of the chunk is handled)', async () => {
    const sink = new RecordingSink();
    sink.throwOn = 2;
    const { push } = queue(sink);
    push(frames(1, 4));
    push(frames(5, 5));
    await nextTurn();
    expect(sink.log).toEqual(['handle 1', 'handled 1', 'handle 2', 'failed Error: handler failed on 2 on 2']);
  });

  it('handles at most inboundFramesPerTurn frames per event-loop turn; the rest wait for later turns, in order', async () => {
    const sink = new RecordingSink();
    const { push } = queue(sink, { inboundFramesPerTurn: 3 });
    push(frames(1, 10));
    expect(sink.handledOrder).toEqual([1, 2, 3]);
    // Bytes arriving in the same turn queue behind the backlog.
    push(frames(11, 11));
    expect(sink.handledOrder).toEqual([1, 2, 3]);
    await nextTurn();
    expect(sink.handledOrder).toEqual([1, 2, 3, 4, 5, 6]);
    await nextTurn();
    expect(sink.handledOrder).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await nextTurn();
    expect(sink.handledOrder).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(sink.pauses).toBe(0);
  });

  it('a new turn brings a fresh budget for frames pushed then', async () => {
    const sink = new RecordingSink();
    const { push } = queue(sink, { inboundFramesPerTurn: 2 });
    push(frames(1, 2));
    expect(sink.handledOrder).toEqual([1, 2]);
    await nextTurn();
    await nextTurn();
    push(frames(3, 5));
    expect(sink.handledOrder).toEqual([1, 2, 3, 4]);
    await nextTurn();
    expect(sink.handledOrder).toEqual([1, 2, 3, 4, 5]);
  });

  it('at the high-water mark stops decoding and pauses reading; bytes held meanwhile are decoded later, in order', async () => {
    const sink = new RecordingSink(new Set([1]));
    const { inbound, push } = queue(sink, { inboundHighWaterMark: 4 });
    push(frames(1, 20));
    // 1 is being handled, 2..5 wait: the decoder stopped there, the rest is kept as bytes.
    expect(sink.started).toEqual([1]);
    expect(sink.decoded).toBe(5);
    expect(sink.paused).toBe(true);
    expect(inbound.isPaused).toBe(true);
    // Bytes in flight while paused are held behind, not decoded.
    push(frames(21, 22));
    expect(sink.decoded).toBe(5);
    sink.settle(1);
    await microtasks();
    expect(sink.handledOrder).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
    expect(sink.maxWaiting).toBeLessThanOrEqual(4);
    expect(sink.paused).toBe(false);
    expect(sink.pauses).toBe(1);
    expect(sink.resumes).toBe(1);
  });

  it('resumes reading only once fewer than half the high-water mark are waiting', async () => {
    // 1, 2, 3, 4 are asynchronous; 2..9 wait when the chunk ends: the mark (8) is reached on its last frame.
    const sink = new RecordingSink(new Set([1, 2, 3, 4, 5, 6]));
    const { push } = queue(sink, { inboundHighWaterMark: 8 });
    push(frames(1, 9));
    expect(sink.paused).toBe(true);
    const waitingWhenResumed: number[] = [];
    for (let n = 1; n <= 6; n++) {
      sink.settle(n);
      await microtasks();
      if (!sink.paused && waitingWhenResumed.length === 0) waitingWhenResumed.push(9 - sink.started.length);
      // 8 waiting after 1 started; each settle starts one more.
      const waiting = 9 - sink.started.length;
      expect(sink.paused).toBe(waiting >= 4);
    }
    expect(waitingWhenResumed).toEqual([3]);
    expect(sink.resumes).toBe(1);
  });

  it('with a turn budget as well: the backlog drains over turns, reading resumes once, and nothing is lost', async () => {
    const sink = new RecordingSink();
    const { push } = queue(sink, { inboundFramesPerTurn: 2, inboundHighWaterMark: 4 });
    push(frames(1, 30));
    expect(sink.handledOrder).toEqual([1, 2]);
    expect(sink.paused).toBe(true);
    for (let turn = 0; turn < 100 && sink.handledOrder.length < 30; turn++) await nextTurn();
    expect(sink.handledOrder).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(sink.maxWaiting).toBeLessThanOrEqual(4);
    expect(sink.paused).toBe(false);
    expect(sink.resumes).toBe(1);
  });

  it('a decoding error after good frames is reported after they are handled, without a frame', async () => {
    const sink = new RecordingSink(new Set([1]));
    const { push } = queue(sink);
    push(`${frames(1, 3)}SEND\ncontent-length:abc\n\n\0${frames(4, 4)}`);
    expect(sink.failures).toEqual([]);
    sink.settle(1);
    await microtasks();
    await nextTurn();
    expect(sink.log).toEqual(['handle 1', 'handled 1', 'handle 2', 'handled 2', 'handle 3', 'handled 3', 'failed INVALID_CONTENT_LENGTH']);
    expect(sink.failures[0].frame).toBeUndefined();
  });

  it('a decoding error behind frames waiting for a later turn is reported after them', async () => {
    const sink = new RecordingSink();
    const { push } = queue(sink, { inboundFramesPerTurn: 2 });
    push(`${frames(1, 5)}SEND\ncontent-length:abc\n\n\0`);
    expect(sink.handledOrder).toEqual([1, 2]);
    expect(sink.failures).toEqual([]);
    for (let turn = 0; turn < 10 && sink.failures.length === 0; turn++) await nextTurn();
    expect(sink.log.slice(-3)).toEqual(['handle 5', 'handled 5', 'failed INVALID_CONTENT_LENGTH']);
    expect(sink.handledOrder).toEqual([1, 2, 3, 4, 5]);
  });

  it('a decoding error with nothing waiting is reported at once', () => {
    const sink = new RecordingSink();
    const { push } = queue(sink);
    push(`${frames(1, 1)}SEND\ncontent-length:abc\n\n\0`);
    expect(sink.log).toEqual(['handle 1', 'handled 1', 'failed INVALID_CONTENT_LENGTH']);
  });

  it('stop() drops the backlog and held bytes, resumes reading, and ignores what comes after', async () => {
    const sink = new RecordingSink(new Set([1]));
    const { inbound, push } = queue(sink, { inboundHighWaterMark: 4 });
    push(frames(1, 20));
    expect(sink.paused).toBe(true);
    inbound.stop();
    expect(sink.paused).toBe(false);
    expect(inbound.isPaused).toBe(false);
    push(frames(21, 21));
    sink.settle(1);
    await microtasks();
    await nextTurn();
    // The frame in flight finishes on its own, but is not reported handled: the queue is stopped.
    expect(sink.started).toEqual([1]);
    expect(sink.handledOrder).toEqual([]);
    expect(sink.failures).toEqual([]);
    expect(sink.resumes).toBe(1);
  });

  it('stop() with frames waiting for a later turn drops them', async () => {
    const sink = new RecordingSink();
    const { inbound, push } = queue(sink, { inboundFramesPerTurn: 2 });
    push(frames(1, 6));
    inbound.stop();
    await nextTurn();
    await nextTurn();
    expect(sink.handledOrder).toEqual([1, 2]);
    expect(sink.resumes).toBe(0);
  });
});
