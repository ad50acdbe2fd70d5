import 'reflect-metadata';
import { Module, type INestApplication, type DynamicModule, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { StompModule, type StompModuleOptions } from '../../lib/index.js';

export interface RunningApp {
  app: INestApplication;
  /** `ws://127.0.0.1:<port>` */
  baseUrl: string;
  /** `ws://127.0.0.1:<port>/ws` (the first endpoint) */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts a real Nest HTTP app with StompModule on 127.0.0.1 and a random port. */
export async function startStompApp(
  options: StompModuleOptions = {},
  extra: { imports?: Array<Type | DynamicModule>; controllers?: Type[]; providers?: Type[] } = {},
): Promise<RunningApp> {
  @Module({
    imports: [StompModule.forRoot(options), ...(extra.imports ?? [])],
    controllers: extra.controllers ?? [],
    providers: extra.providers ?? [],
  })
  class TestAppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [TestAppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const path = options.endpoints?.[0]?.path ?? '/ws';
  return {
    app,
    port,
    baseUrl: `ws://127.0.0.1:${port}`,
    url: `ws://127.0.0.1:${port}${path}`,
    close: () => app.close(),
  };
}
