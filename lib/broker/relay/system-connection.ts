import type { HeaderEntries } from '../../protocol/frame-encoder.js';
import type { StompFrame } from '../../protocol/frame.js';
import { StompProtocolError } from '../../protocol/stomp-protocol-error.js';
import { BrokerConnection, type BrokerConnectionOptions } from './broker-connection.js';

/**
 * Back-off between connection attempts, in ms. The n-th consecutive failure waits
 * `min(maxDelay, initialDelay × multiplier^(n−1))`, less a random part of up to `jitter` of it
 * (so several instances restarted together do not knock in step). After an established connection
 * is lost, the first attempt waits `initialDelay`. Defaults: 1000, 30000, 2, jitter 0.2.
 */
export interface ReconnectOptions {
  initialDelay: number;
  maxDelay: number;
  multiplier: number;
  /** Fraction in [0, 1] of each delay that is randomly taken off. 0 = exact delays. */
  jitter: number;
}

export const DEFAULT_RECONNECT: Readonly<ReconnectOptions> = Object.freeze({
  initialDelay: 1000,
  maxDelay: 30_000,
  multiplier: 2,
  jitter: 0.2,
});

export interface SystemConnectionOptions extends Omit<BrokerConnectionOptions, 'handlers'> {
  reconnect?: Partial<ReconnectOptions>;
  /**
   * The broker became available (connected, every system subscription confirmed by a RECEIPT) or
   * unavailable (`cause` says why; none after our own {@link SystemConnection.close}). Called only
   * on changes, starting with the first change from the initial "unavailable": Spring's
   * `BrokerAvailabilityEvent`.
   */
  onAvailability?(available: boolean, cause?: StompProtocolError): void;
  /** Attempt `attempt` (1 = the first after start or after a loss) failed; the next one is in `retryInMs`. */
  onConnectFailed?(error: StompProtocolError, attempt: number, retryInMs: number): void;
  /** A frame that is no system subscription's MESSAGE: ERROR, or a RECEIPT asked for with {@link SystemConnection.send}. */
  onFrame?(frame: StompFrame): void;
  /** A system subscription's `onMessage` threw; the connection carries on. */
  onMessageError?(error: unknown, frame: StompFrame): void;
}

/** A subscription the system connection keeps across reconnects. */
export interface SystemSubscription {
  /** Its `id` header on the broker, `system-sub-<n>`: unique within the SystemConnection. */
  readonly id: string;
  readonly destination: string;
  /** Stops it (UNSUBSCRIBE now if connected) and forgets it; idempotent. */
  unsubscribe(): void;
}

interface SubscriptionEntry {
  id: string;
  destination: string;
  headers: HeaderEntries;
  onMessage(frame: StompFrame): void;
}

/**
 * The relay's shared "system" connection to the broker, for what the application sends
 * (`@SendTo`, `@SendToUser`, the template), as Spring's relay keeps one ("system" session,
 * `systemLogin`). It connects on {@link start}, reconnects with back-off ({@link ReconnectOptions})
 * whenever the connection fails or is lost, and reports availability. While the broker is not
 * available, {@link send} throws and {@link request} rejects with `BROKER_UNAVAILABLE`: nothing is
 * queued, nothing hangs. System subscriptions ({@link subscribe}) are made again on every new
 * connection before it is reported available. Timers do not hold the process. Nothing here logs.
 */
export class SystemConnection {
  private readonly reconnect: ReconnectOptions;
  private readonly subscriptions = new Map<string, SubscriptionEntry>();
  private connection?: BrokerConnection;
  private isAvailable = false;
  private started = false;
  private closed = false;
  private closing?: Promise<void>;
  private failures = 0;
  private nextSubscription = 0;
  private timer?: NodeJS.Timeout;
  private lastCause?: StompProtocolError;
  private waiters: Array<{ resolve(): void; reject(error: StompProtocolError): void }> = [];

