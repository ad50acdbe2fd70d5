import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { StompMessagingTemplate } from '../../lib/index.js';
import { RawStompClient, rawConnected } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, sendConfirmed, subscribeConfirmed } from '../support/stomp-client.js';

/** Issue 7 items 11 and 12: what a sender can and cannot put into other clients' MESSAGE frames. */
describe('MESSAGE headers a sender controls', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({});
  });
  afterAll(() => running.close());

  it('never passes on headers the server or broker vouches for, in any letter case', async () => {
    const dest = `/topic/${unique('forge')}`;
    const sub = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(sub.client, dest, inbox, { id: 'real-sub' });
    const { raw } = await rawConnected(running.url);
    raw.sendFrame(
      'SEND',
      {
        destination: dest,
        redelivered: 'true',
        'Message-Id': 'forged-id',
        DESTINATION: '/topic/elsewhere',
        'user-name': 'admin',
        'User-Name': 'root',
        SUBSCRIPTION: 'other-sub',
        Ack: 'forged-ack',
        'Content-Type': 'application/octet-stream',
        'content-type': 'text/plain',
        'x-kept': 'yes',
        receipt: 'r1',
      },
      'payload',
    );
    await raw.expect('RECEIPT');
    const [m] = await inbox.waitFor(1);
    expect(m.body).toBe('payload');
    expect(m.headers['destination']).toBe(dest);
    expect(m.headers['subscription']).toBe('real-sub');
    expect(m.headers['message-id']).not.toBe('forged-id');
    expect(m.headers['content-type']).toBe('text/plain');
    expect(m.headers['x-kept']).toBe('yes');
    for (const forged of ['redelivered', 'Message-Id', 'DESTINATION', 'user-name', 'User-Name', 'SUBSCRIPTION', 'Ack', 'Content-Type', 'receipt']) {
      expect({ [forged]: m.headers[forged] }).toEqual({ [forged]: undefined });
    }
    await raw.close();
    await sub.disconnect();
  });

  it('a header name a STOMP 1.0 peer cannot read back never reaches it, and cannot inject frames', async () => {
    const dest = `/topic/${unique('v10')}`;
    const raw = await RawStompClient.open(running.url);
    await raw.connect({});
    raw.sendFrame('SUBSCRIBE', { destination: dest, receipt: 's' });
    await raw.expect('RECEIPT');
    const body = 'x\n\nSEND\ndestination:/topic/injected\n\n\0';
    // Server code can use any header name; a 1.0 subscriber must still see one intact frame.
    await running.app.get(StompMessagingTemplate).convertAndSend(dest, body, { 'content-length:1': 'x', 'x-ok': 'kept' });
    const m = await raw.expect('MESSAGE');
    expect(m.body.toString()).toBe(body);
    expect(m.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(m.headers['x-ok']).toBe('kept');
    expect(Object.keys(m.headers).some((name) => name.startsWith('content-length') && name !== 'content-length')).toBe(false);
    // Nothing else follows: a receipt round trip comes next.
    raw.sendFrame('SEND', { destination: `/topic/${unique('nobody')}`, receipt: 'after' }, '');
    expect((await raw.next()).command).toBe('RECEIPT');
    expect(raw.frames.filter((f) => f.command === 'MESSAGE')).toHaveLength(1);
    await raw.close();
  });

  it('a redelivered queue message carries the broker\'s redelivered:true and keeps the sender headers', async () => {
    const dest = `/queue/${unique('redeliver')}`;
    const { raw: first } = await rawConnected(running.url);
    first.sendFrame('SUBSCRIBE', { id: 'a', destination: dest, ack: 'client-individual', receipt: 's' });
    await first.expect('RECEIPT');
    const pub = await connectClient(running.url);
    await sendConfirmed(pub.client, dest, 'once', { 'x-order': '1' });
    const delivered = await first.expect('MESSAGE');
    expect(delivered.headers['redelivered']).toBeUndefined();
    const { raw: second } = await rawConnected(running.url);
    second.sendFrame('SUBSCRIBE', { id: 'b', destination: dest, receipt: 's' });
    await second.expect('RECEIPT');
    first.sendFrame('NACK', { id: delivered.headers['ack'] });
    const again = await second.expect('MESSAGE');
    const text = again.body.toString();
    expect(text).toBe('once');
    expect(again.headers['redelivered']).toBe('true');
    expect(again.headers['x-order']).toBe('1');
    await first.close();
    await second.close();
    await pub.disconnect();
  });
});
