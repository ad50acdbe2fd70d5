import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { MESSAGE_BROKER, SERVER_CAPABILITIES, type AckMode, type BrokerCapabilities, type MessageBroker } from '../broker/message-broker.js';
import { findPrefix } from '../broker/destination-prefixes.js';
import { createHeaders, type StompFrame, type StompHeaders } from '../protocol/frame.js';
import { StompProtocolError } from '../protocol/stomp-protocol-error.js';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import { SessionRegistry } from '../transport/session-registry.js';
import { SessionSubscription } from '../transport/session-subscription.js';
import { UserDestinationResolver } from '../user/user-destination-resolver.js';
import { UnmappedDestinationReporter } from './unmapped-destination-reporter.js';
import { BrokerChannel } from './broker-channel.js';
import type { ClientInboundHandler, StompSession } from '../transport/stomp-session.js';
import { TransactionBuffer } from './transaction-buffer.js';
import {
  APPLICATION_MESSAGE_HANDLER,
  type ApplicationMessageHandler,
} from './application-message-handler.js';

const ACK_MODES: ReadonlySet<string> = new Set<AckMode>(['auto', 'client', 'client-individual']);

/** SUBSCRIBE headers a subscription already holds as fields, or that are spent once handled. */
const SUBSCRIBE_FIELDS: ReadonlySet<string> = new Set(['destination', 'id', 'ack', 'receipt']);
const NO_HEADERS: Readonly<StompHeaders> = Object.freeze(createHeaders());

/**
 * The SUBSCRIBE headers a broker may still need (selectors, durability flags, prefetch):
 * everything but the ones the subscription holds as fields. Most clients send none, and then all
 * subscriptions share one empty object instead of each keeping its frame's headers.
 */
function extraHeaders(headers: Readonly<StompHeaders>): Readonly<StompHeaders> {
  let extra: StompHeaders | undefined;
  for (const name in headers) {
    if (SUBSCRIBE_FIELDS.has(name)) continue;
    extra ??= createHeaders();
    extra[name] = headers[name];
  }
  return extra ?? NO_HEADERS;
}

/**
 * Runs `step` on each item in order. It stays synchronous while the steps are (the simple
 * broker's case) and waits for each Promise before the next step when they are not.
 */
function inOrder<T>(items: readonly T[], step: (item: T) => void | Promise<void>, from = 0): void | Promise<void> {
  for (let i = from; i < items.length; i++) {
    const result = step(items[i]);
    if (result instanceof Promise) return result.then(() => inOrder(items, step, i + 1));
  }
}

function required(frame: StompFrame, name: string): string {
  const value = frame.headers[name];
  if (value === undefined || value === '') {
    throw new StompProtocolError('MISSING_HEADER', `${frame.command} frame requires a '${name}' header`);
  }
  return value;
}

/**
 * Routes a connected session's frames, Spring's way: destinations with an application prefix go
 * to the annotated handlers, user destinations (`/user/...`) are resolved to per-session broker
 * destinations, destinations with a broker prefix go to the broker, and anything else is
 * refused with an ERROR that names the configured prefixes. Transactions are handled
 * here, for every destination: SEND, ACK and NACK inside a transaction wait for COMMIT.
 */
@Injectable()
export class InboundDispatcher implements ClientInboundHandler {
  private readonly logger = new Logger('StompInboundDispatcher');
  private readonly capabilities: BrokerCapabilities;
  /** Each session's open transactions, created on its first BEGIN. */
  private readonly transactions = new WeakMap<StompSession, TransactionBuffer>();

  constructor(
    @Inject(STOMP_OPTIONS) private readonly options: ResolvedStompOptions,
    @Inject(MESSAGE_BROKER) private readonly broker: MessageBroker,
    private readonly sessions: SessionRegistry,
    private readonly users: UserDestinationResolver,
    private readonly unmapped: UnmappedDestinationReporter,
    private readonly brokerChannel: BrokerChannel,
    @Optional()
    @Inject(APPLICATION_MESSAGE_HANDLER)
    private readonly application?: ApplicationMessageHandler,
  ) {
    this.capabilities = broker.capabilities ?? SERVER_CAPABILITIES;
  }

