import { Logger } from '@nestjs/common';
import { createHeaders, type StompFrame, type StompHeaders } from '../../protocol/frame.js';
import { isPassThroughHeader, OutboundMessage } from '../../protocol/message-frame.js';
import { StompProtocolError } from '../../protocol/stomp-protocol-error.js';
import { findPrefix, sessionOfDestination } from '../destination-prefixes.js';
import type {
  BrokerCapabilities,
  BrokerConnectRequest,
  BrokerMessage,
  BrokerSession,
  BrokerStats,
  BrokerSubscription,
  MessageBroker,
} from '../message-broker.js';
import { BrokerConnection } from './broker-connection.js';
import type { RelayBrokerConfig } from './relay-broker-config.js';
import { SystemConnection } from './system-connection.js';

/** The header of a broadcast unresolved user message naming its user destination (`/user/<name>/<destination>`). */
export const USER_DESTINATION_HEADER = 'user-destination';

/** Where a session's private copy of a user destination lives on the broker (see {@link toBrokerDestination}). */
const USER_EXCHANGE = '/exchange/amq.direct/';

/**
 * The broker name of a destination. A session's resolved user destination
 * (`/queue/news-user<session id>`) becomes a routing key on RabbitMQ's `amq.direct` exchange
 * (`/exchange/amq.direct/queue%2Fnews-user<id>`; RabbitMQ refuses `/` in a routing key and
 * decodes `%2F`): subscribing creates an exclusive, auto-delete queue bound to that key, which
 * RabbitMQ deletes when the subscription or the session's broker connection ends, and messages
 * sent to it while the session is not subscribed are dropped, as the simple broker drops them.
 * A plain `/queue/news-user<id>` would leave one durable queue per session behind on RabbitMQ.
 * Every other destination passes unchanged.
 */
export function toBrokerDestination(destination: string): string {
  if (sessionOfDestination(destination) === undefined || destination.startsWith(USER_EXCHANGE)) return destination;
  return USER_EXCHANGE + encodeURIComponent(destination.slice(1));
}

/** The inverse of {@link toBrokerDestination}, for the `destination` of a MESSAGE from the broker. */
export function fromBrokerDestination(destination: string): string {
  if (!destination.startsWith(USER_EXCHANGE)) return destination;
  let decoded: string;
  try {
    decoded = '/' + decodeURIComponent(destination.slice(USER_EXCHANGE.length));
  } catch {
    return destination;
  }
  return sessionOfDestination(decoded) === undefined ? destination : decoded;
}

/**
 * Whether a SEND header goes on to the broker: what reaches subscribers anyway
 * ({@link isPassThroughHeader}: `content-type`, RabbitMQ's `persistent`, `reply-to`, `expiration`,
 * `x-*`…) and `transaction`; not what the broker vouches for (`message-id`, `redelivered`,
 * `user-name`: RabbitMQ refuses a SEND with `message-id`), nor `receipt` and `destination`, which
 * the relay sets itself.
 */
function forwarded(name: string): boolean {
  return name === 'transaction' || isPassThroughHeader(name);
}

/** One client session's side of the relay: its own broker connection and its subscriptions by id. */
interface RelayedSession {
  readonly session: BrokerSession;
  connection?: BrokerConnection;
  readonly subscriptions: Map<string, BrokerSubscription>;
  /** The session ended (or is ending): frames from the broker are no longer passed on. */
  ended: boolean;
}

/** What the relay reports beyond frames: availability changes and lost sessions, for events, stats and logs. */
export interface RelayBrokerListener {
  /** The system connection came up (`true`) or went down (`false`): Spring's `BrokerAvailabilityEvent`. */
  availability(available: boolean): void;
  /** The system connection's attempt `attempt` (1 = first since start or since a loss) failed; the next is in `retryInMs` ms. */
  connectFailed?(error: StompProtocolError, attempt: number, retryInMs: number): void;
}

