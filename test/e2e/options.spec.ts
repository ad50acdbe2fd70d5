import { describe, expect, it } from '@jest/globals';
import { Inject, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { StompModule, type StompModuleOptions } from '../../lib/index.js';
import { rawConnected } from '../support/raw-client.js';
import { startStompApp, unique } from '../support/stomp-app.js';
import { connectClient, Inbox, sendConfirmed, subscribeConfirmed } from '../support/stomp-client.js';

/** Starts an app that must fail; resolves with the start-up error message. */
async function startupError(options: unknown): Promise<string> {
  try {
    const running = await startStompApp(options as StompModuleOptions);
    await running.close();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error('the app started');
}

describe('options validation at start-up', () => {
  it.each<[string, unknown, string[]]>([
    ['a broker prefix without a leading slash', { broker: { kind: 'simple', prefixes: ['topic'] } }, ['broker.prefixes: "topic" must be a string starting with "/"']],
    ['an application prefix without a leading slash', { applicationDestinationPrefixes: ['app'] }, ['applicationDestinationPrefixes: "app" must be a string starting with "/"']],
    [
      'a queue prefix that is not a broker prefix',
      { broker: { kind: 'simple', prefixes: ['/topic', '/queue'], queuePrefixes: ['/jobs'] } },
      ['broker.queuePrefixes: "/jobs" is not one of broker.prefixes (/topic, /queue)'],
    ],
    ['a negative limit', { limits: { maxFrameSize: -1 } }, ['limits.maxFrameSize must be a positive integer, got -1']],
    ['a fractional limit', { limits: { maxHeaders: 2.5 } }, ['limits.maxHeaders must be a positive integer, got 2.5']],
    ['a zero queue capacity', { broker: { kind: 'simple', queueCapacity: 0 } }, ['broker.queueCapacity must be a positive integer, got 0']],
    ['a heart-beat floor of 0', { broker: { kind: 'simple', heartbeat: { floor: 0 } } }, ['broker.heartbeat.floor must be a positive number of milliseconds, got 0']],
    ['a heart-beat tolerance below 1', { broker: { kind: 'simple', heartbeat: { tolerance: 0.5 } } }, ['broker.heartbeat.tolerance must be a number >= 1, got 0.5']],
    ['an endpoint path without a slash', { endpoints: [{ path: 'ws' }] }, ['endpoints[0].path must be a string starting with "/"']],
    ['the same endpoint twice', { endpoints: [{ path: '/ws' }, { path: '/ws' }] }, ['endpoints: path "/ws" is configured twice']],
    ['no endpoint', { endpoints: [] }, ['endpoints must name at least one endpoint']],
    ['endpoints that are not a list', { endpoints: '/ws' }, ['endpoints must be an array of { path, allowedOrigins? }']],
    ['allowedOrigins that is not a list', { endpoints: [{ path: '/ws', allowedOrigins: '*' }] }, ['endpoints[0].allowedOrigins must be an array of strings']],
    ['an unknown broker kind', { broker: { kind: 'rabbit' } }, ['broker.kind must be "simple", got "rabbit"']],
    ['an application prefix that is also a broker prefix', { applicationDestinationPrefixes: ['/topic'] }, ['"/topic" is both an application prefix and a broker prefix']],
    ['authenticate that is not a function', { authenticate: 'yes' }, ['authenticate must be a function']],
    ['a prefix that is not a string', { broker: { kind: 'simple', prefixes: ['/topic', null] } }, ['broker.prefixes: "null" must be a string starting with "/"']],
  ])('fails on %s, saying so', async (_name, options, expected) => {
    const message = await startupError(options);
    expect(message).toMatch(/^Invalid StompModule options:\n/);
    for (const e of expected) expect(message).toContain(e);
  });

  it('lists every problem at once', async () => {
    const message = await startupError({
      endpoints: [{ path: 'ws' }],
      broker: { kind: 'simple', prefixes: ['topic', '/queue'], queuePrefixes: ['/other'] },
      limits: { maxBodyLength: -5, maxHeaderLineLength: 0 },
    });
    const lines = message.split('\n').slice(1);
    expect(lines).toEqual(
      expect.arrayContaining([
        '  - endpoints[0].path must be a string starting with "/"',
        '  - broker.prefixes: "topic" must be a string starting with "/", e.g. "/topic"',
        '  - broker.queuePrefixes: "/other" is not one of broker.prefixes (topic, /queue)',
        '  - limits.maxBodyLength must be a positive integer, got -5',
        '  - limits.maxHeaderLineLength must be a positive integer, got 0',
      ]),
    );
  });

  it('normalizes a trailing separator on prefixes', async () => {
    const running = await startStompApp({ broker: { kind: 'simple', prefixes: ['/topic/', '/queue/'] } });
    try {
      const c = await connectClient(running.url);
      const inbox = new Inbox();
      const dest = `/topic/${unique()}`;
      await subscribeConfirmed(c.client, dest, inbox);
      await sendConfirmed(c.client, dest, 'normalized');
      expect((await inbox.waitFor(1))[0].body).toBe('normalized');
      await c.disconnect();
    } finally {
      await running.close();
    }
  });

  it('uses serverName in CONNECTED', async () => {
    const running = await startStompApp({ serverName: 'acme-stomp/9.9' });
    try {
      const { raw, connected } = await rawConnected(running.url);
      expect(connected.headers['server']).toBe('acme-stomp/9.9');
      await raw.close();
    } finally {
      await running.close();
    }
  });

  it('refuses to run without an HTTP server', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [StompModule.forRoot({})] }).compile();
    await expect(moduleRef.init()).rejects.toThrow(/StompModule needs an HTTP application/);
    await moduleRef.close().catch(() => undefined);
  });
});

