// Heart-beats with a 100 ms floor, so intervals are short. Every wait is on events (heart-beats,
// frames, close); timeouts only guard against hangs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rawConnected } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, sendConfirmed, subscribeConfirmed } from '../support/stomp-client.js';

const CONNECT = { 'accept-version': '1.2', host: 'localhost' };

describe('heart-beats', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({ broker: { kind: 'simple', heartbeat: { floor: 100 } } });
  });
  afterAll(() => running.close());

  it('answers heart-beat 0,0 to a client that asks for none, and sends it none', async () => {
    const quiet = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '0,0' });
    expect(quiet.connected.headers['heart-beat']).toBe('0,0');
    const busy = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '0,100' });
    expect(busy.connected.headers['heart-beat']).toBe('100,0');
    // While the other connection gets several heart-beats, this one gets none.
    await busy.raw.waitForHeartbeats(4);
    quiet.raw.sendFrame('SEND', { destination: `/topic/${unique()}`, receipt: 'q' }, 'x');
    await quiet.raw.expect('RECEIPT');
    expect(quiet.raw.heartbeats).toBe(0);
    await quiet.raw.close();
    await busy.raw.close();
  });

  it('treats a missing heart-beat header as 0,0', async () => {
    const { raw, connected } = await rawConnected(running.url, CONNECT);
    expect(connected.headers['heart-beat']).toBe('0,0');
    await raw.close();
  });

  it('honours 200,200 and sends EOL heart-beats as their own WebSocket messages', async () => {
    const { raw, connected } = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '200,200' });
    expect(connected.headers['heart-beat']).toBe('200,200');
    // Keep our side alive while we wait for the server's heart-beats.
    const keepAlive = setInterval(() => raw.send('\n'), 50);
    try {
      await raw.waitForHeartbeats(3);
    } finally {
      clearInterval(keepAlive);
    }
    const beats = raw.messages.filter((m) => m.data.toString() === '\n');
    expect(beats.length).toBeGreaterThanOrEqual(3);
    for (const b of beats) expect(b.isBinary).toBe(false);
    expect(raw.closeInfo).toBeUndefined();
    await raw.close();
  });

  it('raises intervals below the floor to the floor', async () => {
    const { raw, connected } = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '10,20' });
    expect(connected.headers['heart-beat']).toBe('100,100');
    await raw.close();
  });

  it('negotiates each direction on its own', async () => {
    const sendOnly = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '300,0' });
    expect(sendOnly.connected.headers['heart-beat']).toBe('0,300');
    const receiveOnly = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '0,150' });
    expect(receiveOnly.connected.headers['heart-beat']).toBe('150,0');
    await receiveOnly.raw.waitForHeartbeats(2);
    await sendOnly.raw.close();
    await receiveOnly.raw.close();
  });

  it('closes a client that promised heart-beats and went silent, with an ERROR about heart-beats', async () => {
    const { raw, connected } = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '100,0' });
    expect(connected.headers['heart-beat']).toBe('0,100');
    const error = await raw.expect('ERROR');
    expect(error.headers['message']).toMatch(/heart-beat/);
    expect(error.headers['message']).toBe('No heart-beat received for 200 ms');
    expect((await raw.waitClosed()).code).toBe(1002);
  });

  it('keeps a client that sends its heart-beats', async () => {
    const { raw } = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '100,100' });
    const keepAlive = setInterval(() => raw.send('\n'), 40);
    try {
      // Sixteen server heart-beats (at least 50 ms apart) span several of the server's 200 ms checks.
      await raw.waitForHeartbeats(16);
      expect(raw.closeInfo).toBeUndefined();
      raw.sendFrame('SEND', { destination: `/topic/${unique()}`, receipt: 'alive' }, 'x');
      expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe('alive');
    } finally {
      clearInterval(keepAlive);
    }
    await raw.close();
  });

  it('counts any frame as a sign of life, not only EOLs', async () => {
    const { raw } = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '100,100' });
    const dest = `/topic/${unique()}`;
    let n = 0;
    const keepAlive = setInterval(() => raw.sendFrame('SEND', { destination: dest }, `ping ${n++}`), 40);
    try {
      // Receive more than enough server traffic to span several checks, then prove we are still connected.
      raw.sendFrame('SUBSCRIBE', { id: 's', destination: dest });
      for (let i = 0; i < 15; i++) await raw.expect('MESSAGE');
      expect(raw.closeInfo).toBeUndefined();
    } finally {
      clearInterval(keepAlive);
    }
    await raw.close();
  });

  it('does not heart-beat STOMP 1.0 sessions, which have no heart-beating', async () => {
    // stompjs sends its heart-beat header even when it ends up speaking 1.0, but then never pings.
    const old = await connectClient(running.url, { versions: ['1.0'], heartbeatIncoming: 100, heartbeatOutgoing: 100 });
    expect(old.connected.headers['version']).toBe('1.0');
    expect(old.connected.headers['heart-beat']).toBe('0,0');
    const raw = await rawConnected(running.url, { host: 'h', 'heart-beat': '100,100' });
    expect(raw.connected.headers['version']).toBe('1.0');
    expect(raw.connected.headers['heart-beat']).toBe('0,0');
    // Long enough for several server checks of a 100 ms client interval: the 1.0 client survives.
    const clock = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '0,100' });
    await clock.raw.waitForHeartbeats(12);
    expect(old.client.connected).toBe(true);
    expect(raw.raw.closeInfo).toBeUndefined();
    expect(raw.raw.heartbeats).toBe(0);
    await old.disconnect();
    await raw.raw.close();
    await clock.raw.close();
  });

  it('keeps a stompjs client with 200 ms heart-beats both ways connected', async () => {
    const c = await connectClient(running.url, { heartbeatIncoming: 200, heartbeatOutgoing: 200 });
    expect(c.connected.headers['heart-beat']).toBe('200,200');
    // At least 100 ms apart: eight span several checks on both sides.
    await c.waitForHeartbeats(8);
    expect(c.client.connected).toBe(true);
    const inbox = new Inbox();
    const dest = `/topic/${unique()}`;
    await subscribeConfirmed(c.client, dest, inbox);
    await sendConfirmed(c.client, dest, 'still here');
    expect((await inbox.waitFor(1))[0].body).toBe('still here');
    await c.disconnect();
  });
});

describe('heart-beats turned off', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({ broker: { kind: 'simple', heartbeat: false } });
  });
  afterAll(() => running.close());

  it('answers 0,0 whatever the client asks', async () => {
    const { raw, connected } = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '1000,1000' });
    expect(connected.headers['heart-beat']).toBe('0,0');
    await raw.close();
  });
});

describe('default heart-beat floor', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({});
  });
  afterAll(() => running.close());

  it('is one second', async () => {
    const { raw, connected } = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '200,500' });
    expect(connected.headers['heart-beat']).toBe('1000,1000');
    const honoured = await rawConnected(running.url, { ...CONNECT, 'heart-beat': '5000,2500' });
    expect(honoured.connected.headers['heart-beat']).toBe('2500,5000');
    await raw.close();
    await honoured.raw.close();
  });
});
