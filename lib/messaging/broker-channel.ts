import { Inject, Injectable } from '@nestjs/common';
import { MESSAGE_BROKER, type BrokerMessage, type BrokerSession, type MessageBroker } from '../broker/message-broker.js';
import { createHeaders, type StompFrame } from '../protocol/frame.js';
import { SessionRegistry } from '../transport/session-registry.js';
import type { StompSessionInfo } from '../transport/stomp-session-info.js';
import { UserDestinationResolver } from '../user/user-destination-resolver.js';
import { applyInterceptors, type ChannelInterceptorContext, type StompChannelInterceptor } from './channel-interceptor.js';
import { ChannelInterceptors } from './channel-interceptors.js';

/** A user name written into a user destination: `/` becomes `%2F`, the only escape Spring reads back. */
function userSegment(name: string): string {
  return name.includes('/') ? name.replaceAll('/', '%2F') : name;
}

/**
 * Where a message from server code goes before interceptors may change its destination: a
 * destination as written (a broker one, or `/user/<name>/…`), every session of a user, or one
 * session.
 */
type Target =
  | { kind: 'destination' }
  | { kind: 'user'; user: string; destination: string }
  | { kind: 'session'; sessionId: string; destination: string };

const AS_WRITTEN: Target = { kind: 'destination' };

/**
 * Spring's `brokerChannel`: the one path by which messages reach `MessageBroker.publish`.
 *
 * Server code (`StompMessagingTemplate`, `@SendTo`, `@SendToUser`) sends with {@link send},
 * {@link sendToUser} or {@link sendToSession}: the `broker` interceptors see the message as a
 * SEND frame (`destination` as the caller wrote it, then the message headers, then the body;
 * `sendToUser('ann', { destination: '/queue/x' })` is seen as `/user/ann/queue/x`, Spring's
 * way), may change it, drop it (`null`) or refuse it (throw: the returned Promise rejects with
 * that error); then user destinations are resolved to the sessions' own broker destinations
 * (`/queue/x-user<session id>`) and the broker publishes. With no `broker` interceptor the frame
 * is never built.
 *
 * Client SENDs have passed `clientInbound` already and take {@link forward}, without the
 * `broker` interceptors (Spring's simple broker listens to `clientInboundChannel` too).
 */
@Injectable()
export class BrokerChannel {
  constructor(
    @Inject(MESSAGE_BROKER) private readonly broker: MessageBroker,
    private readonly users: UserDestinationResolver,
    private readonly sessions: SessionRegistry,
    private readonly interceptors: ChannelInterceptors,
  ) {}

  /**
   * Publishes `message` to a broker destination (`/topic/…`, `/queue/…`), or to every session of
   * the user named in a user destination written out (`/user/ann/queue/news`; the name is
   * literal except that `%2F` stands for `/`). `session` is the session whose frame caused the
   * send (a handler's), shown to interceptors as `context.session`.
   * @throws Error when the destination (after interceptors) is neither a broker nor a user destination.
   * @throws StompProtocolError `UNKNOWN_DESTINATION` for a user destination without a user or
   *   whose rest is not a broker destination; broker bounds (`DESTINATION_TOO_LONG`, …).
   * @throws whatever a `broker` interceptor throws.
   */
  send(message: BrokerMessage, session?: StompSessionInfo): Promise<void> {
    return this.intercepted(message, message.destination, AS_WRITTEN, session);
  }

  /**
   * Publishes to every session of `user` (the name as is, never decoded) subscribed to `/user` +
   * `message.destination` (Spring's `convertAndSendToUser`). Interceptors see
   * `/user/<user>/<destination>`.
   */
  sendToUser(user: string, message: BrokerMessage, session?: StompSessionInfo): Promise<void> {
    const written = `${this.users.prefix}/${userSegment(user)}${message.destination}`;
    return this.intercepted(message, written, { kind: 'user', user, destination: message.destination }, session);
  }

  /**
   * Publishes to one session, if it is subscribed to `/user` + `message.destination`
   * (`@SendToUser({ broadcast: false })`). Interceptors see `/user/<its user, or the session id
   * when anonymous>/<destination>`, as in Spring; a destination they change is then resolved
   * like any other (to every session of the user it names).
   */
  sendToSession(sessionId: string, message: BrokerMessage, session?: StompSessionInfo): Promise<void> {
    const name = this.sessions.get(sessionId)?.user ?? sessionId;
    const written = `${this.users.prefix}/${userSegment(name)}${message.destination}`;
    return this.intercepted(message, written, { kind: 'session', sessionId, destination: message.destination }, session);
  }

  /**
   * A client's SEND, already past `clientInbound` and resolved to a broker destination by the
   * dispatcher: straight to the broker, in the caller's synchronous-or-Promise rhythm.
   */
  forward(message: BrokerMessage, from: BrokerSession, receipt?: string): void | Promise<void> {
    return this.broker.publish(message, from, receipt);
  }

  private intercepted(message: BrokerMessage, written: string, target: Target, session: StompSessionInfo | undefined): Promise<void> {
    const interceptors = this.interceptors.broker;
    // No interceptor: no frame is built, straight on to resolution and the broker.
    if (interceptors.length === 0) return this.route(message, written, target);
    return this.interceptThenRoute(interceptors, message, written, target, session);
  }

  private async interceptThenRoute(
    interceptors: readonly StompChannelInterceptor[],
    message: BrokerMessage,
    written: string,
    target: Target,
    session: StompSessionInfo | undefined,
  ): Promise<void> {
    const headers = createHeaders();
    headers['destination'] = written;
    for (const name in message.headers) if (name !== 'destination') headers[name] = message.headers[name];
    const frame: StompFrame = { command: 'SEND', headers, body: message.body };
    const context: ChannelInterceptorContext = { channel: 'broker', session };
    const result = await applyInterceptors(interceptors, frame, context);
    if (result === null) return;
    const destination = result.headers['destination'];
    if (typeof destination !== 'string' || destination === '') {
      throw new Error(`A broker channel interceptor left the message for ${written} without a destination header`);
    }
    const changed = destination !== written;
    return this.route({ destination, headers: result.headers, body: result.body }, destination, changed ? AS_WRITTEN : target);
  }

  private async route(message: BrokerMessage, destination: string, target: Target): Promise<void> {
    switch (target.kind) {
      case 'user':
        return this.publishAll(this.users.userTargets(target.user, target.destination), message, destination);
      case 'session': {
        const session = this.sessions.get(target.sessionId);
        const resolved = session && this.users.sessionTarget(session, target.destination);
        if (resolved !== undefined) await this.broker.publish({ destination: resolved, headers: message.headers, body: message.body });
        return;
      }
      default:
        if (this.users.isUserDestination(destination)) {
          const parsed = this.users.parseSendDestination(destination);
          return this.publishAll(this.users.userTargets(parsed.user, parsed.destination), message, destination);
        }
        if (!this.broker.handles(destination)) {
          throw new Error(`Cannot send to ${destination}: it is neither a broker destination nor a user destination`);
        }
        await this.broker.publish(destination === message.destination ? message : { destination, headers: message.headers, body: message.body });
    }
  }

  /** Publishes to each resolved destination; with none, a shared broker may broadcast it for other instances (see `MessageBroker.broadcastUnresolved`). */
  private async publishAll(destinations: readonly string[], message: BrokerMessage, userDestination: string): Promise<void> {
    if (destinations.length === 0) {
      await this.broker.broadcastUnresolved?.(userDestination, message);
      return;
    }
    for (const destination of destinations) {
      await this.broker.publish({ destination, headers: message.headers, body: message.body });
    }
  }
}
