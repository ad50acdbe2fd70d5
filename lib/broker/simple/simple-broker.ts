import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { StompHeaders } from '../../protocol/frame.js';
import { OutboundMessage } from '../../protocol/message-frame.js';
import { StompProtocolError } from '../../protocol/stomp-protocol-error.js';
import { findPrefix, sessionOfDestination } from '../destination-prefixes.js';
import { messageSize } from '../message-size.js';
import type {
  BrokerMessage,
  BrokerSession,
  BrokerStats,
  BrokerSubscription,
  MessageBroker,
} from '../message-broker.js';
import { SERVER_CAPABILITIES } from '../message-broker.js';
import { QueueDestination, type HeldLedger } from './queue-destination.js';
import { SubscriptionRegistry } from './subscription-registry.js';

export interface SimpleBrokerConfig {
  prefixes: string[];
  /** Prefixes with competing-consumer semantics; the others are topics. */
  queuePrefixes: string[];
  queueCapacity: number;
  pathSeparator: '/' | '.';
  /** Characters in a destination (SUBSCRIBE or publish). */
  maxDestinationLength: number;
  /** Segments (separated by `pathSeparator`) in a destination. */
  maxDestinationSegments: number;
  /** `*`, `**` and `#` segments in one pattern subscription. */
  maxPatternWildcards: number;
  /** Queue destinations the broker holds at once (with subscribers or held messages). */
  maxQueues: number;
  /** Deliveries one session may leave unacknowledged (`client` and `client-individual` modes). */
  maxUnackedMessages: number;
  /**
   * Bytes (by {@link messageSize}: body, destination, headers and a fixed overhead) all queues
   * together may hold for subscribers to come; beyond it the messages held longest are dropped
   * (those of the queue being added to first).
   */
  maxHeldBytes: number;
  /** Bytes (by {@link messageSize}) of the deliveries one session may leave unacknowledged. */
  maxUnackedBytes: number;
}

/**
 * The bytes a message is counted as by the byte bounds ({@link messageSize}: headers count as much
 * as the body), computed once per message, when a bound first needs it, and the same on entering
 * and leaving a ledger, so the ledgers return to zero.
 */
function sizeOf(record: MessageRecord): number {
  const o = record.outbound;
  // Reading `headers` makes the message's own filtered copy (OutboundMessage.fromSender): every
  // path that holds a message past its publish counts it here first.
  return (record.size ??= messageSize(o.headers, o.body, o.destination));
}

function failSession(session: BrokerSession, error: StompProtocolError): void {
  session.fail(error);
}

/** A message inside the broker, with the frame bytes shared by all its deliveries. */
interface MessageRecord {
  readonly outbound: OutboundMessage;
  /**
   * What the byte bounds count it as ({@link messageSize}): see {@link sizeOf}, which computes it
   * the first time a bound needs it, so a topic message delivered in `auto` mode never pays for it.
   */
  size?: number;
  /** Set once the message went back to its queue; later copies carry `redelivered:true`. */
  redelivered?: boolean;
  redelivery?: OutboundMessage;
}

interface SubscriptionState {
  readonly subscription: BrokerSubscription;
  readonly queue: QueueDestination<SubscriptionState, MessageRecord> | undefined;
  /**
   * Deliveries not yet acknowledged, oldest first (for cumulative `client` acks). Created with
   * the first one: `auto` subscriptions, most of them, never pay for a map.
   */
  unacked: Map<string, Delivery> | undefined;
}

interface Delivery {
  readonly ackId: string;
  readonly record: MessageRecord;
  readonly state: SubscriptionState;
}

interface SessionState {
  /** A session has few subscriptions: a list costs much less memory per session than a map. */
  readonly subscriptions: SubscriptionState[];
  /** Created with the session's first delivery that awaits an ACK. */
  unacked: Map<string, Delivery> | undefined;
  /** Bytes of `unacked`, by each record's `size`. */
  unackedBytes: number;
  /** Told to end for breaking an unacknowledged bound (told once). */
  failed: boolean;
}

/**
 * The embedded in-memory broker (Spring's `SimpleBrokerMessageHandler`, with the parts of a real
 * broker Spring leaves out). Topic-like prefixes deliver every message to every matching
 * subscription; queue-like prefixes deliver each message to one subscriber in turn and hold
 * messages while nobody listens. Acknowledgements follow the subscription's ack mode.
 *
 * Redelivery policy:
 * - queue message NACKed, or unacked when its session ends: back to the queue, marked
 *   `redelivered:true`, offered first to another subscriber (to the same one if it is alone);
 * - topic message NACKed or unacked at the end: dropped, since nobody else subscribed to that copy.
 */
