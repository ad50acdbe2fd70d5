import { describe, expect, it } from '@jest/globals';
import type { BrokerSession, BrokerSubscription } from '../../lib/broker/message-broker.js';
import { messageSize } from '../../lib/broker/message-size.js';
import { SimpleBroker } from '../../lib/broker/simple/simple-broker.js';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import type { OutboundMessage } from '../../lib/protocol/message-frame.js';

class Session implements BrokerSession {
  readonly version = '1.2' as const;
  readonly user = undefined;
  readonly principal = undefined;
  /** The simple broker answers no receipt and sends no other frame itself. */
  receipt(): void {
    throw new Error('not expected');
  }
  send(): void {
    throw new Error('not expected');
  }
  readonly acks: string[] = [];
  constructor(readonly id: string) {}
  deliver(_subscription: BrokerSubscription, _message: OutboundMessage, ackId?: string): void {
    if (ackId !== undefined) this.acks.push(ackId);
  }
  fail(): void {}
}

function subscription(session: Session, id: string, destination: string, ack: BrokerSubscription['ack'] = 'auto'): BrokerSubscription {
  return { id, destination, ack, headers: {}, session };
}

describe('SimpleBroker.stats()', () => {
  it('counts destinations (exact, pattern, queue), subscriptions, held and unacknowledged messages and bytes', () => {
    const broker = new SimpleBroker(resolveStompOptions({}).broker);
    const a = new Session('a');
    const b = new Session('b');
    expect(broker.stats()).toEqual({
      sessions: 0,
      destinations: 0,
      subscriptions: 0,
      topicSubscriptions: 0,
      queues: 0,
      heldMessages: 0,
      heldBytes: 0,
      unackedMessages: 0,
      unackedBytes: 0,
    });
    // Two subscribers of one topic, one pattern, one queue in client mode.
    broker.subscribe(subscription(a, '1', '/topic/news'));
    broker.subscribe(subscription(b, '1', '/topic/news'));
    const pattern = subscription(b, '2', '/topic/news/**');
    broker.subscribe(pattern);
    const q = subscription(a, '2', '/queue/work', 'client');
    broker.subscribe(q);
    // A message for nobody yet, held in its queue.
    broker.publish({ destination: '/queue/idle', headers: {}, body: Buffer.from('held') });
    // Two deliveries awaiting ACK.
    broker.publish({ destination: '/queue/work', headers: {}, body: Buffer.from('one') });
    broker.publish({ destination: '/queue/work', headers: {}, body: Buffer.from('three') });
    expect(a.acks).toHaveLength(2);

    expect(broker.stats()).toEqual({
      sessions: 2,
      destinations: 4, // /topic/news, /topic/news/**, /queue/work, /queue/idle
      subscriptions: 4,
      topicSubscriptions: 3,
      queues: 2,
      heldMessages: 1,
      heldBytes: messageSize({}, Buffer.from('held'), '/queue/idle'),
      unackedMessages: 2,
      unackedBytes: messageSize({}, Buffer.from('one'), '/queue/work') + messageSize({}, Buffer.from('three'), '/queue/work'),
    });

    // ACK of the first (client mode: cumulative up to it) leaves one; the session's end releases it.
    broker.ack(a, { id: a.acks[0] });
    expect(broker.stats()).toMatchObject({ unackedMessages: 1 });
    broker.unsubscribe(pattern);
    broker.disconnect(a);
    expect(broker.stats()).toMatchObject({
      sessions: 1,
      destinations: 3, // /topic/news (b), /queue/work (holding the released message), /queue/idle
      subscriptions: 1,
      topicSubscriptions: 1,
      queues: 2,
      heldMessages: 2,
      unackedMessages: 0,
      unackedBytes: 0,
    });
  });
});
