import type { NegotiatedHeartbeat } from '../protocol/heartbeat.js';

/** What the scheduler asks of the session it beats for. */
export interface HeartbeatTarget {
  /** Send a heart-beat (an EOL) to the client: nothing else was written for half an interval. */
  sendHeartbeat(): void;
  /** Nothing was received for `window` ms: the client is gone (a half-open socket). */
  heartbeatExpired(window: number): void;
  /** True while the session itself holds back reading: the client is not the silent one then. */
  readonly readingPaused: boolean;
}

/**
 * The heart-beat timers of one session (the role of stompjs's `Ticker`), from the intervals
 * negotiated at CONNECT (STOMP 1.2, "Heart-beating"). The session reports traffic with
 * {@link wrote} and {@link read}; both only set a flag, so the hot path pays nothing more.
 *
 * - Outgoing: a tick every half interval sends an EOL unless something was written since the
 *   last tick. One check per interval would allow almost two intervals of silence after a write
 *   just past a tick.
 * - Incoming: a check every `clientToServer × tolerance` ms; no byte since the last check, and
 *   none read in the same turn of the event loop, expires the session.
 */
export class HeartbeatScheduler {
  /** Something was written since the last outgoing tick. */
  wrote = false;
  /** Something was read since the last incoming check. */
  read = false;
  private timers?: NodeJS.Timeout[];

  constructor(
    private readonly target: HeartbeatTarget,
    /** Intervals missed before the client is declared dead (`heartbeat.tolerance`). */
    private readonly tolerance: number,
  ) {}

  /** Starts the timers for `heartbeat`; a 0 direction gets none. Timers do not hold the process. */
  start(heartbeat: NegotiatedHeartbeat): void {
    this.stop();
    const { serverToClient, clientToServer } = heartbeat;
    if (serverToClient > 0) {
      const timer = setInterval(() => {
        if (!this.wrote) this.target.sendHeartbeat();
        this.wrote = false;
      }, Math.max(1, Math.floor(serverToClient / 2)));
      timer.unref();
      (this.timers ??= []).push(timer);
    }
    if (clientToServer > 0) {
      const window = Math.round(clientToServer * this.tolerance);
      this.read = false;
      const timer = setInterval(() => {
        if (this.read || this.target.readingPaused) {
          this.read = false;
          return;
        }
        // Decided after this turn's poll phase, which reads what arrived meanwhile: after the
        // event loop was blocked for longer than the window, the client's heart-beats are
        // waiting in the socket, unread, when this timer fires.
        setImmediate(() => {
          if (this.timers === undefined) return;
          if (this.read || this.target.readingPaused) {
            this.read = false;
            return;
          }
          this.stop();
          this.target.heartbeatExpired(window);
        });
      }, window);
      timer.unref();
      (this.timers ??= []).push(timer);
    }
  }

  stop(): void {
    if (this.timers === undefined) return;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = undefined;
  }
}
