import { Controller, Injectable } from '@nestjs/common';
import type { IMessage } from '@stomp/stompjs';
import { MessageMapping, Payload, SendTo, SendToUser, StompMessagingTemplate, StompStats } from '../../lib/index.js';
import { barrier, connectAs, inboxOf, json, sendAndWait } from '../support/handler-fixtures.js';
import { unique, type RunningApp } from '../support/stomp-app.js';
import {
  connectClient,
  Inbox,
  receiptId,
  sendConfirmed,
  subscribeConfirmed,
  withTimeout,
  type TestClient,
} from '../support/stomp-client.js';
import { startRelayApp } from './relay-app.js';

// End to end through the relay: a real Nest app on broker `{ kind: 'relay' }`, real
// @stomp/stompjs clients, and the RabbitMQ of scripts/rabbitmq.sh doing the fan-out.

/** The topic the greeting handler's replies go to (unique per run: RabbitMQ is shared). */
const GREETINGS = `/topic/${unique('greetings')}`;

@Controller()
class GreetingController {
  @MessageMapping('greet')
  @SendTo(GREETINGS)
  greet(@Payload() name: string): string {
    return `hello ${name}`;
  }

  @MessageMapping('whoami-here')
  @SendToUser('/queue/reply', { broadcast: false })
  whoamiHere(@Payload() body: string): string {
    return `only-here:${body}`;
  }

  @MessageMapping('whoami-all')
  @SendToUser('/queue/reply')
  whoamiAll(@Payload() body: string): string {
    return `everywhere:${body}`;
  }
}

/** Gives the tests the app's template. */
@Injectable()
class TemplateHolder {
  constructor(readonly template: StompMessagingTemplate) {}
}

