import { ConsoleLogger, type INestApplication } from '@nestjs/common';
import { jest } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { bootstrap } from '../../sample/main.js';
import { CapturingLogger } from './stomp-app.js';

export interface RunningSample {
  app: INestApplication;
  port: number;
  /** `http://127.0.0.1:<port>` */
  httpUrl: string;
  /** `ws://127.0.0.1:<port>/ws` (a CONNECT needs a login there) */
  url: string;
  /** `ws://127.0.0.1:<port>/gs-guide-websocket`: the endpoint where a CONNECT without login is welcome */
  anonymousUrl: string;
  /** What the sample logged after start-up. */
  logs: CapturingLogger;
  close(): Promise<void>;
}

/**
 * Starts the real sample through its own `bootstrap(port, host)` (sample/main.ts: AppModule,
 * the global ValidationPipe) on 127.0.0.1 and a random port. `sampleUsers` becomes
 * `SAMPLE_USERS` while the app reads it; the start-up chatter of Nest's console logger is
 * muted, and everything logged afterwards is captured.
 */
export async function startSample(sampleUsers?: string): Promise<RunningSample> {
  const previous = process.env.SAMPLE_USERS;
  if (sampleUsers === undefined) delete process.env.SAMPLE_USERS;
  else process.env.SAMPLE_USERS = sampleUsers;
  const mute = jest.spyOn(ConsoleLogger.prototype, 'log').mockImplementation(() => undefined);
  let app: INestApplication;
  try {
    app = await bootstrap(0, '127.0.0.1');
  } finally {
    mute.mockRestore();
    if (previous === undefined) delete process.env.SAMPLE_USERS;
    else process.env.SAMPLE_USERS = previous;
  }
  const logs = new CapturingLogger();
  app.useLogger(logs);
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return {
    app,
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    url: `ws://127.0.0.1:${port}/ws`,
    anonymousUrl: `ws://127.0.0.1:${port}/gs-guide-websocket`,
    logs,
    close: async () => {
      await app.close();
      logs.assertNoUnexpectedErrors();
    },
  };
}
