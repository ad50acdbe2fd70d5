import { brokerConformanceSuite } from '../broker-conformance/broker-conformance.js';
import { RABBITMQ_DEVIATIONS, RABBITMQ_WEB_STOMP } from './rabbitmq-deviations.js';

// The reference: the broker conformance suite against bare RabbitMQ Web-STOMP (no Nest app), with
// the behaviours RabbitMQ lacks or does its own way marked as skipped (see RABBITMQ_DEVIATIONS).
brokerConformanceSuite(
  'bare RabbitMQ Web-STOMP (reference)',
  async () => ({
    url: RABBITMQ_WEB_STOMP.url,
    connectHeaders: RABBITMQ_WEB_STOMP.connectHeaders,
    // RabbitMQ is shared by the whole relay run and owned by scripts/rabbitmq.sh.
    close: async () => undefined,
  }),
  RABBITMQ_DEVIATIONS,
);
