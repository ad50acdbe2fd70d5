import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RawStompClient, rawConnected, unescapeValue } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, sendConfirmed, subscribeConfirmed } from '../support/stomp-client.js';

/** Sends one frame on a fresh connection and returns the ERROR it earns (the connection then closes). */
async function errorFor(
  url: string,
  command: string,
  headers: Record<string, string>,
  body = '',
  connect?: Record<string, string>,
): Promise<string> {
  const { raw } = await rawConnected(url, connect);
  raw.sendFrame(command, headers, body);
  const error = await raw.expect('ERROR');
  await raw.waitClosed();
  expect(raw.frames.at(-1)?.command).toBe('ERROR');
  return unescapeValue(error.headers['message']);
}

/**
 * Sends a SEND to an unmapped application destination and returns what its sender is told on
 * its error destination: the session stays open (the frame's receipt follows the error reply).
 */
async function unmappedReport(url: string, destination: string, errors = '/user/queue/errors'): Promise<string> {
  return (await unservedReport(url, 'SEND', { destination }, errors)).message;
}

/**
 * Sends one SEND or SUBSCRIBE nothing serves and returns the reply its sender gets on its error
 * destination. The session stays open: the frame's receipt follows, and a reported SUBSCRIBE
 * can be unsubscribed.
 */
async function unservedReport(
  url: string,
  command: 'SEND' | 'SUBSCRIBE',
  headers: Record<string, string>,
  errors = '/user/queue/errors',
): Promise<{ status: string; message: string; destination: string }> {
  const { raw } = await rawConnected(url);
  raw.sendFrame('SUBSCRIBE', { id: 'errors', destination: errors, receipt: 'subscribed' });
  await raw.expect('RECEIPT');
  raw.sendFrame(command, { ...headers, receipt: 'sent' }, command === 'SEND' ? 'x' : '');
  const reply = await raw.expect('MESSAGE');
  expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe('sent');
  if (command === 'SUBSCRIBE') {
    raw.sendFrame('UNSUBSCRIBE', { id: headers.id, receipt: 'unsubscribed' });
    expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe('unsubscribed');
  }
  await raw.close();
  return JSON.parse(reply.body.toString()) as { status: string; message: string; destination: string };
}

describe('destinations and routing', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({});
  });
  afterAll(() => running.close());

  it.each([
    ['SEND', { destination: '/nowhere/x' }],
    ['SUBSCRIBE', { id: 's', destination: '/nowhere/x' }],
    // A prefix covers whole segments only: /topics is not under /topic.
    ['SEND', { destination: '/topics/x' }],
    ['SUBSCRIBE', { id: 's', destination: 'topic/x' }],
  ])('tells the sender of %s %j that no prefix matches, naming the prefixes, and keeps the session', async (command, headers) => {
    const reply = await unservedReport(running.url, command as 'SEND' | 'SUBSCRIBE', headers);
    expect(reply).toEqual({
      status: 'error',
      message: `Destination ${headers.destination} matches no configured prefix (/app, /topic, /queue, /user)`,
      destination: headers.destination,
    });
    expect(running.logs.expect('warn', `Destination "${headers.destination}" matches no configured prefix`).length).toBeGreaterThan(0);
  });

  it('accepts the prefix itself and dot-continued destinations', async () => {
    const c = await connectClient(running.url);
    for (const d of ['/topic', `/topic.${unique()}`]) {
      const inbox = new Inbox();
      await subscribeConfirmed(c.client, d, inbox);
      await sendConfirmed(c.client, d, d);
      expect((await inbox.waitFor(1))[0].body).toBe(d);
    }
    await c.disconnect();
  });

  it('tells the sender of a SEND to an application destination nobody handles, and keeps the session', async () => {
    expect(await unmappedReport(running.url, '/app/definitely-unmapped')).toBe('No @MessageMapping handler for /app/definitely-unmapped');
  });

  it.each([
    ['SEND', {}, "SEND frame requires a 'destination' header"],
    ['SUBSCRIBE', { id: 's' }, "SUBSCRIBE frame requires a 'destination' header"],
    ['SUBSCRIBE', { destination: '/topic/x' }, "SUBSCRIBE frame requires a 'id' header"],
    ['UNSUBSCRIBE', {}, "UNSUBSCRIBE frame requires a 'id' header"],
    ['UNSUBSCRIBE', { id: 'never' }, 'No subscription with id "never" in this session'],
    ['SUBSCRIBE', { id: 's', destination: '/topic/x', ack: 'sometimes' }, 'Invalid ack mode "sometimes": use auto, client or client-individual'],
    ['BEGIN', {}, "BEGIN frame requires a 'transaction' header"],
    ['ACK', {}, 'ACK needs an id header'],
  ])('refuses %s %j: %s', async (command, headers, expected) => {
    expect(await errorFor(running.url, command, headers)).toBe(expected);
  });

  it('refuses a second SUBSCRIBE with an id already in use', async () => {
    const { raw } = await rawConnected(running.url);
    raw.sendFrame('SUBSCRIBE', { id: 'dup', destination: '/topic/a', receipt: 'one' });
    await raw.expect('RECEIPT');
    raw.sendFrame('SUBSCRIBE', { id: 'dup', destination: '/topic/b' });
    expect(unescapeValue((await raw.expect('ERROR')).headers['message'])).toBe(
      'Subscription id "dup" is already in use in this session',
    );
    await raw.waitClosed();
  });

  it('lets a subscription id be reused after UNSUBSCRIBE', async () => {
    const { raw } = await rawConnected(running.url);
    const dest = `/topic/${unique()}`;
    raw.sendFrame('SUBSCRIBE', { id: 'again', destination: '/topic/old' });
    raw.sendFrame('UNSUBSCRIBE', { id: 'again' });
    raw.sendFrame('SUBSCRIBE', { id: 'again', destination: dest });
    raw.sendFrame('SEND', { destination: dest }, 'reused');
    const m = await raw.expect('MESSAGE');
    expect(m.headers['subscription']).toBe('again');
    expect(m.body.toString()).toBe('reused');
    await raw.close();
  });

  it('in STOMP 1.0, lets SUBSCRIBE omit the id (the destination names it) and UNSUBSCRIBE by destination', async () => {
    const raw = await RawStompClient.open(running.url);
    raw.sendFrame('CONNECT', {});
    expect((await raw.expect('CONNECTED')).headers['version']).toBe('1.0');
    const dest = `/topic/${unique()}`;
    raw.sendFrame('SUBSCRIBE', { destination: dest });
    raw.sendFrame('SEND', { destination: dest }, 'v10');
    const m = await raw.expect('MESSAGE');
    expect(m.headers['subscription']).toBe(dest);
    expect(m.body.toString()).toBe('v10');
    raw.sendFrame('UNSUBSCRIBE', { destination: dest, receipt: 'u' });
    expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe('u');
    raw.sendFrame('SEND', { destination: dest, receipt: 'after' }, 'gone');
    // The next frame is the receipt: no MESSAGE for the removed subscription.
    expect((await raw.next()).command).toBe('RECEIPT');
    await raw.close();
  });
});

