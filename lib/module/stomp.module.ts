import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { MESSAGE_BROKER, type MessageBroker } from '../broker/message-broker.js';
import { SimpleBroker } from '../broker/simple/simple-broker.js';
import { createRelayBroker } from '../broker/relay/create-relay-broker.js';
import { UserDestinationBroadcasts } from '../broker/relay/user-destination-broadcasts.js';
import { EventEmitterBridge } from '../events/event-emitter-bridge.js';
import { StompEvents } from '../events/stomp-events.service.js';
import { AnnotatedMessageHandler } from '../handlers/annotated-message-handler.js';
import { HandlerExplorer } from '../handlers/handler-explorer.js';
import { ReturnValueHandler } from '../handlers/return-value-handler.js';
import { StompContextCreator } from '../handlers/stomp-context-creator.js';
import { APPLICATION_MESSAGE_HANDLER } from '../messaging/application-message-handler.js';
import { BrokerChannel } from '../messaging/broker-channel.js';
import { ChannelInterceptors } from '../messaging/channel-interceptors.js';
import { InboundDispatcher } from '../messaging/inbound-dispatcher.js';
import { ErrorReplies } from '../messaging/error-replies.js';
import { UnmappedDestinationReporter } from '../messaging/unmapped-destination-reporter.js';
import { StompCounters } from '../stats/stomp-counters.js';
import { StompMetrics } from '../stats/stomp-metrics.js';
import { StompStats } from '../stats/stomp-stats.js';
import { StompMessagingTemplate } from '../template/stomp-messaging-template.js';
import { SessionRegistry } from '../transport/session-registry.js';
import { SessionLimits } from '../transport/session-limits.js';
import { WebSocketEndpoint } from '../transport/websocket-endpoint.js';
import { UserDestinationResolver } from '../user/user-destination-resolver.js';
import { DefaultSimpUserRegistry } from '../user/default-simp-user-registry.js';
import { SimpUserRegistry } from '../user/simp-user-registry.js';
import { userRegistryProvider } from '../user/user-registry.provider.js';
import { resolveStompOptions, type ResolvedStompOptions } from './resolve-options.js';
import { STOMP_OPTIONS } from './stomp.constants.js';
import { STOMP_MODULE_OPTIONS, StompConfigurableModule } from './stomp.module-definition.js';
import type { StompModuleOptions } from './stomp-options.js';

/**
 * STOMP over WebSocket for a Nest HTTP application:
 * `StompModule.forRoot({ endpoints: [{ path: '/ws' }], broker: { kind: 'simple' } })`, or
 * `StompModule.forRootAsync({ useFactory, inject, imports })`. Global by default, so
 * `StompMessagingTemplate` can be injected anywhere.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: STOMP_OPTIONS,
      useFactory: (options: StompModuleOptions) => resolveStompOptions(options),
      inject: [STOMP_MODULE_OPTIONS],
    },
    {
      provide: MESSAGE_BROKER,
      useFactory: (options: ResolvedStompOptions, events: StompEvents): MessageBroker =>
        options.relay === undefined ? new SimpleBroker(options.broker) : createRelayBroker(options.relay, events),
      inject: [STOMP_OPTIONS, StompEvents],
    },
    // transport
    SessionRegistry,
    SessionLimits,
    WebSocketEndpoint,
    // lifecycle events (RxJS stream, bridged to @nestjs/event-emitter when the app has it)
    StompEvents,
    EventEmitterBridge,
    // stats: counters the server increments, the snapshot, the OpenTelemetry instruments
    StompCounters,
    StompStats,
    StompMetrics,
    // message channels: the interceptors of all three, and the one path to broker.publish
    ChannelInterceptors,
    BrokerChannel,
    // routing
    InboundDispatcher,
    ErrorReplies,
    UnmappedDestinationReporter,
    UserDestinationResolver,
    // users: this server's registry, and the one injected as SimpUserRegistry (the option's, else the same)
    DefaultSimpUserRegistry,
    userRegistryProvider,
    StompMessagingTemplate,
    // several instances behind a relay: registry and unresolved-user broadcasts
    UserDestinationBroadcasts,
    // annotated handlers
    HandlerExplorer,
    StompContextCreator,
    ReturnValueHandler,
    AnnotatedMessageHandler,
    { provide: APPLICATION_MESSAGE_HANDLER, useExisting: AnnotatedMessageHandler },
  ],
  exports: [STOMP_OPTIONS, MESSAGE_BROKER, SessionRegistry, StompMessagingTemplate, UserDestinationResolver, ChannelInterceptors, BrokerChannel, StompEvents, StompStats, SimpUserRegistry, DefaultSimpUserRegistry],
})
export class StompModule extends StompConfigurableModule implements OnApplicationShutdown {
  constructor(
    @Inject(MESSAGE_BROKER) private readonly broker: MessageBroker,
    private readonly events: StompEvents,
  ) {
    super();
  }

  /** After the providers' own hooks: the sessions are closed and their disconnect events sent. */
  async onApplicationShutdown(): Promise<void> {
    await this.broker.close();
    this.events.complete();
  }
}
