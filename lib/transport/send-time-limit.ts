import type { Duplex } from 'node:stream';

/**
 * What a {@link SendTimeWatch} reads of its connection. Both figures are cheap to read; neither is
 * read per frame while the client keeps up.
 */
export interface SendProgress {
  /** Bytes (SockJS: characters) queued for the client that its socket has not taken yet. */
  unsentBytes(): number;
  /**
   * A figure that changes whenever some of the unsent data left (a write the socket completed,
   * a SockJS poll that took the queued frames) and does not change otherwise, even while more
   * data is queued.
   */
  progress(): number;
  /** The client took nothing for `limits.sendTimeLimit` ms while data waited for it. */
  stalled(): void;
}

/**
 * A figure of how far `socket` got writing what it was given, that changes whenever the kernel
 * takes more of it: the bytes of the writes it completed, less what libuv still holds of the one
 * in flight (`writeQueueSize`, which libuv lowers as the kernel takes bytes: while a client is
 * behind, Node hands everything waiting to libuv as one write, which completes only when the
 * kernel took all of it). Writes queued meanwhile do not change it.
 */
export function socketProgress(socket: Duplex): number {
  const s = socket as Duplex & { bytesWritten?: number; _handle?: { writeQueueSize?: number } | null };
  return (s.bytesWritten ?? 0) - s.writableLength - (s._handle?.writeQueueSize ?? 0);
}

/** Checks per `sendTimeLimit`: a stall is noticed at most a quarter of the limit late. */
const CHECKS_PER_LIMIT = 4;

function check(watch: SendTimeWatch): void {
  watch.check();
}

/**
 * The `limits.sendTimeLimit` rule of one connection (Spring's `sendTimeLimit` of
 * `ConcurrentWebSocketSessionDecorator`, there "a send that has not completed within the limit").
 * Here a client is stalled when data for it have been waiting to leave (unsent in the server's
 * buffers: the socket's write buffer, SockJS's queue) and none of them left for `sendTimeLimit`
 * ms, however few bytes wait: it is closed as a slow consumer even while under
 * `limits.sendBufferSizeLimit`. Progress is the kernel taking more of the waiting bytes (see
 * {@link socketProgress}), or a SockJS poll that took the queue. The kernel takes bytes in steps
 * (when a third or so of its send buffer is free), so a client that is behind must read about
 * that much (some 100 KB to a few MB) within the limit.
 *
 * Cost: one timer per connection at most, armed only while data wait (a client that keeps up
 * never arms it), checking every quarter of the limit while they do; so a stall is noticed after
 * between `sendTimeLimit` and 1.25 × `sendTimeLimit` ms without progress. The transport calls
 * {@link pending} when it wrote (the WebSocket transport once per tick), {@link stop} when it closes.
 */
export class SendTimeWatch {
  private timer?: NodeJS.Timeout;
  private lastProgress = 0;
  /** Checks in a row that saw data waiting and no progress. */
  private quiet = 0;
  private stopped = false;

  /** @param limit `limits.sendTimeLimit` in ms, > 0. */
  constructor(
    private readonly limit: number,
    private readonly connection: SendProgress,
  ) {}

  /** Data were queued: starts watching if some are still waiting and the watch is not running yet. */
  pending(): void {
    if (this.timer !== undefined || this.stopped) return;
    if (this.connection.unsentBytes() === 0) return;
    this.lastProgress = this.connection.progress();
    this.quiet = 0;
    this.timer = setTimeout(check, Math.max(1, Math.ceil(this.limit / CHECKS_PER_LIMIT)), this);
    this.timer.unref();
  }

  /** @internal One check: disarms once nothing waits, reports a stall after a limit of no progress. */
  check(): void {
    if (this.stopped || this.timer === undefined) return;
    if (this.connection.unsentBytes() === 0) {
      this.timer = undefined;
      return;
    }
    const progress = this.connection.progress();
    if (progress !== this.lastProgress) {
      this.lastProgress = progress;
      this.quiet = 0;
    } else if (++this.quiet >= CHECKS_PER_LIMIT) {
      this.stop();
      this.connection.stalled();
      return;
    }
    this.timer.refresh();
  }

  /** The connection is closing: no more checks. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
