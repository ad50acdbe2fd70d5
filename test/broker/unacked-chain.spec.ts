import { describe, expect, it } from '@jest/globals';
import type { BrokerSession, BrokerSubscription } from '../../lib/broker/message-broker.js';
import { SimpleBroker } from '../../lib/broker/simple/simple-broker.js';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import type { OutboundMessage } from '../../lib/protocol/message-frame.js';
import type { StompProtocolError } from '../../lib/protocol/stomp-protocol-error.js';

/**
 * A session as the transport behaves: failing it tells the broker at once that it is gone
 * (StompSession.close → detach → dispatcher.sessionClosed → broker.disconnect), which gives its
 * unacknowledged messages to the next consumer.
 */
class ChainSession implements BrokerSession {
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
  delivered = 0;
  error?: StompProtocolError;

  constructor(
    readonly id: string,
    private readonly broker: SimpleBroker,
  ) {}

  deliver(_subscription: BrokerSubscription, _message: OutboundMessage, _ackId?: string): void {
    this.delivered++;
  }

  fail(error: StompProtocolError): void {
    this.error = error;
    this.broker.disconnect(this);
  }
}

describe('simple broker: consumers that each break maxUnackedMessages in turn', () => {
  it('fails them one after the other without recursing (2,000 consumers)', async () => {
    const consumers = 2000;
    const options = resolveStompOptions({ broker: { maxUnackedMessages: 2, queueCapacity: 10_000 } });
    const broker = new SimpleBroker(options.broker);
    const sessions: ChainSession[] = [];
    for (let i = 0; i < consumers; i++) {
      const session = new ChainSession(`s${i}`, broker);
      sessions.push(session);
      broker.subscribe({ id: 'sub', destination: '/queue/chain', ack: 'client-individual', headers: {}, session });
    }
    // Round-robin: every consumer holds two unacknowledged messages, at the bound but not past it.
    const publish = (i: number) => broker.publish({ destination: '/queue/chain', headers: {}, body: Buffer.from(`m${i}`) });
    for (let i = 0; i < 2 * consumers; i++) publish(i);
    expect(sessions.every((s) => s.delivered === 2 && s.error === undefined)).toBe(true);
    // One more breaks the first consumer's bound; what it held goes to the next consumers, which
    // break theirs in turn. Before, that chain ran inside this call and overflowed the stack.
    expect(() => publish(2 * consumers)).not.toThrow();
    for (let turn = 0; turn < 10 * consumers && sessions.some((s) => s.error === undefined); turn++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(sessions.filter((s) => s.error === undefined)).toEqual([]);
    expect(new Set(sessions.map((s) => s.error?.message))).toEqual(
      new Set(['Session holds more than 2 unacknowledged messages (broker.maxUnackedMessages); ACK or NACK them sooner']),
    );
    // Nothing was lost: with every consumer gone, all messages are back in the queue.
    expect(broker.stats()).toMatchObject({ sessions: 0, heldMessages: 2 * consumers + 1 });
    await broker.close();
  });
});
