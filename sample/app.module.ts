import { Module } from '@nestjs/common';
import { StompModule } from '../lib/index.js';
import { parseSampleUsers, sampleAuthenticator } from './sample-users.js';

@Module({
  imports: [
    StompModule.forRootAsync({
      useFactory: () => ({
        endpoints: [{ path: '/ws', allowedOrigins: ['*'] }],
        applicationDestinationPrefixes: ['/app'],
        broker: { kind: 'simple', prefixes: ['/topic', '/queue'] },
        authenticate: sampleAuthenticator(parseSampleUsers(process.env.SAMPLE_USERS)),
      }),
    }),
  ],
})
export class AppModule {}
