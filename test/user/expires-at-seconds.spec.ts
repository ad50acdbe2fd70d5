// `expiresAt` is ms since the epoch. A JWT's `exp` passed as is (seconds) used to be accepted:
// CONNECTED, then at once ERROR CREDENTIALS_EXPIRED "expired at 1970-01-21…", which sends the
// reader looking for a clock problem. Now the CONNECT is refused with a message that says why.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStompApp, type RunningApp } from '../support/stomp-app.js';
import { connectExpectingError, startClient, withTimeout } from '../support/stomp-client.js';

describe('expiresAt given in seconds', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({
      authenticate: ({ login }) => {
        const exp = Math.floor(Date.now() / 1000) + 3600; // a JWT's exp: seconds
        return login === 'seconds' ? { user: login, expiresAt: exp } : { user: login ?? 'x', expiresAt: exp * 1000 };
      },
    });
  });
  afterAll(async () => {
    await running.close();
  });

  it('refuses the CONNECT (1008) with a message naming seconds, one warning', async () => {
    const outcome = await connectExpectingError(running.url, { connectHeaders: { login: 'seconds' } });
    expect(outcome.connected).toBe(false);
    expect(outcome.closeCode).toBe(1008);
    expect(outcome.error?.headers['message']).toMatch(
      /^authenticate gave expiresAt \d{10}, which looks like seconds \(ms since the epoch expected, a JWT's exp \* 1000\)$/,
    );
    expect(running.logs.expect('warn', 'looks like seconds')).toHaveLength(1);
  });

  it('accepts the same expiry in ms', async () => {
    const client = startClient(running.url, { connectHeaders: { login: 'ms' } });
    expect((await withTimeout(client.connected, 'CONNECTED')).headers['user-name']).toBe('ms');
    await client.client.deactivate();
  });
});
