import { Module } from '@nestjs/common';
import { StompModule } from '../lib/index.js';
import { ChatController } from './chat/chat.controller.js';
import { ChatRoomsService } from './chat/chat-rooms.service.js';
import { GreetingController } from './greeting/greeting.controller.js';
import { StatsController } from './stats/stats.controller.js';
import { PresenceController } from './presence/presence.controller.js';
import { PresenceService } from './presence/presence.service.js';
import { parseSampleUsers, sampleAuthenticator } from './sample-users.js';
import { sampleBroker } from './sample-broker.js';
import { PageController } from './web/page.controller.js';
import { WhoAmIController } from './account/whoami.controller.js';

@Module({
  imports: [
    StompModule.forRootAsync({
      useFactory: () => ({
        // Each serves plain WebSocket and SockJS (Spring's `.withSockJS()`); /gs-guide-websocket is
        // the endpoint of Spring's getting-started guide, so its front end runs here unchanged.
        endpoints: [
          { path: '/ws', allowedOrigins: ['*'], sockjs: true },
          { path: '/gs-guide-websocket', allowedOrigins: ['*'], sockjs: true },
        ],
        applicationDestinationPrefixes: ['/app'],
        // BROKER=relay: RabbitMQ at RELAY_HOST:RELAY_PORT (see sample-broker.ts); else the simple broker.
        broker: sampleBroker(),
        authenticate: sampleAuthenticator(parseSampleUsers(process.env.SAMPLE_USERS)),
        // Only the server publishes who is online: a client SEND there gets an ERROR naming it.
        authorization: { rules: [{ type: 'SEND', destination: '/topic/presence', access: 'denyAll' }] },
      }),
    }),
  ],
  controllers: [GreetingController, ChatController, PresenceController, StatsController, PageController, WhoAmIController],
  providers: [ChatRoomsService, PresenceService],
})
export class AppModule {}
