import type { OutboundMessage } from '../protocol/message-frame.js';
import type { StompHeaders, StompVersion } from '../protocol/frame.js';
import type { StompProtocolError } from '../protocol/stomp-protocol-error.js';

export type AckMode = 'auto' | 'client' | 'client-individual';

/** What a broker sees of one client session. Implemented by the transport's session. */
export interface BrokerSession {
  readonly id: string;
  readonly version: StompVersion;
  readonly user: string | undefined;
  /** Sends a MESSAGE for one of this session's subscriptions, in call order. */
  deliver(subscription: BrokerSubscription, message: OutboundMessage, ackId?: string): void;
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
 * The contract between the STOMP server and a broker: the embedded simple broker implements it,
 * and so does the relay to an external broker. Every operation may complete synchronously or
 * return a Promise; the session waits for it before it handles the next frame or sends a
 * receipt, so "RECEIPT for SUBSCRIBE" means the subscription is active.
 *
 * Errors a client caused (unknown ack id, bad destination) are thrown as `StompProtocolError`,
 * which the session turns into an ERROR frame.
 */
export interface MessageBroker {
  /** True when `destination` starts with one of this broker's prefixes. */
  handles(destination: string): boolean;
  subscribe(subscription: BrokerSubscription): void | Promise<void>;
  unsubscribe(subscription: BrokerSubscription): void | Promise<void>;
  publish(message: BrokerMessage, from?: BrokerSession): void | Promise<void>;
  /** ACK as the client sent it: 1.2 `id`, 1.1 `message-id` + `subscription`, 1.0 `message-id`. */
  ack(session: BrokerSession, headers: Readonly<StompHeaders>): void | Promise<void>;
  nack(session: BrokerSession, headers: Readonly<StompHeaders>): void | Promise<void>;
  /** The session ended: drop its subscriptions and release what it had not acknowledged. */
  disconnect(session: BrokerSession): void | Promise<void>;
  close(): Promise<void>;
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
}

/** DI token of the active {@link MessageBroker}. */
export const MESSAGE_BROKER = Symbol('nestjs-stomp:MESSAGE_BROKER');