export class SimpleBroker implements MessageBroker {
  /** The server answers receipts and holds transactions: this broker answers every operation at once. */
  readonly capabilities = SERVER_CAPABILITIES;
  private readonly logger = new Logger('StompSimpleBroker');
  private readonly topics: SubscriptionRegistry<SubscriptionState>;
  private readonly queues = new Map<string, QueueDestination<SubscriptionState, MessageRecord>>();
  private readonly sessions = new Map<string, SessionState>();
  /** Queues that dropped messages since their last subscriber arrived (warned about once). */
  private readonly overflowing = new Set<string>();
  private readonly idPrefix = randomBytes(4).toString('hex');
  /** Messages held in all queues' backlogs, in the order they entered: the first was held longest. */
  private readonly heldOrder = new Set<MessageRecord>();
  /** Bytes (each record's `size`) held in all queues' backlogs, and their order. */
  private readonly held: HeldLedger<MessageRecord> = {
    bytes: 0,
    hold: (record) => void this.heldOrder.add(record),
    release: (record) => void this.heldOrder.delete(record),
  };
  /** Warned that broker.maxHeldBytes drops messages; again once the queues hold under half of it. */
  private heldBytesWarned = false;
  /** Warned that broker.maxQueues drops held messages; again once under half of it. */
  private queuesWarned = false;
  private messageCount = 0;
  private ackCount = 0;

  constructor(private readonly config: SimpleBrokerConfig) {
    this.topics = new SubscriptionRegistry(config.pathSeparator);
  }

  handles(destination: string): boolean {
    return findPrefix(destination, this.config.prefixes) !== undefined;
  }

  subscribe(subscription: BrokerSubscription): void {
    this.assertDestination(subscription.destination, 'SUBSCRIBE');
    const isQueue = this.isQueue(subscription.destination);
    // A session's resolved user destination is a name, even as `/topic/a*-user<id>`.
    const literal = sessionOfDestination(subscription.destination) !== undefined;
    if (!isQueue && !literal) this.assertPattern(subscription.destination);
    const queue = isQueue
      ? this.queue(subscription.destination)
      : undefined;
    const state: SubscriptionState = { subscription, queue, unacked: undefined };
    const session = this.sessions.get(subscription.session.id);
    // An array literal has room for just its element; `[]` would reserve 17 slots on first push.
    if (session) session.subscriptions.push(state);
    else this.sessions.set(subscription.session.id, { subscriptions: [state], unacked: undefined, unackedBytes: 0, failed: false });
    if (queue) {
      queue.add(state);
      this.overflowing.delete(subscription.destination);
      // After the caller's RECEIPT, hand over what waited for a subscriber.
      if (queue.heldCount > 0) queueMicrotask(() => queue.drain());
    } else {
      this.topics.add(subscription.destination, state, literal);
    }
  }

  unsubscribe(subscription: BrokerSubscription): void {
    const subscriptions = this.sessions.get(subscription.session.id)?.subscriptions;
    const index = subscriptions?.findIndex((s) => s.subscription === subscription) ?? -1;
    if (!subscriptions || index === -1) return;
    this.detach(subscriptions.splice(index, 1)[0]);
    // Unacknowledged deliveries stay acknowledgeable until the session ends, as in RabbitMQ.
  }

  publish(message: BrokerMessage): void {
    this.assertDestination(message.destination, 'SEND');
    // What the broker vouches for (ids, redelivered, user-name) is never the sender's to set:
    // the sender's headers pass through passThroughHeaders' filter (copied only if the message is
    // held; see OutboundMessage.fromSender, and sizeOf, which every holding path calls first).
    const messageId = `${this.idPrefix}-${(++this.messageCount).toString(36)}`;
    const record: MessageRecord = {
      outbound: OutboundMessage.fromSender(message.destination, messageId, message.headers, message.body),
    };
    if (this.isQueue(message.destination)) {
      const existing = this.queues.get(message.destination);
      const size = sizeOf(record);
      // Checked before a new queue is made, so a refused SEND leaves nothing behind.
      if ((existing?.wouldHold ?? true) && size > this.config.maxHeldBytes) {
        throw new StompProtocolError(
          'QUEUE_FULL',
          `A message of ${size} bytes for absent subscribers is larger than broker.maxHeldBytes (${this.config.maxHeldBytes}), all queues' room together`,
        );
      }
      const queue = existing ?? this.queue(message.destination);
      if (queue.wouldHold) this.makeRoom(size, queue);
      queue.offer(record);
      // Warn once per overflow, not once per message: the queue stays full until someone subscribes.
      if (queue.takeDroppedCount() > 0 && !this.overflowing.has(message.destination)) {
        this.overflowing.add(message.destination);
        this.logger.warn(
          `Queue ${message.destination} holds ${this.config.queueCapacity} messages with no subscriber; dropping the oldest until someone subscribes`,
        );
      }
      return;
    }
    // A session's resolved user destination reaches its exact subscriber only, never a pattern.
    const exactOnly = sessionOfDestination(message.destination) !== undefined;
    this.topics.forEachMatch(message.destination, (state) => this.deliver(state, record), exactOnly);
  }

