import { Injectable } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import {
  StompEvents,
  StompMessagingTemplate,
  StompProtocolError,
  StompStats,
  type BrokerAvailabilityEvent,
} from '../../lib/index.js';
import { inboxOf } from '../support/handler-fixtures.js';
import { unique, type RunningApp } from '../support/stomp-app.js';
import {
  connectClient,
  connectExpectingError,
  sendConfirmed,
  withTimeout,
  type TestClient,
} from '../support/stomp-client.js';
import { RABBITMQ_STOMP } from './global-setup.js';
import { startRelayApp } from './relay-app.js';

// RabbitMQ stopped (`rabbitmqctl stop_app`) and started again (`start_app`) under a running relay
// app: the node stays up, its STOMP listener closes and comes back on 127.0.0.1:61613. The
// environment is scripts/rabbitmq.sh's, so the CLI stays on loopback. RabbitMQ is ALWAYS started
// again in afterAll, whatever failed.

const run = promisify(execFile);
const CTL_ENV = {
  ...process.env,
  ERL_EPMD_ADDRESS: '127.0.0.1',
  RABBITMQ_CTL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  RABBITMQ_CONFIG_FILE: `${process.env['RABBITMQ_STATE_DIR'] ?? '/tmp/nestjs-stomp-rabbitmq'}/rabbitmq.conf`,
};

/** `rabbitmqctl <command>` (stop_app / start_app), bounded to 60 s. */
async function rabbitmqctl(command: 'stop_app' | 'start_app' | 'await_startup'): Promise<void> {
  await run('rabbitmqctl', ['-q', command], { env: CTL_ENV, timeout: 60_000 });
}

/** Whether RabbitMQ's STOMP port accepts a TCP connection (1 s at most). */
function stompAccepts(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(RABBITMQ_STOMP);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Starts the app again (idempotent) and waits, at most 120 tries of 0.5 s, for STOMP to accept. */
async function ensureRabbitMqUp(): Promise<void> {
  await rabbitmqctl('start_app');
  for (let i = 0; i < 120; i++) {
    if (await stompAccepts()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('RabbitMQ STOMP did not accept again on 127.0.0.1:61613');
}

@Injectable()
class TemplateHolder {
  constructor(readonly template: StompMessagingTemplate) {}
}

describe('the relay while RabbitMQ is stopped and started mid-run', () => {
  let running: RunningApp;
  let template: StompMessagingTemplate;
  const availability: boolean[] = [];
  const availabilityWaiters: Array<{ value: boolean; resolve: () => void }> = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  const clients: TestClient[] = [];
  const durableQueue = `/queue/${unique('survives-restart')}`;
  let stopped = false;

  /** Resolves once availability was reported `value` (after the events seen so far too). */
  function availabilityBecomes(value: boolean, ms: number): Promise<void> {
    if (availability[availability.length - 1] === value) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => availabilityWaiters.push({ value, resolve })), `availability ${value}`, ms);
  }

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    running = await startRelayApp(
      { broker: { kind: 'relay', reconnectDelay: 100, maxReconnectDelay: 500 } },
      { providers: [TemplateHolder] },
    );
    template = running.app.get(TemplateHolder).template;
    running.app.get(StompEvents).brokerAvailability$.subscribe((event: BrokerAvailabilityEvent) => {
      availability.push(event.available);
      for (const waiter of availabilityWaiters.splice(0)) {
        if (waiter.value === event.available) waiter.resolve();
        else availabilityWaiters.push(waiter);
      }
    });
  });

  afterAll(async () => {
    try {
      if (stopped) await ensureRabbitMqUp();
    } finally {
      process.off('unhandledRejection', onUnhandled);
      process.off('uncaughtException', onUnhandled);
      await Promise.allSettled(clients.map((c) => c.disconnect()));
      await running?.close();
    }
  });

  it('goes through unavailable and back, failing visibly while down and losing no message that got a RECEIPT', async () => {
    const stats = (): StompStats => running.app.get(StompStats);
    expect(stats().snapshot().broker?.available).toBe(true);

    // Before the stop: a client subscribed, and persistent messages receipted into a durable queue.
    const before = await connectClient(running.url);
    clients.push(before);
    const topic = `/topic/${unique('before')}`;
    await inboxOf(before, topic);
    const producer = await connectClient(running.url);
    clients.push(producer);
    for (const n of [1, 2, 3]) await sendConfirmed(producer.client, durableQueue, `kept-${n}`, { persistent: 'true' });
    const unavailableBefore = stats().snapshot().errorsSent.byCode['BROKER_UNAVAILABLE'] ?? 0;
    const errorsOfBefore = before.nextError();

    stopped = true;
    await rabbitmqctl('stop_app');
    await availabilityBecomes(false, 30_000);

    // Existing sessions: ERROR BROKER_UNAVAILABLE, then closed.
    const error = await withTimeout(errorsOfBefore, 'the ERROR of an existing session', 15_000);
    expect(error.headers['message']).toMatch(/^Message broker unavailable: the (connection to the message broker was lost \(.+\)|system connection to the message broker was lost; reconnect once it is back)$/);
    await withTimeout(before.closed, 'the existing session to close');
    await withTimeout(producer.closed, 'the producer session to close');
    expect(stats().snapshot().errorsSent.byCode['BROKER_UNAVAILABLE']).toBeGreaterThanOrEqual(unavailableBefore + 2);

    // While down: a new CONNECT is refused, the template rejects, the stats say so.
    const refused = await connectExpectingError(running.url);
    expect(refused.connected).toBe(false);
    // The ERROR answers a CONNECT that got no CONNECTED, so @stomp/stompjs leaves its 1.2 header escapes (`\c` for ':') in place.
    expect(refused.error?.headers['message']?.replace(/\\c/g, ':')).toBe('Message broker unavailable: the message broker is not available; try again later');
    const sent = template.convertAndSend(`/topic/${unique('while-down')}`, 'lost?');
    await expect(sent).rejects.toBeInstanceOf(StompProtocolError);
    await expect(sent).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' });
    expect(stats().snapshot().broker?.available).toBe(false);
    expect(running.logs.expect('warn', /^Message broker at 127\.0\.0\.1:61613 is not available/)).toHaveLength(1);

    // Back up: the system connection recovers within a few capped back-off attempts.
    await ensureRabbitMqUp();
    stopped = false;
    await availabilityBecomes(true, 30_000);
    expect(availability).toEqual([false, true]);
    expect(stats().snapshot().broker?.available).toBe(true);
    expect(running.logs.expect('log', /^Message broker at 127\.0\.0\.1:61613 is available/).length).toBeGreaterThanOrEqual(1);

    // A client that reconnects can publish and subscribe again, and so can the application.
    const after = await connectClient(running.url);
    clients.push(after);
    const afterTopic = `/topic/${unique('after')}`;
    const inbox = await inboxOf(after, afterTopic);
    await sendConfirmed(after.client, afterTopic, 'from a client');
    await template.convertAndSend(afterTopic, 'from the template');
    expect((await inbox.waitFor(2)).map((m) => m.body)).toEqual(['from a client', 'from the template']);

    // Every message RabbitMQ receipted before the stop is still there.
    const consumer = await inboxOf(after, durableQueue, { ack: 'auto' });
    expect((await consumer.waitFor(3)).map((m) => m.body)).toEqual(['kept-1', 'kept-2', 'kept-3']);

    expect(unhandled).toEqual([]);
    expect(running.logs.unexpectedErrors()).toEqual([]);
  });
});
