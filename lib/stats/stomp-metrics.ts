import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  metrics,
  ValueType,
  type BatchObservableCallback,
  type BatchObservableResult,
  type Meter,
  type Observable,
} from '@opentelemetry/api';
import { LIBRARY_VERSION } from '../module/resolve-options.js';
import { StompStats } from './stomp-stats.js';

/** The meter's name (the instrumentation scope), with the library version. */
export const STOMP_METER_NAME = 'nestjs-stomp';

type Kind = 'counter' | 'updown';

/**
 * Every instrument: name, kind, unit, description. Names follow OpenTelemetry's semantic
 * convention style (dot-separated namespaces, `snake_case` words, no `_total`; UCUM units, `{…}`
 * for counts of things). The README lists them with their attributes.
 */
const INSTRUMENTS = {
  sessionsActive: ['stomp.sessions.active', 'updown', '{session}', 'Open STOMP sessions (WebSocket connections accepted and not yet closed), by stomp.endpoint and stomp.transport'],
  sessionsOpened: ['stomp.sessions.opened', 'counter', '{session}', 'STOMP sessions opened since start-up, by stomp.endpoint and stomp.transport'],
  sessionsClosed: ['stomp.sessions.closed', 'counter', '{session}', 'STOMP sessions ended since start-up, by stomp.disconnect.reason'],
  subscriptionsActive: ['stomp.subscriptions.active', 'updown', '{subscription}', 'Subscriptions of the open sessions'],
  framesReceived: ['stomp.frames.received', 'counter', '{frame}', 'STOMP frames received from clients, by stomp.command'],
  framesSent: ['stomp.frames.sent', 'counter', '{frame}', 'STOMP frames sent to clients, by stomp.command'],
  errorsSent: ['stomp.errors.sent', 'counter', '{frame}', 'ERROR frames sent to clients, by stomp.error.code'],
  handlerErrors: ['stomp.handler.errors', 'counter', '{error}', 'Unhandled exceptions of @MessageMapping/@SubscribeMapping handlers'],
  limitsExceeded: ['stomp.limits.exceeded', 'counter', '{violation}', 'Violations of the client limits (slow consumers closed, sessions refused), by stomp.limit'],
  brokerDestinations: ['stomp.broker.destinations', 'updown', '{destination}', 'Destinations the broker holds (with subscribers or held messages)'],
  brokerSubscriptions: ['stomp.broker.subscriptions', 'updown', '{subscription}', 'Subscriptions registered in the broker'],
  brokerQueues: ['stomp.broker.queues', 'updown', '{queue}', 'Queue-like destinations the broker holds'],
  brokerHeldMessages: ['stomp.broker.held_messages', 'updown', '{message}', 'Messages queues hold for subscribers to come'],
  brokerHeldSize: ['stomp.broker.held_messages.size', 'updown', 'By', 'Bytes of the held messages, as broker.maxHeldBytes counts them'],
  brokerUnackedMessages: ['stomp.broker.unacked_messages', 'updown', '{message}', 'Deliveries awaiting ACK or NACK'],
  brokerUnackedSize: ['stomp.broker.unacked_messages.size', 'updown', 'By', 'Bytes of the unacknowledged deliveries, as broker.maxUnackedBytes counts them'],
} as const satisfies Record<string, readonly [string, Kind, string, string]>;

type InstrumentKey = keyof typeof INSTRUMENTS;

/**
 * The {@link StompStats} figures as OpenTelemetry metrics, through `@opentelemetry/api` only:
 * without an SDK (a `MeterProvider` registered globally, e.g. by `@opentelemetry/sdk-node`)
 * everything here is a no-op. All instruments are asynchronous (observable): one batch callback
 * takes one {@link StompStats.snapshot} per collection, so the hot path pays nothing for them.
 *
 * The meter is taken once, at application bootstrap (`app.init()`/`app.listen()`, after every
 * provider's `onModuleInit`): `@opentelemetry/api` has no stand-in that would pick up a provider
 * registered later, so register the SDK's global `MeterProvider` before that (OpenTelemetry's
 * usual `node --import ./otel.js`, before `NestFactory.create`, or in a provider's `onModuleInit`).
 */
@Injectable()
export class StompMetrics implements OnApplicationBootstrap, OnApplicationShutdown {
  private meter: Meter | undefined;
  private observables: Record<InstrumentKey, Observable> | undefined;
  private readonly callback: BatchObservableCallback = (result) => this.observe(result);

  constructor(private readonly stats: StompStats) {}

  onApplicationBootstrap(): void {
    const meter = metrics.getMeter(STOMP_METER_NAME, LIBRARY_VERSION);
    const observables = {} as Record<InstrumentKey, Observable>;
    for (const key of Object.keys(INSTRUMENTS) as InstrumentKey[]) {
      const [name, kind, unit, description] = INSTRUMENTS[key];
      const options = { unit, description, valueType: ValueType.INT };
      observables[key] =
        kind === 'counter' ? meter.createObservableCounter(name, options) : meter.createObservableUpDownCounter(name, options);
    }
    meter.addBatchObservableCallback(this.callback, Object.values(observables));
    this.meter = meter;
    this.observables = observables;
  }

  onApplicationShutdown(): void {
    if (this.meter && this.observables) this.meter.removeBatchObservableCallback(this.callback, Object.values(this.observables));
    this.meter = undefined;
    this.observables = undefined;
  }

  private observe(result: BatchObservableResult): void {
    const o = this.observables;
    if (!o) return;
    const { snapshot: s, groups } = this.stats.measure();
    for (const g of groups) {
      const attributes = { 'stomp.endpoint': g.endpoint, 'stomp.transport': g.transport };
      result.observe(o.sessionsActive, g.current, attributes);
      result.observe(o.sessionsOpened, g.total, attributes);
    }
    for (const [reason, n] of Object.entries(s.disconnects)) {
      result.observe(o.sessionsClosed, n, { 'stomp.disconnect.reason': reason });
    }
    result.observe(o.subscriptionsActive, s.subscriptions.current);
    for (const [command, n] of Object.entries(s.frames.in)) result.observe(o.framesReceived, n, { 'stomp.command': command });
    for (const [command, n] of Object.entries(s.frames.out)) result.observe(o.framesSent, n, { 'stomp.command': command });
    for (const [code, n] of Object.entries(s.errorsSent.byCode)) result.observe(o.errorsSent, n, { 'stomp.error.code': code });
    result.observe(o.handlerErrors, s.handlerErrors);
    for (const [limit, n] of Object.entries(s.limitsExceeded)) result.observe(o.limitsExceeded, n, { 'stomp.limit': limit });
    const b = s.broker;
    if (b === undefined) return;
    result.observe(o.brokerDestinations, b.destinations);
    result.observe(o.brokerSubscriptions, b.subscriptions);
    result.observe(o.brokerQueues, b.queues);
    result.observe(o.brokerHeldMessages, b.heldMessages);
    result.observe(o.brokerHeldSize, b.heldBytes);
    result.observe(o.brokerUnackedMessages, b.unackedMessages);
    result.observe(o.brokerUnackedSize, b.unackedBytes);
  }
}
