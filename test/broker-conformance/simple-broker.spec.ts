import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MESSAGE_BROKER, SimpleBroker } from '../../lib/index.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import {
  connectClient,
  Inbox,
  sendConfirmed,
  subscribeConfirmed,
  unsubscribeConfirmed,
} from '../support/stomp-client.js';
import { brokerConformanceSuite } from './broker-conformance.js';

brokerConformanceSuite('simple broker', () => startStompApp({ broker: { kind: 'simple' } }));

/** Waits (bounded) until the server has cleaned up after the clients that went away. */
async function settled(broker: SimpleBroker, expectSessions: number): Promise<ReturnType<SimpleBroker['stats']>> {
  let stats = broker.stats();
  for (let i = 0; i < 200 && stats.sessions !== expectSessions; i++) {
    await new Promise((r) => setTimeout(r, 10));
    stats = broker.stats();
  }
  return stats;
}

// What only the simple broker does, or does its own way.
describe('simple broker specifics', () => {
  describe('pattern subscriptions', () => {
    let running: RunningApp;
    beforeAll(async () => {
      running = await startStompApp({ broker: { kind: 'simple' } });
    });
    afterAll(() => running.close());

    it('matches /topic/a/* on one segment and /topic/** on any number', async () => {
      const c = await connectClient(running.url);
      const patterns = ['/topic/a/*', '/topic/**', '/topic/a/**', '/topic/*/c', '/topic/a/#'];
      const inboxes = new Map(patterns.map((p) => [p, new Inbox()]));
      for (const [p, inbox] of inboxes) await subscribeConfirmed(c.client, p, inbox);
      const destinations = ['/topic/a', '/topic/a/b', '/topic/a/b/c', '/topic/x/c', '/topic/ab/c', '/topic/b'];
      for (const d of destinations) c.client.publish({ destination: d, body: d });
      await sendConfirmed(c.client, '/topic/end', 'end');
      await inboxes.get('/topic/**')!.waitForBody('end');
      const got = (p: string) => inboxes.get(p)!.bodies();
      expect(got('/topic/a/*')).toEqual(['/topic/a/b']);
      expect(got('/topic/**')).toEqual([...destinations, 'end']);
      expect(got('/topic/a/**')).toEqual(['/topic/a', '/topic/a/b', '/topic/a/b/c']);
      expect(got('/topic/a/#')).toEqual(['/topic/a', '/topic/a/b', '/topic/a/b/c']);
      expect(got('/topic/*/c')).toEqual(['/topic/x/c', '/topic/ab/c']);
      // The MESSAGE names the concrete destination, not the pattern.
      const m = inboxes.get('/topic/a/*')!.messages[0];
      expect(m.headers['destination']).toBe('/topic/a/b');
      await c.disconnect();
    });

    it('delivers a message once to a subscription even when several patterns of other subscriptions match', async () => {
      const a = await connectClient(running.url);
      const inbox = new Inbox();
      const base = `/topic/${unique('p')}`;
      await subscribeConfirmed(a.client, `${base}/**`, inbox);
      await sendConfirmed(a.client, `${base}/x/y`, 'once');
      await sendConfirmed(a.client, `${base}/z`, 'twice');
      await inbox.waitFor(2);
      expect(inbox.bodies()).toEqual(['once', 'twice']);
      await a.disconnect();
    });

    it('stops matching after UNSUBSCRIBE of a pattern', async () => {
      const a = await connectClient(running.url);
      const base = `/topic/${unique('p')}`;
      const gone = new Inbox();
      const kept = new Inbox();
      const sub = await subscribeConfirmed(a.client, `${base}/*`, gone);
      await subscribeConfirmed(a.client, `${base}/x`, kept);
      await unsubscribeConfirmed(a.client, sub);
      await sendConfirmed(a.client, `${base}/x`, 'after');
      await kept.waitForBody('after');
      expect(gone.bodies()).toEqual([]);
      await a.disconnect();
    });
  });

  describe('pathSeparator "."', () => {
    let running: RunningApp;
    beforeAll(async () => {
      running = await startStompApp({ broker: { kind: 'simple' }, pathSeparator: '.' });
    });
    afterAll(() => running.close());

    it('matches patterns on dot-separated segments', async () => {
      const c = await connectClient(running.url);
      const star = new Inbox();
      const hash = new Inbox();
      await subscribeConfirmed(c.client, '/topic/stocks.*', star);
      await subscribeConfirmed(c.client, '/topic/stocks.#', hash);
      for (const d of ['/topic/stocks.ibm', '/topic/stocks.nyse.ibm', '/topic/stocks']) {
        c.client.publish({ destination: d, body: d });
      }
      await sendConfirmed(c.client, '/topic/stocks.end', 'end');
      await hash.waitForBody('end');
      expect(star.bodies()).toEqual(['/topic/stocks.ibm', 'end']);
      expect(hash.bodies()).toEqual(['/topic/stocks.ibm', '/topic/stocks.nyse.ibm', '/topic/stocks', 'end']);
      await c.disconnect();
    });
  });

  describe('queueCapacity', () => {
    let running: RunningApp;
    beforeAll(async () => {
      running = await startStompApp({ broker: { kind: 'simple', queueCapacity: 3 } });
    });
    afterAll(() => running.close());

    it('holds at most queueCapacity messages per queue, dropping the oldest, with a warning', async () => {
      const dest = `/queue/${unique()}`;
      const pub = await connectClient(running.url);
      for (let i = 0; i < 5; i++) await sendConfirmed(pub.client, dest, `m${i}`);
      const sub = await connectClient(running.url);
      const inbox = new Inbox();
      await subscribeConfirmed(sub.client, dest, inbox);
      await sendConfirmed(pub.client, dest, 'sentinel');
      await inbox.waitForBody('sentinel');
      expect(inbox.bodies()).toEqual(['m2', 'm3', 'm4', 'sentinel']);
      // Two messages were dropped, but the overflow is reported once, not once per message.
      const warnings = running.logs.at('warn').filter((w) => w.includes(dest) && w.includes('dropping the oldest'));
      expect(warnings).toHaveLength(1);
      // Logged under the library's one logger prefix, Stomp*, like every other library line.
      expect(warnings[0]).toMatch(/ StompSimpleBroker$/);
      await pub.disconnect();
      await sub.disconnect();
    });

    it('keeps requeued messages ahead of newer ones, within the capacity', async () => {
      const dest = `/queue/${unique()}`;
      const a = await connectClient(running.url);
      const inA = new Inbox();
      await subscribeConfirmed(a.client, dest, inA, { ack: 'client-individual' });
      await sendConfirmed(a.client, dest, 'r1');
      await sendConfirmed(a.client, dest, 'r2');
      await inA.waitFor(2);
      await a.disconnect();
      const pub = await connectClient(running.url);
      await sendConfirmed(pub.client, dest, 'n1');
      await sendConfirmed(pub.client, dest, 'n2');
      const b = await connectClient(running.url);
      const inB = new Inbox();
      await subscribeConfirmed(b.client, dest, inB);
      await sendConfirmed(pub.client, dest, 'sentinel');
      await inB.waitForBody('sentinel');
      // Four held, capacity three: the oldest (r1) was dropped.
      expect(inB.bodies()).toEqual(['r2', 'n1', 'n2', 'sentinel']);
      await pub.disconnect();
      await b.disconnect();
    });
  });

  describe('queuePrefixes: [] (Spring mode)', () => {
    let running: RunningApp;
    beforeAll(async () => {
      running = await startStompApp({ broker: { kind: 'simple', queuePrefixes: [] } });
    });
    afterAll(() => running.close());

    it('makes /queue topic-like: every subscriber gets every message, nothing is held', async () => {
      const dest = `/queue/${unique()}`;
      const pub = await connectClient(running.url);
      await sendConfirmed(pub.client, dest, 'before anyone');
      const a = await connectClient(running.url);
      const b = await connectClient(running.url);
      const inA = new Inbox();
      const inB = new Inbox();
      await subscribeConfirmed(a.client, dest, inA);
      await subscribeConfirmed(b.client, dest, inB);
      await sendConfirmed(pub.client, dest, 'one');
      await sendConfirmed(pub.client, dest, 'two');
      await inA.waitFor(2);
      await inB.waitFor(2);
      expect(inA.bodies()).toEqual(['one', 'two']);
      expect(inB.bodies()).toEqual(['one', 'two']);
      await Promise.all([pub, a, b].map((c) => c.disconnect()));
    });
  });

  describe('acknowledgement details', () => {
    let running: RunningApp;
    let broker: SimpleBroker;
    beforeAll(async () => {
      running = await startStompApp({ broker: { kind: 'simple' } });
      broker = running.app.get(MESSAGE_BROKER);
    });
    afterAll(() => running.close());

    it('drops a NACKed topic message (nobody else subscribed to that copy)', async () => {
      const dest = `/topic/${unique()}`;
      const c = await connectClient(running.url);
      const inbox = new Inbox();
      await subscribeConfirmed(c.client, dest, inbox, { ack: 'client-individual' });
      await sendConfirmed(c.client, dest, 'nacked');
      const [m] = await inbox.waitFor(1);
      expect(m.headers['ack']).toEqual(expect.any(String));
      await c.receipt((receipt) => m.nack({ receipt }));
      await sendConfirmed(c.client, dest, 'sentinel');
      await inbox.waitForBody('sentinel');
      expect(inbox.bodies()).toEqual(['nacked', 'sentinel']);
      await c.disconnect();
    });

    it('keeps deliveries acknowledgeable after UNSUBSCRIBE until the session ends', async () => {
      const dest = `/queue/${unique()}`;
      const a = await connectClient(running.url);
      const inA = new Inbox();
      const sub = await subscribeConfirmed(a.client, dest, inA, { ack: 'client-individual' });
      await sendConfirmed(a.client, dest, 'late ack');
      await sendConfirmed(a.client, dest, 'never acked');
      const [first] = await inA.waitFor(2);
      await unsubscribeConfirmed(a.client, sub);
      await a.receipt((receipt) => first.ack({ receipt }));
      await a.disconnect();
      const b = await connectClient(running.url);
      const inB = new Inbox();
      await subscribeConfirmed(b.client, dest, inB);
      await sendConfirmed(b.client, dest, 'sentinel');
      await inB.waitForBody('sentinel');
      expect(inB.bodies()).toEqual(['never acked', 'sentinel']);
      await b.disconnect();
    });

    it('forgets sessions, subscriptions and idle queues when clients leave', async () => {
      const before = await settled(broker, 0);
      expect(before.sessions).toBe(0);
      const a = await connectClient(running.url);
      const b = await connectClient(running.url);
      await subscribeConfirmed(a.client, `/topic/${unique()}`, new Inbox());
      await subscribeConfirmed(a.client, `/topic/${unique()}/*`, new Inbox());
      await subscribeConfirmed(b.client, `/queue/${unique()}`, new Inbox());
      const during = broker.stats();
      expect(during.sessions).toBe(2);
      expect(during.topicSubscriptions).toBe(before.topicSubscriptions + 2);
      expect(during.queues).toBe(before.queues + 1);
      await a.disconnect();
      await b.client.deactivate({ force: true });
      const after = await settled(broker, 0);
      expect(after).toEqual({ ...before, sessions: 0 });
    });
  });
});
