import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { SimpUserRegistry, StompMessagingTemplate, type StompModuleOptions } from '../../lib/index.js';
import { unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, sendConfirmed, subscribeConfirmed, type TestClient } from '../support/stomp-client.js';
import { startRelayApp } from './relay-app.js';

/** Two instances of one app sharing RabbitMQ, as behind a load balancer. */
const options: StompModuleOptions = {
  applicationDestinationPrefixes: ['/app'],
  // The CONNECT login names the user.
  authenticate: (request) => ({ user: request.login }),
  broker: { kind: 'relay', userRegistryBroadcastInterval: 100 },
};

/** Polls `check` (bounded in count) until it holds. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`Not reached: ${what}`);
}

describe('several instances behind one RabbitMQ', () => {
  let a: RunningApp;
  let b: RunningApp;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    a = await startRelayApp(options);
    b = await startRelayApp(options);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.disconnect().catch(() => undefined)));
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  async function client(app: RunningApp, login: string): Promise<TestClient> {
    const c = await connectClient(app.url, { connectHeaders: { login, passcode: 'x' } });
    clients.push(c);
    return c;
  }

  it('a message sent on instance A reaches subscribers on B, and the other way', async () => {
    const dest = `/topic/${unique('both')}`;
    const onA = await client(a, 'ann');
    const onB = await client(b, 'bob');
    const inboxA = new Inbox();
    const inboxB = new Inbox();
    await subscribeConfirmed(onA.client, dest, inboxA);
    await subscribeConfirmed(onB.client, dest, inboxB);
    await sendConfirmed(onA.client, dest, 'from A');
    await sendConfirmed(onB.client, dest, 'from B');
    await inboxB.waitFor(2);
    await inboxA.waitFor(2);
    expect(inboxB.bodies()).toEqual(['from A', 'from B']);
    expect(inboxA.bodies()).toEqual(['from A', 'from B']);
    // Server code on B publishes to A's subscriber too.
    await b.app.get(StompMessagingTemplate).convertAndSend(dest, 'template on B');
    await inboxA.waitForBody('template on B');
  });

  it('convertAndSendToUser on A reaches a user connected only to B, at once and once the registries know', async () => {
    const user = unique('carol');
    const carol = await client(b, user);
    const inbox = new Inbox();
    await subscribeConfirmed(carol.client, '/user/queue/notes', inbox);
    // Before A has heard B's registry: the unresolved-user broadcast carries it.
    await a.app.get(StompMessagingTemplate).convertAndSendToUser(user, '/queue/notes', 'first');
    await inbox.waitForBody('first');
    expect(inbox.messages[0].headers['destination']).toBe('/user/queue/notes');
    // A's registry lists the user of B, with the session and its subscription.
    const registry = a.app.get(SimpUserRegistry);
    // Eventually consistent, as Spring's: a snapshot taken between B's CONNECT and SUBSCRIBE lists
    // the session without the subscription until the next one.
    const subscribed = () => [...(registry.getUser(user)?.sessions.values() ?? [])].some((s) => s.isSubscribedTo('/user/queue/notes'));
    await eventually(subscribed, `A's registry lists ${user} subscribed to /user/queue/notes`);
    expect(registry.getUser(user)?.sessions.size).toBe(1);
    expect(registry.getUsers().map((u) => u.name)).toContain(user);
    // Now resolved on A to B's session destination, delivered once.
    await a.app.get(StompMessagingTemplate).convertAndSendToUser(user, '/queue/notes', 'second');
    await inbox.waitForBody('second');
    await a.app.get(StompMessagingTemplate).convertAndSendToUser(user, '/queue/notes', 'third');
    await inbox.waitForBody('third');
    expect(inbox.bodies()).toEqual(['first', 'second', 'third']);
  });

  it('a client SEND to /user/<name>/... on A reaches the user on B', async () => {
    const user = unique('dave');
    const dave = await client(b, user);
    const inbox = new Inbox();
    await subscribeConfirmed(dave.client, '/user/queue/mail', inbox);
    const sender = await client(a, 'erin');
    await sendConfirmed(sender.client, `/user/${user}/queue/mail`, 'hello dave');
    await inbox.waitForBody('hello dave');
    expect(inbox.bodies()).toEqual(['hello dave']);
  });
});
