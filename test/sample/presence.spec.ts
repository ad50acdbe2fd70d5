import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PresenceService } from '../../sample/presence/presence.service.js';
import { barrier, connectAs, inboxOf, json } from '../support/handler-fixtures.js';
import { RawStompClient, rawConnected } from '../support/raw-client.js';
import { startSample, type RunningSample } from '../support/sample-app.js';
import { Inbox, subscribeConfirmed, type TestClient } from '../support/stomp-client.js';

/** The `n`-th list published on /topic/presence (1-based), once it arrived. */
async function nthList(inbox: Inbox, n: number): Promise<string[]> {
  const messages = await inbox.waitFor(n);
  return json<string[]>(messages[n - 1]);
}

/**
 * Waits (bounded) until the latest list published equals `expected`; returns how many lists were
 * published by then. Presence publishes only when the list changes, at most once per 250 ms.
 */
async function untilList(inbox: Inbox, expected: string[]): Promise<number> {
  for (let i = 0; i < 1000; i++) {
    const last = inbox.messages.at(-1);
    if (last !== undefined && JSON.stringify(json<string[]>(last)) === JSON.stringify(expected)) return inbox.messages.length;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`presence never published ${JSON.stringify(expected)}`);
}

describe('the sample: presence from the lifecycle events', () => {
  let sample: RunningSample;
  let watcher: TestClient;
  let presence: Inbox;

  beforeAll(async () => {
    sample = await startSample('ann:secret,bob:hunter2');
    // Anonymous (on the guide's endpoint, where no login is needed): it watches, and is never listed itself.
    watcher = await connectAs(sample.anonymousUrl);
    presence = await inboxOf(watcher, '/topic/presence');
  });
  afterAll(async () => {
    await watcher?.disconnect();
    await sample?.close();
  });

  it('lists both users after both connect, and only the one left after the other disconnects', async () => {
    const ann = await connectAs(sample.url, 'ann', 'secret');
    expect(await nthList(presence, 1)).toEqual(['ann']);
    const bob = await connectAs(sample.url, 'bob', 'hunter2');
    expect(await nthList(presence, 2)).toEqual(['ann', 'bob']);
    expect(presence.messages[1].headers['content-type']).toBe('application/json');

    await ann.disconnect();
    expect(await nthList(presence, 3)).toEqual(['bob']);
    await bob.disconnect();
    expect(await nthList(presence, 4)).toEqual([]);
    expect(sample.app.get(PresenceService).online()).toEqual([]);
  });

  it('counts a user with two sessions once, until the last one ends (here by a TCP reset); the list is sorted', async () => {
    const zed = await connectAs(sample.url, 'zed', 'any');
    await untilList(presence, ['zed']);
    const first = await rawConnected(sample.url, { 'accept-version': '1.2', host: 'localhost', login: 'ann', passcode: 'secret' });
    const afterAnn = await untilList(presence, ['ann', 'zed']);
    // ann's second session and an anonymous one leave the list as it is: nothing is published.
    const second = await connectAs(sample.url, 'ann', 'secret');
    const newcomer = await connectAs(sample.anonymousUrl);
    // A newcomer asks for the list as it is now: the @SubscribeMapping answers once.
    const now = new Inbox();
    await subscribeConfirmed(newcomer.client, '/app/presence', now);
    expect(json(now.messages[0])).toEqual(['ann', 'zed']);

    await second.disconnect(); // ann still has a session
    first.raw.ws.terminate(); // no DISCONNECT, no close frame
    const afterLeave = await untilList(presence, ['zed']);
    expect(afterLeave).toBe(afterAnn + 1);

    await zed.disconnect();
    await untilList(presence, []);
    await newcomer.disconnect();
  });

  it('refuses a client SEND to /topic/presence (only the server publishes there) with an ERROR naming it', async () => {
    const start = presence.messages.length;
    const forger = await connectAs(sample.url, 'mallory', 'any');
    await nthList(presence, start + 1); // ['mallory']
    const receipt = 'forged-presence';
    forger.client.publish({ destination: '/topic/presence', body: '["nobody"]', headers: { receipt } });
    const error = await forger.nextError();
    expect(error.headers['message']).toBe('SEND to /topic/presence is not allowed (access denied)');
    expect(error.headers['receipt-id']).toBe(receipt);
    expect(await forger.closed).toBe(1008);
    expect(sample.logs.expect('warn', /\): SEND to "\/topic\/presence" denied/)).toEqual([
      expect.stringMatching(/^Session [0-9a-f-]{36} \(user "mallory"\): SEND to "\/topic\/presence" denied \(rule 1\b.*StompAuthorization$/),
    ]);
    // The watcher saw the server's lists only: mallory joining and leaving, never the forged one.
    expect(await nthList(presence, start + 2)).toEqual([]);
    await barrier(watcher);
    expect(presence.messages.slice(start).map((m) => JSON.parse(m.body) as unknown)).toEqual([['mallory'], []]);
  });

  it('does not list, or publish for, a refused log-in or a name longer than 64 characters', async () => {
    const start = presence.messages.length;
    const { raw } = await rawOpenConnect(sample.url, { 'accept-version': '1.2', host: 'localhost', login: 'ann', passcode: 'wrong' });
    expect((await raw.expect('ERROR')).headers['message']).toBe('Wrong passcode for user ann');
    await raw.waitClosed();
    const long = await rawOpenConnect(sample.url, { 'accept-version': '1.2', host: 'localhost', login: 'x'.repeat(65) });
    expect((await long.raw.expect('ERROR')).headers['message']).toBe('User names are at most 64 characters');
    await long.raw.waitClosed();
    // The next list published is the next log-in's: nothing was published for the refused ones.
    const cy = await connectAs(sample.url, 'cy', 'any');
    expect(await nthList(presence, start + 1)).toEqual(['cy']);
    await cy.disconnect();
    expect(await nthList(presence, start + 2)).toEqual([]);
  });
});

async function rawOpenConnect(url: string, headers: Record<string, string>): Promise<{ raw: RawStompClient }> {
  const raw = await RawStompClient.open(url);
  raw.sendFrame('CONNECT', headers);
  return { raw };
}
