import { isUtf8 } from 'node:buffer';
import { connect as netConnect, type Socket } from 'node:net';
import { FrameDecoder, type FrameDecoderLimits } from '../../protocol/frame-decoder.js';
import { encodeFrame, HEARTBEAT_EOL, type HeaderEntries } from '../../protocol/frame-encoder.js';
import type { StompFrame } from '../../protocol/frame.js';
import { MAX_TIMER_DELAY, parseHeartbeat, type NegotiatedHeartbeat } from '../../protocol/heartbeat.js';
import { StompProtocolError } from '../../protocol/stomp-protocol-error.js';
import { HeartbeatScheduler, type HeartbeatTarget } from '../../transport/heartbeat-scheduler.js';

/**
 * Limits for frames FROM the broker. Generous, because the broker is trusted more than a browser
 * (it only relays what was accepted on some leg) but still bounded, so a broken or hostile broker
 * cannot make us hold unbounded memory: RabbitMQ delivers messages of up to `max_message_size`
 * (128 MiB by default) published over AMQP, which a STOMP client of it may receive.
 *
 * - `maxFrameSize` / `maxBodyLength`: 16 MiB (a larger MESSAGE closes the connection with
 *   `BROKER_PROTOCOL_ERROR`).
 * - `maxHeaders`: 1000; `maxHeaderLineLength`: 64 KiB.
 */
export const DEFAULT_BROKER_FRAME_LIMITS: Readonly<FrameDecoderLimits> = Object.freeze({
  maxFrameSize: 16 * 1024 * 1024,
  maxBodyLength: 16 * 1024 * 1024,
  maxHeaders: 1000,
  maxHeaderLineLength: 64 * 1024,
});

/** What a {@link BrokerConnection} reports after CONNECTED. It never throws out of them into the socket. */
export interface BrokerConnectionHandlers {
  /**
   * Every frame the broker sends after CONNECTED: MESSAGE, RECEIPT (except those answering
   * {@link BrokerConnection.request}, which settle its Promise instead) and ERROR (which is then
   * followed by {@link onClose}). An exception thrown here ends the connection (`onClose` with
   * `INTERNAL_ERROR`).
   */
  onFrame(frame: StompFrame): void;
  /**
   * The connection ended for any reason other than our own {@link BrokerConnection.close} /
   * {@link BrokerConnection.destroy}; called exactly once, after which nothing else is reported.
   * `error.code`:
   * - `BROKER_UNAVAILABLE`: the broker closed the socket, or a socket error;
   * - `HEARTBEAT_TIMEOUT`: "Broker heart-beat missed: no data for N ms";
   * - `BROKER_ERROR`: the broker sent ERROR (given to `onFrame` first); the message is its
   *   `message` header;
   * - `BROKER_PROTOCOL_ERROR`: the broker sent a malformed or unexpected frame;
   * - `INTERNAL_ERROR`: `onFrame` threw.
   */
  onClose(error?: StompProtocolError): void;
}

export interface BrokerConnectionOptions {
  /** Broker host, e.g. `'127.0.0.1'`. */
  host: string;
  /** Broker STOMP TCP port, e.g. 61613. */
  port: number;
  login: string;
  passcode: string;
  /** The CONNECT `host` header (RabbitMQ: the virtual host). Default: {@link host}. */
  virtualHost?: string;
  /**
   * What we offer in CONNECT's `heart-beat` (STOMP 1.2 "Heart-beating"), in ms, 0 = none:
   * `send` is how often we can send (cx), `receive` how often we want to hear from the broker (cy).
   */
  heartbeat: { send: number; receive: number };
  /**
   * Intervals of silence from the broker tolerated before the connection is declared dead
   * (`HEARTBEAT_TIMEOUT`), as the server side's `heartbeat.tolerance`. Default 2.
   */
  heartbeatTolerance?: number;
  /** Ms from the start of the TCP connect until CONNECTED; then `open` rejects. */
  connectTimeout: number;
  /** Decoder limits for frames from the broker; missing entries from {@link DEFAULT_BROKER_FRAME_LIMITS}. */
  limits?: Partial<FrameDecoderLimits>;
  /** More CONNECT headers (e.g. RabbitMQ's `client-id`); they never replace the ones above. */
  extraConnectHeaders?: HeaderEntries;
  handlers: BrokerConnectionHandlers;
  /**
   * Bytes buffered in the socket above which {@link BrokerConnection.send} returns false (Node's
   * `writableHighWaterMark`). Default: Node's (16 KiB).
   */
  writableHighWaterMark?: number;
  /** {@link BrokerConnection.request}s awaiting their RECEIPT at once; one more is rejected. Default 1000. */
  maxPendingReceipts?: number;
  /** Default timeout in ms of {@link BrokerConnection.request}. Default 10000. */
  receiptTimeout?: number;
  /** Ms {@link BrokerConnection.close} waits for the DISCONNECT receipt, then for the socket to close. Default 1000. */
  closeTimeout?: number;
}