  handle(session: StompSession, frame: StompFrame): void | Promise<void> {
    switch (frame.command) {
      case 'SEND':
      case 'ACK':
      case 'NACK': {
        const tx = frame.headers['transaction'];
        if (tx !== undefined && this.capabilities.transactions === 'server') return this.transactionsOf(session, true).add(tx, frame);
        return this.apply(session, frame);
      }
      case 'SUBSCRIBE':
        return this.subscribe(session, frame);
      case 'UNSUBSCRIBE':
        return this.unsubscribe(session, frame);
      case 'BEGIN':
      case 'COMMIT':
      case 'ABORT':
        return this.capabilities.transactions === 'broker' ? this.brokerTransaction(session, frame) : this.serverTransaction(session, frame);
      case 'CONNECT':
      case 'STOMP':
        // The session answers CONNECTED once the broker (a relay: its own connection) is ready.
        return this.broker.connect?.(session, {
          headers: frame.headers,
          heartbeat: session.negotiatedHeartbeat,
          principal: session.connectingPrincipal,
        });
      case 'DISCONNECT':
        // A broker that answers receipts gets to flush first, so that its RECEIPTs for earlier
        // frames reach the client before the DISCONNECT's; the simple broker has nothing to do
        // (the session closes after its RECEIPT).
        if (this.capabilities.receipts === 'broker') return this.broker.disconnect(session);
        return;
      default:
        throw new StompProtocolError('UNKNOWN_COMMAND', `Unexpected ${frame.command} frame`);
    }
  }

  /** BEGIN/COMMIT/ABORT held by the server ({@link TransactionBuffer}), for a broker without transactions. */
  private serverTransaction(session: StompSession, frame: StompFrame): void | Promise<void> {
    const tx = required(frame, 'transaction');
    if (frame.command === 'BEGIN') return this.transactionsOf(session, true).begin(tx);
    const frames = this.transactionsOf(session, false).take(tx);
    // Committed frames are applied in order, each waiting for the one before.
    if (frame.command === 'COMMIT') return inOrder(frames, (f) => this.apply(session, f));
  }

  /** BEGIN/COMMIT/ABORT run by the broker (`capabilities.transactions: 'broker'`), in order with the session's other frames. */
  private brokerTransaction(session: StompSession, frame: StompFrame): void | Promise<void> {
    const tx = required(frame, 'transaction');
    const operation = frame.command === 'BEGIN' ? this.broker.begin : frame.command === 'COMMIT' ? this.broker.commit : this.broker.abort;
    if (operation === undefined) throw new Error(`The broker declares transactions: 'broker' but has no ${frame.command.toLowerCase()}()`);
    return operation.call(this.broker, session, tx, this.receiptFor(session, frame));
  }

  /**
   * The frame's `receipt` for the broker to answer, when it answers receipts (and then the
   * session sends none); `undefined` otherwise. Call it right before the frame's last broker
   * operation.
   */
  private receiptFor(session: StompSession, frame: StompFrame): string | undefined {
    const receipt = frame.headers['receipt'];
    if (receipt === undefined || this.capabilities.receipts !== 'broker') return undefined;
    session.delegateReceipt();
    return receipt;
  }

  sessionConnected(session: StompSession): void {
    this.sessions.connected(session);
    this.users.sessionConnected(session);
  }

  sessionClosed(session: StompSession): void {
    this.transactions.delete(session);
    session.subscriptions.clear();
    this.users.sessionClosed(session);
    this.application?.sessionClosed?.(session);
    const done = this.broker.disconnect(session);
    if (done instanceof Promise) {
      done.catch((err: unknown) => this.logger.warn(`Broker clean-up of session ${session.id} failed: ${String(err)}`));
    }
  }

