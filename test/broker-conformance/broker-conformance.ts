/**
 * Broker behaviour, written once against any `MessageBroker` behind the STOMP endpoint: pub/sub,
 * topic vs queue semantics, ack modes, redelivery, transactions and receipts, seen through real
 * @stomp/stompjs clients (and a raw `ws` client where the bytes matter).
 *
 * The target (a Nest app or a bare broker, {@link ConformanceTarget}) must serve STOMP on `url` with a topic-like `/topic` prefix and a
 * queue-like `/queue` prefix. Each test uses fresh destinations, so one app serves the whole suite.
 * No test measures time: receipts and sentinel messages order everything, timeouts only guard.
 *
 * What the suite assumes of every broker (RabbitMQ's Web-STOMP behaves this way):
 * - messages from one publisher reach one subscriber in send order, so a "sentinel" sent after
 *   other messages proves those were delivered (or never will be);
 * - a queue shares messages round-robin among its consumers and requeues an unsettled message
 *   ahead of newer ones, marked `redelivered:true`.
 *
 * Where a broker lacks a behaviour tested here, or does it its own way, the target says so with
 * {@link BrokerCapabilities}: those tests are skipped for it (and listed as skipped), never loosened.
 * RabbitMQ's Web-STOMP, run as the reference in test/relay/, declares its deviations there.
 * Behaviour that is the simple broker's own (pattern subscriptions, queueCapacity, Spring mode,
 * NACK on a topic, ACK after UNSUBSCRIBE) is tested in simple-broker.spec.ts, not here.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { frame, RawStompClient, rawConnected } from '../support/raw-client.js';
import { unique } from '../support/stomp-app.js';
import {
  connectClient,
  Inbox,
  sendConfirmed,
  subscribeConfirmed,
  unsubscribeConfirmed,
  type ClientConfig,
  type TestClient,
} from '../support/stomp-client.js';

/**
 * What the suite talks to: a Nest app (a {@link RunningApp} fits) or a bare broker's own
 * STOMP-over-WebSocket endpoint (RabbitMQ's Web-STOMP, as the reference).
 */
export interface ConformanceTarget {
  /** The STOMP-over-WebSocket URL, e.g. `ws://127.0.0.1:<port>/ws`. */
  url: string;
  /**
   * Headers added to every CONNECT (stompjs and raw clients alike), e.g. RabbitMQ's
   * `{ login: 'guest', passcode: 'guest', host: '/' }`. Default none.
   */
  connectHeaders?: Record<string, string>;
  /** Called once after the suite (closes the app; nothing to do for a bare broker). */
  close(): Promise<void>;
}

/**
 * Behaviour the suite tests that a broker may lack or do differently. Each `false` turns the
 * tests of that behaviour into skipped tests (named in the run, never weakened or faked), so one
 * suite states both what our brokers do and where the reference broker differs. The simple broker
 * has them all ({@link ALL_CAPABILITIES}); RabbitMQ's deviations are `RABBITMQ_DEVIATIONS`
 * (test/relay/rabbitmq-deviations.ts), which a relay to RabbitMQ inherits.
 */
export interface BrokerCapabilities {
  /** A MESSAGE does not carry the `receipt` header of the SEND it came from (RabbitMQ copies it). */
  readonly dropsReceiptHeader: boolean;
  /**
   * A SEND carrying headers only the broker may set (`message-id`, `redelivered`, `subscription`,
   * `ack`, in any letter case) is accepted with those headers dropped. (RabbitMQ refuses it with
   * an ERROR "Invalid header": "'message-id' is not allowed on 'SEND'".)
   */
  readonly stripsForgedHeaders: boolean;
  /**
   * A first delivery has no `redelivered` header. When false, the broker sends `redelivered:false`
   * instead (RabbitMQ); the tests then assert exactly that, so this is a header form, not a skip.
   */
  readonly omitsRedeliveredFalse: boolean;
  /**
   * An ACK/NACK of an id the broker cannot match (unknown, or already acknowledged) is an ERROR
   * saying so, carrying the frame's `receipt-id`, and the connection closes. (RabbitMQ answers an
   * id not of its own form with ERROR "Invalid header"; a second ACK of a message gets a RECEIPT,
   * then the connection closes without an ERROR: the AMQP channel failed, "unknown delivery tag".)
   */
  readonly ackErrors: boolean;
  /**
   * A frame inside a transaction (a SEND with `transaction`) is receipted when it arrives, not at
   * COMMIT. (RabbitMQ holds the RECEIPT with the frame, so a receipt cannot prove it was held.)
   */
  readonly transactionalReceiptsOnArrival: boolean;
  /**
   * Transaction errors name the problem: `Unknown transaction "<id>"`, `Transaction "<id>" is
   * already open`. (RabbitMQ says "Bad transaction" for all of them.)
   */
  readonly namedTransactionErrors: boolean;
}

