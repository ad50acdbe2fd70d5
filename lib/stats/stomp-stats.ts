import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { MESSAGE_BROKER, type BrokerStats, type MessageBroker } from '../broker/message-broker.js';
import { StompEvents } from '../events/stomp-events.service.js';
import type { SessionDisconnectEvent } from '../events/stomp-events.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import { SessionRegistry } from '../transport/session-registry.js';
import { SESSION_CLOSE_REASONS, type SessionCloseReason } from '../transport/stomp-connection.js';
import { CLIENT_COMMANDS, SERVER_COMMANDS } from '../protocol/frame.js';
import type { StompSessionInfo } from '../transport/stomp-session-info.js';
import { StompCounters } from './stomp-counters.js';
import { COUNTED_LIMITS, type CountedLimit } from '../transport/session-limits.js';

/** Open sessions now (`current`) and sessions opened since the application started (`total`). */
export interface SessionCounts {
  current: number;
  total: number;
}

/**
 * The figures of {@link StompStats.snapshot}: plain numbers and string-keyed records, so
 * `JSON.stringify` gives them whole (a `GET /stats` route can return it as is).
 */
export interface StompStatsSnapshot {
  /** `Date.now()` when the snapshot was taken, in ms. */
  timestamp: number;
  /**
   * WebSocket sessions the server opened (Spring's `WebSocketSession[… current, … total]`):
   * `current` counts every connection the server accepted and has not yet closed, whether or not
   * its CONNECT was handled yet (a socket that never sends CONNECT counts until
   * `limits.connectTimeout` closes it); `total` adds every session that ended since start-up.
   * `byEndpoint` is keyed by endpoint path (`/ws`), `byTransport` by transport name
   * (`websocket`); each has the same two counts.
   */
  sessions: SessionCounts & {
    byEndpoint: Record<string, SessionCounts>;
    byTransport: Record<string, SessionCounts>;
  };
  /** Subscriptions of the open sessions (broker and `@SubscribeMapping` destinations alike). */
  subscriptions: { current: number };
  /**
   * STOMP frames since start-up, by command: `in` from clients (`CONNECT`, `STOMP`, `SEND`,
   * `SUBSCRIBE`, `UNSUBSCRIBE`, `ACK`, `NACK`, `BEGIN`, `COMMIT`, `ABORT`, `DISCONNECT`; each
   * listed, 0 when none), `out` to clients (`CONNECTED`, `MESSAGE`, `RECEIPT`, `ERROR`). A
   * frame refused before its command was read (malformed, oversized) is not in `in`; its ERROR
   * is in `out`. Heart-beats are not frames.
   */
  frames: { in: Record<string, number>; out: Record<string, number> };
  /** ERROR frames sent since start-up, and by error code (`BAD_FRAME`, `FRAME_TOO_LARGE`, …; see `StompErrorCode`). */
  errorsSent: { total: number; byCode: Record<string, number> };
  /**
   * Sessions ended since start-up, by why (every {@link SessionCloseReason}, 0 when none): heart-beat
   * timeouts (`heartbeat-timeout`), slow consumers (`slow-consumer`), ERROR-then-close (`error`), …
   */
  disconnects: Record<SessionCloseReason, number>;
  /**
   * Exceptions of `@MessageMapping`/`@SubscribeMapping` handlers that no `@MessageExceptionHandler`
   * or exception filter handled (logged and sent to the sender's error destination), plus
   * failures to send a handler's result.
   */
  handlerErrors: number;
  /**
   * Violations since start-up of the limits that protect the server from its clients, by option
   * (each listed, 0 when none): slow consumers closed by `sendBufferSizeLimit` or `sendTimeLimit`
   * (together `disconnects['slow-consumer']`), handshakes and CONNECTs refused by `maxSessions`,
   * CONNECTs refused by `maxSessionsPerUser`.
   */
  limitsExceeded: Record<CountedLimit, number>;
  /** What the broker holds now; absent when the broker has no `stats()` (see `MessageBroker.stats`). */
  broker?: BrokerStats;
}