  /** The session's open transactions; without `create`, an empty set when it never began one. */
  private transactionsOf(session: StompSession, create: boolean): TransactionBuffer {
    let buffer = this.transactions.get(session);
    if (buffer === undefined) {
      buffer = new TransactionBuffer(this.options.limits);
      if (create) this.transactions.set(session, buffer);
    }
    return buffer;
  }

  private apply(session: StompSession, frame: StompFrame): void | Promise<void> {
    if (frame.command === 'ACK') return this.broker.ack(session, frame.headers, this.receiptFor(session, frame));
    if (frame.command === 'NACK') return this.broker.nack(session, frame.headers, this.receiptFor(session, frame));
    return this.send(session, frame);
  }

  private send(session: StompSession, frame: StompFrame): void | Promise<void> {
    const destination = required(frame, 'destination');
    // Whatever the prefix: no spelling of another session's user destination gets through.
    this.users.assertNotOtherSession(session, destination, 'SEND');
    const appPrefix = findPrefix(destination, this.options.applicationDestinationPrefixes);
    if (appPrefix !== undefined) {
      if (frame.headers['transaction'] !== undefined && this.capabilities.transactions === 'broker') {
        // The broker runs transactions: it cannot hold back a handler's call. (With server
        // transactions a committed SEND arrives here with its header, to be handled now.)
        throw new StompProtocolError(
          'INVALID_HEADER',
          `SEND to ${destination} cannot be part of transaction ${JSON.stringify(frame.headers['transaction'])}: the broker runs transactions, and only broker destinations can join them`,
        );
      }
      if (!this.application) return this.noHandler(session, destination, '@MessageMapping');
      return this.application.handleMessage(session, frame, destination.slice(appPrefix.length));
    }
    if (this.users.isUserDestination(destination)) {
      let target: { user: string; destination: string };
      try {
        target = this.users.parseSendDestination(destination);
      } catch (err) {
        return this.unserved(session, destination, err);
      }
      // Past clientInbound already: no broker interceptors (Spring's simple broker listens there too).
      const targets = this.users.userTargets(target.user, target.destination);
      // No session here: a broker shared by several instances passes it to the others.
      if (targets.length === 0) return this.broker.broadcastUnresolved?.(destination, { destination, headers: frame.headers, body: frame.body });
      const last = targets.length - 1;
      return inOrder(targets, (d) =>
        this.brokerChannel.forward(
          { destination: d, headers: frame.headers, body: frame.body },
          session,
          // The broker answers the receipt with its answer to the last copy (one connection, in order).
          d === targets[last] ? this.receiptFor(session, frame) : undefined,
        ),
      );
    }
    if (this.broker.handles(destination)) {
      return this.brokerChannel.forward({ destination, headers: frame.headers, body: frame.body }, session, this.receiptFor(session, frame));
    }
    return this.unserved(session, destination, this.unknownDestination(destination));
  }


