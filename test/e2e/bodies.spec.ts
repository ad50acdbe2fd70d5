// Bodies: binary with NULs in binary WebSocket frames, text in text frames, 1 MB round trips.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rawConnected, type RawStompClient } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, subscribeConfirmed, type TestClient } from '../support/stomp-client.js';

const MB = 1024 * 1024;

function binaryWithNuls(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) % 256;
  bytes[0] = 0;
  bytes[size - 1] = 0;
  bytes[Math.floor(size / 2)] = 0;
  return bytes;
}

describe('message bodies', () => {
  let running: RunningApp;
  let sender: TestClient;
  beforeAll(async () => {
    running = await startStompApp({});
    sender = await connectClient(running.url);
  });
  afterAll(() => running.close());

  /** A raw subscriber, to see the WebSocket message type of each MESSAGE. */
  async function rawSubscriber(dest: string): Promise<RawStompClient> {
    const { raw } = await rawConnected(running.url);
    raw.sendFrame('SUBSCRIBE', { id: 's', destination: dest, receipt: 'sub' });
    await raw.expect('RECEIPT');
    return raw;
  }

  it('carries a binary body with NUL bytes intact, in a binary WebSocket frame', async () => {
    const dest = `/topic/${unique()}`;
    const raw = await rawSubscriber(dest);
    const inbox = new Inbox();
    await subscribeConfirmed(sender.client, dest, inbox);
    const body = binaryWithNuls(1000);
    sender.client.publish({ destination: dest, binaryBody: body, headers: { 'content-type': 'application/octet-stream' } });
    const m = await raw.expect('MESSAGE');
    expect(m.binaryMessage).toBe(true);
    expect(m.headers['content-length']).toBe('1000');
    expect(m.headers['content-type']).toBe('application/octet-stream');
    expect(m.body.equals(Buffer.from(body))).toBe(true);
    const [viaStompjs] = await inbox.waitFor(1);
    expect(Buffer.from(viaStompjs.binaryBody).equals(Buffer.from(body))).toBe(true);
    await raw.close();
  });

  it('sends a body that is not UTF-8 as binary even without content-type', async () => {
    const dest = `/topic/${unique()}`;
    const raw = await rawSubscriber(dest);
    const body = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]);
    raw.send(Buffer.concat([Buffer.from(`SEND\ndestination:${dest}\ncontent-length:${body.length}\n\n`), body, Buffer.from([0])]));
    const m = await raw.expect('MESSAGE');
    expect(m.binaryMessage).toBe(true);
    expect(m.body.equals(body)).toBe(true);
    expect(m.headers['content-type']).toBeUndefined();
    await raw.close();
  });

  it('sends valid UTF-8 with a non-text content-type as binary', async () => {
    const dest = `/topic/${unique()}`;
    const raw = await rawSubscriber(dest);
    sender.client.publish({ destination: dest, body: 'looks like text', headers: { 'content-type': 'application/octet-stream' } });
    const m = await raw.expect('MESSAGE');
    expect(m.binaryMessage).toBe(true);
    expect(m.body.toString()).toBe('looks like text');
    await raw.close();
  });

  it.each([
    ['text/plain', 'plain text ✓'],
    ['text/plain;charset=UTF-8', 'grüße'],
    ['application/json', '{"a":[1,2,3],"b":"ü"}'],
    ['application/vnd.api+json', '{"data":null}'],
    [undefined, 'no content-type, valid UTF-8'],
  ])('sends a %s body in a text WebSocket frame', async (contentType, body) => {
    const dest = `/topic/${unique()}`;
    const raw = await rawSubscriber(dest);
    sender.client.publish({ destination: dest, body, headers: contentType ? { 'content-type': contentType } : {} });
    const m = await raw.expect('MESSAGE');
    expect(m.binaryMessage).toBe(false);
    expect(m.body.toString('utf8')).toBe(body);
    expect(m.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    if (contentType) expect(m.headers['content-type']).toBe(contentType);
    await raw.close();
  });

  it('sends an empty body with content-length 0', async () => {
    const dest = `/topic/${unique()}`;
    const raw = await rawSubscriber(dest);
    sender.client.publish({ destination: dest, body: '' });
    const m = await raw.expect('MESSAGE');
    expect(m.headers['content-length']).toBe('0');
    expect(m.body.length).toBe(0);
    await raw.close();
  });

  it('round-trips a 1 MB text body', async () => {
    const dest = `/topic/${unique()}`;
    const receiver = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(receiver.client, dest, inbox);
    let body = '';
    for (let i = 0; body.length < MB; i++) body += `line ${i} ✓ àéîõü\n`;
    body = body.slice(0, MB);
    sender.client.publish({ destination: dest, body, headers: { 'content-type': 'text/plain' } });
    const [m] = await inbox.waitFor(1, 10_000);
    expect(m.body.length).toBe(body.length);
    expect(m.body).toBe(body);
    expect(m.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    await receiver.disconnect();
  });

  it('round-trips a 1 MB binary body with NULs, through a queue', async () => {
    const dest = `/queue/${unique()}`;
    const receiver = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(receiver.client, dest, inbox);
    const body = binaryWithNuls(MB);
    sender.client.publish({ destination: dest, binaryBody: body, headers: { 'content-type': 'application/octet-stream' } });
    const [m] = await inbox.waitFor(1, 10_000);
    expect(m.headers['content-length']).toBe(String(MB));
    expect(Buffer.from(m.binaryBody).equals(Buffer.from(body))).toBe(true);
    await receiver.disconnect();
  });
});