  constructor(private readonly options: SystemConnectionOptions) {
    this.reconnect = { ...DEFAULT_RECONNECT, ...options.reconnect };
  }

  /** True while connected with every system subscription made. */
  get available(): boolean {
    return this.isAvailable;
  }

  /** Consecutive failed attempts since the last time the broker was available. */
  get failedAttempts(): number {
    return this.failures;
  }

  /** Bytes buffered on the current connection (0 when there is none). */
  get writableLength(): number {
    return this.connection?.writableLength ?? 0;
  }

  /** The current connection while available (e.g. for its `server` and `negotiatedHeartbeat`). */
  get current(): BrokerConnection | undefined {
    return this.isAvailable ? this.connection : undefined;
  }

  /** Starts connecting (once; later calls do nothing). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    void this.attempt();
  }

  /** Resolves when the broker is available; rejects with `BROKER_UNAVAILABLE` if {@link close}d first. */
  whenAvailable(): Promise<void> {
    if (this.isAvailable) return Promise.resolve();
    if (this.closed) return Promise.reject(this.unavailable());
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * Sends a frame on the system connection. Returns false when the socket's buffer is above its
   * high-water mark (the frame is still sent). Throws `StompProtocolError('BROKER_UNAVAILABLE')`
   * while the broker is not available.
   */
  send(command: string, headers: HeaderEntries, body?: Buffer): boolean {
    const connection = this.current;
    if (connection === undefined || !connection.isOpen) throw this.unavailable();
    return connection.send(command, headers, body);
  }

  /**
   * {@link BrokerConnection.request} on the system connection: resolves on the broker's RECEIPT.
   * Rejects with `BROKER_UNAVAILABLE` at once while the broker is not available, or when the
   * connection is lost before the RECEIPT (the frame may or may not have been applied then).
   */
  request(command: string, headers: HeaderEntries, body?: Buffer, timeoutMs?: number): Promise<void> {
    const connection = this.current;
    if (connection === undefined || !connection.isOpen) return Promise.reject(this.unavailable());
    return connection.request(command, headers, body, timeoutMs);
  }

  /** Resolves when the current connection's buffer drained (at once when there is none). */
  drained(): Promise<void> {
    return this.connection?.drained() ?? Promise.resolve();
  }

  /**
   * A subscription kept across reconnects (e.g. a broadcast topic shared by several instances):
   * SUBSCRIBE with `id` `system-sub-<n>`, `destination`, `ack:auto` unless `headers` say
   * otherwise, and `headers`. Made now when connected, and again on every new connection. Every
   * MESSAGE for it goes to `onMessage`.
   */
  subscribe(destination: string, onMessage: (frame: StompFrame) => void, headers: HeaderEntries = {}): SystemSubscription {
    const id = `system-sub-${++this.nextSubscription}`;
    const entry: SubscriptionEntry = { id, destination, headers, onMessage };
    this.subscriptions.set(id, entry);
    const connection = this.connection;
    if (connection !== undefined && connection.isOpen) connection.send('SUBSCRIBE', subscribeHeaders(entry));
    return {
      id,
      destination,
      unsubscribe: () => {
        if (!this.subscriptions.delete(id)) return;
        const current = this.connection;
        if (current !== undefined && current.isOpen) current.send('UNSUBSCRIBE', { id });
      },
    };
  }

  /**
   * Stops reconnecting and closes the connection gracefully (DISCONNECT with receipt). If the
   * broker was available, `onAvailability(false)` is called (without a cause). Idempotent.
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const connection = this.connection;
    this.connection = undefined;
    this.setAvailable(false);
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.unavailable());
    this.closing = connection === undefined ? Promise.resolve() : connection.close();
    return this.closing;
  }

  private unavailable(): StompProtocolError {
    const cause = this.lastCause === undefined ? '' : `: ${this.lastCause.message}`;
    return new StompProtocolError('BROKER_UNAVAILABLE', `The message broker is not available${cause}`);
  }

  private async attempt(): Promise<void> {
    this.timer = undefined;
    if (this.closed) return;
    let connection: BrokerConnection | undefined;
    try {
      connection = await BrokerConnection.open({
        ...this.options,
        handlers: {
          onFrame: (frame) => this.frame(frame),
          onClose: (error) => this.lost(connection, error),
        },
      });
      if (this.closed) {
        void connection.close();
        return;
      }
      this.connection = connection;
      const made = [...this.subscriptions.values()].map((entry) =>
        connection!.request('SUBSCRIBE', subscribeHeaders(entry)),
      );
      await Promise.all(made);
      if (this.closed || this.connection !== connection) return;
      if (!connection.isOpen) {
        // Ended in the same chunk as CONNECTED (e.g. CONNECTED then ERROR), before onClose could name it.
        throw new StompProtocolError('BROKER_UNAVAILABLE', 'The broker closed the connection right after CONNECTED');
      }
      this.failures = 0;
      this.lastCause = undefined;
      this.setAvailable(true);
    } catch (err) {
      if (this.closed) return;
      const error =
        err instanceof StompProtocolError ? err : new StompProtocolError('BROKER_UNAVAILABLE', (err as Error).message);
      if (connection !== undefined) {
        // Connected, but a system subscription was refused or the connection dropped meanwhile.
        if (this.connection !== connection) return; // lost() already took over
        this.connection = undefined;
        connection.destroy();
      }
      this.failures++;
      this.lastCause = error;
      const delay = this.delay(this.failures);
      this.schedule(delay);
      this.options.onConnectFailed?.(error, this.failures, delay);
    }
  }

  /**
   * A connection ended (`onClose`). Once available: unavailable, and a new attempt after
   * `initialDelay`. Before (while its system subscriptions were being made): a failed attempt.
   */
  private lost(connection: BrokerConnection | undefined, error?: StompProtocolError): void {
    if (this.closed || connection === undefined || connection !== this.connection) return;
    this.connection = undefined;
    const cause = error ?? new StompProtocolError('BROKER_UNAVAILABLE', 'The connection to the broker ended');
    this.lastCause = cause;
    if (this.isAvailable) {
      this.setAvailable(false, cause);
      this.schedule(this.delay(1));
      return;
    }
    this.failures++;
    const delay = this.delay(this.failures);
    this.schedule(delay);
    this.options.onConnectFailed?.(cause, this.failures, delay);
  }

  private frame(frame: StompFrame): void {
    if (frame.command === 'MESSAGE') {
      const id = frame.headers['subscription'];
      const entry = id === undefined ? undefined : this.subscriptions.get(id);
      if (entry !== undefined) {
        try {
          entry.onMessage(frame);
        } catch (err) {
          this.options.onMessageError?.(err, frame);
        }
        return;
      }
      // A MESSAGE for a subscription just unsubscribed: nobody wants it.
      return;
    }
    this.options.onFrame?.(frame);
  }

  /** The wait before attempt `failures + 1`, with jitter taken off. */
  private delay(failures: number): number {
    const { initialDelay, maxDelay, multiplier, jitter } = this.reconnect;
    const exact = Math.min(maxDelay, initialDelay * multiplier ** Math.max(0, failures - 1));
    return Math.max(0, Math.round(exact * (1 - jitter * Math.random())));
  }

  private schedule(delay: number): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setTimeout(() => void this.attempt(), delay);
    this.timer.unref();
  }

  private setAvailable(available: boolean, cause?: StompProtocolError): void {
    if (this.isAvailable === available) return;
    this.isAvailable = available;
    if (available) for (const waiter of this.waiters.splice(0)) waiter.resolve();
    this.options.onAvailability?.(available, cause);
  }
}

function subscribeHeaders(entry: SubscriptionEntry): HeaderEntries {
  return { ack: 'auto', ...entry.headers, id: entry.id, destination: entry.destination };
}
