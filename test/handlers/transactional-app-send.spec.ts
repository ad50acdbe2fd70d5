import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller } from '@nestjs/common';
import { MessageMapping, Payload, SendTo } from '../../lib/index.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, subscribeConfirmed } from '../support/stomp-client.js';

const topic = `/topic/${unique('tx-echo')}`;

@Controller()
class EchoController {
  @MessageMapping('echo')
  @SendTo(topic)
  echo(@Payload() body: string): string {
    return body;
  }
}

// With the simple broker the server runs transactions: a SEND to an application destination
// inside one reaches its handler at COMMIT, with the transaction header still on it.
describe('a transactional SEND to an application destination (server transactions)', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({ applicationDestinationPrefixes: ['/app'] }, { controllers: [EchoController] });
  });
  afterAll(() => running.close());

  it('is handled at COMMIT, in order, and not at all after ABORT', async () => {
    const c = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(c.client, topic, inbox);
    const tx = c.client.begin();
    c.client.publish({ destination: '/app/echo', body: 'one', headers: { transaction: tx.id } });
    c.client.publish({ destination: '/app/echo', body: 'two', headers: { transaction: tx.id } });
    const dropped = c.client.begin();
    c.client.publish({ destination: '/app/echo', body: 'aborted', headers: { transaction: dropped.id } });
    dropped.abort();
    c.client.publish({ destination: '/app/echo', body: 'outside' });
    tx.commit();
    c.client.publish({ destination: '/app/echo', body: 'after' });
    await inbox.waitFor(4);
    expect(inbox.bodies()).toEqual(['outside', 'one', 'two', 'after']);
    await c.disconnect();
  });
});
