import { Logger } from '@nestjs/common';
import type { StompEvents } from '../../events/stomp-events.service.js';
import { RelayBroker } from './relay-broker.js';
import type { RelayBrokerConfig } from './relay-broker-config.js';

/**
 * The relay as the module builds it: availability changes become `StompEvents.brokerAvailability$`
 * events and one log line each (Spring logs "BrokerAvailabilityEvent[available=…]" at info).
 */
export function createRelayBroker(config: RelayBrokerConfig, events: StompEvents): RelayBroker {
  const logger = new Logger('StompBrokerRelay');
  const where = `${config.host}:${config.port}`;
  const broker = new RelayBroker(config, {
    availability(available) {
      if (available) logger.log(`Message broker at ${where} is available (system connection up)`);
      else logger.warn(`Message broker at ${where} is not available (system connection down); reconnecting with back-off`);
      events.emitBrokerAvailability({ type: 'brokerAvailability', available, timestamp: Date.now() });
    },
    // One line for the first failure and then at attempts 2, 4, 8…, not one per retry.
    connectFailed(error, attempt, retryInMs) {
      if ((attempt & (attempt - 1)) === 0) logger.warn(`${error.message} (attempt ${attempt}; retrying in ${retryInMs} ms)`);
    },
  });
  broker.system.start();
  return broker;
}