describe('custom prefixes', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({
      applicationDestinationPrefixes: ['/api'],
      // '/queue' stays a (topic-like) broker prefix: the default errorDestination lives under it.
      broker: { kind: 'simple', prefixes: ['/exchange/', '/amq/queue', '/queue'], queuePrefixes: ['/amq/queue'] },
    });
  });
  afterAll(() => running.close());

  it('routes the configured broker prefixes and refuses the defaults', async () => {
    const c = await connectClient(running.url);
    const inbox = new Inbox();
    const dest = `/exchange/${unique()}`;
    await subscribeConfirmed(c.client, dest, inbox);
    await sendConfirmed(c.client, dest, 'custom');
    expect((await inbox.waitFor(1))[0].body).toBe('custom');
    await c.disconnect();
    const reply = await unservedReport(running.url, 'SUBSCRIBE', { id: 's', destination: '/topic/x' }, '/user/amq/queue/errors');
    expect(reply.message).toBe('Destination /topic/x matches no configured prefix (/api, /exchange, /amq/queue, /queue, /user)');
  });

  it('gives the configured queue prefix queue semantics', async () => {
    const dest = `/amq/queue/${unique()}`;
    const pub = await connectClient(running.url);
    await sendConfirmed(pub.client, dest, 'held');
    const sub = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(sub.client, dest, inbox);
    expect((await inbox.waitFor(1))[0].body).toBe('held');
    await pub.disconnect();
    await sub.disconnect();
  });

  it('sends application destinations of the custom prefix to the handler layer', async () => {
    // The default errorDestination is under the first queue prefix: /amq/queue/errors.
    expect(await unmappedReport(running.url, '/api/definitely-unmapped', '/user/amq/queue/errors')).toBe('No @MessageMapping handler for /api/definitely-unmapped');
  });
});

describe("unmappedDestination: 'close': a destination nothing serves is an ERROR, then close (the STOMP spec's way)", () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({ unmappedDestination: 'close' });
  });
  afterAll(() => running.close());

  it.each([
    ['SEND', { destination: '/nowhere/x' }, 'Destination /nowhere/x matches no configured prefix (/app, /topic, /queue, /user)'],
    ['SUBSCRIBE', { id: 's', destination: '/topics/x' }, 'Destination /topics/x matches no configured prefix (/app, /topic, /queue, /user)'],
    ['SEND', { destination: '/user/ann/nowhere' }, 'User destination /user/ann/nowhere does not lead to a broker destination (/topic, /queue)'],
  ])('%s %j', async (command, headers, expected) => {
    expect(await errorFor(running.url, command, headers)).toBe(expected);
  });
});

