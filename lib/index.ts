// Module and options
export { StompModule } from './module/stomp.module.js';
export type {
  BrokerOptions,
  HeartbeatOptions,
  SimpleBrokerOptions,
  StompConnectDecision,
  StompConnectRequest,
  StompEndpointOptions,
  StompLimits,
  StompModuleOptions,
} from './module/stomp-options.js';
export { STOMP_OPTIONS } from './module/stomp.constants.js';
export type { ResolvedStompOptions } from './module/resolve-options.js';

// Brokers
export {
  MESSAGE_BROKER,
  type AckMode,
  type BrokerMessage,
  type BrokerSession,
  type BrokerSubscription,
  type MessageBroker,
} from './broker/message-broker.js';
export { SimpleBroker, type SimpleBrokerConfig } from './broker/simple/simple-broker.js';

// Sessions
export { SessionRegistry } from './transport/session-registry.js';
export { StompSession, type SessionState } from './transport/stomp-session.js';
export { SessionSubscription } from './transport/session-subscription.js';

// Protocol
export {
  StompProtocolError,
  type StompErrorCode,
} from './protocol/stomp-protocol-error.js';
export type { StompFrame, StompHeaders, StompVersion } from './protocol/frame.js';