/**
 * A {@link MessageBroker} that relays to an external STOMP broker over TCP (Spring's
 * `StompBrokerRelayMessageHandler`), written and tested against RabbitMQ's STOMP plugin.
 *
 * - Each client session gets its own broker connection, opened at the client's CONNECT with
 *   `clientLogin`/`clientPasscode` and `virtualHost` as `host`; CONNECTED goes to the client
 *   once the broker answered. The client's SUBSCRIBE, UNSUBSCRIBE, SEND, ACK, NACK, BEGIN,
 *   COMMIT and ABORT are written to it in order, with their receipts: RabbitMQ answers them
 *   (`capabilities` `'broker'`), so no frame waits for a round trip.
 * - What server code sends goes over one shared {@link SystemConnection} (`systemLogin`), each
 *   SEND with a receipt, so the caller's Promise settles when the broker has the message, and
 *   rejects when it cannot (`BROKER_UNAVAILABLE`).
 * - While the system connection is down the broker counts as unavailable: a CONNECT gets ERROR
 *   `BROKER_UNAVAILABLE`, and every client session gets that ERROR and is closed (its own broker
 *   connection could not be trusted to stay: Spring closes them too). A client session whose own
 *   broker connection is lost gets the same ERROR. A broker ERROR for a session's frame (RabbitMQ
 *   refusing a destination) is passed on as ERROR `BROKER_ERROR` and closes the session.
 */
export class RelayBroker implements MessageBroker {
  readonly capabilities: BrokerCapabilities = Object.freeze({ receipts: 'broker', transactions: 'broker' });
  private readonly logger = new Logger('StompBrokerRelay');
  private readonly sessions = new Map<string, RelayedSession>();
  readonly system: SystemConnection;
  private closed = false;

  constructor(
    private readonly config: RelayBrokerConfig,
    private readonly listener?: RelayBrokerListener,
  ) {
    this.system = new SystemConnection({
      host: config.host,
      port: config.port,
      login: config.systemLogin,
      passcode: config.systemPasscode,
      virtualHost: config.virtualHost,
      heartbeat: { send: config.systemHeartbeatSendInterval, receive: config.systemHeartbeatReceiveInterval },
      connectTimeout: config.connectTimeout,
      reconnect: { initialDelay: config.reconnectDelay, maxDelay: config.maxReconnectDelay },
      onAvailability: (available) => this.availabilityChanged(available),
      onConnectFailed: (error, attempt, retryInMs) => this.listener?.connectFailed?.(error, attempt, retryInMs),
    });
  }

  /** True while the system connection is up. */
  get available(): boolean {
    return this.system.available;
  }

  handles(destination: string): boolean {
    return findPrefix(destination, this.config.prefixes) !== undefined;
  }

  async connect(session: BrokerSession, _request: BrokerConnectRequest): Promise<void> {
    if (!this.system.available) throw unavailable('the message broker is not available; try again later');
    const relayed: RelayedSession = { session, subscriptions: new Map(), ended: false };
    this.sessions.set(session.id, relayed);
    const connection = await BrokerConnection.open({
      host: this.config.host,
      port: this.config.port,
      login: this.config.clientLogin,
      passcode: this.config.clientPasscode,
      virtualHost: this.config.virtualHost,
      heartbeat: { send: this.config.clientHeartbeatInterval, receive: this.config.clientHeartbeatInterval },
      connectTimeout: this.config.connectTimeout,
      handlers: {
        onFrame: (frame) => this.fromBroker(relayed, frame),
        onClose: (error) => this.lost(relayed, `the connection to the message broker was lost (${error?.message ?? 'closed by the broker'})`),
      },
    }).catch((err: unknown) => {
      this.sessions.delete(session.id);
      throw err instanceof StompProtocolError ? err : unavailable(String(err));
    });
    // The session ended while the broker was answering.
    if (relayed.ended) {
      connection.destroy();
      return;
    }
    relayed.connection = connection;
  }

