import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { frame, rawConnected } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, subscribeConfirmed } from '../support/stomp-client.js';

describe('a malformed frame behind many valid ones in the same WebSocket message', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({});
  });
  afterAll(() => running.close());

  it.each([200, 1000])('handles all %i earlier frames in order, then answers the faulty one with ERROR', async (count) => {
    const dest = `/topic/${unique('pipelined')}`;
    const watcher = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(watcher.client, dest, inbox);
    const { raw } = await rawConnected(running.url);
    const frames: Buffer[] = [];
    for (let i = 0; i < count; i++) frames.push(frame('SEND', { destination: dest, receipt: `r${i}` }, `m${i}`));
    // More than limits.inboundFramesPerTurn (128) valid frames, then a body that runs past its
    // content-length: the decoder finds the fault while the valid frames still wait their turn.
    frames.push(frame('SEND', { destination: dest, 'content-length': '3', receipt: 'bad' }, 'toolong'));
    raw.send(Buffer.concat(frames));
    expect((await raw.waitClosed()).code).toBe(1002);
    const [connected, ...rest] = raw.frames;
    expect(connected.command).toBe('CONNECTED');
    expect(rest.slice(0, -1).map((f) => `${f.command} ${f.headers['receipt-id']}`)).toEqual(
      Array.from({ length: count }, (_, i) => `RECEIPT r${i}`),
    );
    const error = rest[rest.length - 1];
    expect(error.command).toBe('ERROR');
    expect(error.headers['receipt-id']).toBe('bad');
    expect(error.headers['message']).toContain('content-length 3');
    expect((await inbox.waitFor(count)).map((m) => m.body)).toEqual(Array.from({ length: count }, (_, i) => `m${i}`));
    await watcher.disconnect();
  });
});