describe('the relay end to end (Nest app + RabbitMQ)', () => {
  let running: RunningApp;
  let template: StompMessagingTemplate;
  const clients: TestClient[] = [];

  async function client(login?: string): Promise<TestClient> {
    const tc = await connectAs(running.url, login);
    clients.push(tc);
    return tc;
  }

  beforeAll(async () => {
    running = await startRelayApp(
      {
        broker: { kind: 'relay', prefixes: ['/topic', '/queue', '/exchange'], reconnectDelay: 100, maxReconnectDelay: 500 },
        authenticate: ({ login }) => (login === undefined ? {} : { user: login }),
      },
      { controllers: [GreetingController], providers: [TemplateHolder] },
    );
    template = running.app.get(TemplateHolder).template;
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.disconnect()));
    await running?.close();
  });

  it('relays a @MessageMapping reply (@SendTo a topic) through RabbitMQ to a subscriber', async () => {
    const listener = await client();
    const sender = await client();
    const inbox = await inboxOf(listener, GREETINGS);
    await sendAndWait(sender, '/app/greet', 'ann');
    const [reply] = await inbox.waitFor(1);
    expect(reply!.body).toBe('hello ann');
    expect(reply!.headers['destination']).toBe(GREETINGS);
  });

  it('relays StompMessagingTemplate.convertAndSend to a topic; the Promise settles once RabbitMQ has it', async () => {
    const listener = await client();
    const topic = `/topic/${unique('news')}`;
    const inbox = await inboxOf(listener, topic);
    await template.convertAndSend(topic, { headline: 'relay works' });
    const [message] = await inbox.waitFor(1);
    expect(json(message!)).toEqual({ headline: 'relay works' });
    expect(message!.headers['destination']).toBe(topic);
  });

  it('redelivers an unacknowledged message of a durable queue (ack client) after its consumer disconnects', async () => {
    const queue = `/queue/${unique('durable')}`;
    const first = await client();
    const firstInbox = await inboxOf(first, queue, { ack: 'client' });
    const producer = await client();
    await sendConfirmed(producer.client, queue, 'work item');
    const [delivered] = await firstInbox.waitFor(1);
    expect(delivered!.body).toBe('work item');
    expect(delivered!.headers['redelivered']).toBeUndefined();
    await first.disconnect(); // no ACK: RabbitMQ requeues it

    const second = await client();
    const secondInbox = await inboxOf(second, queue, { ack: 'client' });
    const [again] = await secondInbox.waitFor(1);
    expect(again!.body).toBe('work item');
    expect(again!.headers['redelivered']).toBe('true');
    again!.ack();
    await barrier(second);
  });

  it('delivers a transaction’s SENDs only at COMMIT, and none after ABORT', async () => {
    const topic = `/topic/${unique('tx')}`;
    const listener = await client();
    const inbox = await inboxOf(listener, topic);
    const sender = await client();

    const tx = sender.client.begin();
    sender.client.publish({ destination: topic, body: 'tx-1', headers: { transaction: tx.id } });
    sender.client.publish({ destination: topic, body: 'tx-2', headers: { transaction: tx.id } });
    // A marker outside the transaction, after the transactional SENDs: it arrives, they do not.
    await sendConfirmed(sender.client, topic, 'marker-1');
    await inbox.waitForBody('marker-1');
    expect(inbox.bodies()).toEqual(['marker-1']);
    tx.commit();
    await inbox.waitFor(3);
    expect(inbox.bodies()).toEqual(['marker-1', 'tx-1', 'tx-2']);

    const aborted = sender.client.begin();
    sender.client.publish({ destination: topic, body: 'tx-3', headers: { transaction: aborted.id } });
    aborted.abort();
    await sendConfirmed(sender.client, topic, 'marker-2');
    await inbox.waitForBody('marker-2');
    expect(inbox.bodies()).toEqual(['marker-1', 'tx-1', 'tx-2', 'marker-2']);
  });

  it('answers a SUBSCRIBE receipt once the subscription is active at RabbitMQ', async () => {
    const topic = `/topic/${unique('receipt')}`;
    const listener = await client();
    const inbox = new Inbox();
    const receipt = receiptId('sub');
    const confirmed = new Promise<string>((resolve) => listener.client.watchForReceipt(receipt, (f) => resolve(f.headers['receipt-id']!)));
    listener.client.subscribe(topic, inbox.push, { receipt });
    expect(await withTimeout(confirmed, 'the RECEIPT for SUBSCRIBE')).toBe(receipt);
    // Sent right after the RECEIPT, from another session: a topic drops messages nobody is bound for.
    const sender = await client();
    await sendConfirmed(sender.client, topic, 'right after the receipt');
    expect((await inbox.waitFor(1)).map((m) => m.body)).toEqual(['right after the receipt']);
  });

  it('@SendToUser reaches only the sending session with broadcast false, every session of the user by default', async () => {
    const user = unique('bob');
    const one = await client(user);
    const two = await client(user);
    const oneInbox = await inboxOf(one, '/user/queue/reply');
    const twoInbox = await inboxOf(two, '/user/queue/reply');

    await sendAndWait(one, '/app/whoami-here', 'a');
    await oneInbox.waitForBody('only-here:a');
    await sendAndWait(two, '/app/whoami-here', 'b');
    await twoInbox.waitForBody('only-here:b');

    await sendAndWait(one, '/app/whoami-all', 'c');
    await oneInbox.waitForBody('everywhere:c');
    await twoInbox.waitForBody('everywhere:c');
    // Each session got its own reply once and the other's never: the broadcast-false replies
    // came before the broadcast one on each session's own RabbitMQ queue.
    expect(oneInbox.bodies()).toEqual(['only-here:a', 'everywhere:c']);
    expect(twoInbox.bodies()).toEqual(['only-here:b', 'everywhere:c']);
    expect(oneInbox.messages[0]!.headers['destination']).toBe('/user/queue/reply');
  });

  it('convertAndSendToUser reaches the named user’s session only', async () => {
    const ann = unique('ann');
    const annClient = await client(ann);
    const other = await client(unique('other'));
    const annInbox = await inboxOf(annClient, '/user/queue/x');
    const otherInbox = await inboxOf(other, '/user/queue/x');
    await template.convertAndSendToUser(ann, '/queue/x', { for: 'ann' });
    const [message] = await annInbox.waitFor(1);
    expect(json(message!)).toEqual({ for: 'ann' });
    await template.convertAndSendToUser(ann, '/queue/x', 'second');
    await annInbox.waitFor(2);
    expect(otherInbox.messages).toEqual([]);
  });

  it('passes a RabbitMQ ERROR to the client as BROKER_ERROR, closes that session, and keeps the others working', async () => {
    const bystander = await client();
    const topic = `/topic/${unique('still-working')}`;
    const bystanderInbox = await inboxOf(bystander, topic);

    const victim = await client();
    const missing = `does-not-exist-${unique('x')}`;
    const errorsBefore = running.app.get(StompStats).snapshot().errorsSent.byCode['BROKER_ERROR'] ?? 0;
    const errorFrame = victim.nextError();
    victim.client.subscribe(`/exchange/${missing}/x`, () => undefined);
    const error = await errorFrame;
    expect(error.headers['message']).toBe(`The message broker refused a frame: not_found: NOT_FOUND - no exchange '${missing}' in vhost '/'`);
    await withTimeout(victim.closed, 'the refused session to close');
    expect(running.app.get(StompStats).snapshot().errorsSent.byCode['BROKER_ERROR']).toBe(errorsBefore + 1);

    await sendConfirmed(bystander.client, topic, 'after the error');
    expect((await bystanderInbox.waitFor(1)).map((m: IMessage) => m.body)).toEqual(['after the error']);
    // A protocol error the client was told about: one debug line (the session's), nothing at warn or error.
    expect(running.logs.expect('warn', missing).concat(running.logs.expect('error', missing))).toEqual([]);
    const lines = running.logs.expect('debug', missing);
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain('BROKER_ERROR');
  });

  it('logged nothing at error level and no warning beyond those claimed above', () => {
    expect(running.logs.unexpectedErrors()).toEqual([]);
    expect(running.logs.at('warn')).toEqual([]);
  });
});