interface PendingReceipt {
  resolve(): void;
  reject(error: StompProtocolError): void;
  timer: NodeJS.Timeout;
}

/** Prefix of the receipt ids {@link BrokerConnection.request} makes; RECEIPTs with other ids go to `onFrame`. */
export const RELAY_RECEIPT_PREFIX = 'relay-receipt-';

/**
 * The negotiated intervals from our side (we are the STOMP client here), STOMP 1.2
 * "Heart-beating": we send every `max(cx, sy)` ms and expect the broker every `max(sx, cy)` ms; a
 * 0 on either side of a leg turns that leg off. A leg longer than Node's timers honour with the
 * tolerance applied is turned off too (never an interval that fires after 1 ms).
 */
export function negotiateClientHeartbeat(
  offered: { send: number; receive: number },
  connectedHeader: string | undefined,
  tolerance: number,
): NegotiatedHeartbeat {
  const [sx, sy] = parseHeartbeat(connectedHeader);
  const leg = (ours: number, theirs: number): number => {
    if (ours <= 0 || theirs <= 0) return 0;
    const interval = Math.max(ours, theirs);
    return interval * tolerance > MAX_TIMER_DELAY ? 0 : interval;
  };
  return { clientToServer: leg(offered.send, sy), serverToClient: leg(offered.receive, sx) };
}

