import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller } from '@nestjs/common';
import {
  ConnectedSession,
  DestinationVariable,
  Header,
  SendTo,
  type StompSessionInfo,
  SubscribeMapping,
} from '../../lib/index.js';
import { barrier, connectAs, inboxOf, json, jsonBodies, sleep } from '../support/handler-fixtures.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { Inbox, subscribeConfirmed, unsubscribeConfirmed, type TestClient } from '../support/stomp-client.js';

@Controller()
class SnapshotController {
  calls = 0;

  @SubscribeMapping('/snapshot/{id}')
  snapshot(@DestinationVariable('id') id: string, @ConnectedSession() session: StompSessionInfo, @Header('x-view') view: string | undefined) {
    this.calls++;
    return { id, session: session.id, view: view ?? null };
  }

  @SubscribeMapping('/broadcast/{id}')
  @SendTo('/topic/snapshots/{id}')
  broadcast(@DestinationVariable('id') id: string) {
    return { id, via: 'broker' };
  }

  @SubscribeMapping('/nothing')
  nothing() {
    return undefined;
  }

  @SubscribeMapping('/slow/{id}')
  async slow(@DestinationVariable('id') id: string) {
    await sleep(3);
    return [{ id, n: 1 }, { id, n: 2 }];
  }
}

describe('@SubscribeMapping', () => {
  let running: RunningApp;
  let controller: SnapshotController;
  let a: TestClient;
  let b: TestClient;

  beforeAll(async () => {
    running = await startStompApp({}, { controllers: [SnapshotController] });
    controller = running.app.get(SnapshotController);
    a = await connectAs(running.url);
    b = await connectAs(running.url);
  });
  afterAll(async () => {
    await a?.disconnect();
    await b?.disconnect();
    await running?.close();
  });

  it('answers once, straight to the subscriber, on its subscription id and destination', async () => {
    const id = unique('s');
    // b watches the same /app destination and its /topic equivalent before a subscribes.
    const bApp = await inboxOf(b, `/app/snapshot/${id}`);
    const bTopic = await inboxOf(b, `/topic/snapshot/${id}`);
    expect(jsonBodies(bApp)).toEqual([{ id, session: b.connected.headers['session'], view: null }]);

    const callsBefore = controller.calls;
    const inbox = new Inbox();
    await subscribeConfirmed(a.client, `/app/snapshot/${id}`, inbox, { id: 'snap-1', 'x-view': 'compact' });
    // The reply is written before the RECEIPT of the SUBSCRIBE.
    expect(inbox.messages).toHaveLength(1);
    const [m] = inbox.messages;
    expect(m.command).toBe('MESSAGE');
    expect(m.headers['subscription']).toBe('snap-1');
    expect(m.headers['destination']).toBe(`/app/snapshot/${id}`);
    expect(m.headers['content-type']).toBe('application/json');
    expect(m.headers['message-id']).toEqual(expect.any(String));
    expect(json(m)).toEqual({ id, session: a.connected.headers['session'], view: 'compact' });
    expect(controller.calls).toBe(callsBefore + 1);

    await barrier(a);
    await barrier(b);
    expect(inbox.messages).toHaveLength(1);
    expect(bApp.messages).toHaveLength(1);
    expect(bTopic.messages).toHaveLength(0);
  });

  it('sends the reply through the broker with @SendTo, and nothing on the /app subscription', async () => {
    const id = unique('b');
    const watcher = await inboxOf(b, `/topic/snapshots/${id}`);
    const subscriber = await inboxOf(a, `/app/broadcast/${id}`);
    const [m] = await watcher.waitFor(1);
    expect(m.headers['destination']).toBe(`/topic/snapshots/${id}`);
    expect(json(m)).toEqual({ id, via: 'broker' });
    await barrier(a);
    await barrier(b);
    expect(subscriber.messages).toHaveLength(0);
    expect(watcher.messages).toHaveLength(1);
  });

  it('sends nothing when the method returns undefined, and the subscription can be ended', async () => {
    const inbox = new Inbox();
    const sub = await subscribeConfirmed(a.client, '/app/nothing', inbox);
    await barrier(a);
    expect(inbox.messages).toHaveLength(0);
    await unsubscribeConfirmed(a.client, sub);
    expect(a.errors).toHaveLength(0);
  });

  it('waits for an async method and sends its (array) result as one message', async () => {
    const id = unique('slow');
    const inbox = await inboxOf(a, `/app/slow/${id}`);
    expect(inbox.messages).toHaveLength(1);
    expect(json(inbox.messages[0])).toEqual([
      { id, n: 1 },
      { id, n: 2 },
    ]);
  });

  it('keeps an /app subscription out of the broker: later publishes to its /topic twin do not reach it', async () => {
    const id = unique('twin');
    const app = await inboxOf(a, `/app/snapshot/${id}`);
    b.client.publish({ destination: `/topic/snapshot/${id}`, body: 'broker message' });
    await barrier(b);
    await barrier(a);
    expect(app.messages).toHaveLength(1);
    expect(json(app.messages[0])).toMatchObject({ id });
  });
});
