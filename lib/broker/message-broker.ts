import type { OutboundMessage } from '../protocol/message-frame.js';
import type { StompHeaders, StompVersion } from '../protocol/frame.js';
import type { StompProtocolError } from '../protocol/stomp-protocol-error.js';
import type { HeaderEntries } from '../protocol/frame-encoder.js';
import type { NegotiatedHeartbeat } from '../protocol/heartbeat.js';
import type { StompPrincipal } from '../user/stomp-principal.js';

export type AckMode = 'auto' | 'client' | 'client-individual';

/** What a broker sees of one client session. Implemented by the transport's session. */
export interface BrokerSession {
  readonly id: string;
  readonly version: StompVersion;
  readonly user: string | undefined;
  /** The principal named at CONNECT (set once the CONNECT is accepted). */
  readonly principal: StompPrincipal | undefined;
  /** Sends a MESSAGE for one of this session's subscriptions, in call order. */
  deliver(subscription: BrokerSubscription, message: OutboundMessage, ackId?: string): void;
  /**
   * Answers a frame whose receipt the broker took (see {@link BrokerCapabilities.receipts}) with
   * `RECEIPT receipt-id:<receiptId>`. Ignored once the session is closing.
   */
  receipt(receiptId: string): void;
  /**
   * Sends any other frame to the client as is (through the client outbound interceptors), for a
   * broker with something to say that is neither a MESSAGE nor a RECEIPT. Headers are escaped for
   * the session's version. To end the session use {@link fail}.
   */
  send(command: string, headers: HeaderEntries, body?: Buffer): void;
  /**
   * Ends the session with an ERROR frame carrying `error.message`, for a bound the session broke
   * outside any frame of its own (e.g. too many unacknowledged messages while others publish).
   */
  fail(error: StompProtocolError): void;
}

/** A client's SUBSCRIBE to a broker destination. */
export interface BrokerSubscription {
  readonly id: string;
  readonly destination: string;
  readonly ack: AckMode;
  /** All SUBSCRIBE headers, for brokers that understand extra ones (selectors, durability). */
  readonly headers: Readonly<StompHeaders>;
  readonly session: BrokerSession;
}

/** A message on its way into the broker, from a client SEND or from server code. */
export interface BrokerMessage {
  readonly destination: string;
  /** Headers to pass through to subscribers, including `content-type`. */
  readonly headers: Readonly<StompHeaders>;
  readonly body: Buffer;
}

/**
 * Who answers what, declared by the broker rather than guessed from its class (Spring's simple
 * broker answers in the server; its `StompBrokerRelayMessageHandler` forwards and lets the
 * broker answer).
 */
export interface BrokerCapabilities {
  /**
   * `'server'` (the simple broker's): the session sends each RECEIPT itself once the operation
   * completed (returned, or its Promise settled). `'broker'`: an operation given a `receipt`
   * argument owns that receipt and answers it later with {@link BrokerSession.receipt} (or ends
   * the session with {@link BrokerSession.fail}); the session does not wait for it.
   */
  readonly receipts: 'server' | 'broker';
  /**
   * `'server'`: the server holds SEND/ACK/NACK frames of a transaction until COMMIT and then
   * applies them (`TransactionBuffer`); the broker never sees a transaction. `'broker'`:
   * BEGIN/COMMIT/ABORT go to {@link MessageBroker.begin}/`commit`/`abort`, and transactional
   * SEND/ACK/NACK reach the broker at once with their `transaction` header (a transactional SEND
   * to an application destination is then refused: the broker cannot hold a handler's call).
   */
  readonly transactions: 'server' | 'broker';
}

/** What the simple broker (and a broker that declares nothing) does: the server answers. */
export const SERVER_CAPABILITIES: BrokerCapabilities = Object.freeze({ receipts: 'server', transactions: 'server' });

/** A client's CONNECT as the broker sees it, after the inbound interceptors accepted it. */
export interface BrokerConnectRequest {
  /** The CONNECT frame's headers (as the interceptors left them; credentials included). */
  readonly headers: Readonly<StompHeaders>;
  /** The heart-beats negotiated with the client (the broker's own leg is its business). */
  readonly heartbeat: NegotiatedHeartbeat;
  /** The principal the authenticator named, if any. */
  readonly principal: StompPrincipal | undefined;
}

/**
 * The contract between the STOMP server and a broker: the embedded simple broker implements it,
 * and so does the relay to an external broker (Spring's `SimpleBrokerMessageHandler` and
 * `StompBrokerRelayMessageHandler`).
 *
 * Ordering: the session calls the operations of its frames strictly in order. An operation may
 * complete synchronously or return a Promise; the session handles its next frame only once the
 * Promise settled. A broker that forwards (the relay) writes each operation to its connection in
 * call order and returns at once, so no frame waits for a broker round trip; it returns a Promise
 * only to push back (its connection's buffer is full).
 *
 * Receipts: with `capabilities.receipts` `'server'` the session sends RECEIPT after the
 * operation completed, so "RECEIPT for SUBSCRIBE" means the subscription is active. With
 * `'broker'`, an operation is given the client's `receipt` as its last argument (only the last
 * operation of a frame that takes several) and the broker answers it.
 *
 * Errors a client caused (unknown ack id, bad destination) are thrown as `StompProtocolError`,
 * which the session turns into an ERROR frame; errors that arrive later (a broker's ERROR) end
 * the session through {@link BrokerSession.fail}.
 */
