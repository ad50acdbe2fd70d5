import type { BrokerCapabilities } from '../broker-conformance/broker-conformance.js';

/** RabbitMQ's Web-STOMP as scripts/rabbitmq.sh runs it (guest/guest works on loopback only). */
export const RABBITMQ_WEB_STOMP = {
  url: 'ws://127.0.0.1:15674/ws',
  /** `host` is RabbitMQ's virtual host. */
  connectHeaders: { login: 'guest', passcode: 'guest', host: '/' },
} as const;

/**
 * Where RabbitMQ 3.10's STOMP adapter differs from what the conformance suite tests (each field's
 * docstring in {@link BrokerCapabilities} says what RabbitMQ does instead). A relay passes these
 * frames through to RabbitMQ, so the relay's conformance run declares the same.
 */
export const RABBITMQ_DEVIATIONS: BrokerCapabilities = {
  // Copies the SEND's `receipt` header into the MESSAGE.
  dropsReceiptHeader: false,
  // Refuses the SEND (ERROR "Invalid header") instead of dropping the forged headers.
  stripsForgedHeaders: false,
  // Sends `redelivered:false` on a first delivery.
  omitsRedeliveredFalse: false,
  // ERROR "Invalid header" for an ack id not of its form; a second ACK of a message gets a
  // RECEIPT, then the connection closes with no ERROR (AMQP "unknown delivery tag").
  ackErrors: false,
  // Receipts a transactional SEND at COMMIT, not on arrival.
  transactionalReceiptsOnArrival: false,
  // "Bad transaction" for every transaction error.
  namedTransactionErrors: false,
};
