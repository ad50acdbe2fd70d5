import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { sessionOfDestination } from '../../lib/broker/destination-prefixes.js';
import { SubscriptionRegistry } from '../../lib/broker/simple/subscription-registry.js';

describe('resolved user destinations (issue 7, item 10)', () => {
  const id = randomUUID();

  it.each([`/queue/errors-user${id}`, `/topic/news-user${id}`, `/queue.a.b-user${id}`])('%s belongs to the session', (d) => {
    expect(sessionOfDestination(d)).toBe(id);
  });

  it.each(['/topic/power-user1', '/topic/news', `/topic/news-user${id}/more`, `/topic/news-user${id.toUpperCase()}`, `/topic/news-user${id.slice(1)}`, ''])(
    '%j belongs to no session',
    (d) => {
      expect(sessionOfDestination(d)).toBeUndefined();
    },
  );

  it('forEachMatch with exactOnly skips pattern subscribers', () => {
    const r = new SubscriptionRegistry<string>('/');
    r.add('/topic/**', 'pattern');
    r.add(`/topic/news-user${id}`, 'owner');
    const got: string[] = [];
    r.forEachMatch(`/topic/news-user${id}`, (s) => got.push(s), true);
    expect(got).toEqual(['owner']);
  });
});