export interface MessageBroker {
  /** Who answers receipts and runs transactions. Default {@link SERVER_CAPABILITIES}. */
  readonly capabilities?: BrokerCapabilities;
  /** True when `destination` starts with one of this broker's prefixes. */
  handles(destination: string): boolean;
  /**
   * A client's CONNECT was accepted by the interceptors and the authenticator; CONNECTED is sent
   * once this completes. A relay opens the session's own broker connection here. Throw (or
   * reject with) a `StompProtocolError` such as `BROKER_UNAVAILABLE` to refuse the CONNECT.
   */
  connect?(session: BrokerSession, request: BrokerConnectRequest): void | Promise<void>;
  subscribe(subscription: BrokerSubscription, receipt?: string): void | Promise<void>;
  unsubscribe(subscription: BrokerSubscription, receipt?: string): void | Promise<void>;
  /**
   * A message from a client's SEND (`from` is its session) or from server code (no `from`). A
   * client's `transaction` header is in `message.headers` when the broker runs transactions.
   */
  publish(message: BrokerMessage, from?: BrokerSession, receipt?: string): void | Promise<void>;
  /** ACK as the client sent it: 1.2 `id`, 1.1 `message-id` + `subscription`, 1.0 `message-id`. */
  ack(session: BrokerSession, headers: Readonly<StompHeaders>, receipt?: string): void | Promise<void>;
  nack(session: BrokerSession, headers: Readonly<StompHeaders>, receipt?: string): void | Promise<void>;
  /** BEGIN, for a broker that runs transactions (`capabilities.transactions: 'broker'`). */
  begin?(session: BrokerSession, transaction: string, receipt?: string): void | Promise<void>;
  /** COMMIT, for a broker that runs transactions. */
  commit?(session: BrokerSession, transaction: string, receipt?: string): void | Promise<void>;
  /** ABORT, for a broker that runs transactions. */
  abort?(session: BrokerSession, transaction: string, receipt?: string): void | Promise<void>;
  /**
   * The session ended: drop its subscriptions and release what it had not acknowledged. May be
   * called twice for one session: at the client's DISCONNECT frame when `capabilities.receipts`
   * is `'broker'` (the session then sends its RECEIPT once this settled, so the broker's
   * receipts for earlier frames come first), and when the connection has closed; the second call
   * must do nothing.
   */
  disconnect(session: BrokerSession): void | Promise<void>;
  close(): Promise<void>;
  /**
   * A message for a user this instance has no subscribed session of (`userDestination` is
   * `/user/<name>/<destination>`): a broker shared by several instances broadcasts it so that the
   * instance holding the user's sessions delivers it (Spring's `userDestinationBroadcast`).
   * Optional: without it such messages are dropped, as on one instance.
   */
  broadcastUnresolved?(userDestination: string, message: BrokerMessage): void | Promise<void>;
  /**
   * What the broker holds now, for `StompStats` and the OpenTelemetry metrics. Optional: a
   * broker without it reports no `broker` figures. Called on demand (a stats snapshot, a metrics
   * collection), never per message, so it may walk the broker's structures.
   */
  stats?(): BrokerStats;
}

/** A broker's figures at one instant (Spring's stats log has none for the simple broker). */
export interface BrokerStats {
  /** Sessions the broker keeps state for (with a subscription or an unacknowledged message). */
  sessions: number;
  /** Distinct destinations with subscribers or held messages: topic destinations and patterns, and queues. */
  destinations: number;
  /** Subscriptions registered in the broker, topic and queue. */
  subscriptions: number;
  /** Of `subscriptions`, those to topic-like destinations (patterns included). */
  topicSubscriptions: number;
  /** Queue-like destinations held (with subscribers or held messages); bounded by `broker.maxQueues`. */
  queues: number;
  /** Messages queues hold for subscribers to come; each queue holds at most `broker.queueCapacity`. */
  heldMessages: number;
  /** Bytes of `heldMessages` as `broker.maxHeldBytes` counts them (body, destination, headers, 256-byte overhead). */
  heldBytes: number;
  /** Deliveries awaiting ACK/NACK (`client` and `client-individual` subscriptions), all sessions. */
  unackedMessages: number;
  /** Bytes of `unackedMessages`, counted as `broker.maxUnackedBytes` counts them. */
  unackedBytes: number;
  /**
   * For a broker elsewhere (the relay): whether it is reachable now (its system connection is up,
   * Spring's `BrokerAvailabilityEvent`). Absent for the simple broker, which always is.
   */
  available?: boolean;
}

/** DI token of the active {@link MessageBroker}. */
export const MESSAGE_BROKER = Symbol('nestjs-stomp:MESSAGE_BROKER');