describe('a user destination that leads to no broker destination is reported like any unserved destination', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({});
  });
  afterAll(() => running.close());

  it.each([
    ['SEND', { destination: '/user/ann/nowhere' }],
    ['SUBSCRIBE', { id: 's', destination: '/user/nowhere' }],
  ])('%s %j', async (command, headers) => {
    const reply = await unservedReport(running.url, command as 'SEND' | 'SUBSCRIBE', headers);
    expect(reply.message).toBe(`User destination ${headers.destination} does not lead to a broker destination (/topic, /queue)`);
    expect(running.logs.expect('warn', 'does not lead to a broker destination')).not.toHaveLength(0);
  });
});

describe("another session's user destinations are private (issue 7, item 10)", () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({});
  });
  afterAll(() => running.close());

  it('refuses a direct SUBSCRIBE or SEND to another session\'s resolved destination', async () => {
    const { raw: owner, connected } = await rawConnected(running.url);
    const ownerId = connected.headers['session'];
    owner.sendFrame('SUBSCRIBE', { id: 'errors', destination: '/user/queue/errors', receipt: 's' });
    await owner.expect('RECEIPT');
    const resolved = `/queue/errors-user${ownerId}`;
    for (const [command, headers] of [
      ['SUBSCRIBE', { id: 'steal', destination: resolved }],
      ['SEND', { destination: resolved }],
      ['SUBSCRIBE', { id: 'steal', destination: `/topic/news-user${ownerId}` }],
    ] as const) {
      const message = await errorFor(running.url, command, headers, command === 'SEND' ? '{"status":"error","message":"forged"}' : '');
      expect(message).toBe(`${command} to ${headers.destination} is refused: it is another session's user destination (use /user/... destinations)`);
    }
    // Nothing reached the owner: a receipt round trip comes next.
    owner.sendFrame('SEND', { destination: '/topic/nobody-here', receipt: 'after' }, '');
    expect((await owner.next()).command).toBe('RECEIPT');
    await owner.close();
  });

  it('lets a session use its own resolved destination directly', async () => {
    const { raw, connected } = await rawConnected(running.url);
    const own = `/queue/mine-user${connected.headers['session']}`;
    raw.sendFrame('SUBSCRIBE', { id: 'mine', destination: '/user/queue/mine', receipt: 's' });
    await raw.expect('RECEIPT');
    raw.sendFrame('SEND', { destination: own }, 'to myself');
    const m = await raw.expect('MESSAGE');
    expect(m.body.toString()).toBe('to myself');
    expect(m.headers['destination']).toBe('/user/queue/mine');
    await raw.close();
  });

  it('a user destination with * or # in it is a plain name once resolved, and still receives', async () => {
    const { raw, connected } = await rawConnected(running.url);
    const id = connected.headers['session'];
    raw.sendFrame('SUBSCRIBE', { id: 'star', destination: '/user/topic/a*', receipt: 's1' });
    await raw.expect('RECEIPT');
    raw.sendFrame('SUBSCRIBE', { id: 'all', destination: '/user/topic/**', receipt: 's2' });
    await raw.expect('RECEIPT');
    raw.sendFrame('SEND', { destination: `/topic/a*-user${id}` }, 'starred');
    const m = await raw.expect('MESSAGE');
    expect([m.headers['subscription'], m.headers['destination'], m.body.toString()]).toEqual(['star', '/user/topic/a*', 'starred']);
    raw.sendFrame('SEND', { destination: `/topic/ab-user${id}`, receipt: 'after' }, 'not a pattern');
    expect((await raw.next()).command).toBe('RECEIPT');
    await raw.close();
  });

  it('pattern subscriptions never match a session\'s resolved /topic user destination', async () => {
    const watcher = await connectClient(running.url);
    const all = new Inbox();
    const hash = new Inbox();
    const star = new Inbox();
    await subscribeConfirmed(watcher.client, '/topic/**', all);
    await subscribeConfirmed(watcher.client, '/topic/#', hash);
    await subscribeConfirmed(watcher.client, '/topic/*', star);
    const { raw: owner, connected } = await rawConnected(running.url);
    owner.sendFrame('SUBSCRIBE', { id: 'n', destination: '/user/topic/news', receipt: 's' });
    await owner.expect('RECEIPT');
    owner.sendFrame('SEND', { destination: `/topic/news-user${connected.headers['session']}` }, 'private');
    expect((await owner.expect('MESSAGE')).body.toString()).toBe('private');
    await sendConfirmed(watcher.client, '/topic/sentinel', 'sentinel');
    for (const inbox of [all, hash, star]) {
      await inbox.waitForBody('sentinel');
      expect(inbox.bodies()).toEqual(['sentinel']);
    }
    await owner.close();
    await watcher.disconnect();
  });
});
