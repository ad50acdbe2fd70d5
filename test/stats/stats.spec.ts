// StompStats and the OpenTelemetry metrics after scripted exchanges with real clients. Every wait
// is a bounded poll on a condition (never a sleep), and no assertion is about time.
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller } from '@nestjs/common';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { MessageMapping, STOMP_METER_NAME, StompStats, type StompModuleOptions, type StompStatsSnapshot } from '../../lib/index.js';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import { RawStompClient } from '../support/raw-client.js';
import { startStompApp, type RunningApp } from '../support/stomp-app.js';
import { GUARD_MS } from '../support/stomp-client.js';

@Controller()
class FailingController {
  @MessageMapping('/fail')
  fail(): never {
    throw new Error('boom in handler');
  }
}

/** Polls `probe` every 10 ms until it returns a value, at most GUARD_MS; fails naming `what`. */
async function waitFor<T>(probe: () => T | undefined | false, what: string): Promise<T> {
  const deadline = Date.now() + GUARD_MS;
  for (let i = 0; i < 10_000; i++) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const CONNECT = { 'accept-version': '1.2', host: 'localhost' };

/**
 * The script: client A connects, subscribes twice (one with a receipt), sends three messages (one
 * to a handler that throws), and disconnects; client B connects and sends an unknown command,
 * which is answered with an ERROR and a close.
 */
async function scriptedExchange(running: RunningApp, stats: StompStats): Promise<{ during: StompStatsSnapshot }> {
  const a = await RawStompClient.open(running.url, { protocols: ['v12.stomp'] });
  await a.connect(CONNECT);
  a.sendFrame('SUBSCRIBE', { id: 's1', destination: '/topic/stats', receipt: 'r1' });
  await a.expect('RECEIPT');
  a.sendFrame('SUBSCRIBE', { id: 's2', destination: '/user/queue/errors' });
  a.sendFrame('SEND', { destination: '/topic/stats', 'content-type': 'text/plain' }, 'one');
  await a.expect('MESSAGE');
  a.sendFrame('SEND', { destination: '/app/fail', 'content-type': 'application/json' }, '{}');
  const reply = await a.expect('MESSAGE');
  expect(JSON.parse(reply.body.toString())).toMatchObject({ status: 'error', destination: '/app/fail' });
  a.sendFrame('SEND', { destination: '/topic/stats', 'content-type': 'text/plain' }, 'two');
  await a.expect('MESSAGE');

  const b = await RawStompClient.open(running.url, { protocols: ['v12.stomp'] });
  await b.connect(CONNECT);
  const during = await waitFor(() => {
    const s = stats.snapshot();
    return s.sessions.current === 2 && s.subscriptions.current === 2 ? s : undefined;
  }, 'two open sessions with two subscriptions');

  b.sendFrame('FROB', {});
  const error = await b.expect('ERROR');
  expect(error.headers['message']).toContain('Unknown command');
  await b.waitClosed();
  a.sendFrame('DISCONNECT', {});
  await a.waitClosed();
  running.logs.expect('error', 'boom in handler');
  return { during };
}

describe('StompStats', () => {
  let running: RunningApp | undefined;

  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('counts sessions, subscriptions, frames by command, ERRORs by code, disconnects by reason and handler errors after a scripted exchange', async () => {
    running = await startStompApp({}, { controllers: [FailingController] });
    const stats = running.app.get(StompStats);
    const before = stats.snapshot();
    expect(before.sessions).toEqual({ current: 0, total: 0, byEndpoint: {}, byTransport: {} });

    const { during } = await scriptedExchange(running, stats);
    expect(during.sessions).toEqual({
      current: 2,
      total: 2,
      byEndpoint: { '/ws': { current: 2, total: 2 } },
      byTransport: { websocket: { current: 2, total: 2 } },
    });
    expect(during.broker).toMatchObject({ subscriptions: 2, topicSubscriptions: 1, queues: 1, destinations: 2, unackedMessages: 0 });

    const after = await waitFor(() => {
      const s = stats.snapshot();
      return s.sessions.current === 0 ? s : undefined;
    }, 'both sessions to be counted as ended');
    expect(after.sessions).toEqual({
      current: 0,
      total: 2,
      byEndpoint: { '/ws': { current: 0, total: 2 } },
      byTransport: { websocket: { current: 0, total: 2 } },
    });
    expect(after.subscriptions).toEqual({ current: 0 });
    expect(after.frames.in).toEqual({
      CONNECT: 2,
      STOMP: 0,
      SEND: 3,
      SUBSCRIBE: 2,
      UNSUBSCRIBE: 0,
      ACK: 0,
      NACK: 0,
      BEGIN: 0,
      COMMIT: 0,
      ABORT: 0,
      DISCONNECT: 1,
    });
    // MESSAGE: 'one', the handler's error reply, 'two'.
    expect(after.frames.out).toEqual({ CONNECTED: 2, MESSAGE: 3, RECEIPT: 1, ERROR: 1 });
    expect(after.errorsSent).toEqual({ total: 1, byCode: { UNKNOWN_COMMAND: 1 } });
    expect(after.disconnects).toEqual({
      'client-disconnect': 1,
      'socket-closed': 0,
      'heartbeat-timeout': 0,
      error: 1,
      'slow-consumer': 0,
      'server-shutdown': 0,
    });
    expect(after.handlerErrors).toBe(1);
    expect(after.broker).toMatchObject({ sessions: 0, subscriptions: 0, queues: 0, heldMessages: 0, heldBytes: 0 });
    // JSON-ready: what a GET /stats route returns is the snapshot itself.
    expect(JSON.parse(JSON.stringify(after))).toEqual(after);
  });

  it('counts a heart-beat timeout as its own disconnect reason', async () => {
    running = await startStompApp({ broker: { kind: 'simple', heartbeat: { floor: 50 } } });
    const stats = running.app.get(StompStats);
    const silent = await RawStompClient.open(running.url, { protocols: ['v12.stomp'] });
    // The client promises a heart-beat every 50 ms and sends none.
    await silent.connect({ ...CONNECT, 'heart-beat': '50,0' });
    await silent.waitClosed();
    const after = await waitFor(() => {
      const s = stats.snapshot();
      return s.sessions.current === 0 && s.sessions.total === 1 ? s : undefined;
    }, 'the silent session to end');
    expect(after.disconnects['heartbeat-timeout']).toBe(1);
    expect(Object.values(after.disconnects).reduce((x, y) => x + y, 0)).toBe(1);
  });

  it('logs the stats line every stats.logInterval ms under the StompStats context', async () => {
    running = await startStompApp({ stats: { logInterval: 20 } });
    const raw = await RawStompClient.open(running.url, { protocols: ['v12.stomp'] });
    await raw.connect(CONNECT);
    const logs = running.logs;
    const line = await waitFor(
      () => logs.at('log').find((l) => l.includes('StompStats') && l.includes('frames out[CONNECTED 1]')),
      'a stats line with one open session',
    );
    expect(line).toMatch(/^sessions\[1 current \(\/ws 1; websocket 1\), 1 total\], subscriptions\[0\], frames in\[CONNECT 1\], frames out\[CONNECTED 1\], errors sent\[0\], handler errors\[0\], broker\[/);
    await raw.close();
  });

  it('logs no stats line with stats.logInterval 0', async () => {
    running = await startStompApp({ stats: { logInterval: 0 } });
    expect(running.app.get(StompStats).toString()).toContain('sessions[0 current, 0 total]');
    expect(running.logs.at('log').filter((l) => l.includes('StompStats'))).toEqual([]);
  });
});

describe('stats options', () => {
  it('default to a 30-minute log line (Spring) and accept 0', () => {
    expect(resolveStompOptions({}).stats).toEqual({ logInterval: 1_800_000 });
    expect(resolveStompOptions({ stats: { logInterval: 0 } }).stats).toEqual({ logInterval: 0 });
  });

  it.each([-1, 1.5, 2 ** 31, '1000'])('refuse logInterval %p, naming the option', (logInterval) => {
    expect(() => resolveStompOptions({ stats: { logInterval } } as unknown as StompModuleOptions)).toThrow(
      /stats\.logInterval must be a whole number of milliseconds from 0 \(off\) to 2147483647/,
    );
  });

  it('refuse unknown keys under stats', () => {
    expect(() => resolveStompOptions({ stats: { interval: 5 } } as unknown as StompModuleOptions)).toThrow(
      /unknown option "stats\.interval"/,
    );
  });
});

/** A reader the test collects from on demand. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

describe('OpenTelemetry metrics', () => {
  let running: RunningApp | undefined;
  let provider: MeterProvider | undefined;

  afterEach(async () => {
    await running?.close();
    running = undefined;
    metrics.disable();
    await provider?.shutdown();
    provider = undefined;
  });

  it('report the stats figures on the nestjs-stomp meter at collection time', async () => {
    const reader = new TestReader();
    provider = new MeterProvider({ readers: [reader] });
    // Registered after the app is created and before it initialises: the meter is taken at bootstrap.
    let registered = false;
    const sdk = provider;
    running = await startStompApp({}, { controllers: [FailingController], configure: () => void (registered = metrics.setGlobalMeterProvider(sdk)) });
    expect(registered).toBe(true);
    const stats = running.app.get(StompStats);

    const collect = async (): Promise<Map<string, MetricData>> => {
      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).toEqual([]);
      const scope = resourceMetrics.scopeMetrics.find((s) => s.scope.name === STOMP_METER_NAME);
      return new Map((scope?.metrics ?? []).map((m) => [m.descriptor.name, m]));
    };
    const value = (m: MetricData | undefined, attributes: Record<string, string> = {}): number | undefined => {
      const points = (m?.dataPoints ?? []) as DataPoint<number>[];
      const point = points.find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
      return point?.value;
    };

    await scriptedExchange(running, stats);
    await waitFor(() => stats.snapshot().sessions.current === 0, 'both sessions to be counted as ended');
    const m = await collect();

    const ws = { 'stomp.endpoint': '/ws', 'stomp.transport': 'websocket' };
    expect(m.get('stomp.sessions.active')?.dataPointType).toBe(DataPointType.SUM);
    expect(m.get('stomp.sessions.active')?.descriptor.unit).toBe('{session}');
    expect(value(m.get('stomp.sessions.active'), ws)).toBe(0);
    expect(value(m.get('stomp.sessions.opened'), ws)).toBe(2);
    expect(value(m.get('stomp.sessions.closed'), { 'stomp.disconnect.reason': 'client-disconnect' })).toBe(1);
    expect(value(m.get('stomp.sessions.closed'), { 'stomp.disconnect.reason': 'error' })).toBe(1);
    expect(value(m.get('stomp.sessions.closed'), { 'stomp.disconnect.reason': 'heartbeat-timeout' })).toBe(0);
    expect(value(m.get('stomp.subscriptions.active'))).toBe(0);
    expect(value(m.get('stomp.frames.received'), { 'stomp.command': 'SEND' })).toBe(3);
    expect(value(m.get('stomp.frames.received'), { 'stomp.command': 'SUBSCRIBE' })).toBe(2);
    expect(value(m.get('stomp.frames.received'), { 'stomp.command': 'CONNECT' })).toBe(2);
    expect(value(m.get('stomp.frames.sent'), { 'stomp.command': 'MESSAGE' })).toBe(3);
    expect(value(m.get('stomp.frames.sent'), { 'stomp.command': 'RECEIPT' })).toBe(1);
    expect(value(m.get('stomp.errors.sent'), { 'stomp.error.code': 'UNKNOWN_COMMAND' })).toBe(1);
    expect(value(m.get('stomp.handler.errors'))).toBe(1);
    expect(value(m.get('stomp.limits.exceeded'), { 'stomp.limit': 'sendTimeLimit' })).toBe(0);
    expect(value(m.get('stomp.broker.held_messages'))).toBe(0);
    expect(m.get('stomp.broker.held_messages.size')?.descriptor.unit).toBe('By');

    // Read at collection time: an open session shows up in the next collection.
    const open = await RawStompClient.open(running.url, { protocols: ['v12.stomp'] });
    await open.connect(CONNECT);
    open.sendFrame('SUBSCRIBE', { id: 's', destination: '/topic/x', receipt: 'r' });
    await open.expect('RECEIPT');
    const next = await collect();
    expect(value(next.get('stomp.sessions.active'), ws)).toBe(1);
    expect(value(next.get('stomp.sessions.opened'), ws)).toBe(3);
    expect(value(next.get('stomp.subscriptions.active'))).toBe(1);
    await open.close();
  });
});
