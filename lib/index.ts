// Module and options
export { StompModule } from './module/stomp.module.js';
export type {
  BrokerOptions,
  ChannelInterceptorOptions,
  HeartbeatOptions,
  InterceptorRef,
  SimpleBrokerOptions,
  RelayBrokerOptions,
  SockJsOptions,
  SockJsTransport,
  StompConnectDecision,
  StompConnectRequest,
  StompEndpointOptions,
  StompLimits,
  StompModuleOptions,
  StompStatsOptions,
  StompAuthorizationOptions,
  StompAuthorizationRule,
} from './module/stomp-options.js';
export type {
  StompAccess,
  StompAuthorizationContext,
  StompAuthorizationFunction,
  StompAuthorizationPredicate,
  StompAuthorizedType,
} from './messaging/authorization.js';
export { STOMP_OPTIONS } from './module/stomp.constants.js';
export type { ResolvedStompOptions } from './module/resolve-options.js';

// Annotated handlers
export { MessageMapping } from './handlers/decorators/message-mapping.decorator.js';
export { SubscribeMapping } from './handlers/decorators/subscribe-mapping.decorator.js';
export { SendTo, SendToUser, type SendToUserOptions } from './handlers/decorators/send-to.decorator.js';
export {
  MessageExceptionHandler,
  type ErrorType,
} from './handlers/decorators/message-exception-handler.decorator.js';
export {
  ConnectedSession,
  DestinationVariable,
  Header,
  Headers,
  MessageException,
  Payload,
  Principal,
  SessionAttribute,
  SessionAttributes,
} from './handlers/decorators/param.decorators.js';
export type { StompPrincipal } from './user/stomp-principal.js';
export type { StompAuthenticator, StompHandshakeDecision } from './auth/stomp-authenticator.js';
export { StompMessageContext } from './handlers/stomp-message-context.js';
export { MessageConversionError } from './messaging/message-converter.js';

// Sending from anywhere, user destinations
export { StompMessagingTemplate, type MessageHeaders } from './template/stomp-messaging-template.js';
export { UserDestinationResolver } from './user/user-destination-resolver.js';

// User registry (Spring's SimpUserRegistry)
export {
  SimpUserRegistry,
  type SimpSession,
  type SimpSubscription,
  type SimpSubscriptionMatcher,
  type SimpUser,
} from './user/simp-user-registry.js';
export { DefaultSimpUserRegistry } from './user/default-simp-user-registry.js';

// Message channels and their interceptors
export { StompChannelInterceptor } from './messaging/channel-interceptor.decorator.js';
export {
  applyInterceptors,
  type ChannelInterceptorContext,
  type ChannelInterceptorResult,
  type StompChannel,
} from './messaging/channel-interceptor.js';
export { ChannelInterceptors } from './messaging/channel-interceptors.js';
export { BrokerChannel } from './messaging/broker-channel.js';

// Session lifecycle events
export { StompEvents } from './events/stomp-events.service.js';
export {
  STOMP_EVENT_NAMES,
  type SessionConnectEvent,
  type SessionConnectedEvent,
  type SessionDisconnectEvent,
  type SessionSubscribeEvent,
  type SessionUnsubscribeEvent,
  type StompSessionEvent,
  type StompSessionEventType,
  type BrokerAvailabilityEvent,
  BROKER_AVAILABILITY_EVENT_NAME,
} from './events/stomp-events.js';
export type { SessionCloseReason } from './transport/stomp-connection.js';
export type { CountedLimit, SessionLimit } from './transport/session-limits.js';
export type { SlowConsumerLimit } from './transport/stomp-connection.js';

// Stats and metrics
export {
  StompStats,
  type SessionCounts,
  type SessionGroup,
  type StompStatsSnapshot,
} from './stats/stomp-stats.js';
export { STOMP_METER_NAME } from './stats/stomp-metrics.js';

// Brokers
export {
  MESSAGE_BROKER,
  type AckMode,
  type BrokerMessage,
  type BrokerSession,
  type BrokerStats,
  type BrokerSubscription,
  type MessageBroker,
  type BrokerCapabilities,
  type BrokerConnectRequest,
  SERVER_CAPABILITIES,
} from './broker/message-broker.js';
export { SimpleBroker, type SimpleBrokerConfig } from './broker/simple/simple-broker.js';
export { RelayBroker, type RelayBrokerListener } from './broker/relay/relay-broker.js';
export { MultiServerUserRegistry, type UserRegistrySnapshot } from './user/multi-server-user-registry.js';
export type { RelayBrokerConfig } from './broker/relay/relay-broker-config.js';
export { BrokerConnection, type BrokerConnectionOptions, type BrokerConnectionHandlers } from './broker/relay/broker-connection.js';
export { SystemConnection, type SystemConnectionOptions, type SystemSubscription, type ReconnectOptions } from './broker/relay/system-connection.js';

// Sessions
export { SessionRegistry } from './transport/session-registry.js';
export type {
  SessionState,
  StompHandshake,
  StompSessionInfo,
  StompSubscriptionInfo,
} from './transport/stomp-session-info.js';
// The transport seam (SockJS and custom transports implement it)
export type { StompConnection, StompConnectionHandler } from './transport/stomp-connection.js';

// Protocol
export { StompProtocolError, type StompErrorCode } from './protocol/stomp-protocol-error.js';
export type { StompFrame, StompHeaders, StompVersion } from './protocol/frame.js';