/** One endpoint and transport pair of open and opened sessions (the metrics' attributes). */
export interface SessionGroup extends SessionCounts {
  endpoint: string;
  transport: string;
}


/** Key of an endpoint and transport pair (`\0` cannot appear in a path or a transport name). */
const groupKey = (endpoint: string, transport: string) => `${endpoint}\0${transport}`;

/**
 * Spring's `WebSocketMessageBrokerStats`: what the STOMP server did since start-up and holds now,
 * as one JSON-ready {@link StompStatsSnapshot}. Inject it anywhere:
 *
 * ```ts
 * @Get('stats') stats() { return this.stats.snapshot(); }
 * ```
 *
 * Figures come from counters the server increments as it works (frames, ERRORs, handler
 * errors), from the `disconnect` lifecycle events (sessions ended, by reason), and, when a
 * snapshot is taken, from the open sessions and the broker: nothing is computed per message.
 *
 * Logs {@link toString} at `stats.logInterval` (default 30 min, Spring's; 0: never) under the
 * Logger context `StompStats`.
 */
@Injectable()
export class StompStats implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('StompStats');
  /** Sessions ended, by endpoint and transport (see {@link groupKey}). */
  private readonly closed = new Map<string, SessionGroup>();
  private readonly disconnects: Record<SessionCloseReason, number>;
  private readonly subscription: Subscription;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly counters: StompCounters,
    private readonly registry: SessionRegistry,
    events: StompEvents,
    @Inject(MESSAGE_BROKER) private readonly broker: MessageBroker,
    @Inject(STOMP_OPTIONS) private readonly options: ResolvedStompOptions,
  ) {
    this.disconnects = Object.fromEntries(SESSION_CLOSE_REASONS.map((r) => [r, 0])) as Record<SessionCloseReason, number>;
    // From construction on: a session cannot open (and so end) before the providers exist.
    this.subscription = events.ofType('disconnect').subscribe((event) => this.ended(event));
  }

  onApplicationBootstrap(): void {
    const interval = this.options.stats.logInterval;
    if (interval <= 0) return;
    this.timer = setInterval(() => this.logger.log(this.toString()), interval);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.subscription.unsubscribe();
  }

  /** Every figure now. Takes time proportional to the open sessions (and the broker's `stats()`). */
  snapshot(): StompStatsSnapshot {
    return this.measure().snapshot;
  }

  /** @internal The snapshot and the {@link sessionGroups} it was computed from, in one pass over the sessions. */
  measure(): { snapshot: StompStatsSnapshot; groups: SessionGroup[] } {
    const groups = this.sessionGroups();
    const byEndpoint: Record<string, SessionCounts> = {};
    const byTransport: Record<string, SessionCounts> = {};
    let current = 0;
    let total = 0;
    for (const g of groups) {
      add((byEndpoint[g.endpoint] ??= { current: 0, total: 0 }), g);
      add((byTransport[g.transport] ??= { current: 0, total: 0 }), g);
      current += g.current;
      total += g.total;
    }
    const c = this.counters;
    const framesIn: Record<string, number> = Object.fromEntries(CLIENT_COMMANDS.map((cmd) => [cmd, 0]));
    for (const [cmd, n] of Object.entries(c.framesIn)) framesIn[cmd] = n;
    const framesOut: Record<string, number> = Object.fromEntries(SERVER_COMMANDS.map((cmd) => [cmd, 0]));
    for (const [cmd, n] of Object.entries(c.framesOut)) framesOut[cmd] = n;
    framesOut['MESSAGE'] += c.messagesOut;
    const byCode: Record<string, number> = { ...c.errorsSent };
    const snapshot: StompStatsSnapshot = {
      timestamp: Date.now(),
      sessions: { current, total, byEndpoint, byTransport },
      subscriptions: { current: this.subscriptionCount() },
      frames: { in: framesIn, out: framesOut },
      errorsSent: { total: Object.values(byCode).reduce((a, b) => a + b, 0), byCode },
      disconnects: { ...this.disconnects },
      handlerErrors: c.handlerErrors,
      limitsExceeded: Object.fromEntries(COUNTED_LIMITS.map((l) => [l, c.limitsExceeded[l] ?? 0])) as Record<CountedLimit, number>,
    };
    const broker = this.broker.stats?.();
    if (broker !== undefined) snapshot.broker = broker;
    return { snapshot, groups };
  }

  /**
   * Open (`current`) and opened (`total`) sessions by endpoint and transport, the pairs the
   * metrics report. Open sessions are those in the {@link SessionRegistry} (added when the
   * WebSocket is accepted, before CONNECT) that are not closed yet; a pair with none open keeps
   * its `total`.
   */
  sessionGroups(): SessionGroup[] {
    const groups = new Map<string, SessionGroup>();
    for (const [key, g] of this.closed) groups.set(key, { ...g, current: 0 });
    for (const session of this.openSessions()) {
      const { endpoint, transport } = session.handshake;
      const key = groupKey(endpoint, transport);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { endpoint, transport, current: 0, total: 0 }));
      g.current++;
      g.total++;
    }
    return [...groups.values()];
  }

  /**
   * One line, like Spring's stats log line:
   * `sessions[2 current (/ws 2; websocket 2), 5 total, closed: client-disconnect 2, error 1], subscriptions[3], frames in[…], frames out[…], errors sent[1: BAD_FRAME 1], handler errors[0], broker[…]`.
   * Commands, reasons and codes with a count of 0 are left out.
   */
  toString(): string {
    const s = this.snapshot();
    const counts = (record: Record<string, number>) =>
      Object.entries(record)
        .filter(([, n]) => n > 0)
        .map(([name, n]) => `${name} ${n}`)
        .join(', ');
    const split = (record: Record<string, SessionCounts>) =>
      Object.entries(record)
        .filter(([, g]) => g.current > 0)
        .map(([name, g]) => `${name} ${g.current}`)
        .join(', ');
    const closed = counts(s.disconnects);
    const by = [split(s.sessions.byEndpoint), split(s.sessions.byTransport)].filter((p) => p !== '').join('; ');
    const parts = [
      `sessions[${s.sessions.current} current${by === '' ? '' : ` (${by})`}, ${s.sessions.total} total${closed === '' ? '' : `, closed: ${closed}`}]`,
      `subscriptions[${s.subscriptions.current}]`,
      `frames in[${counts(s.frames.in)}]`,
      `frames out[${counts(s.frames.out)}]`,
      `errors sent[${s.errorsSent.total}${s.errorsSent.total > 0 ? `: ${counts(s.errorsSent.byCode)}` : ''}]`,
      `handler errors[${s.handlerErrors}]`,
    ];
    const exceeded = counts(s.limitsExceeded);
    if (exceeded !== '') parts.push(`limits exceeded[${exceeded}]`);
    const b = s.broker;
    if (b !== undefined) {
      parts.push(
        `broker[${b.destinations} destinations, ${b.subscriptions} subscriptions, ${b.queues} queues, ` +
          `${b.heldMessages} held (${b.heldBytes} bytes), ${b.unackedMessages} unacked (${b.unackedBytes} bytes)]`,
      );
    }
    return parts.join(', ');
  }

  private *openSessions(): Iterable<StompSessionInfo> {
    for (const session of this.registry.all()) {
      const info: StompSessionInfo = session;
      // Closed but not yet out of the registry: its disconnect event may already be counted.
      if (info.state !== 'closed') yield info;
    }
  }

  private subscriptionCount(): number {
    let n = 0;
    for (const session of this.openSessions()) n += session.subscriptions.size;
    return n;
  }

  private ended(event: SessionDisconnectEvent): void {
    this.disconnects[event.reason] = (this.disconnects[event.reason] ?? 0) + 1;
    const { endpoint, transport } = event.session.handshake;
    const key = groupKey(endpoint, transport);
    let g = this.closed.get(key);
    if (!g) this.closed.set(key, (g = { endpoint, transport, current: 0, total: 0 }));
    g.total++;
  }
}

function add(into: SessionCounts, from: SessionCounts): void {
  into.current += from.current;
  into.total += from.total;
}
