import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { StompErrorCode } from '../../lib/protocol/stomp-protocol-error.js';
import type { SessionCloseReason, StompConnectionHandler } from '../../lib/transport/stomp-connection.js';
import {
  webSocketCloseCode,
  WebSocketConnection,
  type WebSocketConnectionLimits,
} from '../../lib/transport/websocket-connection.js';
import { CapturingLogger } from '../support/stomp-app.js';

type Listener = (...args: unknown[]) => void;

/**
 * The parts of a `ws` WebSocket the connection uses. By default the peer never reads:
 * `bufferedAmount` grows by what is sent; `drains` makes every uncork hand everything to the kernel.
 */
class FakeWebSocket {
  readonly sent: Array<{ data: Buffer; options: { binary: boolean; fin?: boolean } }> = [];
  readonly closes: Array<{ code: number; reason: string }> = [];
  readonly listeners = new Map<string, Listener[]>();
  bufferedAmount = 0;
  pauses = 0;
  resumes = 0;
  terminations = 0;

  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }

  /** Emits as `ws` does: listeners are called with the socket as `this`. */
  emit(event: string, ...args: unknown[]): void {
    for (const listener of this.listeners.get(event) ?? []) listener.apply(this, args);
  }

  send(data: Buffer, options: { binary: boolean; fin?: boolean }): void {
    this.sent.push({ data, options });
    this.bufferedAmount += data.length;
  }

  close(code: number, reason: string): void {
    // What ws's Sender checks (RFC 6455 §5.5: a control frame's payload is at most 125 bytes).
    if (Buffer.byteLength(reason) > 123) throw new RangeError('The message must not be greater than 123 bytes');
    this.closes.push({ code, reason });
  }

  terminate(): void {
    this.terminations++;
  }

  pause(): void {
    this.pauses++;
  }

  resume(): void {
    this.resumes++;
  }
}

/** The upgrade's TCP socket: counts cork/uncork; `onUncork` lets a test model the kernel taking bytes. */
class FakeSocket {
  corks = 0;
  uncorks = 0;
  onUncork?: () => void;
  cork(): void {
    this.corks++;
  }
  uncork(): void {
    this.uncorks++;
    this.onUncork?.();
  }
}

class RecordingHandler implements StompConnectionHandler {
  readonly data: string[] = [];
  readonly closes: number[] = [];
  slowConsumer = 0;
  onData(data: Buffer): void {
    this.data.push(data.toString());
  }
  onClose(code: number): void {
    this.closes.push(code);
  }
  onSlowConsumer(): void {
    this.slowConsumer++;
  }
  onTransportError(): void {
    throw new Error('not expected on a WebSocket connection');
  }
}

const limits: WebSocketConnectionLimits = { sendBufferSizeLimit: 100, closeTimeout: 5000 };

function connection(l: WebSocketConnectionLimits = limits) {
  const ws = new FakeWebSocket();
  const socket = new FakeSocket();
  const handler = new RecordingHandler();
  const conn = new WebSocketConnection(ws as unknown as WebSocket, socket as unknown as Duplex, '/ws', '10.0.0.1', l);
  conn.bind(handler);
  return { ws, socket, handler, conn };
}

const bytes = (n: number): Buffer => Buffer.alloc(n, 0x61);
const endOfTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('webSocketCloseCode', () => {
  const table: Array<[SessionCloseReason, StompErrorCode | undefined, number]> = [
    ['client-disconnect', undefined, 1000],
    ['socket-closed', undefined, 1000],
    ['server-shutdown', undefined, 1001],
    ['slow-consumer', undefined, 1008],
    ['heartbeat-timeout', 'HEARTBEAT_TIMEOUT', 1002],
    ['error', 'FRAME_TOO_LARGE', 1009],
    ['error', 'BODY_TOO_LARGE', 1009],
    ['error', 'TOO_MANY_HEADERS', 1009],
    ['error', 'HEADER_LINE_TOO_LONG', 1009],
    ['error', 'CONNECT_REJECTED', 1008],
    ['error', 'INVALID_USER_NAME', 1008],
    ['error', 'MESSAGE_REFUSED', 1008],
    ['error', 'NOT_CONNECTED', 1002],
    ['error', 'UNKNOWN_COMMAND', 1002],
    ['error', 'INVALID_HEADER', 1002],
    ['error', 'CONNECT_TIMEOUT', 1002],
    ['error', 'TOO_MANY_SUBSCRIPTIONS', 1002],
    ['error', undefined, 1002],
  ];
  it.each(table)('%s %s → %i', (reason, errorCode, code) => {
    expect(webSocketCloseCode(reason, errorCode)).toBe(code);
  });
});

