import type { StompFrame } from '../protocol/frame.js';
import type { FrameDecoder } from '../protocol/frame-decoder.js';

/** Where the queue hands frames, and how it holds back the peer. */
export interface OrderedInboundSink {
  /** Handles one frame. A Promise holds back the following frames until it settles. */
  handle(frame: StompFrame): void | Promise<void>;
  /** `frame` was handled without error (synchronously or once its Promise resolved). */
  handled(frame: StompFrame): void;
  /** Handling `frame` failed, or decoding failed (`frame` undefined). The queue stops. */
  failed(err: unknown, frame?: StompFrame): void;
  /** Stop / start reading from the peer (inbound backpressure). */
  pauseReading(): void;
  resumeReading(): void;
}

/** Bounds of one session's inbound queue (from `limits.*`). */
export interface OrderedInboundLimits {
  /** Frames handled per event-loop turn before the session yields (`limits.inboundFramesPerTurn`). */
  readonly inboundFramesPerTurn: number;
  /** Frames waiting before decoding and reading stop (`limits.inboundHighWaterMark`). */
  readonly inboundHighWaterMark: number;
}

/**
 * The event-loop turn, advanced by one shared `setImmediate` per turn in which any session handled
 * a frame: each session may handle `inboundFramesPerTurn` frames per turn, then yields.
 */
let loopTurn = 0;
let turnScheduled = false;

function advanceTurn(): void {
  loopTurn++;
  turnScheduled = false;
}

function currentTurn(): number {
  if (!turnScheduled) {
    turnScheduled = true;
    setImmediate(advanceTurn);
  }
  return loopTurn;
}

function drain(queue: OrderedInbound): void {
  queue.drainTurn();
}

/**
 * The ordered inbound queue of one session (the role of Spring's
 * `OrderedMessageChannelDecorator`): bytes are decoded and frames handled strictly in the order
 * received. A frame whose handling returns a Promise holds back that session's later frames (and
 * only that session's) until it settles. Frames beyond the turn's budget wait for a later turn, so
 * one client's pipelined burst never stalls the others; at the high-water mark the decoder stops
 * mid-message and reading pauses, so what waits costs its bytes, not a frame object each. A
 * decoding error found while earlier frames wait is reported after them.
 */
export class OrderedInbound {
  /** Frames waiting for an earlier one's handling; created when first needed. */
  private pending?: StompFrame[];
  /** Bytes received but not yet decoded (the decoder paused at the high-water mark), in order. */
  private input?: Buffer[];
  private busy = false;
  private decodeError?: unknown;
  private drainScheduled = false;
  private stopped = false;
  private paused = false;
  /** The turn this queue last handled a frame in, and how many it handled then. */
  private turn = -1;
  private turnFrames = 0;

  constructor(
    private readonly decoder: FrameDecoder,
    private readonly sink: OrderedInboundSink,
    private readonly limits: OrderedInboundLimits,
  ) {}

  /** True while reading is held back (a backlog at the high-water mark). */
  get isPaused(): boolean {
    return this.paused;
  }

  /** True while a handler's Promise holds the queue. */
  get isBusy(): boolean {
    return this.busy;
  }

  /** Bytes from the peer. */
  push(data: Buffer): void {
    if (this.stopped) return;
    // Bytes behind a backlog wait their turn, so frames stay in order.
    if (this.input !== undefined) this.input.push(data);
    else this.decode(data);
  }

  /** The decoder's frame callback. */
  onFrame(frame: StompFrame): void {
    if (this.busy || (this.pending !== undefined && this.pending.length > 0) || !this.withinTurnBudget()) {
      const pending = (this.pending ??= []);
      pending.push(frame);
      if (pending.length >= this.limits.inboundHighWaterMark) {
        this.decoder.pause();
        this.pauseReading();
      }
      if (!this.busy) this.scheduleDrain();
      return;
    }
    this.process(frame);
  }

  /** Drops everything waiting and ignores what comes; reading resumes (to see the peer's close). */
  stop(): void {
    this.stopped = true;
    this.decoder.stop();
    this.pending = undefined;
    this.input = undefined;
    this.decodeError = undefined;
    if (this.paused) {
      this.paused = false;
      this.sink.resumeReading();
    }
  }

  /** Decodes until the chunk ends or the decoder pauses at the high-water mark (rest kept first). */
  private decode(data: Buffer): void {
    let consumed: number;
    try {
      consumed = this.decoder.push(data);
    } catch (err) {
      if (this.busy || (this.pending?.length ?? 0) > 0) {
        // Frames decoded before the faulty one are still handled, in order, and the error
        // follows them (see pump); what came after it is dropped with the failed decoder.
        this.decodeError = err;
        this.input = undefined;
        if (!this.busy) this.scheduleDrain();
        return;
      }
      this.fail(err);
      return;
    }
    if (consumed < data.length && !this.decoder.isStopped) {
      (this.input ??= []).unshift(data.subarray(consumed));
      this.pauseReading();
    }
  }

  /** Counts one frame against this turn's budget; false once the budget is spent. */
  private withinTurnBudget(): boolean {
    const turn = currentTurn();
    if (turn !== this.turn) {
      this.turn = turn;
      this.turnFrames = 0;
    }
    return ++this.turnFrames <= this.limits.inboundFramesPerTurn;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(drain, this);
  }

  /** @internal A later turn of the event loop: carry on with the backlog, with a fresh budget. */
  drainTurn(): void {
    this.drainScheduled = false;
    this.turn = loopTurn;
    this.turnFrames = 0;
    this.pump();
  }

  private pauseReading(): void {
    if (this.paused) return;
    this.paused = true;
    this.sink.pauseReading();
  }

  /**
   * Handles queued frames, then decodes held bytes, until a handler's Promise holds the queue, the
   * turn's budget is spent (it continues in a later turn), or nothing is left.
   */
  private pump(): void {
    while (!this.busy && !this.stopped) {
      const pending = this.pending;
      if (pending !== undefined && pending.length > 0) {
        if (!this.withinTurnBudget()) {
          this.scheduleDrain();
          return;
        }
        this.process(pending.shift() as StompFrame);
        continue;
      }
      if (this.decodeError !== undefined) {
        const err = this.decodeError;
        this.decodeError = undefined;
        this.fail(err);
        return;
      }
      const input = this.input;
      if (input === undefined) break;
      const data = input.shift() as Buffer;
      if (input.length === 0) this.input = undefined;
      this.decode(data);
      // Frames the decoder handed over beyond the budget wait for the scheduled drain.
      if (this.drainScheduled) return;
    }
    const waiting = this.pending?.length ?? 0;
    if (this.paused && !this.stopped && this.input === undefined && waiting < this.limits.inboundHighWaterMark / 2) {
      this.paused = false;
      this.sink.resumeReading();
    }
  }

  /** Stops the queue (what follows a failure is never handled), then reports the failure. */
  private fail(err: unknown, frame?: StompFrame): void {
    this.stop();
    this.sink.failed(err, frame);
  }

  private process(frame: StompFrame): void {
    let result: void | Promise<void>;
    try {
      result = this.sink.handle(frame);
    } catch (err) {
      this.fail(err, frame);
      return;
    }
    if (result instanceof Promise) {
      this.busy = true;
      result.then(
        () => {
          this.busy = false;
          if (this.stopped) return;
          this.sink.handled(frame);
          this.pump();
        },
        (err: unknown) => {
          this.busy = false;
          if (!this.stopped) this.fail(err, frame);
        },
      );
      return;
    }
    this.sink.handled(frame);
  }
}
