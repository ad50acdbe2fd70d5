// Session-level receipt behaviour. Receipts for each broker frame, and "SUBSCRIBE receipt means
// active", are in the broker conformance suite (test/broker-conformance).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { frame, RawStompClient, rawConnected, unescapeValue } from '../support/raw-client.js';
import { SessionRegistry } from '../../lib/index.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import {
  connectClient,
  Inbox,
  sendConfirmed,
  subscribeConfirmed,
  withTimeout,
  type TestClient,
} from '../support/stomp-client.js';

describe('receipts and DISCONNECT', () => {
  let running: RunningApp;
  let observer: TestClient;
  const alive = `/topic/${unique('alive')}`;
  const observed = new Inbox();

  beforeAll(async () => {
    running = await startStompApp({});
    observer = await connectClient(running.url);
    await subscribeConfirmed(observer.client, alive, observed);
  });
  afterAll(() => running.close());

  it('answers DISCONNECT with a receipt by RECEIPT, then closes normally', async () => {
    const { raw } = await rawConnected(running.url);
    raw.sendFrame('DISCONNECT', { receipt: 'bye-1' });
    const receipt = await raw.expect('RECEIPT');
    expect(receipt.headers['receipt-id']).toBe('bye-1');
    const closed = await raw.waitClosed();
    expect(closed.code).toBe(1000);
    expect(raw.frames.map((f) => f.command)).toEqual(['CONNECTED', 'RECEIPT']);
  });

  it('closes on DISCONNECT without a receipt, sending nothing', async () => {
    const { raw } = await rawConnected(running.url);
    raw.sendFrame('DISCONNECT');
    expect((await raw.waitClosed()).code).toBe(1000);
    expect(raw.frames.map((f) => f.command)).toEqual(['CONNECTED']);
  });

  it('lets stompjs deactivate gracefully: its DISCONNECT receipt arrives', async () => {
    const c = await connectClient(running.url);
    const disconnected = new Promise<string | undefined>((resolve) => {
      c.client.onDisconnect = (f) => resolve(f.headers['receipt-id']);
    });
    await c.disconnect();
    expect(await withTimeout(disconnected, 'onDisconnect')).toMatch(/^close-/);
    expect(await c.closed).toBe(1000);
  });

  it('ignores frames that follow DISCONNECT in the same WebSocket message', async () => {
    const { raw } = await rawConnected(running.url);
    raw.send(
      Buffer.concat([
        frame('DISCONNECT', { receipt: 'bye-2' }),
        frame('SEND', { destination: alive }, 'after-disconnect'),
      ]),
    );
    expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe('bye-2');
    await raw.waitClosed();
    const p = await connectClient(running.url);
    await sendConfirmed(p.client, alive, 'sentinel-disconnect');
    await observed.waitForBody('sentinel-disconnect');
    expect(observed.bodies()).not.toContain('after-disconnect');
    await p.disconnect();
  });

  /**
   * Sends DISCONNECT and then stops reading, so the client never answers the server's close frame
   * (a slow or stuck peer); resolves once the server is waiting for that answer.
   */
  async function disconnectWithoutClosing(raw: RawStompClient): Promise<void> {
    const sessions = running.app.get(SessionRegistry);
    const before = new Set([...sessions.all()].filter((s) => s.state === 'closing'));
    raw.sendFrame('DISCONNECT', { receipt: 'bye' });
    (raw.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    for (let i = 0; i < 500; i++) {
      if ([...sessions.all()].some((s) => s.state === 'closing' && !before.has(s))) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('the server never processed DISCONNECT');
  }

  it('stops routing queue messages to a session once it has sent DISCONNECT', async () => {
    const dest = `/queue/${unique()}`;
    const leaving = (await rawConnected(running.url)).raw;
    leaving.sendFrame('SUBSCRIBE', { id: 's', destination: dest, receipt: 'sub' });
    await leaving.expect('RECEIPT');
    const staying = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(staying.client, dest, inbox);
    await disconnectWithoutClosing(leaving);
    const p = await connectClient(running.url);
    for (let i = 0; i < 4; i++) await sendConfirmed(p.client, dest, `q${i}`);
    const got = await inbox.waitFor(4);
    expect(got.map((m) => m.body)).toEqual(['q0', 'q1', 'q2', 'q3']);
    await p.disconnect();
    await staying.disconnect();
    leaving.ws.terminate();
  });

  it('releases the unacked messages of a session as soon as it has sent DISCONNECT', async () => {
    const dest = `/queue/${unique()}`;
    const leaving = (await rawConnected(running.url)).raw;
    leaving.sendFrame('SUBSCRIBE', { id: 's', destination: dest, ack: 'client-individual' });
    leaving.sendFrame('SEND', { destination: dest }, 'unacked');
    expect((await leaving.expect('MESSAGE')).body.toString()).toBe('unacked');
    await disconnectWithoutClosing(leaving);
    const other = await connectClient(running.url);
    const inbox = new Inbox();
    await subscribeConfirmed(other.client, dest, inbox);
    const [m] = await inbox.waitFor(1);
    expect(m.body).toBe('unacked');
    expect(m.headers['redelivered']).toBe('true');
    await other.disconnect();
    leaving.ws.terminate();
  });

  it('puts the receipt-id on an ERROR when the offending frame asked for a receipt', async () => {
    const { raw } = await rawConnected(running.url);
    // A destination nothing serves is only reported (unmappedDestination: 'report'); an invalid
    // ack mode is a protocol error.
    raw.sendFrame('SUBSCRIBE', { id: 's', destination: '/topic/x', ack: 'sometimes', receipt: 'doomed' });
    const error = await raw.expect('ERROR');
    expect(error.headers['receipt-id']).toBe('doomed');
    expect(unescapeValue(error.headers['message'])).toBe('Invalid ack mode "sometimes": use auto, client or client-individual');
    expect(error.body.toString()).toContain('Offending frame: SUBSCRIBE');
    await raw.waitClosed();
    expect(raw.frames.map((f) => f.command)).toEqual(['CONNECTED', 'ERROR']);
  });

  it('puts no receipt-id on an ERROR when the offending frame had none', async () => {
    const { raw } = await rawConnected(running.url);
    raw.sendFrame('SUBSCRIBE', { destination: '/topic/x' });
    const error = await raw.expect('ERROR');
    expect(error.headers['receipt-id']).toBeUndefined();
    expect(error.headers['message']).toBe("SUBSCRIBE frame requires a 'id' header");
    await raw.waitClosed();
  });

  it('answers the receipts of pipelined frames in order, after the frames before them', async () => {
    const { raw } = await rawConnected(running.url);
    const dest = `/topic/${unique()}`;
    const frames = [frame('SUBSCRIBE', { id: 's', destination: dest, receipt: 'sub' })];
    for (let i = 0; i < 30; i++) frames.push(frame('SEND', { destination: dest, receipt: `s${i}` }, `b${i}`));
    raw.send(Buffer.concat(frames));
    const seen: string[] = [];
    for (let i = 0; i < 61; i++) {
      const f = await raw.next();
      seen.push(f.command === 'RECEIPT' ? `R:${f.headers['receipt-id']}` : `M:${f.body.toString()}`);
    }
    const expected = ['R:sub'];
    for (let i = 0; i < 30; i++) expected.push(`M:b${i}`, `R:s${i}`);
    expect(seen).toEqual(expected);
    await raw.close();
  });

  it.each(['1.0', '1.1'])('answers receipts in STOMP %s sessions too', async (version) => {
    const raw = await RawStompClient.open(running.url);
    raw.sendFrame('CONNECT', { 'accept-version': version, host: 'h' });
    expect((await raw.expect('CONNECTED')).headers['version']).toBe(version);
    raw.sendFrame('SEND', { destination: alive, receipt: `v${version}` }, 'x');
    expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe(`v${version}`);
    await raw.close();
  });

  it('escapes the receipt-id like any header of the session version', async () => {
    const { raw } = await rawConnected(running.url);
    // 1.2: the receipt is "a:b\c", sent escaped, and must come back escaped the same way.
    raw.sendFrame('SEND', { destination: alive, receipt: 'a\\cb\\\\c' }, 'x');
    expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe('a\\cb\\\\c');
    await raw.close();
  });
});
