// Issue 7, heart-beat numbers: values a client may write in `heart-beat` (up to 10 digits) that no
// timer can hold. Either the CONNECT is refused with an ERROR that names the heart-beat, or the
// session runs with intervals a timer can hold: no spurious "No heart-beat received" ERROR, no
// flood of EOLs, no TimeoutOverflowWarning. Time is judged against an observer's heart-beats
// (floor 100 ms), never by a clock.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { rawConnected, RawStompClient } from '../support/raw-client.js';
import { startStompApp, type RunningApp } from '../support/stomp-app.js';
import { Bystander, CONNECT_12, expectErrorNaming, expectNoInternalErrors } from './hostile-support.js';

/** The largest delay Node's timers accept (ms); anything above fires after 1 ms. */
const TIMER_MAX = 2 ** 31 - 1;

describe('hostile heart-beat values', () => {
  let running: RunningApp;
  let observer: RawStompClient;
  let bystander: Bystander;
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);

  beforeAll(async () => {
    running = await startStompApp({ broker: { kind: 'simple', heartbeat: { floor: 100 } } });
    // Receives an EOL about every 100 ms: the yardstick for "a while".
    observer = (await rawConnected(running.url, { ...CONNECT_12, 'heart-beat': '0,100' })).raw;
    bystander = await Bystander.connect(running.url, '/topic/hb-bystander');
  });
  afterAll(async () => {
    await observer.close();
    await bystander.raw.close();
    await running.close();
  });
  beforeEach(() => {
    warnings.length = 0;
    process.on('warning', onWarning);
  });
  afterEach(() => {
    process.off('warning', onWarning);
  });

  const CASES = [
    '1073741824,0', // the receive window (2 × tolerance) overflows: ERROR "No heart-beat received for 2147483648 ms"
    '0,4294967296', // half the send interval overflows: an EOL every millisecond
    '0,2147483648',
    '2147483647,2147483647',
    '9999999999,9999999999',
  ];

  it.each(CASES)('CONNECT heart-beat:%s: refused by name, or a session that neither times out nor floods', async (value) => {
    const attacker = await RawStompClient.open(running.url);
    attacker.sendFrame('CONNECT', { ...CONNECT_12, 'heart-beat': value });
    const reply = await attacker.next();
    if (reply.command === 'ERROR') {
      expectErrorNaming(reply, /heart-?beat/i);
      expect(reply.headers['message']).not.toMatch(/No heart-beat received/i);
      await attacker.waitClosed();
    } else {
      expect(reply.command).toBe('CONNECTED');
      // What the server announces must be intervals it can keep.
      const announced = (reply.headers['heart-beat'] ?? '0,0').split(',').map(Number);
      for (const n of announced) expect(n).toBeLessThanOrEqual(TIMER_MAX);
      // The attacker stays silent while the observer receives 4 more heart-beats (~400 ms).
      const start = observer.heartbeats;
      const attackerStart = attacker.heartbeats;
      await observer.waitForHeartbeats(start + 4);
      expect(attacker.frames.filter((f) => f.command === 'ERROR')).toEqual([]);
      expect(attacker.closeInfo).toBeUndefined();
      // No more heart-beats than a client that asked for the floor would get.
      expect(attacker.heartbeats - attackerStart).toBeLessThanOrEqual(observer.heartbeats - start + 2);
      await attacker.close();
    }
    expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning').map((w) => w.message)).toEqual([]);
    await bystander.roundTrip();
    expectNoInternalErrors(running.logs);
  });
});
