import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStompApp, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, subscribeConfirmed } from '../support/stomp-client.js';

describe('smoke', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({});
  });
  afterAll(() => running.close());

  it('relays a SEND to a topic subscriber', async () => {
    const a = await connectClient(running.url);
    const b = await connectClient(running.url);
    expect(a.connected.headers['version']).toBe('1.2');
    const inbox = new Inbox();
    await subscribeConfirmed(b.client, '/topic/x', inbox);
    a.client.publish({ destination: '/topic/x', body: 'hello' });
    const [m] = await inbox.waitFor(1);
    expect(m.body).toBe('hello');
    await a.disconnect();
    await b.disconnect();
  });
});
