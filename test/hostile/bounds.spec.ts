// Issue 7, general: everything a client can make the broker hold is bounded: unacknowledged
// deliveries, queues created by SENDs to fresh names, bytes held for absent subscribers, the
// length of a destination. Each bound is set small here; breaking it gets an ERROR that names it
// (by what it bounds and its value), only that connection closes, and a bystander keeps its round
// trips. Nothing surfaces as an internal error.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MESSAGE_BROKER } from '../../lib/index.js';
import type { SimpleBroker } from '../../lib/broker/simple/simple-broker.js';
import { rawConnected } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { Bystander,
  startWithBystander,
  stopWithBystander, CONNECT_12, expectErrorNaming, expectNoInternalErrors, request } from './hostile-support.js';

const MAX_UNACKED = 5;
const MAX_QUEUES = 7;
const MAX_HELD_BYTES = 3000;
const MAX_DESTINATION_LENGTH = 200;

describe('bounded broker state', () => {
  let running: RunningApp;
  let bystander: Bystander;

  beforeAll(async () => {
    ({ running, bystander } = await startWithBystander({
      broker: {
        kind: 'simple',
        maxUnackedMessages: MAX_UNACKED,
        maxHeldBytes: MAX_HELD_BYTES,
        maxDestinationLength: MAX_DESTINATION_LENGTH,
      },
    }));
  });
  afterAll(() => stopWithBystander(running, bystander));

  it('a client-ack subscriber that never acknowledges: an ERROR naming the unacknowledged bound, and only it closes', async () => {
    const destination = `/topic/${unique('unacked')}`;
    const { raw: hoarder } = await rawConnected(running.url, CONNECT_12);
    expect((await request(hoarder, 'SUBSCRIBE', { id: 'h', destination, ack: 'client-individual' }))?.command).toBe('RECEIPT');
    const { raw: publisher } = await rawConnected(running.url, CONNECT_12);
    for (let i = 0; i < MAX_UNACKED * 2; i++) {
      expect((await request(publisher, 'SEND', { destination }, `m${i}`))?.command).toBe('RECEIPT');
    }
    const error = await hoarder.nextMatching((f) => f.command === 'ERROR', 'an ERROR for the hoarder');
    expectErrorNaming(error, /unack|acknowledg/i);
    expect(error.headers['message']).toMatch(new RegExp(`\\b${MAX_UNACKED}\\b`));
    await hoarder.waitClosed();
    // It got no more than the bound (and the delivery that broke it) before the ERROR.
    expect(hoarder.frames.filter((f) => f.command === 'MESSAGE').length).toBeLessThanOrEqual(MAX_UNACKED + 1);
    expect(publisher.closeInfo).toBeUndefined();
    await bystander.roundTrip();
    await publisher.close();
    expectNoInternalErrors(running.logs);
  });

  it('bodies held for a queue nobody reads: the oldest are dropped at the held-bytes bound, another client can still queue', async () => {
    const destination = `/queue/${unique('held')}`;
    const { raw: attacker } = await rawConnected(running.url, CONNECT_12);
    for (let i = 0; i < 20; i++) {
      expect((await request(attacker, 'SEND', { destination }, 'y'.repeat(500)))?.command).toBe('RECEIPT');
    }
    expect(running.logs.expect('warn', `broker.maxHeldBytes (${MAX_HELD_BYTES} bytes)`)).toHaveLength(1);
    // Another client's SEND to a fresh queue is held, not refused.
    const { raw: other } = await rawConnected(running.url, CONNECT_12);
    const fresh = `/queue/${unique('fresh')}`;
    expect((await request(other, 'SEND', { destination: fresh }, 'mine'))?.command).toBe('RECEIPT');
    expect((await request(other, 'SUBSCRIBE', { id: 'f', destination: fresh }))?.command).toBe('RECEIPT');
    expect((await other.expect('MESSAGE')).body.toString()).toBe('mine');
    // Only one message larger than the whole bound is refused, naming it.
    const reply = await request(attacker, 'SEND', { destination }, 'z'.repeat(MAX_HELD_BYTES + 1));
    expectErrorNaming(reply, /held|hold|queue|full|bytes/i);
    expect(reply?.headers['message']).toMatch(new RegExp(`\\b${MAX_HELD_BYTES}\\b`));
    await attacker.waitClosed();
    expect(other.closeInfo).toBeUndefined();
    await bystander.roundTrip();
    await other.close();
    expectNoInternalErrors(running.logs);
  });

  it.each(['SUBSCRIBE', 'SEND'])('%s to a destination longer than the bound: an ERROR naming it', async (command) => {
    const { raw: attacker } = await rawConnected(running.url, CONNECT_12);
    const destination = `/topic/${'d'.repeat(MAX_DESTINATION_LENGTH)}`;
    const reply =
      command === 'SUBSCRIBE'
        ? await request(attacker, command, { id: 'x', destination })
        : await request(attacker, command, { destination }, 'x');
    expectErrorNaming(reply, /destination|long|length/i);
    expect(reply?.headers['message']).toMatch(new RegExp(`\\b${MAX_DESTINATION_LENGTH}\\b`));
    await attacker.waitClosed();
    await bystander.roundTrip();
    expectNoInternalErrors(running.logs);
  });

  it('SENDs to ever new queue names: the broker never holds more than the queue bound, and other clients can still make queues', async () => {
    // Its own app: the queues it fills stay (they hold a message each). Last in this file: Nest's
    // Logger is global, so from here on the library logs to this app's logger.
    const own = await startStompApp({ broker: { kind: 'simple', maxQueues: MAX_QUEUES } });
    try {
      const { raw: attacker } = await rawConnected(own.url, CONNECT_12);
      const broker = own.app.get(MESSAGE_BROKER) as SimpleBroker;
      for (let i = 0; i < MAX_QUEUES * 3; i++) {
        const reply = await request(attacker, 'SEND', { destination: `/queue/${unique('q')}` }, 'x');
        // Each new queue makes room by dropping the oldest held message: none is refused.
        expect(reply?.command).toBe('RECEIPT');
        expect(broker.stats().queues).toBeLessThanOrEqual(MAX_QUEUES);
      }
      expect(own.logs.expect('warn', `broker.maxQueues (${MAX_QUEUES})`)).toHaveLength(1);
      // What the attacker filled costs another client nothing: its user queue is made.
      const { raw: other } = await rawConnected(own.url, CONNECT_12);
      expect((await request(other, 'SUBSCRIBE', { id: 'errors', destination: '/user/queue/errors' }))?.command).toBe('RECEIPT');
      await other.close();
      await attacker.close();
      const ownBystander = await Bystander.connect(own.url, `/topic/${unique('bystander')}`);
      await ownBystander.roundTrip();
      await ownBystander.raw.close();
      expectNoInternalErrors(own.logs);
    } finally {
      await own.close();
    }
  });
});
