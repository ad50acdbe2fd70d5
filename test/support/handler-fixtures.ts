import 'reflect-metadata';
import { Module, type DynamicModule, type INestApplication, type Provider, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { IMessage, StompHeaders } from '@stomp/stompjs';
import { StompModule, type StompModuleOptions } from '../../lib/index.js';
import type { CapturingLogger, RunningApp } from './stomp-app.js';
import { connectClient, Inbox, subscribeConfirmed, withTimeout, type ClientConfig, type TestClient } from './stomp-client.js';

/**
 * Helpers for the annotated-handler tests (test/handlers, test/sample): log-in, inboxes,
 * barriers that prove "nothing else arrived", JSON bodies, HTTP calls and start-up failures.
 */

/** Connects a real @stomp/stompjs client, logging in as `login` when given. */
export function connectAs(url: string, login?: string, passcode = 'pw', config: ClientConfig = {}): Promise<TestClient> {
  const connectHeaders: StompHeaders = login === undefined ? {} : { login, passcode };
  return connectClient(url, { ...config, connectHeaders: { ...connectHeaders, ...(config.connectHeaders ?? {}) } });
}

/** Subscribes (confirmed by a receipt) and returns the inbox that collects the messages. */
export async function inboxOf(tc: TestClient, destination: string, headers: StompHeaders = {}): Promise<Inbox> {
  const inbox = new Inbox();
  await subscribeConfirmed(tc.client, destination, inbox, headers);
  return inbox;
}

/** The body of a message parsed as JSON. */
export function json<T = unknown>(message: IMessage): T {
  return JSON.parse(message.body) as T;
}

/** All bodies of an inbox parsed as JSON. */
export function jsonBodies<T = unknown>(inbox: Inbox): T[] {
  return inbox.messages.map((m) => json<T>(m));
}

/**
 * A round trip on `tc`'s connection (a SEND to a broker destination nobody subscribes to, with
 * a receipt). Everything the server wrote to this connection before it handled the barrier has
 * been delivered to the client's callbacks once this resolves, so a test can then assert that
 * some message did NOT arrive without waiting for a clock.
 */
export async function barrier(tc: TestClient, destination = '/topic/barrier-nobody-listens'): Promise<void> {
  await tc.receipt((receipt) => tc.client.publish({ destination, body: '', headers: { receipt } }));
}

/** Sends a frame to an application destination and waits for its RECEIPT (sent once the handler finished). */
export async function sendAndWait(
  tc: TestClient,
  destination: string,
  body: string | object,
  headers: StompHeaders = {},
): Promise<void> {
  const isObject = typeof body === 'object';
  await tc.receipt((receipt) =>
    tc.client.publish({
      destination,
      body: isObject ? JSON.stringify(body) : body,
      headers: { ...(isObject ? { 'content-type': 'application/json' } : {}), ...headers, receipt },
    }),
  );
}

/** Log lines at `levels` that mention `text` (e.g. a unique destination). */
export function logLines(logs: CapturingLogger, text: string, ...levels: Array<'warn' | 'error' | 'log'>): string[] {
  const wanted = levels.length ? levels : (['warn', 'error'] as const);
  return logs.entries.filter((e) => (wanted as readonly string[]).includes(e.level) && e.message.includes(text)).map((e) => `${e.level}: ${e.message}`);
}

/** Whether a log line carries a stack trace. */
export function hasStack(line: string): boolean {
  return /\n\s+at .+/.test(line);
}

/** POSTs JSON to the app's HTTP server on 127.0.0.1. */
export async function postJson(running: Pick<RunningApp, 'port'>, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await withTimeout(
    fetch(`http://127.0.0.1:${running.port}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
    `POST ${path}`,
  );
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed };
}

export interface StartupExtras {
  controllers?: Type[];
  providers?: Provider[];
  imports?: Array<Type | DynamicModule>;
}

/**
 * Builds an app with StompModule and the given classes and initializes it, expecting start-up
 * to fail: resolves with the error. Fails the test if start-up succeeds.
 */
export async function startupError(options: StompModuleOptions, extra: StartupExtras): Promise<Error> {
  @Module({
    imports: [StompModule.forRoot(options), ...(extra.imports ?? [])],
    controllers: extra.controllers ?? [],
    providers: extra.providers ?? [],
  })
  class StartupTestModule {}
  let app: INestApplication | undefined;
  try {
    const moduleRef = await Test.createTestingModule({ imports: [StartupTestModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  } catch (err) {
    await app?.close().catch(() => undefined);
    return err as Error;
  }
  await app.close();
  throw new Error('start-up succeeded but was expected to fail');
}

/**
 * A deterministic sequence of small delays (no Math.random): a linear congruential generator
 * seeded by the test, mapped to 0 or `max` milliseconds so consecutive handlers finish out of
 * order unless the server serializes them.
 */
export function seededDelays(seed: number, count: number, max = 5): number[] {
  let state = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out.push(state >>> 31 ? max : 0);
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