  ack(session: BrokerSession, headers: Readonly<StompHeaders>): void {
    for (const delivery of this.settle(session, headers, 'ACK')) this.forget(delivery);
  }

  nack(session: BrokerSession, headers: Readonly<StompHeaders>): void {
    const covered = this.settle(session, headers, 'NACK');
    for (const delivery of covered) this.forget(delivery);
    this.release(covered);
  }

  disconnect(session: BrokerSession): void {
    const state = this.sessions.get(session.id);
    if (!state) return;
    this.sessions.delete(session.id);
    for (const sub of state.subscriptions) this.detach(sub);
    if (state.unacked) this.release([...state.unacked.values()]);
  }

  async close(): Promise<void> {
    this.sessions.clear();
    this.queues.clear();
    this.heldOrder.clear();
    this.held.bytes = 0;
  }

  /**
   * What the broker holds now (see {@link BrokerStats}), for `StompStats`, the metrics and tests.
   * Computed on demand, in time proportional to the sessions, queues and pattern subscriptions:
   * nothing on the delivery path keeps these figures.
   */
  stats(): BrokerStats {
    let held = 0;
    let queueSubscriptions = 0;
    for (const q of this.queues.values()) {
      held += q.heldCount;
      queueSubscriptions += q.subscriberCount;
    }
    let unackedMessages = 0;
    let unackedBytes = 0;
    for (const session of this.sessions.values()) {
      unackedMessages += session.unacked?.size ?? 0;
      unackedBytes += session.unackedBytes;
    }
    const topicSubscriptions = this.topics.size;
    return {
      sessions: this.sessions.size,
      destinations: this.topics.destinationCount + this.queues.size,
      subscriptions: topicSubscriptions + queueSubscriptions,
      topicSubscriptions,
      queues: this.queues.size,
      heldMessages: held,
      heldBytes: this.held.bytes,
      unackedMessages,
      unackedBytes,
    };
  }

  private deliver(state: SubscriptionState, record: MessageRecord): void {
    const sub = state.subscription;
    const outbound = record.redelivered ? this.redeliveryOf(record) : record.outbound;
    if (sub.ack === 'auto') {
      sub.session.deliver(sub, outbound);
      return;
    }
    // Held until settled: counted now, which also gives the message its own copy of its headers.
    const size = sizeOf(record);
    const ackId = `${this.idPrefix}-a${(++this.ackCount).toString(36)}`;
    const delivery: Delivery = { ackId, record, state };
    (state.unacked ??= new Map()).set(ackId, delivery);
    const session = this.sessions.get(sub.session.id);
    if (session) {
      (session.unacked ??= new Map()).set(ackId, delivery);
      session.unackedBytes += size;
    }
    sub.session.deliver(sub, outbound, ackId);
    // Once, when a bound is passed: the session ends, and what it held goes back to its queues.
    if (!session || session.failed) return;
    const { maxUnackedMessages, maxUnackedBytes } = this.config;
    const error =
      (session.unacked?.size ?? 0) > maxUnackedMessages
        ? `Session holds more than ${maxUnackedMessages} unacknowledged messages (broker.maxUnackedMessages); ACK or NACK them sooner`
        : session.unackedBytes > maxUnackedBytes
          ? `Session holds more than ${maxUnackedBytes} bytes of unacknowledged messages (broker.maxUnackedBytes); ACK or NACK them sooner`
          : undefined;
    if (error === undefined) return;
    session.failed = true;
    // Not now: failing the session requeues what it holds, which may push the next consumer over
    // the same bound, and so on. Done in this call, a queue with many such consumers would fail
    // them recursively, one stack frame chain each, until the stack overflows; deferred, each
    // link runs in its own turn of the event loop.
    setImmediate(failSession, sub.session, new StompProtocolError('TOO_MANY_UNACKED', error));
  }

