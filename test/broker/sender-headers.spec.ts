/**
 * The broker serializes a SEND's MESSAGE straight from the sender's headers (through the
 * pass-through filter) and copies them only when it holds the message past the publish call:
 * the frames must be exactly those of the filtered copy, and a held message must not change when
 * the sender's headers object does afterwards.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { AckMode, BrokerSession, BrokerSubscription } from '../../lib/broker/message-broker.js';
import { SimpleBroker, type SimpleBrokerConfig } from '../../lib/broker/simple/simple-broker.js';
import { createHeaders, type StompHeaders, type StompVersion } from '../../lib/protocol/frame.js';
import { OutboundMessage, passThroughHeaders } from '../../lib/protocol/message-frame.js';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import { SessionSubscription } from '../../lib/transport/session-subscription.js';

const VERSIONS: readonly StompVersion[] = ['1.0', '1.1', '1.2'];

function headersOf(entries: ReadonlyArray<readonly [string, string]>): StompHeaders {
  const h = createHeaders();
  for (const [name, value] of entries) if (!(name in h)) h[name] = value;
  return h;
}

/** Sender headers: reserved names in any case, content-type variants, odd characters. */
const senderHeaders = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom('destination', 'content-length', 'receipt', 'transaction', 'message-id', 'Message-Id', 'SUBSCRIPTION', 'ack', 'redelivered', 'user-name', 'content-type', 'Content-Type', 'x', 'X-Y', '', 'a:b'),
        fc.string({ maxLength: 5 }),
      ),
      fc.string({ maxLength: 8 }),
    ),
    { maxLength: 8 },
  )
  .map(headersOf);

describe('OutboundMessage.fromSender', () => {
  it('writes what a message built from passThroughHeaders writes, in every version', () => {
    fc.assert(
      fc.property(senderHeaders, fc.boolean(), (sender, small) => {
        const body = Buffer.from(small ? 'hello' : 'x'.repeat(20_000));
        const lazy = OutboundMessage.fromSender('/topic/t', 'm-1', sender, body);
        const eager = new OutboundMessage('/topic/t', 'm-1', passThroughHeaders(sender), body);
        expect(lazy.binary).toBe(eager.binary);
        for (const version of VERSIONS) {
          expect(lazy.sharedPart(version).toString('latin1')).toBe(eager.sharedPart(version).toString('latin1'));
        }
        expect({ ...lazy.headers }).toEqual({ ...eager.headers });
        expect(Object.keys(lazy.headers)).toEqual(Object.keys(eager.headers));
      }),
      { numRuns: 300 },
    );
  });

  it('once headers is read, later changes to the sender headers change nothing', () => {
    const sender = headersOf([['destination', '/topic/t'], ['x', '1'], ['content-type', 'text/plain']]);
    const message = OutboundMessage.fromSender('/topic/t', 'm-1', sender, Buffer.from('b'));
    expect({ ...message.headers }).toEqual({ x: '1', 'content-type': 'text/plain' });
    sender['x'] = 'changed';
    sender['y'] = 'added';
    expect({ ...message.headers }).toEqual({ x: '1', 'content-type': 'text/plain' });
    expect(message.sharedPart('1.1').toString()).toContain('\nx:1\n');
    expect(message.sharedPart('1.1').toString()).not.toContain('y:added');
  });
});

/** A session that records the frames the broker gives it. */
function recordingSession(id: string, version: StompVersion) {
  const frames: string[] = [];
  const session: BrokerSession = {
    id,
    version,
    user: undefined,
    principal: undefined,
    receipt() {
      throw new Error('not expected');
    },
    send() {
      throw new Error('not expected');
    },
    deliver(subscription: BrokerSubscription, message: OutboundMessage, ackId?: string) {
      frames.push(message.frameFor((subscription as SessionSubscription).framePrefix, version, ackId).toString('latin1'));
    },
    fail() {
      throw new Error('not expected');
    },
  };
  return { session, frames };
}

const config = (): SimpleBrokerConfig => ({
  ...resolveStompOptions({}).broker,
  prefixes: ['/topic', '/queue'],
  queuePrefixes: ['/queue'],
});

const subscribe = (broker: SimpleBroker, session: BrokerSession, destination: string, ack: AckMode) => {
  const subscription = new SessionSubscription(session, 'sub-0', destination, ack, createHeaders(), 'broker');
  broker.subscribe(subscription);
  return subscription;
};

describe('SimpleBroker and the sender headers of a message it holds', () => {
  it('a queued message keeps the headers it was sent with', async () => {
    const broker = new SimpleBroker(config());
    const sender = headersOf([['destination', '/queue/held'], ['x', 'sent'], ['content-type', 'text/plain']]);
    broker.publish({ destination: '/queue/held', headers: sender, body: Buffer.from('b') });
    sender['x'] = 'changed afterwards';
    sender['late'] = 'added afterwards';
    const { session, frames } = recordingSession('s-1', '1.0');
    subscribe(broker, session, '/queue/held', 'auto');
    await new Promise((r) => setTimeout(r, 0)); // held messages are handed over after the subscribe
    expect(frames).toHaveLength(1);
    expect(frames[0]).toContain('\nx:sent\n');
    expect(frames[0]).not.toContain('changed');
    expect(frames[0]).not.toContain('late');
  });

  it('an unacknowledged queue message, NACKed to another subscriber, keeps them too', () => {
    const broker = new SimpleBroker(config());
    const first = recordingSession('s-1', '1.2');
    const second = recordingSession('s-2', '1.1');
    subscribe(broker, first.session, '/queue/work', 'client-individual');
    const sender = headersOf([['destination', '/queue/work'], ['x', 'sent']]);
    broker.publish({ destination: '/queue/work', headers: sender, body: Buffer.from('b') });
    sender['x'] = 'changed afterwards';
    subscribe(broker, second.session, '/queue/work', 'auto');
    const ackId = /\nack:([^\n]+)\n/.exec(first.frames[0])?.[1];
    expect(ackId).toBeDefined();
    broker.nack(first.session, headersOf([['id', ackId as string]]));
    expect(second.frames).toHaveLength(1);
    expect(second.frames[0]).toContain('redelivered:true\n');
    expect(second.frames[0]).toContain('\nx:sent\n');
    expect(second.frames[0]).not.toContain('changed');
  });
});
