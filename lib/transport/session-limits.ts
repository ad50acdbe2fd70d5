import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import { StompProtocolError } from '../protocol/stomp-protocol-error.js';
import { StompCounters } from '../stats/stomp-counters.js';
import { SessionRegistry } from './session-registry.js';
import type { SlowConsumerLimit } from './stomp-connection.js';

/** A session limit (`limits.maxSessions`, `limits.maxSessionsPerUser`). */
export type SessionLimit = 'maxSessions' | 'maxSessionsPerUser';

/** Every limit whose violations stats count (`StompStatsSnapshot.limitsExceeded`), in their order. */
export const COUNTED_LIMITS = ['sendBufferSizeLimit', 'sendTimeLimit', 'maxSessions', 'maxSessionsPerUser'] as const;

/** A limit whose violations stats count: a slow-consumer rule or a session limit. */
export type CountedLimit = SlowConsumerLimit | SessionLimit;

/**
 * `limits.maxSessions` and `limits.maxSessionsPerUser`. A session counts from its WebSocket
 * handshake (or SockJS session open) until its connection is closed (it is in the
 * {@link SessionRegistry} that long), whether or not it has sent CONNECT: so idle sockets count,
 * and closing ones until they are gone. Per user, the connected sessions of the principal named
 * at CONNECT count. Each refusal is counted (`limitsExceeded`) and logged in one warning line.
 */
@Injectable()
export class SessionLimits {
  private static readonly logger = new Logger('StompSessionLimits');
  private readonly maxSessions: number;
  private readonly maxSessionsPerUser: number;
  /** Sockets of WebSocket handshakes admitted but not yet sessions (see {@link admitHandshake}). */
  private readonly pending = new Set<Duplex>();

  constructor(
    @Inject(STOMP_OPTIONS) options: ResolvedStompOptions,
    private readonly registry: SessionRegistry,
    private readonly counters: StompCounters,
  ) {
    this.maxSessions = options.limits.maxSessions;
    this.maxSessionsPerUser = options.limits.maxSessionsPerUser;
  }

  /**
   * Whether a WebSocket handshake may open one more session; when not, logs and counts the
   * refusal (the caller answers HTTP 503). An admitted handshake holds its place until it becomes a
   * session ({@link handshakeDone}) or its socket is ended or closed (refused by the
   * authenticator, dropped), so handshakes an asynchronous `authenticateHandshake` is still
   * deciding count too: parallel ones cannot all pass the limit while none is a session yet.
   */
  admitHandshake(request: IncomingMessage, endpoint: string, socket: Duplex): boolean {
    const max = this.maxSessions;
    if (max === 0) return true;
    const pending = this.pending.size;
    if (this.registry.size + pending < max) {
      this.pending.add(socket);
      const release = (): void => void this.pending.delete(socket);
      socket.once('finish', release);
      socket.once('close', release);
      return true;
    }
    this.counters.limitExceeded('maxSessions');
    SessionLimits.logger.warn(
      `WebSocket handshake on ${endpoint} from ${request.socket.remoteAddress ?? 'a client'} refused with HTTP 503: ${this.registry.size} sessions open${pending > 0 ? ` and ${pending} handshakes being authenticated` : ''}, limits.maxSessions is ${max}`,
    );
    return false;
  }

  /** An admitted handshake's session is in the registry now: it holds the place from here on. */
  handshakeDone(socket: Duplex): void {
    this.pending.delete(socket);
  }

  /**
   * Checks a CONNECT about to be accepted for `user` (the principal's name; `undefined`:
   * anonymous). Throws `SESSION_LIMIT` naming the option when the server holds more than
   * `maxSessions` sessions (this one included: a SockJS session opened beyond the limit) or the
   * user already has `maxSessionsPerUser` connected sessions; logs and counts it.
   */
  checkConnect(sessionId: string, user: string | undefined): void {
    const max = this.maxSessions;
    if (max !== 0 && this.registry.size > max) {
      this.refuse(sessionId, 'maxSessions', max, `${this.registry.size - 1} other sessions open`);
    }
    const perUser = this.maxSessionsPerUser;
    if (perUser === 0 || user === undefined) return;
    const held = this.registry.sessionsOf(user).size;
    if (held >= perUser) {
      this.refuse(sessionId, 'maxSessionsPerUser', perUser, `user ${JSON.stringify(user)} already has ${held} session${held === 1 ? '' : 's'}`);
    }
  }

  /** Counts, logs and throws. The ERROR's message has no colon (STOMP 1.2 would escape it, `\c`). */
  private refuse(sessionId: string, limit: SessionLimit, max: number, why: string): never {
    this.counters.limitExceeded(limit);
    SessionLimits.logger.warn(`Session ${sessionId}: CONNECT refused: ${why}, limits.${limit} is ${max}`);
    throw new SessionLimitError(limit, `Session limit reached (limits.${limit} is ${max}, ${why})`);
  }
}

/** `SESSION_LIMIT`, with the limit reached (the disconnect event's `limit`). */
export class SessionLimitError extends StompProtocolError {
  constructor(
    readonly limit: SessionLimit,
    message: string,
  ) {
    super('SESSION_LIMIT', message);
  }
}