  private redeliveryOf(record: MessageRecord): OutboundMessage {
    if (!record.redelivery) {
      const o = record.outbound;
      record.redelivery = new OutboundMessage(o.destination, o.messageId, o.headers, o.body, true);
    }
    return record.redelivery;
  }

  /** The deliveries an ACK or NACK covers: one, or with `client` mode all earlier ones too. */
  private settle(session: BrokerSession, headers: Readonly<StompHeaders>, command: string): Delivery[] {
    const state = this.sessions.get(session.id);
    const delivery = state && this.findDelivery(state, headers);
    if (!delivery) {
      const ref = headers['id'] ?? headers['message-id'];
      throw new StompProtocolError(
        'UNKNOWN_ACK',
        ref === undefined
          ? `${command} needs an ${session.version === '1.2' ? 'id' : 'message-id'} header`
          : `${command} for unknown or already acknowledged message ${JSON.stringify(ref)}`,
      );
    }
    if (delivery.state.subscription.ack !== 'client') return [delivery];
    const covered: Delivery[] = [];
    for (const d of delivery.state.unacked?.values() ?? []) {
      covered.push(d);
      if (d === delivery) break;
    }
    return covered;
  }

  private findDelivery(state: SessionState, headers: Readonly<StompHeaders>): Delivery | undefined {
    const id = headers['id'];
    if (id !== undefined) return state.unacked?.get(id);
    const messageId = headers['message-id'];
    if (messageId === undefined || !state.unacked) return undefined;
    const subscription = headers['subscription'];
    for (const d of state.unacked.values()) {
      if (
        d.record.outbound.messageId === messageId &&
        (subscription === undefined || d.state.subscription.id === subscription)
      ) {
        return d;
      }
    }
    return undefined;
  }

  private forget(delivery: Delivery): void {
    delivery.state.unacked?.delete(delivery.ackId);
    const session = this.sessions.get(delivery.state.subscription.session.id);
    if (session?.unacked?.delete(delivery.ackId)) session.unackedBytes -= sizeOf(delivery.record);
  }

  /**
   * Gives unsettled queue messages to other consumers, in the order they were first delivered;
   * topic copies are dropped.
   */
  private release(deliveries: readonly Delivery[]): void {
    const groups = new Map<string, { avoid: SubscriptionState; records: MessageRecord[] }>();
    for (const delivery of deliveries) {
      if (!delivery.state.queue) continue;
      delivery.record.redelivered = true;
      const destination = delivery.state.subscription.destination;
      let group = groups.get(destination);
      if (!group) groups.set(destination, (group = { avoid: delivery.state, records: [] }));
      group.records.push(delivery.record);
    }
    for (const [destination, group] of groups) {
      // A queue that went idle meanwhile comes back: these messages were held before, so
      // broker.maxQueues does not refuse them; broker.maxHeldBytes drops the oldest held beyond it.
      const queue = this.queue(destination, false);
      queue.requeue(group.records, group.avoid);
      this.makeRoom(0, queue);
      if (queue.isIdle && this.queues.get(destination) === queue) this.queues.delete(destination);
    }
  }

  /**
   * Makes the held bytes plus `incoming` fit in broker.maxHeldBytes, the way `queueCapacity`
   * bounds one queue: the oldest held messages are dropped, those of `queue` (about to take
   * `incoming`) first, then the ones held longest in any queue; a warning is logged once until
   * the queues hold less than half of the bound again. So one client filling every queue's room
   * costs its own oldest messages, and never refuses another client's SEND.
   */
  private makeRoom(incoming: number, queue?: QueueDestination<SubscriptionState, MessageRecord>): void {
    const max = this.config.maxHeldBytes;
    if (this.held.bytes + incoming <= max) {
      if (this.held.bytes + incoming <= max / 2) this.heldBytesWarned = false;
      return;
    }
    let dropped = 0;
    const from = new Set<string>();
    while (this.held.bytes + incoming > max) {
      const own = queue?.oldest;
      const victim = own ?? this.heldOrder.values().next().value;
      if (victim === undefined) break;
      const destination = victim.outbound.destination;
      const owner = own !== undefined ? queue : this.queues.get(destination);
      if (!owner?.evict(victim)) {
        // Not in the queue it names (never expected): forget it rather than loop.
        this.heldOrder.delete(victim);
        continue;
      }
      dropped++;
      if (from.size < 4) from.add(destination);
      if (owner !== queue && owner.isIdle && this.queues.get(destination) === owner) this.queues.delete(destination);
    }
    if (dropped > 0 && !this.heldBytesWarned) {
      this.heldBytesWarned = true;
      this.logger.warn(
        `Queues hold broker.maxHeldBytes (${max} bytes) for absent subscribers; dropping the oldest held messages to make room (${dropped} from ${[...from].join(', ')})`,
      );
    }
  }