/** Every behaviour the suite tests: what the simple broker does. */
export const ALL_CAPABILITIES: BrokerCapabilities = {
  dropsReceiptHeader: true,
  stripsForgedHeaders: true,
  omitsRedeliveredFalse: true,
  ackErrors: true,
  transactionalReceiptsOnArrival: true,
  namedTransactionErrors: true,
};

export function brokerConformanceSuite(
  name: string,
  startApp: () => Promise<ConformanceTarget>,
  capabilities: BrokerCapabilities = ALL_CAPABILITIES,
): void {
  /** `it` when the broker under test has the capability, else `it.skip` (listed as skipped). */
  const itIf = (capability: keyof BrokerCapabilities) => (capabilities[capability] ? it : it.skip);
  /** The `redelivered` header of a message delivered for the first time. */
  const firstDelivery = capabilities.omitsRedeliveredFalse ? undefined : 'false';
  describe(`broker conformance: ${name}`, () => {
    let running: ConformanceTarget;
    const open: TestClient[] = [];
    const raws: RawStompClient[] = [];

    beforeAll(async () => {
      running = await startApp();
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((c) => c.disconnect().catch(() => undefined)));
      await Promise.all(raws.splice(0).map((r) => r.close().catch(() => undefined)));
    });
    afterAll(() => running.close());

    async function client(config: ClientConfig = {}): Promise<TestClient> {
      const c = await connectClient(running.url, {
        ...config,
        connectHeaders: { ...running.connectHeaders, ...config.connectHeaders },
      });
      open.push(c);
      return c;
    }

    /**
     * What is left on a queue: a new consumer subscribes, `publisher` sends a sentinel, and the
     * consumer's inbox up to and including the sentinel comes back (the sentinel is last, since a
     * queue hands out held and requeued messages first).
     */
    async function remainingOn(dest: string, publisher: TestClient | undefined, config: ClientConfig): Promise<Inbox> {
      const consumer = await client(config);
      const inbox = new Inbox();
      await subscribeConfirmed(consumer.client, dest, inbox);
      await sendConfirmed((publisher ?? consumer).client, dest, 'sentinel');
      await inbox.waitForBody('sentinel');
      return inbox;
    }

    async function raw(): Promise<RawStompClient> {
      const { raw: r } = await rawConnected(running.url, {
        'accept-version': '1.2',
        host: 'localhost',
        ...running.connectHeaders,
      });
      raws.push(r);
      return r;
    }

    const topic = () => `/topic/${unique('t')}`;
    const queue = () => `/queue/${unique('q')}`;

    describe('topics: publish/subscribe', () => {
      it('delivers each message to every subscriber with destination, message-id, subscription, content-type, content-length and sender headers', async () => {
        const dest = topic();
        const a = await client();
        const b = await client();
        const inboxes = [new Inbox(), new Inbox(), new Inbox()];
        const subs = [
          await subscribeConfirmed(a.client, dest, inboxes[0], { id: 'a-1' }),
          await subscribeConfirmed(a.client, dest, inboxes[1], { id: 'a-2' }),
          await subscribeConfirmed(b.client, dest, inboxes[2], { id: 'b-1' }),
        ];
        const publisher = await client();
        const body = 'héllo wörld';
        await sendConfirmed(publisher.client, dest, body, {
          'content-type': 'text/plain;charset=UTF-8',
          'x-custom': 'custom value',
          'x-colon': 'a:b',
          priority: '7',
        });
        for (const [i, inbox] of inboxes.entries()) {
          const [m] = await inbox.waitFor(1);
          expect(m.body).toBe(body);
          expect(m.headers['destination']).toBe(dest);
          expect(m.headers['subscription']).toBe(subs[i].id);
          expect(m.headers['message-id']).toEqual(expect.any(String));
          expect(m.headers['message-id'].length).toBeGreaterThan(0);
          expect(m.headers['content-type']).toBe('text/plain;charset=UTF-8');
          expect(m.headers['content-length']).toBe(String(Buffer.byteLength(body)));
          expect(m.headers['x-custom']).toBe('custom value');
          expect(m.headers['x-colon']).toBe('a:b');
          expect(m.headers['priority']).toBe('7');
          // Auto mode has no ack header.
          expect(m.headers['ack']).toBeUndefined();
        }
      });

      itIf('dropsReceiptHeader')('does not pass the sender\'s receipt request on to subscribers', async () => {
        const dest = topic();
        const sub = await client();
        const inbox = new Inbox();
        await subscribeConfirmed(sub.client, dest, inbox);
        await sendConfirmed(sub.client, dest, 'receipted');
        const [m] = await inbox.waitFor(1);
        expect(m.body).toBe('receipted');
        expect(m.headers['receipt']).toBeUndefined();
      });

      it('gives different messages different message-ids and keeps their order', async () => {
        const dest = topic();
        const sub = await client();
        const inbox = new Inbox();
        await subscribeConfirmed(sub.client, dest, inbox);
        const pub = await client();
        const bodies = Array.from({ length: 25 }, (_, i) => `m${i}`);
        for (const b of bodies) pub.client.publish({ destination: dest, body: b });
        const got = await inbox.waitFor(bodies.length);
        expect(got.map((m) => m.body)).toEqual(bodies);
        expect(new Set(got.map((m) => m.headers['message-id'])).size).toBe(bodies.length);
      });

      it('delivers a message to the sender too when it subscribes', async () => {
        const dest = topic();
        const c = await client();
        const inbox = new Inbox();
        await subscribeConfirmed(c.client, dest, inbox);
        await sendConfirmed(c.client, dest, 'to myself');
        expect((await inbox.waitFor(1))[0].body).toBe('to myself');
      });

      it('does not keep topic messages for later subscribers', async () => {
        const dest = topic();
        const pub = await client();
        await sendConfirmed(pub.client, dest, 'nobody listens');
        const sub = await client();
        const inbox = new Inbox();
        await subscribeConfirmed(sub.client, dest, inbox);
        await sendConfirmed(pub.client, dest, 'sentinel');
        await inbox.waitForBody('sentinel');
        expect(inbox.bodies()).toEqual(['sentinel']);
      });

      it('does not deliver to other destinations', async () => {
        const dest = topic();
        const other = `${dest}-other`;
        const c = await client();
        const inbox = new Inbox();
        await subscribeConfirmed(c.client, dest, inbox);
        await sendConfirmed(c.client, other, 'elsewhere');
        await sendConfirmed(c.client, dest, 'here');
        await inbox.waitForBody('here');
        expect(inbox.bodies()).toEqual(['here']);
      });

      it('UNSUBSCRIBE stops delivery to that subscription only', async () => {
        const dest = topic();
        const c = await client();
        const gone = new Inbox();
        const kept = new Inbox();
        const subGone = await subscribeConfirmed(c.client, dest, gone, { id: 'gone' });
        await subscribeConfirmed(c.client, dest, kept, { id: 'kept' });
        await sendConfirmed(c.client, dest, 'before');
        await gone.waitForBody('before');
        await unsubscribeConfirmed(c.client, subGone);
        await sendConfirmed(c.client, dest, 'after');
        await kept.waitForBody('after');
        // One more round trip on the same connection, then nothing more may arrive for `gone`.
        await sendConfirmed(c.client, topic(), 'flush');
        expect(gone.bodies()).toEqual(['before']);
        expect(kept.bodies()).toEqual(['before', 'after']);
      });

      it('makes a SUBSCRIBE active by the time its RECEIPT arrives', async () => {
        const sub = await client();
        const pub = await client();
        for (let i = 0; i < 20; i++) {
          const dest = topic();
          const inbox = new Inbox();
          await subscribeConfirmed(sub.client, dest, inbox);
          // Published right after the receipt, from another connection, with no receipt of its own.
          pub.client.publish({ destination: dest, body: `right after ${i}` });
          expect((await inbox.waitFor(1))[0].body).toBe(`right after ${i}`);
        }
      });

      itIf('stripsForgedHeaders')('never lets a sender set what the broker vouches for (redelivered, message-id, destination, subscription, ack), in any letter case', async () => {
        const dest = topic();
        const sub = await client();
        const inbox = new Inbox();
        await subscribeConfirmed(sub.client, dest, inbox, { id: 'real-sub' });
        const r = await raw();
        r.sendFrame('SEND', {
          destination: dest,
          redelivered: 'true',
          'Message-Id': 'forged-id',
          'message-id': 'forged-id',
          DESTINATION: '/topic/elsewhere',
          SUBSCRIPTION: 'other-sub',
          Ack: 'forged-ack',
          'x-kept': 'yes',
          receipt: 'forge',
        }, 'payload');
        await r.expect('RECEIPT');
        const [m] = await inbox.waitFor(1);
        expect(m.body).toBe('payload');
        expect(m.headers['destination']).toBe(dest);
        expect(m.headers['subscription']).toBe('real-sub');
        expect(m.headers['message-id']).not.toBe('forged-id');
        expect(m.headers['x-kept']).toBe('yes');
        for (const forged of ['redelivered', 'Message-Id', 'DESTINATION', 'SUBSCRIPTION', 'Ack', 'ack']) {
          expect({ [forged]: m.headers[forged] }).toEqual({ [forged]: undefined });
        }
      });
    });

    describe('queues: competing consumers', () => {
      it('round-robins messages among consumers, each message to exactly one', async () => {
        const dest = queue();
        const a = await client();
        const b = await client();
        const inA = new Inbox();
        const inB = new Inbox();
        await subscribeConfirmed(a.client, dest, inA);
        await subscribeConfirmed(b.client, dest, inB);
        const pub = await client();
        for (let i = 0; i < 6; i++) pub.client.publish({ destination: dest, body: `m${i}` });
        await inA.waitFor(3);
        await inB.waitFor(3);
        for (let i = 6; i < 8; i++) pub.client.publish({ destination: dest, body: `m${i}` });
        await inA.waitFor(4);
        await inB.waitFor(4);
        expect(inA.messages).toHaveLength(4);
        expect(inB.messages).toHaveLength(4);
        const all = [...inA.bodies(), ...inB.bodies()].sort();
        expect(all).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
        // Alternation: each consumer's share keeps the send order.
        expect(inA.bodies()).toEqual([...inA.bodies()].sort());
        expect(inB.bodies()).toEqual([...inB.bodies()].sort());
        for (const m of [...inA.messages, ...inB.messages]) {
          expect(m.headers['destination']).toBe(dest);
          expect(m.headers['redelivered']).toBe(firstDelivery);
        }
      });

      it('holds messages while nobody subscribes and delivers them in order on subscribe', async () => {
        const dest = queue();
        const pub = await client();
        for (let i = 0; i < 5; i++) await sendConfirmed(pub.client, dest, `held ${i}`, { 'x-n': String(i) });
        const sub = await client();
        const inbox = new Inbox();
        await subscribeConfirmed(sub.client, dest, inbox);
        const got = await inbox.waitFor(5);
        expect(got.map((m) => m.body)).toEqual(['held 0', 'held 1', 'held 2', 'held 3', 'held 4']);
        expect(got.map((m) => m.headers['x-n'])).toEqual(['0', '1', '2', '3', '4']);
        // Delivered once: a second consumer arriving later gets only what comes next.
        const late = await client();
        const lateBox = new Inbox();
        await subscribeConfirmed(late.client, dest, lateBox);
        await sendConfirmed(pub.client, dest, 'next-1');
        await sendConfirmed(pub.client, dest, 'next-2');
        await lateBox.waitFor(1);
        await inbox.waitFor(6);
        expect([...inbox.bodies(), ...lateBox.bodies()].sort()).toEqual(
          ['held 0', 'held 1', 'held 2', 'held 3', 'held 4', 'next-1', 'next-2'].sort(),
        );
      });

      it('delivers held messages before a message sent in the same WebSocket message as the SUBSCRIBE', async () => {
        const dest = queue();
        const pub = await client();
        for (let i = 0; i < 3; i++) await sendConfirmed(pub.client, dest, `held ${i}`);
        const r = await raw();
        r.send(
          Buffer.concat([
            frame('SUBSCRIBE', { id: 's', destination: dest }),
            frame('SEND', { destination: dest }, 'new'),
          ]),
        );
        const bodies: string[] = [];
        for (let i = 0; i < 4; i++) bodies.push((await r.expect('MESSAGE')).body.toString());
        expect(bodies).toEqual(['held 0', 'held 1', 'held 2', 'new']);
      });

      it('does not hold a message that a consumer already took', async () => {
        const dest = queue();
        const a = await client();
        const inA = new Inbox();
        const subA = await subscribeConfirmed(a.client, dest, inA);
        await sendConfirmed(a.client, dest, 'taken');
        await inA.waitForBody('taken');
        await unsubscribeConfirmed(a.client, subA);
        const b = await client();
        const inB = new Inbox();
        await subscribeConfirmed(b.client, dest, inB);
        await sendConfirmed(a.client, dest, 'sentinel');
        await inB.waitForBody('sentinel');
        expect(inB.bodies()).toEqual(['sentinel']);
      });
    });

    describe.each(['1.2', '1.1'])('acknowledgements over STOMP %s', (version) => {
      const config = (): ClientConfig => ({ versions: [version] });

      it('auto mode: MESSAGE carries no ack header and the message is settled on delivery', async () => {
        const dest = queue();
        const a = await client(config());
        expect(a.connected.headers['version']).toBe(version);
        const inA = new Inbox();
        await subscribeConfirmed(a.client, dest, inA, { ack: 'auto' });
        await sendConfirmed(a.client, dest, 'auto-1');
        const [m] = await inA.waitFor(1);
        expect(m.headers['ack']).toBeUndefined();
        await a.disconnect();
        const inB = await remainingOn(dest, undefined, config());
        expect(inB.bodies()).toEqual(['sentinel']);
      });

      it('client-individual: an ACK settles only that message; the unacked ones go to the next consumer when the session ends', async () => {
        const dest = queue();
        const a = await client(config());
        const inA = new Inbox();
        await subscribeConfirmed(a.client, dest, inA, { ack: 'client-individual' });
        const pub = await client(config());
        for (const b of ['m1', 'm2', 'm3']) await sendConfirmed(pub.client, dest, b);
        const got = await inA.waitFor(3);
        if (version === '1.2') {
          for (const m of got) expect(m.headers['ack']).toEqual(expect.any(String));
          expect(new Set(got.map((m) => m.headers['ack'])).size).toBe(3);
        }
        await a.receipt((receipt) => got[1].ack({ receipt }));
        await a.disconnect();
        const inB = await remainingOn(dest, pub, config());
        expect(inB.bodies()).toEqual(['m1', 'm3', 'sentinel']);
        expect(inB.messages[0].headers['redelivered']).toBe('true');
        expect(inB.messages[1].headers['redelivered']).toBe('true');
        expect(inB.messages[2].headers['redelivered']).toBe(firstDelivery);
      });

      it('client mode: an ACK is cumulative over earlier messages of the subscription', async () => {
        const dest = queue();
        const a = await client(config());
        const inA = new Inbox();
        await subscribeConfirmed(a.client, dest, inA, { ack: 'client' });
        const pub = await client(config());
        for (const b of ['m1', 'm2', 'm3', 'm4']) await sendConfirmed(pub.client, dest, b);
        const got = await inA.waitFor(4);
        await a.receipt((receipt) => got[2].ack({ receipt }));
        await a.receipt((receipt) => got[3].ack({ receipt }));
        await a.disconnect();
        const inB = await remainingOn(dest, pub, config());
        expect(inB.bodies()).toEqual(['sentinel']);
      });

      it('client mode: the messages after the ACKed one stay unacked', async () => {
        const dest = queue();
        const a = await client(config());
        const inA = new Inbox();
        await subscribeConfirmed(a.client, dest, inA, { ack: 'client' });
        const pub = await client(config());
        for (const b of ['m1', 'm2', 'm3']) await sendConfirmed(pub.client, dest, b);
        const got = await inA.waitFor(3);
        await a.receipt((receipt) => got[1].ack({ receipt }));
        await a.disconnect();
        const inB = await remainingOn(dest, pub, config());
        expect(inB.bodies()).toEqual(['m3', 'sentinel']);
        expect(inB.messages[0].headers['redelivered']).toBe('true');
      });

      it('NACK gives a queue message to another subscriber, marked redelivered', async () => {
        const dest = queue();
        const a = await client(config());
        const b = await client(config());
        const inA = new Inbox();
        const inB = new Inbox();
        await subscribeConfirmed(a.client, dest, inA, { ack: 'client-individual' });
        await subscribeConfirmed(b.client, dest, inB, { ack: 'client-individual' });
        const pub = await client(config());
        await sendConfirmed(pub.client, dest, 'refuse me', { 'x-trace': 't1' });
        // Round-robin sends it to one of the two; that one refuses it.
        const first = await Promise.race([
          inA.waitFor(1).then(() => ({ who: a, box: inA, other: inB })),
          inB.waitFor(1).then(() => ({ who: b, box: inB, other: inA })),
        ]);
        const original = first.box.messages[0];
        expect(original.headers['redelivered']).toBe(firstDelivery);
        await first.who.receipt((receipt) => original.nack({ receipt }));
        const [again] = await first.other.waitFor(1);
        expect(again.body).toBe('refuse me');
        expect(again.headers['redelivered']).toBe('true');
        expect(again.headers['x-trace']).toBe('t1');
        expect(again.headers['destination']).toBe(dest);
        expect(first.box.messages).toHaveLength(1);
      });

      it('NACK by the only subscriber redelivers to it', async () => {
        const dest = queue();
        const a = await client(config());
        const inA = new Inbox();
        await subscribeConfirmed(a.client, dest, inA, { ack: 'client-individual' });
        await sendConfirmed(a.client, dest, 'again');
        const [m] = await inA.waitFor(1);
        await a.receipt((receipt) => m.nack({ receipt }));
        const [, again] = await inA.waitFor(2);
        expect(again.body).toBe('again');
        expect(again.headers['redelivered']).toBe('true');
        // The redelivered copy can be acknowledged.
        await a.receipt((receipt) => again.ack({ receipt }));
      });

      it('gives the unacked messages of a dropped connection to a waiting subscriber, in order', async () => {
        const dest = queue();
        const a = await client(config());
        const inA = new Inbox();
        await subscribeConfirmed(a.client, dest, inA, { ack: 'client-individual' });
        const pub = await client(config());
        for (const b of ['u1', 'u2', 'u3']) await sendConfirmed(pub.client, dest, b);
        await inA.waitFor(3);
        // The second consumer subscribes after A has everything, so nothing is offered to it yet.
        const b = await client(config());
        const inB = new Inbox();
        await subscribeConfirmed(b.client, dest, inB);
        // Dropped without DISCONNECT.
        await a.client.deactivate({ force: true });
        const got = await inB.waitFor(3);
        expect(got.map((m) => m.body)).toEqual(['u1', 'u2', 'u3']);
        for (const m of got) expect(m.headers['redelivered']).toBe('true');
      });

      itIf('ackErrors')('answers an ACK for an unknown id with an ERROR, then closes', async () => {
        const a = await client(config());
        const error = a.nextError();
        a.client.ack('no-such-message', 'no-such-subscription', { receipt: 'ack-1' });
        const e = await error;
        expect(e.headers['message']).toMatch(/unknown|acknowledged/i);
        expect(e.headers['receipt-id']).toBe('ack-1');
        await a.closed;
        expect(a.client.connected).toBe(false);
      });

      itIf('ackErrors')('answers a second ACK of the same message with an ERROR', async () => {
        const dest = queue();
        const a = await client(config());
        const inA = new Inbox();
        await subscribeConfirmed(a.client, dest, inA, { ack: 'client-individual' });
        await sendConfirmed(a.client, dest, 'once');
        const [m] = await inA.waitFor(1);
        await a.receipt((receipt) => m.ack({ receipt }));
        const error = a.nextError();
        m.ack();
        expect((await error).headers['message']).toMatch(/unknown|acknowledged/i);
        await a.closed;
      });
    });

    describe('transactions', () => {
      itIf('transactionalReceiptsOnArrival')('holds SENDs until COMMIT, then delivers them in order', async () => {
        const dest = topic();
        const sub = await client();
        const inbox = new Inbox();
        await subscribeConfirmed(sub.client, dest, inbox);
        const p = await client();
        const tx = p.client.begin('tx-1');
        p.client.publish({ destination: dest, body: 'tx a', headers: { transaction: tx.id } });
        await p.receipt((receipt) =>
          p.client.publish({ destination: dest, body: 'tx b', headers: { transaction: tx.id, receipt } }),
        );
        await sendConfirmed(p.client, dest, 'outside');
        await inbox.waitForBody('outside');
        expect(inbox.bodies()).toEqual(['outside']);
        await p.receipt((receipt) => p.client.publish({ destination: dest, body: 'tx c', headers: { transaction: tx.id, receipt } }));
        tx.commit();
        await sendConfirmed(p.client, dest, 'after commit');
        await inbox.waitForBody('after commit');
        expect(inbox.bodies()).toEqual(['outside', 'tx a', 'tx b', 'tx c', 'after commit']);
      });

      it('discards SENDs on ABORT', async () => {
        const dest = topic();
        const sub = await client();
        const inbox = new Inbox();
        await subscribeConfirmed(sub.client, dest, inbox);
        const p = await client();
        const tx = p.client.begin();
        p.client.publish({ destination: dest, body: 'aborted', headers: { transaction: tx.id } });
        tx.abort();
        await sendConfirmed(p.client, dest, 'sentinel');
        await inbox.waitForBody('sentinel');
        expect(inbox.bodies()).toEqual(['sentinel']);
      });

      itIf('namedTransactionErrors')('forgets an aborted transaction: a COMMIT of it is an ERROR', async () => {
        const p = await client();
        const tx = p.client.begin();
        tx.abort();
        const error = p.nextError();
        p.client.commit(tx.id);
        expect((await error).headers['message']).toBe(`Unknown transaction "${tx.id}"`);
      });

      it('applies an ACK on COMMIT and forgets it on ABORT', async () => {
        const dest = queue();
        const a = await client();
        const inA = new Inbox();
        await subscribeConfirmed(a.client, dest, inA, { ack: 'client-individual' });
        const pub = await client();
        await sendConfirmed(pub.client, dest, 'keep');
        await sendConfirmed(pub.client, dest, 'ack-aborted');
        const [keep, aborted] = await inA.waitFor(2);
        const t1 = a.client.begin();
        keep.ack({ transaction: t1.id });
        t1.commit();
        const t2 = a.client.begin();
        aborted.ack({ transaction: t2.id });
        t2.abort();
        await sendConfirmed(a.client, topic(), 'flush');
        await a.disconnect();
        const b = await client();
        const inB = new Inbox();
        await subscribeConfirmed(b.client, dest, inB);
        await sendConfirmed(pub.client, dest, 'sentinel');
        await inB.waitForBody('sentinel');
        expect(inB.bodies()).toEqual(['ack-aborted', 'sentinel']);
      });

      itIf('transactionalReceiptsOnArrival')('aborts open transactions when the session ends', async () => {
        const dest = topic();
        const sub = await client();
        const inbox = new Inbox();
        await subscribeConfirmed(sub.client, dest, inbox);
        const p = await client();
        const tx = p.client.begin();
        await p.receipt((receipt) =>
          p.client.publish({ destination: dest, body: 'never committed', headers: { transaction: tx.id, receipt } }),
        );
        await p.disconnect();
        const q = await client();
        await sendConfirmed(q.client, dest, 'sentinel');
        await inbox.waitForBody('sentinel');
        expect(inbox.bodies()).toEqual(['sentinel']);
      });

      it('keeps transactions of different sessions apart, even with the same id', async () => {
        const dest = topic();
        const sub = await client();
        const inbox = new Inbox();
        await subscribeConfirmed(sub.client, dest, inbox);
        const p1 = await client();
        const p2 = await client();
        p1.client.begin('same');
        p2.client.begin('same');
        p1.client.publish({ destination: dest, body: 'from p1', headers: { transaction: 'same' } });
        p2.client.publish({ destination: dest, body: 'from p2', headers: { transaction: 'same' } });
        p2.client.abort('same');
        await p2.receipt((receipt) => p2.client.publish({ destination: topic(), body: 'x', headers: { receipt } }));
        p1.client.commit('same');
        await sendConfirmed(p1.client, dest, 'sentinel');
        await inbox.waitForBody('sentinel');
        expect(inbox.bodies()).toEqual(['from p1', 'sentinel']);
      });

      itIf('namedTransactionErrors')('answers a SEND in an unknown transaction with an ERROR', async () => {
        const p = await client();
        const error = p.nextError();
        p.client.publish({ destination: topic(), body: 'x', headers: { transaction: 'nope', receipt: 'tx-r' } });
        const e = await error;
        expect(e.headers['message']).toBe('Unknown transaction "nope"');
        expect(e.headers['receipt-id']).toBe('tx-r');
        await p.closed;
      });

      itIf('namedTransactionErrors')('answers a COMMIT of an unknown transaction, and a BEGIN of an open one, with an ERROR', async () => {
        const p = await client();
        const error = p.nextError();
        p.client.commit('never-begun');
        expect((await error).headers['message']).toBe('Unknown transaction "never-begun"');
        const q = await client();
        const error2 = q.nextError();
        q.client.begin('twice');
        q.client.begin('twice');
        expect((await error2).headers['message']).toBe('Transaction "twice" is already open');
      });
    });

    describe('receipts', () => {
      it('answers a receipt for SEND, SUBSCRIBE, UNSUBSCRIBE, BEGIN, COMMIT, ABORT, ACK and NACK, in order', async () => {
        const r = await raw();
        const dest = queue();
        r.sendFrame('SUBSCRIBE', { id: 's1', destination: dest, ack: 'client-individual', receipt: 'subscribe' });
        expect((await r.expect('RECEIPT')).headers['receipt-id']).toBe('subscribe');
        r.sendFrame('SEND', { destination: dest, receipt: 'send-1' }, 'one');
        r.sendFrame('SEND', { destination: dest, receipt: 'send-2' }, 'two');
        const seen: string[] = [];
        const messages: Array<{ ack: string; body: string }> = [];
        for (let i = 0; i < 4; i++) {
          const f = await r.next();
          if (f.command === 'RECEIPT') seen.push(f.headers['receipt-id']);
          else if (f.command === 'MESSAGE') messages.push({ ack: f.headers['ack'], body: f.body.toString() });
          else throw new Error(`unexpected ${f.command}`);
        }
        expect(seen).toEqual(['send-1', 'send-2']);
        expect(messages.map((m) => m.body)).toEqual(['one', 'two']);
        r.sendFrame('ACK', { id: messages[0].ack, receipt: 'ack' });
        r.sendFrame('BEGIN', { transaction: 't1', receipt: 'begin' });
        r.sendFrame('NACK', { id: messages[1].ack, transaction: 't1', receipt: 'nack-in-tx' });
        r.sendFrame('ABORT', { transaction: 't1', receipt: 'abort' });
        r.sendFrame('BEGIN', { transaction: 't2', receipt: 'begin-2' });
        r.sendFrame('COMMIT', { transaction: 't2', receipt: 'commit' });
        for (const id of ['ack', 'begin', 'nack-in-tx', 'abort', 'begin-2', 'commit']) {
          const f = await r.expect('RECEIPT');
          expect(f.headers['receipt-id']).toBe(id);
          expect(f.body.length).toBe(0);
        }
        // A NACK outside the transaction takes effect: message two comes back to the only subscriber.
        r.sendFrame('NACK', { id: messages[1].ack, receipt: 'nack' });
        const after = [await r.next(), await r.next()];
        expect(after.find((f) => f.command === 'RECEIPT')?.headers['receipt-id']).toBe('nack');
        const again = after.find((f) => f.command === 'MESSAGE');
        expect(again?.body.toString()).toBe('two');
        expect(again?.headers['redelivered']).toBe('true');
        r.sendFrame('UNSUBSCRIBE', { id: 's1', receipt: 'unsubscribe' });
        expect((await r.expect('RECEIPT')).headers['receipt-id']).toBe('unsubscribe');
      });
    });
  });
}
