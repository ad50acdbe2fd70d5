import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import { StompSession, type ClientInboundHandler } from '../../lib/transport/stomp-session.js';
import { WebSocketConnection } from '../../lib/transport/websocket-connection.js';
import { fakeRequest, sessionServices } from '../support/fake-connection.js';

/** A WebSocket whose peer stopped reading long ago: everything written stays buffered. */
class StalledSocket {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 64 * 1024 * 1024;
  closes: Array<{ code: number; reason: string }> = [];
  on(): this {
    return this;
  }
  send(): void {}
  pause(): void {}
  resume(): void {}
  terminate(): void {}
  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
    this.readyState = 2;
  }
}

/** The TCP socket under it, which the connection corks per tick. */
const tcp = { cork(): void {}, uncork(): void {} } as unknown as Duplex;

describe('slow consumers closing one after another', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']));

  it('closes each in its own turn: 5,000 sessions whose close hands work to the next do not recurse', async () => {
    const options = resolveStompOptions({ limits: { sendBufferSizeLimit: 1024 } });
    const sockets: StalledSocket[] = [];
    const sessions: StompSession[] = [];
    // As the broker does when a client-ack consumer ends: its unacknowledged messages go to the
    // next consumer, i.e. are written to the next session, from inside the first one's close.
    const handler: ClientInboundHandler = {
      handle: () => undefined,
      sessionClosed: (session) => {
        const next = sessions[sessions.indexOf(session) + 1];
        next?.sendFrame('MESSAGE', { destination: '/queue/chain' }, 'requeued');
      },
    };
    const services = sessionServices(handler);
    for (let i = 0; i < 5000; i++) {
      const socket = new StalledSocket();
      sockets.push(socket);
      const connection = new WebSocketConnection(socket as unknown as WebSocket, tcp, '/ws', '127.0.0.1', options.limits);
      sessions.push(new StompSession(connection, fakeRequest, options, services, '1.2'));
    }
    expect(() => sessions[0].sendFrame('MESSAGE', { destination: '/queue/chain' }, 'first')).not.toThrow();
    for (let turn = 0; turn < 20_000 && sockets.some((s) => s.closes.length === 0); turn++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(sockets.filter((s) => s.closes.length === 0)).toHaveLength(0);
    expect(new Set(sockets.map((s) => JSON.stringify(s.closes)))).toEqual(
      new Set([JSON.stringify([{ code: 1008, reason: 'Send buffer limit exceeded' }])]),
    );
    for (const session of sessions) session.onClose(1008);
  });
});