  subscribe(subscription: BrokerSubscription, receipt?: string): void | Promise<void> {
    const relayed = this.relayed(subscription.session);
    relayed.subscriptions.set(subscription.id, subscription);
    const headers = createHeaders();
    headers['id'] = subscription.id;
    headers['destination'] = toBrokerDestination(subscription.destination);
    headers['ack'] = subscription.ack;
    // Broker-specific SUBSCRIBE headers pass through (RabbitMQ: prefetch-count, durable, auto-delete, x-queue-name, selector…).
    for (const name in subscription.headers) if (!(name in headers)) headers[name] = subscription.headers[name];
    if (receipt !== undefined) headers['receipt'] = receipt;
    return this.write(relayed, 'SUBSCRIBE', headers);
  }

  unsubscribe(subscription: BrokerSubscription, receipt?: string): void | Promise<void> {
    const relayed = this.relayed(subscription.session);
    relayed.subscriptions.delete(subscription.id);
    return this.write(relayed, 'UNSUBSCRIBE', { id: subscription.id, receipt });
  }

  publish(message: BrokerMessage, from?: BrokerSession, receipt?: string): void | Promise<void> {
    const headers = createHeaders();
    headers['destination'] = toBrokerDestination(message.destination);
    for (const name in message.headers) if (forwarded(name)) headers[name] = message.headers[name];
    if (from !== undefined) {
      if (receipt !== undefined) headers['receipt'] = receipt;
      return this.write(this.relayed(from), 'SEND', headers, message.body);
    }
    // Server code: the shared connection, confirmed by the broker's RECEIPT.
    return this.system.request('SEND', headers, message.body);
  }

  /** Sent to `broker.userDestinationBroadcast` with the header `user-destination`; every instance's `UserDestinationBroadcasts` delivers it to its own sessions. */
  broadcastUnresolved(userDestination: string, message: BrokerMessage): void | Promise<void> {
    const target = this.config.userDestinationBroadcast;
    if (target === false) return;
    const headers = createHeaders();
    headers['destination'] = target;
    headers[USER_DESTINATION_HEADER] = userDestination;
    for (const name in message.headers) if (isPassThroughHeader(name) && name !== USER_DESTINATION_HEADER) headers[name] = message.headers[name];
    return this.system.request('SEND', headers, message.body);
  }

  /** The relay's settings. */
  get settings(): Readonly<RelayBrokerConfig> {
    return this.config;
  }

  ack(session: BrokerSession, headers: Readonly<StompHeaders>, receipt?: string): void | Promise<void> {
    return this.settle('ACK', session, headers, receipt);
  }

  nack(session: BrokerSession, headers: Readonly<StompHeaders>, receipt?: string): void | Promise<void> {
    return this.settle('NACK', session, headers, receipt);
  }

  begin(session: BrokerSession, transaction: string, receipt?: string): void | Promise<void> {
    return this.write(this.relayed(session), 'BEGIN', { transaction, receipt });
  }

  commit(session: BrokerSession, transaction: string, receipt?: string): void | Promise<void> {
    return this.write(this.relayed(session), 'COMMIT', { transaction, receipt });
  }

  abort(session: BrokerSession, transaction: string, receipt?: string): void | Promise<void> {
    return this.write(this.relayed(session), 'ABORT', { transaction, receipt });
  }