  private detach(state: SubscriptionState): void {
    const destination = state.subscription.destination;
    if (!state.queue) {
      this.topics.remove(destination, state, sessionOfDestination(destination) !== undefined);
      return;
    }
    state.queue.remove(state);
    if (state.queue.isIdle && this.queues.get(destination) === state.queue) {
      this.queues.delete(destination);
    }
  }

  /** Length and depth bounds, for every destination the broker is asked to hold or match. */
  private assertDestination(destination: string, command: string): void {
    const { maxDestinationLength, maxDestinationSegments, pathSeparator } = this.config;
    if (destination.length > maxDestinationLength) {
      throw new StompProtocolError(
        'DESTINATION_TOO_LONG',
        `${command} destination of ${destination.length} characters exceeds broker.maxDestinationLength (${maxDestinationLength})`,
      );
    }
    let segments = 1;
    for (let i = destination.indexOf(pathSeparator); i !== -1; i = destination.indexOf(pathSeparator, i + 1)) {
      if (++segments > maxDestinationSegments) {
        throw new StompProtocolError(
          'DESTINATION_TOO_LONG',
          `${command} destination has more than ${maxDestinationSegments} segments (broker.maxDestinationSegments)`,
        );
      }
    }
  }

  /** Wildcard bound of a topic pattern subscription. */
  private assertPattern(destination: string): void {
    if (!SubscriptionRegistry.isPattern(destination)) return;
    let wildcards = 0;
    for (const segment of destination.split(this.config.pathSeparator)) {
      if (segment === '*' || SubscriptionRegistry.isMultiWildcard(segment)) wildcards++;
    }
    if (wildcards > this.config.maxPatternWildcards) {
      throw new StompProtocolError(
        'PATTERN_TOO_COMPLEX',
        `SUBSCRIBE pattern has ${wildcards} wildcard segments, more than broker.maxPatternWildcards (${this.config.maxPatternWildcards})`,
      );
    }
  }

  /**
   * At broker.maxQueues, frees one queue the way broker.maxHeldBytes makes room: the messages held
   * longest (in any queue) are dropped until a queue is left with neither messages nor
   * subscribers and goes, with a warning once until the broker holds under half the bound again.
   * So one client creating queues by the thousand costs its own oldest messages, and another
   * client's new queue (its `/user/queue/errors`, a fresh `/queue/<name>`) is never refused for
   * it. Only when every queue has subscribers does a new one stay refused.
   */
  private makeQueueRoom(): void {
    const max = this.config.maxQueues;
    let dropped = 0;
    while (this.queues.size >= max) {
      const victim: MessageRecord | undefined = this.heldOrder.values().next().value;
      if (victim === undefined) break;
      const destination = victim.outbound.destination;
      const owner = this.queues.get(destination);
      if (!owner?.evict(victim)) {
        // Not in the queue it names (never expected): forget it rather than loop.
        this.heldOrder.delete(victim);
        continue;
      }
      dropped++;
      if (owner.isIdle) this.queues.delete(destination);
    }
    if (dropped > 0 && !this.queuesWarned) {
      this.queuesWarned = true;
      this.logger.warn(
        `The broker holds broker.maxQueues (${max}) queues; dropping the oldest held messages to free one (${dropped} dropped)`,
      );
    }
  }

  private isQueue(destination: string): boolean {
    return findPrefix(destination, this.config.queuePrefixes) !== undefined;
  }

  private queue(destination: string, bounded = true): QueueDestination<SubscriptionState, MessageRecord> {
    let queue = this.queues.get(destination);
    if (!queue) {
      if (this.queues.size <= this.config.maxQueues / 2) this.queuesWarned = false;
      else if (bounded && this.queues.size >= this.config.maxQueues) this.makeQueueRoom();
      if (bounded && this.queues.size >= this.config.maxQueues) {
        throw new StompProtocolError(
          'TOO_MANY_DESTINATIONS',
          `The broker holds the limit of ${this.config.maxQueues} queues (broker.maxQueues); ${destination} would be one more`,
        );
      }
      queue = new QueueDestination(
        this.config.queueCapacity,
        (state, record) => this.deliver(state, record),
        sizeOf,
        this.held,
      );
      this.queues.set(destination, queue);
    }
    return queue;
  }
}