describe('WebSocketConnection', () => {
  let logs: CapturingLogger;
  beforeEach(() => {
    logs = new CapturingLogger();
    Logger.overrideLogger(logs);
  });
  afterEach(() => {
    jest.useRealTimers();
    logs.assertNoUnexpectedErrors();
  });

  it('describes itself and passes messages and the close (once) to its handler', () => {
    const { ws, handler, conn } = connection();
    expect(conn.transport).toBe('websocket');
    expect(conn.endpoint).toBe('/ws');
    expect(conn.remoteAddress).toBe('10.0.0.1');
    expect(conn.supportsBinary).toBe(true);
    expect(conn.isOpen).toBe(true);
    ws.emit('message', Buffer.from('CONNECT\n\n\0'));
    ws.emit('error', new Error('boom'));
    ws.emit('close', 1006);
    ws.emit('close', 1000);
    expect(handler.data).toEqual(['CONNECT\n\n\0']);
    expect(handler.closes).toEqual([1006]);
    // A socket error is left to the close that follows it; it is only logged at debug level.
    expect(logs.expect('debug', 'WebSocket error: boom')).toHaveLength(1);
    expect(conn.isOpen).toBe(false);
    expect(conn.send(bytes(1), false)).toBe(false);
  });

  it('sends text or binary frames, and a frame in parts as one message (fin on the last part only)', () => {
    const { ws, conn } = connection({ sendBufferSizeLimit: 1_000, closeTimeout: 5000 });
    expect(conn.send(Buffer.from('a'), false)).toBe(true);
    expect(conn.send(Buffer.from('b'), true)).toBe(true);
    expect(conn.sendParts(Buffer.from('head'), Buffer.from('body'), Buffer.from('\0'), true)).toBe(true);
    expect(ws.sent.map((s) => [s.data.toString(), s.options])).toEqual([
      ['a', { binary: false }],
      ['b', { binary: true }],
      ['head', { binary: true, fin: false }],
      ['body', { binary: true, fin: false }],
      ['\0', { binary: true, fin: true }],
    ]);
  });

  describe('corking', () => {
    it('corks once for all writes of one tick and uncorks once when the tick ends', async () => {
      const { socket, conn } = connection({ sendBufferSizeLimit: 1_000, closeTimeout: 5000 });
      for (let i = 0; i < 5; i++) conn.send(bytes(10), false);
      conn.sendParts(bytes(1), bytes(1), bytes(1), false);
      expect(socket.corks).toBe(1);
      expect(socket.uncorks).toBe(0);
      await endOfTick();
      expect(socket.corks).toBe(1);
      expect(socket.uncorks).toBe(1);
      // The next tick corks again.
      conn.send(bytes(10), false);
      expect(socket.corks).toBe(2);
      await endOfTick();
      expect(socket.uncorks).toBe(2);
    });

    it('uncorks every connection that wrote in the tick', async () => {
      const a = connection({ sendBufferSizeLimit: 1_000, closeTimeout: 5000 });
      const b = connection({ sendBufferSizeLimit: 1_000, closeTimeout: 5000 });
      a.conn.send(bytes(1), false);
      b.conn.send(bytes(1), false);
      a.conn.send(bytes(1), false);
      await endOfTick();
      expect([a.socket.corks, a.socket.uncorks, b.socket.corks, b.socket.uncorks]).toEqual([1, 1, 1, 1]);
    });

    it('a tick whose bytes reach the limit is flushed at once and corked again (still balanced at the end)', async () => {
      const { ws, socket, conn } = connection();
      socket.onUncork = () => (ws.bufferedAmount = 0);
      // A healthy client (the kernel takes everything uncorked) gets a whole 1 000-byte burst.
      for (let i = 0; i < 20; i++) expect(conn.send(bytes(50), false)).toBe(true);
      expect(ws.sent).toHaveLength(20);
      expect(socket.corks - socket.uncorks).toBe(1);
      expect(socket.uncorks).toBeGreaterThan(0);
      await endOfTick();
      expect(socket.corks).toBe(socket.uncorks);
    });
  });

  describe('slow consumer (limits.sendBufferSizeLimit)', () => {
    it('more than the limit unsent from earlier ticks: refused, nothing written, reported once in the next turn', async () => {
      const { ws, handler, conn } = connection();
      expect(conn.send(bytes(80), false)).toBe(true);
      await endOfTick();
      // 80 unsent: within the limit.
      expect(conn.send(bytes(30), false)).toBe(true);
      await endOfTick();
      // 110 unsent > 100.
      expect(conn.send(bytes(1), false)).toBe(false);
      expect(conn.sendParts(bytes(1), bytes(1), bytes(1), false)).toBe(false);
      expect(ws.sent).toHaveLength(2);
      expect(handler.slowConsumer).toBe(0);
      await nextTurn();
      expect(handler.slowConsumer).toBe(1);
      expect(conn.send(bytes(1), false)).toBe(false);
      await nextTurn();
      expect(handler.slowConsumer).toBe(1);
      expect(ws.sent).toHaveLength(2);
    });

    it('this tick\'s corked bytes do not count, so a burst is not cut off when earlier bytes left', async () => {
      const { ws, handler, conn } = connection();
      // 100 bytes in one tick to a peer that does not read: all corked, none counted yet.
      expect(conn.send(bytes(50), false)).toBe(true);
      expect(conn.send(bytes(50), false)).toBe(true);
      await nextTurn();
      expect(handler.slowConsumer).toBe(0);
      ws.bufferedAmount = 0;
      expect(conn.send(bytes(10), false)).toBe(true);
    });

    it('one tick to a stalled peer queues at most about twice the limit', async () => {
      const { ws, handler, conn } = connection();
      let admitted = 0;
      for (let i = 0; i < 1_000; i++) if (conn.send(bytes(50), false)) admitted += 50;
      expect(admitted).toBeGreaterThanOrEqual(100);
      expect(admitted).toBeLessThanOrEqual(2 * 100 + 50);
      expect(ws.bufferedAmount).toBe(admitted);
      await nextTurn();
      expect(handler.slowConsumer).toBe(1);
    });

    it('exactly the limit unsent is not a slow consumer', async () => {
      const { ws, handler, conn } = connection();
      ws.bufferedAmount = 100;
      expect(conn.send(bytes(1), false)).toBe(true);
      await nextTurn();
      expect(handler.slowConsumer).toBe(0);
    });
  });

  describe('pause and resume', () => {
    it('pauses and resumes the socket once each, however often asked', () => {
      const { ws, conn } = connection();
      conn.pause();
      conn.pause();
      expect(ws.pauses).toBe(1);
      conn.resume();
      conn.resume();
      expect(ws.resumes).toBe(1);
    });

    it('close resumes a paused socket (to read the peer\'s close frame) and later pauses are ignored', () => {
      const { ws, conn } = connection();
      conn.pause();
      conn.close('error', 'INVALID_HEADER', 'INVALID_HEADER');
      expect(ws.resumes).toBe(1);
      conn.pause();
      expect(ws.pauses).toBe(1);
    });
  });

  describe('close', () => {
    it('sends the mapped close code and reason once, returns the code, and refuses writes after it', () => {
      const { ws, conn } = connection();
      expect(conn.close('error', 'FRAME_TOO_LARGE', 'FRAME_TOO_LARGE')).toBe(1009);
      expect(conn.isOpen).toBe(false);
      expect(conn.close('client-disconnect')).toBe(1000);
      expect(ws.closes).toEqual([{ code: 1009, reason: 'FRAME_TOO_LARGE' }]);
      expect(conn.send(bytes(1), false)).toBe(false);
      expect(ws.sent).toHaveLength(0);
    });

    it('cuts a long reason to what a close frame can carry (123 bytes of UTF-8), on a character boundary', () => {
      const { ws, conn } = connection();
      expect(() => conn.close('server-shutdown', undefined, 'é'.repeat(100))).not.toThrow();
      const reason = ws.closes[0].reason;
      expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
      expect(reason).toBe('é'.repeat(61));
      const ascii = connection();
      ascii.conn.close('server-shutdown', undefined, 'x'.repeat(500));
      expect(ascii.ws.closes[0].reason).toBe('x'.repeat(123));
    });

    it('drops a peer that does not finish the close handshake within closeTimeout', () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
      const { ws, conn } = connection();
      conn.close('slow-consumer');
      jest.advanceTimersByTime(4_999);
      expect(ws.terminations).toBe(0);
      jest.advanceTimersByTime(1);
      expect(ws.terminations).toBe(1);
      expect(logs.expect('debug', 'Connection from 10.0.0.1: close handshake not completed within 5000 ms')).toHaveLength(1);
      jest.advanceTimersByTime(60_000);
      expect(ws.terminations).toBe(1);
    });

    it('a peer that finishes the close in time is not dropped', () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
      const { ws, handler, conn } = connection();
      conn.close('client-disconnect');
      jest.advanceTimersByTime(100);
      ws.emit('close', 1000);
      jest.advanceTimersByTime(60_000);
      expect(ws.terminations).toBe(0);
      expect(handler.closes).toEqual([1000]);
    });

    it('terminate() drops the socket at once', () => {
      const { ws, conn } = connection();
      conn.terminate();
      expect(ws.terminations).toBe(1);
      expect(ws.closes).toEqual([]);
    });
  });
});
