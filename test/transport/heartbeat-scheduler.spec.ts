import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { HeartbeatScheduler, type HeartbeatTarget } from '../../lib/transport/heartbeat-scheduler.js';

/** Records what the scheduler asks for; `readingPaused` is set by the test. */
class RecordingTarget implements HeartbeatTarget {
  beats = 0;
  expired: number[] = [];
  readingPaused = false;
  sendHeartbeat(): void {
    this.beats++;
  }
  heartbeatExpired(window: number): void {
    this.expired.push(window);
  }
}

/** Lets the turn after a check run: an expiry is decided there (after that turn's reads). */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// Fake timers: the test advances a virtual clock, nothing waits and nothing is measured.
// setImmediate stays real: it is the turn in which an expiry is decided.
describe('HeartbeatScheduler', () => {
  let target: RecordingTarget;
  let scheduler: HeartbeatScheduler;

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    target = new RecordingTarget();
    scheduler = new HeartbeatScheduler(target, 2);
  });

  afterEach(() => {
    scheduler.stop();
    jest.useRealTimers();
  });

  describe('outgoing (server to client)', () => {
    it('sends an EOL every half interval while nothing else is written', () => {
      scheduler.start({ serverToClient: 10_000, clientToServer: 0 });
      jest.advanceTimersByTime(4_999);
      expect(target.beats).toBe(0);
      jest.advanceTimersByTime(1);
      expect(target.beats).toBe(1);
      jest.advanceTimersByTime(15_000);
      expect(target.beats).toBe(4);
    });

    it('sends none in a half interval in which something was written, and resumes after it', () => {
      scheduler.start({ serverToClient: 10_000, clientToServer: 0 });
      for (let i = 0; i < 4; i++) {
        jest.advanceTimersByTime(2_500);
        scheduler.wrote = true;
        jest.advanceTimersByTime(2_500);
      }
      expect(target.beats).toBe(0);
      // The flag is per tick: a tick with no write since the previous one beats again.
      jest.advanceTimersByTime(5_000);
      expect(target.beats).toBe(1);
    });

    it('a write just after a tick still leaves at most one interval of silence', () => {
      scheduler.start({ serverToClient: 10_000, clientToServer: 0 });
      jest.advanceTimersByTime(5_001);
      expect(target.beats).toBe(1);
      scheduler.wrote = true;
      // Ticks at 10 000 (skipped: written) and 15 000 (beats): 9 999 ms after the write.
      jest.advanceTimersByTime(9_999);
      expect(target.beats).toBe(2);
    });
  });

  describe('incoming (client to server)', () => {
    it('a byte read in the turn the check fires (after the event loop was blocked) is not a timeout', async () => {
      scheduler.start({ serverToClient: 0, clientToServer: 1_000 });
      jest.advanceTimersByTime(2_000);
      // The check found nothing read, but the client's heart-beat was waiting in the socket and is
      // read in this same turn, before the verdict.
      scheduler.read = true;
      await nextTurn();
      expect(target.expired).toEqual([]);
      jest.advanceTimersByTime(2_000);
      await nextTurn();
      expect(target.expired).toEqual([2_000]);
    });

    it('expires after clientToServer × tolerance ms with nothing read, once, and stops every timer', async () => {
      scheduler.start({ serverToClient: 10_000, clientToServer: 1_000 });
      jest.advanceTimersByTime(1_999);
      await nextTurn();
      expect(target.expired).toEqual([]);
      jest.advanceTimersByTime(1);
      await nextTurn();
      expect(target.expired).toEqual([2_000]);
      const beats = target.beats;
      jest.advanceTimersByTime(60_000);
      await nextTurn();
      expect(target.expired).toEqual([2_000]);
      expect(target.beats).toBe(beats);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('does not expire while something is read in every window', async () => {
      scheduler.start({ serverToClient: 0, clientToServer: 1_000 });
      for (let i = 0; i < 10; i++) {
        jest.advanceTimersByTime(1_500);
        await nextTurn();
        scheduler.read = true;
        jest.advanceTimersByTime(500);
        await nextTurn();
      }
      expect(target.expired).toEqual([]);
      // Then silence (last byte at 19 500): the check at 20 000 still sees it, the one at 22 000 expires.
      jest.advanceTimersByTime(1_999);
      await nextTurn();
      expect(target.expired).toEqual([]);
      jest.advanceTimersByTime(1);
      await nextTurn();
      expect(target.expired).toEqual([2_000]);
    });

    it('what was read before start does not count for the first window', async () => {
      scheduler.read = true;
      scheduler.start({ serverToClient: 0, clientToServer: 1_000 });
      jest.advanceTimersByTime(2_000);
      await nextTurn();
      expect(target.expired).toEqual([2_000]);
    });

    it('never expires while the session holds back reading, and expires a window after reading resumes', async () => {
      scheduler.start({ serverToClient: 0, clientToServer: 1_000 });
      target.readingPaused = true;
      jest.advanceTimersByTime(20_000);
      await nextTurn();
      expect(target.expired).toEqual([]);
      target.readingPaused = false;
      jest.advanceTimersByTime(2_000);
      await nextTurn();
      expect(target.expired).toEqual([2_000]);
    });

    it('rounds the window for a fractional tolerance', async () => {
      const fractional = new HeartbeatScheduler(target, 1.5);
      fractional.start({ serverToClient: 0, clientToServer: 1_001 });
      jest.advanceTimersByTime(1_501);
      await nextTurn();
      expect(target.expired).toEqual([]);
      jest.advanceTimersByTime(1);
      await nextTurn();
      expect(target.expired).toEqual([1_502]);
      fractional.stop();
    });
  });

  it('arms no timer for a direction turned off (0)', () => {
    scheduler.start({ serverToClient: 0, clientToServer: 0 });
    expect(jest.getTimerCount()).toBe(0);
    scheduler.start({ serverToClient: 1_000, clientToServer: 0 });
    expect(jest.getTimerCount()).toBe(1);
    scheduler.start({ serverToClient: 0, clientToServer: 1_000 });
    expect(jest.getTimerCount()).toBe(1);
  });

  it('stop() clears both timers; a second start() replaces the first one\'s timers', () => {
    scheduler.start({ serverToClient: 1_000, clientToServer: 1_000 });
    scheduler.start({ serverToClient: 1_000, clientToServer: 1_000 });
    expect(jest.getTimerCount()).toBe(2);
    jest.advanceTimersByTime(500);
    expect(target.beats).toBe(1);
    scheduler.stop();
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(60_000);
    expect(target.beats).toBe(1);
    expect(target.expired).toEqual([]);
    // Idempotent.
    expect(() => scheduler.stop()).not.toThrow();
  });
});
