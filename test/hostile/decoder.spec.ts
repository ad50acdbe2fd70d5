// Issue 7, decoder memory and pipelining:
// - a frame that arrives as thousands of 1-byte WebSocket messages must cost the server about its
//   bytes, not a Buffer object per message (107 heap bytes per body byte, unfixed);
// - one WebSocket message holding 20,000 frames must not hold every other session until all are
//   handled (the 145,000 frames stalled everyone for 15-19 s): either the attacker is
//   refused by name, or another session's frame is handled while the attacker's are still going.
// Memory is judged as the state the session holds (a deterministic estimate over its object graph,
// next to an idle session's), never by heap numbers; stalls by the order frames are handled in.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller } from '@nestjs/common';
import { WebSocketConnection } from '../../lib/transport/websocket-connection.js';
import { MESSAGE_BROKER, MessageMapping, Payload, SessionRegistry, STOMP_OPTIONS } from '../../lib/index.js';
import { StompSession } from '../../lib/transport/stomp-session.js';
import { InboundDispatcher } from '../../lib/messaging/inbound-dispatcher.js';
import { frame, rawConnected, type RawStompClient } from '../support/raw-client.js';
import { unique, type RunningApp } from '../support/stomp-app.js';
import {
  Bystander,
  startWithBystander,
  stopWithBystander,
  CONNECT_12,
  expectErrorNaming,
  expectNoInternalErrors,
  request,
  retainedEstimate,
  serverHasRead,
  skipShared,
} from './hostile-support.js';

/** What the work controller saw, in order: 'a' for the attacker's frames, 'v' for the victim's. */
const handled: string[] = [];
let onFirstAttackFrame: () => void = () => undefined;

@Controller()
class WorkController {
  @MessageMapping('/work')
  work(@Payload() payload: { who: string }): void {
    handled.push(payload.who);
    if (payload.who === 'a' && handled.length === 1) onFirstAttackFrame();
  }
}

/** What an ERROR refusing many small messages or many pipelined frames should talk about. */
const DECODER_LIMIT = /message|frame|chunk|fragment|piece|pending|queue|limit|too many/i;