  private subscribe(session: StompSession, frame: StompFrame): void | Promise<void> {
    const destination = required(frame, 'destination');
    this.users.assertNotOtherSession(session, destination, 'SUBSCRIBE');
    // STOMP 1.0 made the id optional; the destination then names the subscription.
    const id = session.version === '1.0' ? (frame.headers['id'] ?? destination) : required(frame, 'id');
    if (session.subscriptions.size >= this.options.limits.maxSubscriptionsPerSession) {
      throw new StompProtocolError(
        'TOO_MANY_SUBSCRIPTIONS',
        `Session exceeds the limit of ${this.options.limits.maxSubscriptionsPerSession} subscriptions (limits.maxSubscriptionsPerSession)`,
      );
    }
    if (session.subscriptions.has(id)) {
      throw new StompProtocolError('DUPLICATE_SUBSCRIPTION', `Subscription id ${JSON.stringify(id)} is already in use in this session`);
    }
    const ack = frame.headers['ack'] ?? 'auto';
    if (!ACK_MODES.has(ack)) {
      throw new StompProtocolError('INVALID_HEADER', `Invalid ack mode ${JSON.stringify(ack)}: use auto, client or client-individual`);
    }
    const appPrefix = findPrefix(destination, this.options.applicationDestinationPrefixes);
    if (appPrefix !== undefined) {
      const handler = this.application;
      if (!handler) return this.unservedSubscription(session, frame, id, ack, this.noHandlerError(destination, '@SubscribeMapping'));
      const subscription = new SessionSubscription(session, id, destination, ack as AckMode, frame.headers, 'application');
      session.subscriptions.set(id, subscription);
      this.users.subscribed(subscription);
      return handler.handleSubscribe(session, subscription, destination.slice(appPrefix.length));
    }
    if (this.users.isUserDestination(destination)) {
      let brokerDestination: string;
      try {
        brokerDestination = this.users.subscriptionDestination(session, destination);
      } catch (err) {
        return this.unservedSubscription(session, frame, id, ack, err);
      }
      const subscription = new SessionSubscription(session, id, brokerDestination, ack as AckMode, extraHeaders(frame.headers), 'broker', destination);
      session.subscriptions.set(id, subscription);
      this.users.subscribed(subscription);
      return this.broker.subscribe(subscription, this.receiptFor(session, frame));
    }
    if (!this.broker.handles(destination)) {
      return this.unservedSubscription(session, frame, id, ack, this.unknownDestination(destination));
    }
    const subscription = new SessionSubscription(session, id, destination, ack as AckMode, extraHeaders(frame.headers), 'broker');
    session.subscriptions.set(id, subscription);
    this.users.subscribed(subscription);
    return this.broker.subscribe(subscription, this.receiptFor(session, frame));
  }

  private unsubscribe(session: StompSession, frame: StompFrame): void | Promise<void> {
    const id =
      session.version === '1.0'
        ? (frame.headers['id'] ?? required(frame, 'destination'))
        : required(frame, 'id');
    const subscription = session.subscriptions.get(id);
    if (!subscription) {
      throw new StompProtocolError('UNKNOWN_SUBSCRIPTION', `No subscription with id ${JSON.stringify(id)} in this session`);
    }
    session.subscriptions.delete(id);
    this.users.unsubscribed(subscription);
    if (subscription.target === 'broker') return this.broker.unsubscribe(subscription, this.receiptFor(session, frame));
  }

  private noHandlerError(destination: string, kind: string): StompProtocolError {
    return new StompProtocolError('NO_HANDLER', `No ${kind} handler for ${destination}`);
  }

  private noHandler(session: StompSession, destination: string, kind: string): Promise<void> {
    return this.unserved(session, destination, this.noHandlerError(destination, kind));
  }

  /**
   * A destination nothing serves (no prefix, no handler, a user destination leading nowhere):
   * reported to the sender with the session kept, or ERROR and close, as `unmappedDestination`
   * says. Other errors pass through unchanged.
   */
  private unserved(session: StompSession, destination: string, err: unknown): Promise<void> {
    if (!(err instanceof StompProtocolError) || (err.code !== 'UNKNOWN_DESTINATION' && err.code !== 'NO_HANDLER')) throw err;
    return this.unmapped.report(session, destination, err.message, err.code);
  }

  /**
   * A SUBSCRIBE nothing serves. When it is reported rather than refused, the subscription is
   * still registered (it receives nothing), so the client's UNSUBSCRIBE of it stays valid.
   */
  private unservedSubscription(session: StompSession, frame: StompFrame, id: string, ack: string, err: unknown): Promise<void> {
    const destination = frame.headers['destination'] ?? '';
    const reported = this.unserved(session, destination, err);
    const subscription = new SessionSubscription(session, id, destination, ack as AckMode, NO_HEADERS, 'application');
    session.subscriptions.set(id, subscription);
    this.users.subscribed(subscription);
    return reported;
  }

  private unknownDestination(destination: string): StompProtocolError {
    const known = [
      ...this.options.applicationDestinationPrefixes,
      ...this.options.broker.prefixes,
      this.options.userDestinationPrefix,
    ];
    return new StompProtocolError(
      'UNKNOWN_DESTINATION',
      `Destination ${destination} matches no configured prefix (${known.join(', ')})`,
    );
  }
}