/** Printable, bounded text of what a broker said (header or body) for an error message. */
function said(text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

/**
 * What an ERROR frame from the broker says, for an error message: its `message` header and, when
 * there is one, its body's text in parentheses (RabbitMQ puts the detail there: `Bad CONNECT
 * (Access refused for user 'guest')`). Control characters become spaces; each part is bounded.
 */
export function brokerErrorText(frame: StompFrame): string {
  const message = said(frame.headers['message'] ?? '');
  const body = frame.body.length > 0 && isUtf8(frame.body) ? said(frame.body.subarray(0, 1024).toString('utf8')) : '';
  if (message && body && body !== message) return `${message} (${body})`;
  return message || body || '(no message)';
}

/**
 * One STOMP 1.2 client connection over TCP to a real broker (RabbitMQ): the relay's TCP leg.
 * Knows nothing of Nest or of client sessions. Frames are encoded with the project's own
 * {@link encodeFrame} and decoded with {@link FrameDecoder}; heart-beats run on a
 * {@link HeartbeatScheduler}. Nothing here logs: everything is reported through the handlers,
 * the Promises and the errors (`StompProtocolError` with a stable `code`).
 *
 * Spring's model: `StompBrokerRelayMessageHandler`'s `RelayConnectionHandler` on a
 * `ReactorNettyTcpClient`.
 */
export class BrokerConnection implements HeartbeatTarget {
  /** Heart-beats in effect, from our side: `clientToServer` is what we send, `serverToClient` what we check. */
  readonly negotiatedHeartbeat: NegotiatedHeartbeat;
  /** CONNECTED's `server` header, e.g. `RabbitMQ/3.10.8`. */
  readonly server: string | undefined;
  /** CONNECTED's `session` header. */
  readonly sessionId: string | undefined;
  /** The CONNECTED frame as received. */
  readonly connectedFrame: StompFrame;

  private readonly handlers: BrokerConnectionHandlers;
  private readonly heartbeats: HeartbeatScheduler;
  private readonly pending = new Map<string, PendingReceipt>();
  private readonly maxPendingReceipts: number;
  private readonly receiptTimeout: number;
  private readonly closeTimeout: number;
  private readonly where: string;
  private nextReceipt = 0;
  /** Set once the connection is over for us: closing, closed, destroyed or failed. */
  private ended = false;
  private closing?: Promise<void>;
  private paused = false;
  /** Ended by {@link destroy} or a failure: nothing more is read. */
  private failed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly decoder: FrameDecoder,
    connected: StompFrame,
    negotiated: NegotiatedHeartbeat,
    options: BrokerConnectionOptions,
  ) {
    this.connectedFrame = connected;
    this.negotiatedHeartbeat = negotiated;
    this.server = connected.headers['server'];
    this.sessionId = connected.headers['session'];
    this.handlers = options.handlers;
    this.maxPendingReceipts = options.maxPendingReceipts ?? 1000;
    this.receiptTimeout = options.receiptTimeout ?? 10_000;
    this.closeTimeout = options.closeTimeout ?? 1000;
    this.where = `${options.host}:${options.port}`;
    this.heartbeats = new HeartbeatScheduler(this, options.heartbeatTolerance ?? 2);
  }

  /**
   * Opens a TCP connection, sends CONNECT (`accept-version:1.2`, `host`, `login`, `passcode`,
   * `heart-beat`) and resolves on CONNECTED. Rejects with `StompProtocolError('BROKER_UNAVAILABLE')`
   * when the TCP connect fails ("Broker at 127.0.0.1:61613 is not reachable (ECONNREFUSED)"), when
   * the broker answers ERROR (its `message` header), when it closes the socket or sends something
   * else than CONNECTED, or when no CONNECTED came within `connectTimeout` ms.
   */
  static open(options: BrokerConnectionOptions): Promise<BrokerConnection> {
    const where = `${options.host}:${options.port}`;
    const tolerance = options.heartbeatTolerance ?? 2;
    const limits: FrameDecoderLimits = { ...DEFAULT_BROKER_FRAME_LIMITS, ...options.limits };
    return new Promise<BrokerConnection>((resolve, reject) => {
      let settled = false;
      let connection: BrokerConnection | undefined;
      let socketError: (Error & { code?: string }) | undefined;
      const socket = netConnect({
        host: options.host,
        port: options.port,
        noDelay: true,
        ...(options.writableHighWaterMark !== undefined ? { writableHighWaterMark: options.writableHighWaterMark } : {}),
      });
      const fail = (message: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        decoder.stop();
        socket.destroy();
        reject(new StompProtocolError('BROKER_UNAVAILABLE', message));
      };
      const timer = setTimeout(
        () => fail(`Broker at ${where} did not answer CONNECT within ${options.connectTimeout} ms`),
        options.connectTimeout,
      );
      timer.unref();

      const decoder = new FrameDecoder(limits, {
        onFrame: (frame) => {
          if (connection !== undefined) {
            connection.frameReceived(frame);
            return;
          }
          if (settled) return;
          if (frame.command === 'ERROR') {
            fail(`Broker at ${where} refused CONNECT: ${brokerErrorText(frame)}`);
            return;
          }
          if (frame.command !== 'CONNECTED') {
            fail(`Broker at ${where} answered CONNECT with ${said(frame.command)} instead of CONNECTED`);
            return;
          }
          let negotiated: NegotiatedHeartbeat;
          try {
            negotiated = negotiateClientHeartbeat(options.heartbeat, frame.headers['heart-beat'], tolerance);
          } catch (err) {
            fail(`Broker at ${where} sent an invalid CONNECTED: ${(err as Error).message}`);
            return;
          }
          settled = true;
          clearTimeout(timer);
          connection = new BrokerConnection(socket, decoder, frame, negotiated, options);
          connection.started();
          resolve(connection);
        },
        onHeartbeat: () => undefined,
      });

      socket.on('connect', () => {
        const headers: Record<string, string | undefined> = { ...options.extraConnectHeaders };
        Object.assign(headers, {
          'accept-version': '1.2',
          host: options.virtualHost ?? options.host,
          login: options.login,
          passcode: options.passcode,
          'heart-beat': `${options.heartbeat.send},${options.heartbeat.receive}`,
        });
        socket.write(encodeFrame('CONNECT', headers));
      });
      socket.on('data', (chunk: Buffer) => {
        if (connection !== undefined) {
          connection.dataReceived(chunk);
          return;
        }
        try {
          // Frames right after CONNECTED in the same chunk go to the connection from onFrame.
          decoder.push(chunk);
        } catch (err) {
          const open = connection as BrokerConnection | undefined;
          if (open !== undefined) open.decodeFailed(err);
          else fail(`Broker at ${where} sent a malformed frame: ${(err as Error).message}`);
        }
      });
      socket.on('error', (err: Error & { code?: string }) => {
        socketError ??= err;
        if (connection !== undefined) connection.socketError(err);
      });
      socket.on('close', () => {
        if (connection !== undefined) {
          connection.socketClosed();
          return;
        }
        if (socketError !== undefined) {
          fail(`Broker at ${where} is not reachable (${socketError.code ?? socketError.message})`);
        } else {
          fail(`Broker at ${where} closed the connection before CONNECTED`);
        }
      });
    });
  }

  /** Bytes written but not yet handed to the OS. */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  /** True until the connection ended (closed by either side, failed or destroyed). */
  get isOpen(): boolean {
    return !this.ended;
  }

  /** @internal HeartbeatTarget: true while {@link pauseReading} holds the socket. */
  get readingPaused(): boolean {
    return this.paused;
  }

  /**
   * Encodes and writes one frame. Returns false when the socket's buffer is above its high-water
   * mark after this write (the frame is still sent; the caller may wait for {@link drained}), and
   * false without writing anything once the connection has ended. Never throws for a closed socket.
   */
  send(command: string, headers: HeaderEntries, body?: Buffer): boolean {
    if (this.ended || this.socket.destroyed) return false;
    this.heartbeats.wrote = true;
    return this.socket.write(encodeFrame(command, headers, body));
  }

  /** Resolves when the socket's buffer has drained below its high-water mark, or the connection ended. */
  drained(): Promise<void> {
    if (this.ended || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /**
   * Sends a frame with a fresh `receipt` header (replacing any the caller gave) and resolves on
   * the matching RECEIPT. Rejects with `BROKER_UNAVAILABLE` when the connection is or becomes
   * closed, `BROKER_ERROR` when the broker answers ERROR, `RECEIPT_TIMEOUT` after `timeoutMs`
   * (default `receiptTimeout`), and `TOO_MANY_PENDING_RECEIPTS` when `maxPendingReceipts` are
   * already waiting (nothing is sent then). Receipt ids are `relay-receipt-<n>`, unique per connection.
   */
  request(command: string, headers: HeaderEntries, body?: Buffer, timeoutMs?: number): Promise<void> {
    if (this.ended) {
      return Promise.reject(new StompProtocolError('BROKER_UNAVAILABLE', `The connection to the broker at ${this.where} is closed`));
    }
    if (this.pending.size >= this.maxPendingReceipts) {
      return Promise.reject(
        new StompProtocolError(
          'TOO_MANY_PENDING_RECEIPTS',
          `${this.pending.size} receipts from the broker at ${this.where} are already awaited (maxPendingReceipts)`,
        ),
      );
    }
    const id = `${RELAY_RECEIPT_PREFIX}${++this.nextReceipt}`;
    const timeout = timeoutMs ?? this.receiptTimeout;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StompProtocolError('RECEIPT_TIMEOUT', `No RECEIPT for ${command} from the broker at ${this.where} within ${timeout} ms`));
      }, timeout);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      this.send(command, { ...headers, receipt: id }, body);
    });
  }

  /** Stops reading from the broker (TCP back-pressure on it); heart-beat checks are suspended meanwhile. */
  pauseReading(): void {
    if (this.ended || this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  /**
   * Graceful close: DISCONNECT with a receipt, waits for it (at most `closeTimeout` ms; requests
   * sent before it get their RECEIPTs first, as the broker answers in order), ends the socket and resolves once it closed (destroyed after another `closeTimeout` ms). Idempotent:
   * every call returns the same Promise; never rejects. `onClose` is not called.
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    if (this.ended) return (this.closing = Promise.resolve());
    const receipt = this.request('DISCONNECT', {}, undefined, this.closeTimeout).catch(() => undefined);
    this.ended = true;
    this.closing = receipt.then(
      () =>
        new Promise<void>((resolve) => {
          this.heartbeats.stop();
          this.rejectPending('BROKER_UNAVAILABLE', `The connection to the broker at ${this.where} was closed`);
          if (this.socket.closed) {
            resolve();
            return;
          }
          const timer = setTimeout(() => this.socket.destroy(), this.closeTimeout);
          timer.unref();
          this.socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          this.socket.end();
        }),
    );
    return this.closing;
  }

  /** Immediate close: destroys the socket; pending requests reject with `BROKER_UNAVAILABLE`; no `onClose`. */
  destroy(): void {
    this.ended = true;
    this.failed = true;
    this.closing ??= Promise.resolve();
    this.heartbeats.stop();
    this.decoder.stop();
    this.socket.destroy();
    this.rejectPending('BROKER_UNAVAILABLE', `The connection to the broker at ${this.where} was closed`);
  }

  /** @internal HeartbeatTarget */
  sendHeartbeat(): void {
    if (!this.ended && !this.socket.destroyed) this.socket.write(HEARTBEAT_EOL);
  }

  /** @internal HeartbeatTarget */
  heartbeatExpired(window: number): void {
    this.fail(new StompProtocolError('HEARTBEAT_TIMEOUT', `Broker heart-beat missed: no data for ${window} ms`));
  }

  private started(): void {
    // The scheduler is written from the server's side: its serverToClient is what it sends.
    this.heartbeats.start({
      serverToClient: this.negotiatedHeartbeat.clientToServer,
      clientToServer: this.negotiatedHeartbeat.serverToClient,
    });
  }

  private dataReceived(chunk: Buffer): void {
    this.heartbeats.read = true;
    if (this.decoder.isStopped) return;
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.decodeFailed(err);
    }
  }

  private decodeFailed(err: unknown): void {
    this.fail(
      new StompProtocolError('BROKER_PROTOCOL_ERROR', `Broker at ${this.where} sent a malformed frame: ${(err as Error).message}`),
    );
  }

  private frameReceived(frame: StompFrame): void {
    const command = frame.command;
    // While closing, only the receipts still awaited (DISCONNECT's) matter.
    if (this.ended && (this.failed || command !== 'RECEIPT')) return;
    if (command === 'RECEIPT') {
      const id = frame.headers['receipt-id'];
      const waiting = id === undefined ? undefined : this.pending.get(id);
      if (waiting !== undefined && id !== undefined) {
        this.pending.delete(id);
        clearTimeout(waiting.timer);
        waiting.resolve();
        return;
      }
      if (this.ended) return;
    } else if (command === 'ERROR') {
      const error = new StompProtocolError('BROKER_ERROR', brokerErrorText(frame));
      const id = frame.headers['receipt-id'];
      const waiting = id === undefined ? undefined : this.pending.get(id);
      if (waiting !== undefined && id !== undefined) {
        this.pending.delete(id);
        clearTimeout(waiting.timer);
        waiting.reject(error);
      }
      this.deliver(frame);
      // STOMP 1.2 "ERROR": the server closes the connection after it.
      this.fail(error);
      return;
    } else if (command !== 'MESSAGE') {
      this.fail(
        new StompProtocolError('BROKER_PROTOCOL_ERROR', `Broker at ${this.where} sent an unexpected ${said(command)} frame`),
      );
      return;
    }
    this.deliver(frame);
  }

  private deliver(frame: StompFrame): void {
    try {
      this.handlers.onFrame(frame);
    } catch (err) {
      this.fail(new StompProtocolError('INTERNAL_ERROR', `onFrame failed: ${(err as Error).message}`));
    }
  }

  private lastSocketError?: Error & { code?: string };

  private socketError(err: Error & { code?: string }): void {
    this.lastSocketError ??= err;
  }

  private socketClosed(): void {
    if (this.ended) {
      // Closed while close() waits for the DISCONNECT receipt: nothing more will come.
      this.rejectPending('BROKER_UNAVAILABLE', `The connection to the broker at ${this.where} was closed`);
      return;
    }
    const cause = this.lastSocketError;
    this.fail(
      new StompProtocolError(
        'BROKER_UNAVAILABLE',
        cause === undefined
          ? `Broker at ${this.where} closed the connection`
          : `Connection to the broker at ${this.where} failed (${cause.code ?? cause.message})`,
      ),
    );
  }

  /** Ends the connection for `error`: every pending request rejects, then `onClose(error)` once. */
  private fail(error: StompProtocolError): void {
    if (this.ended) return;
    this.ended = true;
    this.failed = true;
    this.closing = Promise.resolve();
    this.heartbeats.stop();
    this.decoder.stop();
    this.socket.destroy();
    this.rejectPending(
      error.code === 'BROKER_ERROR' ? 'BROKER_ERROR' : 'BROKER_UNAVAILABLE',
      error.code === 'BROKER_ERROR' ? error.message : `The connection to the broker at ${this.where} ended: ${error.message}`,
    );
    try {
      this.handlers.onClose(error);
    } catch {
      // A throwing handler must not escape into a socket or timer callback.
    }
  }

  private rejectPending(code: 'BROKER_UNAVAILABLE' | 'BROKER_ERROR', message: string): void {
    if (this.pending.size === 0) return;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const entry of waiting) {
      clearTimeout(entry.timer);
      entry.reject(new StompProtocolError(code, message));
    }
  }
}
