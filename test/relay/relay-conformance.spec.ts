import { brokerConformanceSuite } from '../broker-conformance/broker-conformance.js';
import { RABBITMQ_DEVIATIONS } from './rabbitmq-deviations.js';
import { startRelayApp } from './relay-app.js';

// The same suite as the simple broker and bare RabbitMQ, through the relay: what RabbitMQ answers
// (acks, transactions, receipts) reaches the client unchanged, so RabbitMQ's deviations hold,
// except where the relay stands between the client and RabbitMQ as the simple broker does.
brokerConformanceSuite('relay to RabbitMQ', () => startRelayApp(), {
  ...RABBITMQ_DEVIATIONS,
  // The relay forwards no `receipt` header in a SEND (it sets its own), and builds each MESSAGE
  // as the simple broker does: `redelivered` only when true, forged headers dropped.
  dropsReceiptHeader: true,
  omitsRedeliveredFalse: true,
  stripsForgedHeaders: true,
});
