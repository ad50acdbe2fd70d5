import { describe, expect, it } from '@jest/globals';
import { Controller, Inject, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { MessageMapping, SendToUser, StompModule, type StompModuleOptions } from '../../lib/index.js';
import { expectRefused, rawConnected } from '../support/raw-client.js';
import { startStompApp, startupError, unique } from '../support/stomp-app.js';
import { connectClient, Inbox, sendConfirmed, subscribeConfirmed } from '../support/stomp-client.js';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';


describe('options validation at start-up', () => {
  it.each<[string, unknown, string[]]>([
    ['a broker prefix without a leading slash', { broker: { kind: 'simple', prefixes: ['topic'] } }, ['broker.prefixes: "topic" must be a string starting with "/" and naming a prefix: use ["/topic"]']],
    ['an application prefix without a leading slash', { applicationDestinationPrefixes: ['app'] }, ['applicationDestinationPrefixes: "app" must be a string starting with "/" and naming a prefix: use ["/app"]']],
    [
      'a queue prefix that is not a broker prefix',
      { broker: { kind: 'simple', prefixes: ['/topic', '/queue'], queuePrefixes: ['/jobs'] } },
      ['broker.queuePrefixes: "/jobs" is not one of broker.prefixes (/topic, /queue)'],
    ],
    ['a negative limit', { limits: { maxFrameSize: -1 } }, ['limits.maxFrameSize must be a positive integer, got -1']],
    ['a fractional limit', { limits: { maxHeaders: 2.5 } }, ['limits.maxHeaders must be a positive integer, got 2.5']],
    ['a zero queue capacity', { broker: { kind: 'simple', queueCapacity: 0 } }, ['broker.queueCapacity must be a positive integer, got 0']],
    ['a heart-beat floor of 0', { broker: { kind: 'simple', heartbeat: { floor: 0 } } }, ['broker.heartbeat.floor must be a positive integer number of milliseconds, got 0']],
    ['a heart-beat tolerance below 1', { broker: { kind: 'simple', heartbeat: { tolerance: 0.5 } } }, ['broker.heartbeat.tolerance must be a number >= 1, got 0.5']],
    ['an endpoint path without a slash', { endpoints: [{ path: 'ws' }] }, ['endpoints[0].path must be a string starting with "/", got "ws": use "/ws"']],
    ['the same endpoint twice', { endpoints: [{ path: '/ws' }, { path: '/ws' }] }, ['endpoints: path "/ws" is configured twice']],
    ['no endpoint', { endpoints: [] }, ['endpoints must name at least one endpoint (leave endpoints out for the default [{ path: "/ws" }])']],
    ['endpoints that are not a list', { endpoints: '/ws' }, ['endpoints must be an array of { path, allowedOrigins? }, got "/ws": use [{ path: "/ws" }]']],
    ['allowedOrigins that is not a list', { endpoints: [{ path: '/ws', allowedOrigins: '*' }] }, ['endpoints[0].allowedOrigins must be an array of strings, got "*": use ["*"]']],
    ['an unknown broker kind', { broker: { kind: 'rabbit' } }, ['broker.kind must be "simple" or "relay", got "rabbit"']],
    ['an application prefix that is also a broker prefix', { applicationDestinationPrefixes: ['/topic'] }, ['"/topic" is both in applicationDestinationPrefixes and in broker.prefixes: remove it from one of them']],
    ['authenticate that is not a function', { authenticate: 'yes' }, ['authenticate must be a function (request) => { user?, reject? }, got "yes"']],
    ['a prefix that is not a string', { broker: { kind: 'simple', prefixes: ['/topic', null] } }, ['broker.prefixes: null must be a string starting with "/" and naming a prefix']],
    ['application prefixes given as one string', { applicationDestinationPrefixes: 'app' }, ['applicationDestinationPrefixes must be an array of strings starting with "/", got "app": use ["/app"]']],
    ['a bare "/" as a prefix', { applicationDestinationPrefixes: ['/'] }, ['applicationDestinationPrefixes: "/" must be a string starting with "/" and naming a prefix']],
    ['a user prefix without a slash', { userDestinationPrefix: 'user' }, ['userDestinationPrefix must be a string starting with "/", got "user": use "/user"']],
    ['an endpoint given as a string', { endpoints: ['/ws'] }, ['endpoints[0] must be an object { path, allowedOrigins? }, got "/ws": use { path: "/ws" }']],
    ['a broker that is not an object', { broker: 'simple' }, [`broker must be an object such as { kind: 'simple' }, got "simple"`]],
    ['heart-beat options that are not an object', { broker: { kind: 'simple', heartbeat: true } }, ['broker.heartbeat must be an object { floor?, tolerance?, ceiling? } or false, got true']],
    ['limits that are not an object', { limits: 5 }, ['limits must be an object such as { maxFrameSize: 65536 }, got 5']],
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
        '  - endpoints[0].path must be a string starting with "/", got "ws": use "/ws"',
        '  - broker.prefixes: "topic" must be a string starting with "/" and naming a prefix: use ["/topic", "/queue"]',
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
    const error = await moduleRef.init().then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    // Names the call to use and both calls that lead here (createMicroservice() was reported as
    // createApplicationContext() before).
    expect(error?.message).toMatch(/^StompModule needs an HTTP application/);
    expect(error?.message).toContain('NestFactory.create()');
    expect(error?.message).toContain('NestFactory.createApplicationContext()');
    expect(error?.message).toContain('NestFactory.createMicroservice()');
    expect(error?.message).toContain('app.connectMicroservice()');
    await moduleRef.close().catch(() => undefined);
  });

  it('says which option to change when a prefix lacks its slash, without an unrelated example', async () => {
    const message = await startupError({ applicationDestinationPrefixes: ['app'] });
    expect(message).toContain('applicationDestinationPrefixes: "app"');
    expect(message).toContain('use ["/app"]');
    expect(message).not.toContain('/topic');
  });

  it('refuses options that are not an object', async () => {
    const factoryResult = (value: unknown) =>
      startStompApp({}, { stompModule: StompModule.forRootAsync({ useFactory: () => value as StompModuleOptions }) });
    await expect(factoryResult('/ws')).rejects.toThrow(
      'Invalid StompModule options: StompModule.forRoot() (or the forRootAsync() factory) must give an options object, got "/ws"',
    );
    await expect(factoryResult(null)).rejects.toThrow('must give an options object, got null');
  });
});

@Controller()
class SendToUserOutsideBrokerController {
  @MessageMapping('/ask')
  @SendToUser('/replies')
  ask(): string {
    return 'answer';
  }
}

describe('start-up errors outside the options', () => {
  it('a @SendToUser destination outside the broker names the configured prefixes, not a default example', async () => {
    const error = await startStompApp(
      { broker: { kind: 'simple', prefixes: ['/exchange'] } },
      { controllers: [SendToUserOutsideBrokerController] },
    ).then(
      () => new Error('the app started'),
      (err: unknown) => err as Error,
    );
    expect(error.message).toBe(
      'SendToUserOutsideBrokerController.ask: @SendToUser("/replies") is under no broker prefix (/exchange): ' +
        'name the user\'s destination as a broker one, e.g. @SendToUser("/exchange/replies")',
    );
  });
});

describe('unknown option keys are refused at start-up', () => {
  it.each<[string, unknown, string]>([
    ['endpoint for endpoints', { endpoint: [{ path: '/stomp' }] }, 'unknown option "endpoint": did you mean "endpoints"?'],
    [
      'applicationDestinationPrefix for applicationDestinationPrefixes',
      { applicationDestinationPrefix: ['/app'] },
      'unknown option "applicationDestinationPrefix": did you mean "applicationDestinationPrefixes"?',
    ],
    [
      'a top-level prefix',
      { prefix: ['/topic'] },
      'unknown option "prefix": did you mean "broker.prefixes" or "applicationDestinationPrefixes" or "userDestinationPrefix"?',
    ],
    ['a limit at the top level', { maxFrameSize: 1024 }, 'unknown option "maxFrameSize": did you mean "limits.maxFrameSize"?'],
    ['an endpoint key', { endpoints: [{ path: '/ws' }, { path: '/b', allowedOrigin: ['*'] }] }, 'unknown option "endpoints[1].allowedOrigin": did you mean "endpoints[1].allowedOrigins"?'],
    ['a broker key', { broker: { kind: 'simple', prefix: ['/topic'] } }, 'unknown option "broker.prefix": did you mean "broker.prefixes" or "broker.queuePrefixes"?'],
    ['a heart-beat key', { broker: { kind: 'simple', heartbeat: { flor: 500 } } }, 'unknown option "broker.heartbeat.flor": did you mean "broker.heartbeat.floor"?'],
    ['a limits key', { limits: { maxframesize: 1024 } }, 'unknown option "limits.maxframesize": did you mean "limits.maxFrameSize"?'],
    ['a key like no other', { colour: 'blue' }, 'unknown option "colour"; the options here are endpoints, applicationDestinationPrefixes,'],
  ])('refuses %s', async (_name, options, expected) => {
    const message = await startupError(options);
    expect(message).toMatch(/^Invalid StompModule options:\n/);
    expect(message).toContain(expected);
  });

  it('refuses a misspelt key from a variable (where TypeScript cannot see it), so the intended path never silently 404s', async () => {
    const fromConfig = JSON.parse('{"endpoint":[{"path":"/stomp"}],"applicationDestinationPrefixes":["/app"]}') as StompModuleOptions;
    const message = await startupError(fromConfig);
    expect(message.split('\n')).toEqual([
      'Invalid StompModule options:',
      '  - unknown option "endpoint": did you mean "endpoints"?',
    ]);
  });

  it('refuses unknown keys that a forRootAsync factory returns', async () => {
    await expect(
      startStompApp(
        {},
        { stompModule: StompModule.forRootAsync({ useFactory: () => ({ endpoint: [{ path: '/x' }] }) as StompModuleOptions }) },
      ),
    ).rejects.toThrow('unknown option "endpoint": did you mean "endpoints"?');
  });

  it('still takes isGlobal, which belongs to forRoot and not to the options', async () => {
    const running = await startStompApp({}, { stompModule: StompModule.forRoot({ isGlobal: false, serverName: 'local/1' }) });
    try {
      const { raw, connected } = await rawConnected(running.url);
      expect(connected.headers['server']).toBe('local/1');
      await raw.close();
    } finally {
      await running.close();
    }
  });
});

describe('a refused origin is logged with the option that would allow it', () => {
  it('names the endpoint, the origin and allowedOrigins (an explicit list)', async () => {
    const running = await startStompApp({ endpoints: [{ path: '/ws', allowedOrigins: ['https://app.example.com'] }] });
    try {
      expect(await expectRefused(running.url, { headers: { origin: 'https://evil.example' } })).toBe(403);
      expect(running.logs.at('warn')).toContainEqual(
        expect.stringContaining(
        'Refused WebSocket handshake to /ws from origin "https://evil.example" (HTTP 403): allowedOrigins is ["https://app.example.com"]; ' +
          'to accept it, list it in StompModule.forRoot({ endpoints: [{ path: "/ws", allowedOrigins: ["https://evil.example"] }] })',
        ),
      );
    } finally {
      await running.close();
    }
  });

  it('says that same origin is the default', async () => {
    const running = await startStompApp({});
    try {
      expect(await expectRefused(running.url, { headers: { origin: 'http://localhost:3000' } })).toBe(403);
      const line = running.logs.at('warn').find((l) => l.startsWith('Refused WebSocket handshake'));
      expect(line).toContain(`only the same origin (host "127.0.0.1:${running.port}") is allowed by default`);
      expect(line).toContain('allowedOrigins: ["http://localhost:3000"]');
    } finally {
      await running.close();
    }
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

describe('relay options', () => {
  it("are validated at start-up like every option, all problems in one error, and a simple-broker option on a relay is refused", () => {
    let message = '';
    try {
      resolveStompOptions({
        broker: { kind: 'relay', port: 70000, connectTimeout: -1, maxReconnectDelay: 10, reconnectDelay: 100, userRegistryBroadcast: '/elsewhere/x', queueCapacity: 5 } as never,
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('broker.port must be a TCP port (1 to 65535), got 70000');
    expect(message).toContain('broker.connectTimeout must be a whole number of milliseconds from 1 to 2147483647, got -1');
    expect(message).toContain('broker.maxReconnectDelay (10) must not be less than broker.reconnectDelay (100)');
    expect(message).toContain('broker.userRegistryBroadcast must be false or a destination under a relayed prefix (/topic, /queue), got "/elsewhere/x"');
    expect(message).toContain('broker.queueCapacity is an option of the simple broker; the relay leaves it to the external broker (remove it)');
    expect(() => resolveStompOptions({ broker: { kind: 'simple', host: 'x' } as never })).toThrow('broker.host is an option of the relay: set broker.kind to "relay" to use it');
  });

  it("take Spring's defaults", () => {
    expect(resolveStompOptions({ broker: { kind: 'relay' } }).relay).toEqual({
      prefixes: ['/topic', '/queue'],
      host: '127.0.0.1',
      port: 61613,
      clientLogin: 'guest',
      clientPasscode: 'guest',
      systemLogin: 'guest',
      systemPasscode: 'guest',
      virtualHost: '/',
      systemHeartbeatSendInterval: 10000,
      systemHeartbeatReceiveInterval: 10000,
      clientHeartbeatInterval: 10000,
      connectTimeout: 10000,
      reconnectDelay: 1000,
      maxReconnectDelay: 30000,
      userDestinationBroadcast: '/topic/unresolved-user-destination',
      userRegistryBroadcast: '/topic/simp-user-registry',
      userRegistryBroadcastInterval: 10000,
    });
  });
});