describe('hostile framing', () => {
  let running: RunningApp;
  let bystander: Bystander;

  beforeAll(async () => {
    ({ running, bystander } = await startWithBystander({}, { controllers: [WorkController] }));
  });
  afterAll(() => stopWithBystander(running, bystander));

  /** The server side of a connection: its session and TCP socket. */
  function serverSide(connected: { headers: Record<string, string> }): { session: StompSession; socket: { bytesRead: number } | undefined } {
    const session = running.app.get(SessionRegistry).get(connected.headers['session'] ?? '');
    if (!session) throw new Error('session not found');
    // The session's connection holds the TCP socket of the upgrade (a test may look; the server never reads private fields).
    const connection = Object.values(session).find((v): v is WebSocketConnection => v instanceof WebSocketConnection);
    const socket = (connection as unknown as { socket?: { bytesRead: number } } | undefined)?.socket;
    return { session, socket };
  }

  /** Estimated state a session holds, minus what an idle session of the same app holds. */
  function heldBy(session: StompSession, idle: StompSession): number {
    const shared = [
      running.app.get(SessionRegistry),
      running.app.get(STOMP_OPTIONS),
      running.app.get(MESSAGE_BROKER),
      running.app.get(InboundDispatcher),
    ];
    const skip = skipShared(shared, (v) => v instanceof StompSession);
    return retainedEstimate(session, skip) - retainedEstimate(idle, skip);
  }

  /** Sends `head`, then `count` 1-byte WebSocket messages of `byte`, and waits until the server read them. */
  async function trickle(attacker: RawStompClient, session: { socket: { bytesRead: number } | undefined }, head: string, count: number, byte: string) {
    attacker.send(Buffer.from(head));
    const one = Buffer.from(byte);
    for (let i = 0; i < count; i++) attacker.ws.send(one, { binary: false });
    await serverHasRead(attacker.ws, session.socket);
  }

  it.each([
    ['a body', `SEND\ndestination:%DEST%\ncontent-type:text/plain\n\n`, 20_000],
    ['a header value', `SEND\ndestination:%DEST%\nx-long:`, 8_000],
  ])('%s sent as 1-byte WebSocket messages: held in proportion to its bytes, or refused by name', async (_what, headTemplate, count) => {
    const destination = `/topic/${unique('sink')}`;
    const { raw: sink } = await rawConnected(running.url, CONNECT_12);
    expect((await request(sink, 'SUBSCRIBE', { id: 's', destination }))?.command).toBe('RECEIPT');
    const idle = serverSide(bystander.raw.frames[0]).session;
    const { raw: attacker, connected } = await rawConnected(running.url, CONNECT_12);
    const server = serverSide(connected);

    await trickle(attacker, server, headTemplate.replace('%DEST%', destination), count, 'x');
    const error = attacker.frames.find((f) => f.command === 'ERROR');
    if (error) {
      expectErrorNaming(error, DECODER_LIMIT);
      await attacker.waitClosed();
    } else {
      // Unfixed: ~47 estimated bytes per byte received (a Buffer per message); a growing buffer
      // holds at most twice the bytes.
      expect(heldBy(server.session, idle)).toBeLessThanOrEqual(4 * count + 16 * 1024);
      // The frame still completes, intact.
      attacker.send(headTemplate.includes('x-long') ? Buffer.from('\n\nbody\0') : Buffer.from([0]));
      const message = await sink.expect('MESSAGE');
      if (headTemplate.includes('x-long')) expect(message.headers['x-long']).toBe('x'.repeat(count));
      else expect(message.body.toString()).toBe('x'.repeat(count));
      await attacker.close();
    }
    await bystander.roundTrip();
    await sink.close();
    expectNoInternalErrors(running.logs);
  });

  it("20,000 frames in one WebSocket message: refused by name, or another session's frame is handled while they are still going", async () => {
    handled.length = 0;
    const FRAMES = 20_000;
    const firstSeen = new Promise<void>((resolve) => (onFirstAttackFrame = resolve));
    const { raw: attacker } = await rawConnected(running.url, CONNECT_12);
    const { raw: victim } = await rawConnected(running.url, CONNECT_12);
    const one = frame('SEND', { destination: '/app/work', 'content-type': 'application/json' }, '{"who":"a"}');
    const last = frame('SEND', { destination: '/app/work', 'content-type': 'application/json', receipt: 'end' }, '{"who":"a"}');
    attacker.send(Buffer.concat([...Array.from({ length: FRAMES - 1 }, () => one), last]));

    // Once the server is handling the attacker's frames, the victim sends one of its own.
    await firstSeen;
    victim.sendFrame('SEND', { destination: '/app/work', 'content-type': 'application/json', receipt: 'v' }, '{"who":"v"}');
    const victimReply = await victim.nextMatching((f) => f.command === 'RECEIPT' || f.command === 'ERROR', "the victim's RECEIPT", 15_000);
    expect(victimReply.command).toBe('RECEIPT');

    const attackerReply = await attacker.nextMatching(
      (f) => (f.command === 'RECEIPT' && f.headers['receipt-id'] === 'end') || f.command === 'ERROR',
      "the attacker's last RECEIPT or an ERROR",
      15_000,
    );
    const victimAt = handled.indexOf('v');
    expect(victimAt).toBeGreaterThanOrEqual(0);
    if (attackerReply.command === 'ERROR') {
      expectErrorNaming(attackerReply, DECODER_LIMIT);
      await attacker.waitClosed();
    } else {
      // Unfixed, all 20,000 were handled before the victim's one frame: handled.indexOf('v') === 20000.
      expect(handled.lastIndexOf('a')).toBeGreaterThan(victimAt);
      await attacker.close();
    }
    expect(victim.closeInfo).toBeUndefined();
    await bystander.roundTrip();
    await victim.close();
    expectNoInternalErrors(running.logs);
  });
});
