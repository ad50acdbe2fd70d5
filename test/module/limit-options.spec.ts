import { describe, expect, it } from '@jest/globals';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import type { StompLimits } from '../../lib/index.js';

describe('resolveStompOptions: sendTimeLimit, maxSessions, maxSessionsPerUser, inboundHighWaterMark', () => {
  it('defaults: sendTimeLimit 10000 ms (Spring\'s), no session limits, inboundHighWaterMark 256', () => {
    const { limits } = resolveStompOptions({});
    expect(limits).toMatchObject({ sendTimeLimit: 10_000, maxSessions: 0, maxSessionsPerUser: 0, inboundHighWaterMark: 256 });
  });

  it('takes 0 (off) and whole numbers', () => {
    const { limits } = resolveStompOptions({ limits: { sendTimeLimit: 0, maxSessions: 5000, maxSessionsPerUser: 3, inboundHighWaterMark: 16 } });
    expect(limits).toMatchObject({ sendTimeLimit: 0, maxSessions: 5000, maxSessionsPerUser: 3, inboundHighWaterMark: 16 });
  });

  it('refuses negative, fractional, non-numeric and too long values, all in one error', () => {
    const bad = { sendTimeLimit: 2 ** 31, maxSessions: -1, maxSessionsPerUser: 1.5, inboundHighWaterMark: 0 } as StompLimits;
    let message = '';
    try {
      resolveStompOptions({ limits: bad });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n').slice(1)).toEqual([
      '  - limits.inboundHighWaterMark must be a positive integer, got 0',
      '  - limits.sendTimeLimit must be a whole number of milliseconds from 0 (off) to 2147483647, got 2147483648',
      '  - limits.maxSessions must be a whole number of sessions from 0 (no limit) to 9007199254740991, got -1',
      '  - limits.maxSessionsPerUser must be a whole number of sessions from 0 (no limit) to 9007199254740991, got 1.5',
    ]);
    expect(() => resolveStompOptions({ limits: { maxSessions: '10' as unknown as number } })).toThrow(
      'limits.maxSessions must be a whole number of sessions from 0 (no limit) to 9007199254740991, got "10"',
    );
  });
});