const CONFIG = Symbol('CONFIG');
interface AppConfig {
  path: string;
  floor: number;
  server: string;
}

@Module({
  providers: [{ provide: CONFIG, useValue: { path: '/from-config', floor: 250, server: 'configured/1.0' } satisfies AppConfig }],
  exports: [CONFIG],
})
class ConfigModule {}

@Injectable()
class StompOptionsFactory {
  constructor(@Inject(CONFIG) private readonly config: AppConfig) {}
  create(): StompModuleOptions {
    return { endpoints: [{ path: `${this.config.path}-class` }], serverName: 'from-class' };
  }
}

describe('forRootAsync', () => {
  it('builds the options with useFactory, inject and imports', async () => {
    const running = await startStompApp(
      { endpoints: [{ path: '/from-config' }] },
      {
        stompModule: StompModule.forRootAsync({
          imports: [ConfigModule],
          inject: [CONFIG],
          useFactory: async (config: AppConfig): Promise<StompModuleOptions> => {
            await Promise.resolve();
            return {
              endpoints: [{ path: config.path }],
              serverName: config.server,
              broker: { kind: 'simple', heartbeat: { floor: config.floor } },
            };
          },
        }),
      },
    );
    try {
      expect(running.url.endsWith('/from-config')).toBe(true);
      const { raw, connected } = await rawConnected(running.url, {
        'accept-version': '1.2',
        host: 'h',
        'heart-beat': '10,10',
      });
      expect(connected.headers['server']).toBe('configured/1.0');
      expect(connected.headers['heart-beat']).toBe('250,250');
      await raw.close();
      await expect(rawConnected(`${running.baseUrl}/ws`)).rejects.toThrow(/404/);
    } finally {
      await running.close();
    }
  });

  it('builds the options with useClass', async () => {
    const running = await startStompApp(
      { endpoints: [{ path: '/from-config-class' }] },
      {
        stompModule: StompModule.forRootAsync({ imports: [ConfigModule], useClass: StompOptionsFactory }),
      },
    );
    try {
      const { raw, connected } = await rawConnected(running.url);
      expect(connected.headers['server']).toBe('from-class');
      await raw.close();
    } finally {
      await running.close();
    }
  });

  it('validates what the factory returns', async () => {
    await expect(
      startStompApp(
        {},
        {
          stompModule: StompModule.forRootAsync({
            useFactory: () => ({ broker: { kind: 'simple' as const, prefixes: ['nope'] } }),
          }),
        },
      ),
    ).rejects.toThrow('broker.prefixes: "nope" must be a string starting with "/"');
  });
});
