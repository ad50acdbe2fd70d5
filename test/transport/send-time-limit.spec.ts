import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { SendTimeWatch, type SendProgress } from '../../lib/transport/send-time-limit.js';

/** A connection whose unsent bytes and progress the test sets. */
class Probe implements SendProgress {
  unsent = 0;
  sent = 0;
  stalls = 0;
  unsentBytes(): number {
    return this.unsent;
  }
  progress(): number {
    return this.sent;
  }
  stalled(): void {
    this.stalls++;
  }
}

describe('SendTimeWatch (limits.sendTimeLimit)', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('arms no timer while nothing waits, so a client that keeps up costs none', () => {
    const probe = new Probe();
    const watch = new SendTimeWatch(1000, probe);
    for (let i = 0; i < 100; i++) watch.pending();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('reports a stall after a limit without progress while bytes wait, once, and stops', () => {
    const probe = new Probe();
    const watch = new SendTimeWatch(1000, probe);
    probe.unsent = 10;
    watch.pending();
    watch.pending();
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(999);
    expect(probe.stalls).toBe(0);
    jest.advanceTimersByTime(1);
    expect(probe.stalls).toBe(1);
    expect(jest.getTimerCount()).toBe(0);
    watch.pending();
    jest.advanceTimersByTime(5000);
    expect(probe.stalls).toBe(1);
  });

  it('does not report a client that makes progress, however long bytes wait', () => {
    const probe = new Probe();
    const watch = new SendTimeWatch(1000, probe);
    probe.unsent = 10;
    watch.pending();
    for (let i = 0; i < 40; i++) {
      jest.advanceTimersByTime(500);
      probe.sent++;
    }
    expect(probe.stalls).toBe(0);
    // Then it stops: reported 1 to 1.25 limits after its last progress.
    jest.advanceTimersByTime(999);
    expect(probe.stalls).toBe(0);
    jest.advanceTimersByTime(251);
    expect(probe.stalls).toBe(1);
  });

  it('disarms once nothing waits, and starts afresh when bytes wait again', () => {
    const probe = new Probe();
    const watch = new SendTimeWatch(1000, probe);
    probe.unsent = 10;
    watch.pending();
    jest.advanceTimersByTime(600);
    probe.unsent = 0;
    jest.advanceTimersByTime(250);
    expect(jest.getTimerCount()).toBe(0);
    probe.unsent = 5;
    watch.pending();
    jest.advanceTimersByTime(999);
    expect(probe.stalls).toBe(0);
    jest.advanceTimersByTime(1);
    expect(probe.stalls).toBe(1);
  });

  it('stop() ends the watch', () => {
    const probe = new Probe();
    const watch = new SendTimeWatch(1000, probe);
    probe.unsent = 10;
    watch.pending();
    watch.stop();
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(5000);
    expect(probe.stalls).toBe(0);
  });
});
