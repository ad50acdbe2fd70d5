import 'reflect-metadata';
import {
  Module,
  type DynamicModule,
  type INestApplication,
  type LoggerService,
  type LogLevel,
  type Provider,
  type Type,
} from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
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
  /** Everything logged since this app was created (see {@link CapturingLogger}). */
  logs: CapturingLogger;
  close(): Promise<void>;
}

export interface StartAppExtras {
  /** Modules imported next to StompModule. */
  imports?: Array<Type | DynamicModule>;
  controllers?: Type[];
  providers?: Provider[];
  /** HTTP platform. Default express. */
  adapter?: 'express' | 'fastify';
  /** Replaces `StompModule.forRoot(options)`, e.g. with a `forRootAsync(...)` module. */
  stompModule?: DynamicModule;
  /** Called after the app is created and before it listens (e.g. `useWebSocketAdapter`). */
  configure?: (app: INestApplication) => void;
}

/**
 * A Nest logger that remembers what was logged, so tests can assert on errors. Nest's `Logger` is
 * global: once a second app is created, the first app's library logs go to the second's logger.
 *
 * It prints nothing, so a passing run is quiet. Error-level lines are not lost: a test that
 * provokes one on purpose claims it with {@link CapturingLogger.expect}, and closing the app
 * (`RunningApp.close()`) fails with every error-level line nobody claimed.
 */
export class CapturingLogger implements LoggerService {
  readonly entries: Array<{ level: LogLevel; message: string }> = [];
  private readonly claimed = new Set<{ level: LogLevel; message: string }>();

  private record(level: LogLevel, message: unknown, rest: unknown[]): void {
    const parts = [message, ...rest].map((p) => (p instanceof Error ? (p.stack ?? p.message) : String(p)));
    this.entries.push({ level, message: parts.join(' ') });
  }

  /**
   * Claims the lines at `level` that contain `text` (or match it) and returns them: the test that
   * provoked them asserts on them, and they no longer count as unexpected at close.
   */
  expect(level: LogLevel, text: string | RegExp): string[] {
    const hits = this.entries.filter(
      (e) => e.level === level && (typeof text === 'string' ? e.message.includes(text) : text.test(e.message)),
    );
    for (const hit of hits) this.claimed.add(hit);
    return hits.map((e) => e.message);
  }

  /** Error- and fatal-level lines that no test claimed with {@link expect}. */
  unexpectedErrors(): string[] {
    return this.entries
      .filter((e) => (e.level === 'error' || e.level === 'fatal') && !this.claimed.has(e))
      .map((e) => `[${e.level}] ${e.message}`);
  }

  /** Throws if an error-level line was logged that no test claimed. */
  assertNoUnexpectedErrors(): void {
    const lines = this.unexpectedErrors();
    if (lines.length > 0) {
      throw new Error(`Unexpected error-level log lines (claim them with logs.expect(...)):\n${lines.join('\n')}`);
    }
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.record('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.record('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.record('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.record('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.record('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.record('fatal', message, rest);
  }

  at(...levels: LogLevel[]): string[] {
    return this.entries.filter((e) => levels.includes(e.level)).map((e) => e.message);
  }
}

/** Starts a real Nest HTTP app with StompModule on 127.0.0.1 and a random port. */
export async function startStompApp(
  options: StompModuleOptions = {},
  extra: StartAppExtras = {},
): Promise<RunningApp> {
  @Module({
    imports: [extra.stompModule ?? StompModule.forRoot(options), ...(extra.imports ?? [])],
    controllers: extra.controllers ?? [],
    providers: extra.providers ?? [],
  })
  class TestAppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [TestAppModule] }).compile();
  const logs = new CapturingLogger();
  const app =
    extra.adapter === 'fastify'
      ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: logs })
      : moduleRef.createNestApplication({ logger: logs });
  extra.configure?.(app);
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const path = options.endpoints?.[0]?.path ?? '/ws';
  return {
    app,
    port,
    logs,
    baseUrl: `ws://127.0.0.1:${port}`,
    url: `ws://127.0.0.1:${port}${path}`,
    close: async () => {
      await app.close();
      logs.assertNoUnexpectedErrors();
    },
  };
}

/** A unique destination suffix, so tests sharing one app never see each other's messages. */
let uniqueCounter = 0;
export function unique(name = 'd'): string {
  return `${name}-${process.pid}-${++uniqueCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Starts an app that must fail at start-up; resolves with the error message. */
export async function startupError(options: unknown): Promise<string> {
  try {
    const running = await startStompApp(options as StompModuleOptions);
    await running.close();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error('the app started');
}
