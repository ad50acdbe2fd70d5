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
}

/** DI token of the active {@link MessageBroker}. */
export const MESSAGE_BROKER = Symbol('nestjs-stomp:MESSAGE_BROKER');
