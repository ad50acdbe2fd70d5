// GET /stats on the real sample (sample/main.ts bootstrap) with real @stomp/stompjs clients. Waits
// are bounded polls on the figure itself, never sleeps.
import { afterEach, describe, expect, it } from '@jest/globals';
import type { StompStatsSnapshot } from '../../lib/index.js';
import { connectAs } from '../support/handler-fixtures.js';
import { startSample, type RunningSample } from '../support/sample-app.js';
import { GUARD_MS, withTimeout, type TestClient } from '../support/stomp-client.js';

async function getStats(sample: RunningSample): Promise<{ status: number; body: StompStatsSnapshot }> {
  const response = await withTimeout(fetch(`${sample.httpUrl}/stats`), 'GET /stats');
  return { status: response.status, body: (await response.json()) as StompStatsSnapshot };
}

/** GETs /stats until `sessions.current` is `expected` (at most GUARD_MS, every 10 ms); returns that snapshot. */
async function statsWhenCurrent(sample: RunningSample, expected: number): Promise<StompStatsSnapshot> {
  const deadline = Date.now() + GUARD_MS;
  let last: StompStatsSnapshot | undefined;
  for (let i = 0; i < 1000 && Date.now() <= deadline; i++) {
    last = (await getStats(sample)).body;
    if (last.sessions.current === expected) return last;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`GET /stats never showed sessions.current ${expected}; last: ${JSON.stringify(last?.sessions)}`);
}

describe('the sample: GET /stats', () => {
  let sample: RunningSample | undefined;
  const clients: TestClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.disconnect();
    await sample?.close();
    sample = undefined;
  });

  it('returns the stats snapshot as JSON; sessions.current is the number of open STOMP sessions', async () => {
    sample = await startSample('ann:secret,bob:hunter2');
    const empty = await getStats(sample);
    expect(empty.status).toBe(200);
    expect(empty.body.sessions).toMatchObject({ current: 0, total: 0 });

    const ann = await connectAs(sample.url, 'ann', 'secret');
    const bob = await connectAs(sample.url, 'bob', 'hunter2');
    clients.push(bob);
    const two = await statsWhenCurrent(sample, 2);
    expect(two.sessions).toEqual({
      current: 2,
      total: 2,
      byEndpoint: { '/ws': { current: 2, total: 2 } },
      byTransport: { websocket: { current: 2, total: 2 } },
    });
    expect(two.frames.in.CONNECT).toBe(2);
    expect(two.frames.out.CONNECTED).toBe(2);

    await ann.disconnect();
    const one = await statsWhenCurrent(sample, 1);
    expect(one.sessions).toMatchObject({ current: 1, total: 2 });
    expect(one.disconnects['client-disconnect']).toBe(1);
  });
});