  /**
   * Ends the session's broker connection gracefully (DISCONNECT with a receipt, bounded), so the
   * broker's receipts for the session's earlier frames reach the client first; RabbitMQ then
   * requeues what the session left unacknowledged and deletes its exclusive queues.
   */
  disconnect(session: BrokerSession): void | Promise<void> {
    const relayed = this.sessions.get(session.id);
    if (relayed === undefined) return;
    this.sessions.delete(session.id);
    const connection = relayed.connection;
    if (connection === undefined) {
      relayed.ended = true;
      return;
    }
    return connection.close().finally(() => {
      relayed.ended = true;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const connections = [...this.sessions.values()].map((r) => {
      r.ended = true;
      return r.connection?.close();
    });
    this.sessions.clear();
    await Promise.allSettled([...connections, this.system.close()]);
  }

  /** Sessions relayed, their subscriptions, and whether the broker is available; nothing is held here. */
  stats(): BrokerStats {
    let subscriptions = 0;
    for (const relayed of this.sessions.values()) subscriptions += relayed.subscriptions.size;
    return {
      sessions: this.sessions.size,
      destinations: 0,
      subscriptions,
      topicSubscriptions: 0,
      queues: 0,
      heldMessages: 0,
      heldBytes: 0,
      unackedMessages: 0,
      unackedBytes: 0,
      available: this.system.available,
    };
  }

  /** ACK/NACK: RabbitMQ's STOMP 1.2 leg takes the `ack` value it sent, which equals the `message-id` 1.0/1.1 clients ACK with. */
  private settle(command: 'ACK' | 'NACK', session: BrokerSession, headers: Readonly<StompHeaders>, receipt?: string): void | Promise<void> {
    const id = headers['id'] ?? headers['message-id'];
    if (id === undefined) throw new StompProtocolError('MISSING_HEADER', `${command} frame requires an 'id' header`);
    return this.write(this.relayed(session), command, { id, transaction: headers['transaction'], receipt });
  }

  private relayed(session: BrokerSession): RelayedSession {
    const relayed = this.sessions.get(session.id);
    if (relayed?.connection === undefined) throw unavailable('the session has no broker connection');
    return relayed;
  }

  /** Writes in order; a Promise only when the broker connection's buffer is full (the session's next frame waits). */
  private write(relayed: RelayedSession, command: string, headers: Readonly<Record<string, string | undefined>>, body?: Buffer): void | Promise<void> {
    const connection = relayed.connection as BrokerConnection;
    if (!connection.send(command, headers, body)) return connection.drained();
  }

  private fromBroker(relayed: RelayedSession, frame: StompFrame): void {
    if (relayed.ended) return;
    const session = relayed.session;
    switch (frame.command) {
      case 'MESSAGE': {
        const subscription = relayed.subscriptions.get(frame.headers['subscription'] ?? '');
        // After UNSUBSCRIBE the broker may still have had some in flight.
        if (subscription === undefined) return;
        const messageId = frame.headers['message-id'] ?? '';
        const message = new OutboundMessage(
          fromBrokerDestination(frame.headers['destination'] ?? subscription.destination),
          messageId,
          frame.headers,
          frame.body,
          frame.headers['redelivered'] === 'true',
        );
        session.deliver(subscription, message, subscription.ack === 'auto' ? undefined : (frame.headers['ack'] ?? messageId));
        return;
      }
      case 'RECEIPT': {
        const id = frame.headers['receipt-id'];
        if (id !== undefined) session.receipt(id);
        return;
      }
      case 'ERROR': {
        relayed.ended = true;
        this.sessions.delete(session.id);
        const detail = frame.headers['message'] ?? 'no message';
        const body = frame.body.length > 0 ? `: ${frame.body.toString('utf8', 0, Math.min(frame.body.length, 200)).trim()}` : '';
        session.fail(new StompProtocolError('BROKER_ERROR', `The message broker refused a frame: ${detail}${body}`));
        return;
      }
    }
  }

  /** The session's broker connection ended without our asking (broker stopped, heart-beats missed), or the system connection did. */
  private lost(relayed: RelayedSession, reason: string): void {
    if (relayed.ended) return;
    relayed.ended = true;
    this.sessions.delete(relayed.session.id);
    relayed.session.fail(unavailable(reason));
  }

  private availabilityChanged(available: boolean): void {
    if (this.closed) return;
    if (!available) {
      // Every relayed session goes too: a client reconnects once the broker is back.
      for (const relayed of [...this.sessions.values()]) this.lost(relayed, 'the system connection to the message broker was lost; reconnect once it is back');
    }
    this.listener?.availability(available);
  }
}

function unavailable(reason: string): StompProtocolError {
  return new StompProtocolError('BROKER_UNAVAILABLE', `Message broker unavailable: ${reason}`);
}
