import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { expectRefused, RawStompClient, rawConnected } from '../support/raw-client.js';
import { startStompApp, unique, type StartAppExtras } from '../support/stomp-app.js';
import { connectClient, Inbox, subscribeConfirmed } from '../support/stomp-client.js';

describe.each<[string, StartAppExtras['adapter']]>([
  ['Express', 'express'],
  ['Fastify', 'fastify'],
])('app.close() on %s', (_name, adapter) => {
  let consoleError: ReturnType<typeof jest.spyOn>;
  beforeEach(() => {
    consoleError = jest.spyOn(console, 'error');
  });
  afterEach(() => consoleError.mockRestore());

  it('delivers what was sent before, closes every client with 1001, and logs no error', async () => {
    const running = await startStompApp({}, { adapter });
    const dest = `/topic/${unique()}`;
    const subscriber = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(subscriber.client, dest, inbox);
    const raw = (await rawConnected(running.url)).raw;
    raw.sendFrame('SUBSCRIBE', { id: 's', destination: dest, receipt: 'sub' });
    await raw.expect('RECEIPT');
    const idle = await RawStompClient.open(running.url); // never sent CONNECT
    const publisher = await connectClient(running.url);

    // Large messages, so some are still being written when close starts.
    const big = 'x'.repeat(200 * 1024);
    for (let i = 0; i < 20; i++) publisher.client.publish({ destination: dest, body: `${i}:${big}` });
    await publisher.receipt((receipt) => publisher.client.publish({ destination: dest, body: 'last', headers: { receipt } }));

    await running.close();

    expect(await subscriber.closed).toBe(1001);
    expect(await publisher.closed).toBe(1001);
    expect((await raw.waitClosed()).code).toBe(1001);
    expect((await idle.waitClosed()).code).toBe(1001);
    expect(inbox.messages).toHaveLength(21);
    expect(inbox.messages.at(-1)?.body).toBe('last');
    expect(inbox.bodies().slice(0, 20).map((b) => b.split(':')[0])).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    const rawBodies = raw.frames.filter((f) => f.command === 'MESSAGE').map((f) => f.body.toString());
    expect(rawBodies).toHaveLength(21);
    expect(rawBodies.at(-1)).toBe('last');
    // Closed cleanly: the last frame is the last MESSAGE, no ERROR.
    expect(raw.frames.some((f) => f.command === 'ERROR')).toBe(false);
    expect(running.logs.at('error', 'fatal')).toEqual([]);
    expect(consoleError).not.toHaveBeenCalled();

    // Nothing listens any more.
    expect(await expectRefused(running.url)).toBe(0);
  });
});

describe('app.close() with a client that does not answer the close handshake', () => {
  it('drops it after the grace period and finishes closing', async () => {
    const running = await startStompApp({});
    const stuck = (await rawConnected(running.url)).raw;
    const polite = await connectClient(running.url);
    // Stop reading: the close frame is never seen, so no close frame comes back.
    const socket = (stuck.ws as unknown as { _socket: { pause(): void } })._socket;
    socket.pause();
    await running.close();
    expect(await polite.closed).toBe(1001);
    // close() resolved although the handshake never finished: the server dropped the socket.
    (stuck.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect([1001, 1006]).toContain((await stuck.waitClosed()).code);
    expect(running.logs.at('error', 'fatal')).toEqual([]);
  });
});
