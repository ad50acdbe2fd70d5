import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { StompErrorCode, StompProtocolError } from '../../lib/protocol/stomp-protocol-error.js';
import type { Connection } from '../../lib/transport/sockjs-internals.js';
import { SockJsConnection, type SockJsConnectionLimits } from '../../lib/transport/sockjs-connection.js';
import type { SessionCloseReason, StompConnectionHandler } from '../../lib/transport/stomp-connection.js';
import { webSocketCloseCode } from '../../lib/transport/websocket-connection.js';
import { CapturingLogger } from '../support/stomp-app.js';

/** The receiving request's TCP socket: what it has not sent yet, and whether it was destroyed. */
class FakeSocket {
  writableLength = 0;
  destroyed = false;
  destroys = 0;
  destroy(): void {
    this.destroys++;
    this.destroyed = true;
  }
}

/** sockjs's `Session` as `lib/transport/sockjs-internals.ts` reads it. */
class FakeSession {
  session_id: string | null = 'abc123';
  readyState = 1;
  /** Frames not yet flushed to a receiver (sockjs swaps the whole array out when it flushes). */
  send_buffer: string[] = [];
  recv: { response?: { socket: FakeSocket }; connection?: FakeSocket; didAbort?: () => void } | null = null;
  timeouts = 0;
  aborts = 0;

  constructor(private readonly owner: FakeSockJs) {}

  /** A receiver (an xhr-streaming response) attaches: `socket` is its TCP socket. */
  attach(socket: FakeSocket): void {
    this.recv = {
      response: { socket },
      didAbort: () => {
        this.aborts++;
        this.recv = null;
        this.owner.end();
      },
    };
  }

  /** The receiver takes what is queued: it moves to its socket's buffer. */
  flush(): void {
    const socket = this.recv?.response?.socket;
    if (!socket) return;
    socket.writableLength += this.send_buffer.reduce((n, m) => n + m.length, 0);
    this.send_buffer = [];
  }

  didTimeout(): void {
    this.timeouts++;
    this.owner.end();
  }
}

/**
 * A sockjs `Connection`: records writes and closes. With no receiver attached, writes stay in
 * `_session.send_buffer`; with `flushing` set, an attached receiver takes each write at once.
 */
class FakeSockJs extends EventEmitter {
  readonly protocol: string;
  readonly remoteAddress = '10.0.0.7';
  readonly url = '/ws/000/abc123/xhr_streaming';
  readyState = 1;
  readonly written: string[] = [];
  readonly closes: Array<{ code?: number; reason?: string }> = [];
  /** Emit `close` from inside close() (as sockjs's websocket transport may). */
  closeSynchronously = false;
  flushing = false;
  readonly _session = new FakeSession(this);

  constructor(protocol = 'xhr-streaming') {
    super();
    this.protocol = protocol;
  }

  write(message: string): boolean {
    if (this.readyState !== 1) return false;
    this._session.send_buffer.push(message);
    this.written.push(message);
    if (this.flushing) this._session.flush();
    return true;
  }

  close(code?: number, reason?: string): boolean {
    this.closes.push({ code, reason });
    if (this.readyState !== 1) return false;
    this.readyState = 2;
    if (this.closeSynchronously) this.end();
    return true;
  }

  /** The session ends: sockjs emits `close` once. */
  end(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this._session.readyState = 3;
    this.emit('close');
  }
}

class RecordingHandler implements StompConnectionHandler {
  readonly data: string[] = [];
  readonly closes: number[] = [];
  readonly errors: StompProtocolError[] = [];
  slowConsumer = 0;
  /** Called for each onData, e.g. to pause the connection from inside the handler. */
  onEach?: (text: string) => void;
  onData(data: Buffer): void {
    const text = data.toString('utf8');
    this.data.push(text);
    this.onEach?.(text);
  }
  onClose(code: number): void {
    this.closes.push(code);
  }
  onSlowConsumer(): void {
    this.slowConsumer++;
  }
  onTransportError(error: StompProtocolError): void {
    this.errors.push(error);
  }
}

const limits: SockJsConnectionLimits = { sendBufferSizeLimit: 100, closeTimeout: 5000, maxWebSocketMessageSize: 10 };

function connection(l: SockJsConnectionLimits = limits, protocol = 'xhr-streaming') {
  const sockjs = new FakeSockJs(protocol);
  const handler = new RecordingHandler();
  const conn = new SockJsConnection(sockjs as unknown as Connection, '/ws', l);
  conn.bind(handler);
  return { sockjs, handler, conn };
}

const chars = (n: number, c = 'a'): string => c.repeat(n);
const buf = (s: string): Buffer => Buffer.from(s, 'utf8');
const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('SockJsConnection', () => {
  let logs: CapturingLogger;
  beforeEach(() => {
    logs = new CapturingLogger();
    Logger.overrideLogger(logs);
  });
  afterEach(() => {
    jest.useRealTimers();
    logs.assertNoUnexpectedErrors();
  });

  it('names its transport sockjs/<protocol>, carries text only, and keeps endpoint and address', () => {
    for (const protocol of ['websocket', 'xhr-streaming', 'xhr-polling', 'eventsource']) {
      const { conn } = connection(limits, protocol);
      expect(conn.transport).toBe(`sockjs/${protocol}`);
      expect(conn.supportsBinary).toBe(false);
      expect(conn.endpoint).toBe('/ws');
      expect(conn.remoteAddress).toBe('10.0.0.7');
      expect(conn.isOpen).toBe(true);
    }
  });

  describe('sending', () => {
    it('sends a frame as one string message, decoded as UTF-8', () => {
      const { sockjs, conn } = connection();
      expect(conn.send(buf('MESSAGE\ndestination:/topic/é\n\nhällo 😀\0'), true)).toBe(true);
      expect(conn.send(buf('\n'), false)).toBe(true);
      expect(sockjs.written).toEqual(['MESSAGE\ndestination:/topic/é\n\nhällo 😀\0', '\n']);
    });

    it('sends a frame in parts as one message (head + body + tail), converting each body right', () => {
      const { sockjs, conn } = connection({ ...limits, sendBufferSizeLimit: 1000 });
      const body1 = buf('größe 😀');
      const body2 = buf('zweite');
      expect(conn.sendParts(buf('MESSAGE\ncontent-length:11\n\n'), body1, buf('\0'), false)).toBe(true);
      expect(conn.sendParts(buf('MESSAGE\n\n'), body2, buf('\0'), false)).toBe(true);
      // The same shared body again (a fan-out), then the first one again.
      expect(conn.sendParts(buf('M\n\n'), body2, buf('\0'), false)).toBe(true);
      expect(conn.sendParts(buf('M\n\n'), body1, buf('\0'), false)).toBe(true);
      expect(sockjs.written).toEqual(['MESSAGE\ncontent-length:11\n\ngröße 😀\0', 'MESSAGE\n\nzweite\0', 'M\n\nzweite\0', 'M\n\ngröße 😀\0']);
      // A second connection sharing the body gets the same text.
      const other = connection();
      other.conn.sendParts(buf('H'), body1, buf('T'), false);
      expect(other.sockjs.written).toEqual(['Hgröße 😀T']);
    });

    it('refuses writes once sockjs refuses them (session no longer open)', () => {
      const { sockjs, conn } = connection();
      sockjs.readyState = 3;
      expect(conn.send(buf('x'), false)).toBe(false);
      expect(sockjs.written).toEqual([]);
    });
  });

  describe('receiving', () => {
    it('passes each string message on as UTF-8 bytes, in order', () => {
      const { sockjs, handler } = connection();
      sockjs.emit('data', 'CONNECT\naccept-version:1.2\n\n\0');
      sockjs.emit('data', 'SEND\ndestination:/app/é\n\nhällo\0SEND\ndestination:/b\n\n\0');
      expect(handler.data).toEqual(['CONNECT\naccept-version:1.2\n\n\0', 'SEND\ndestination:/app/é\n\nhällo\0SEND\ndestination:/b\n\n\0']);
      expect(handler.errors).toEqual([]);
    });

    it('carries a trailing high surrogate to the next message, so a character split across messages arrives whole', () => {
      const { sockjs, handler } = connection();
      const smile = '😀'; // \uD83D\uDE00
      sockjs.emit('data', `a${smile[0]}`);
      expect(handler.data).toEqual(['a']);
      sockjs.emit('data', `${smile[1]}b`);
      expect(handler.data).toEqual(['a', '😀b']);
      // A message that is only a high surrogate delivers nothing until the rest comes.
      sockjs.emit('data', smile[0]);
      expect(handler.data).toEqual(['a', '😀b']);
      sockjs.emit('data', smile[1]);
      expect(handler.data).toEqual(['a', '😀b', '😀']);
      // The bytes are those of the whole character, not two replacement characters.
      expect(Buffer.from(handler.data[2], 'utf8')).toEqual(Buffer.from([0xf0, 0x9f, 0x98, 0x80]));
      // An empty message delivers nothing.
      sockjs.emit('data', '');
      expect(handler.data).toHaveLength(3);
    });

    it.each([
      [42, 'number'],
      [{ a: 1 }, 'object'],
      [['x'], 'object'],
      [null, 'null'],
      [true, 'boolean'],
    ])('a non-string message (%j) is a transport error INVALID_SOCKJS_MESSAGE, not data', (message, kind) => {
      const { sockjs, handler } = connection();
      sockjs.emit('data', message);
      expect(handler.data).toEqual([]);
      expect(handler.errors.map((e) => [e.code, e.message])).toEqual([['INVALID_SOCKJS_MESSAGE', `SockJS messages must be strings, got ${kind}`]]);
      // The string after it still arrives.
      sockjs.emit('data', 'ok');
      expect(handler.data).toEqual(['ok']);
    });

    it('ignores messages that arrive once closing started', () => {
      const { sockjs, handler, conn } = connection();
      conn.close('client-disconnect');
      sockjs.emit('data', 'late');
      sockjs.emit('data', 7);
      expect(handler.data).toEqual([]);
      expect(handler.errors).toEqual([]);
    });
  });

  describe('pause and resume', () => {
    it('holds messages while paused and delivers them in order on resume', () => {
      const { sockjs, handler, conn } = connection({ ...limits, maxWebSocketMessageSize: 1000 });
      conn.pause();
      sockjs.emit('data', 'one');
      sockjs.emit('data', 'two');
      sockjs.emit('data', 'three');
      expect(handler.data).toEqual([]);
      conn.resume();
      expect(handler.data).toEqual(['one', 'two', 'three']);
      sockjs.emit('data', 'four');
      expect(handler.data).toEqual(['one', 'two', 'three', 'four']);
      // A second resume delivers nothing again.
      conn.resume();
      expect(handler.data).toEqual(['one', 'two', 'three', 'four']);
    });

    it('a handler that pauses again while held messages are delivered keeps the rest, in order, before newer ones', () => {
      const { sockjs, handler, conn } = connection({ ...limits, maxWebSocketMessageSize: 1000 });
      conn.pause();
      for (const m of ['a', 'b', 'c', 'd']) sockjs.emit('data', m);
      handler.onEach = (text) => {
        if (text === 'b') {
          conn.pause();
          // Arrives while the handler is still at work on 'b'.
          sockjs.emit('data', 'e');
        }
      };
      conn.resume();
      expect(handler.data).toEqual(['a', 'b']);
      handler.onEach = undefined;
      conn.resume();
      expect(handler.data).toEqual(['a', 'b', 'c', 'd', 'e']);
    });

    it('up to maxWebSocketMessageSize bytes held is fine; more fails with INBOUND_QUEUE_FULL and drops what was held', () => {
      const { sockjs, handler, conn } = connection();
      conn.pause();
      sockjs.emit('data', chars(6));
      sockjs.emit('data', 'ééé'.slice(0, 2)); // 4 bytes: exactly 10 held
      expect(handler.errors).toEqual([]);
      sockjs.emit('data', 'x'); // 11 bytes
      expect(handler.errors.map((e) => e.code)).toEqual(['INBOUND_QUEUE_FULL']);
      expect(handler.errors[0].message).toContain('More than 10 bytes received over SockJS');
      conn.resume();
      expect(handler.data).toEqual([]);
    });

    it('counts bytes, not characters', () => {
      const { sockjs, handler, conn } = connection();
      conn.pause();
      sockjs.emit('data', 'éééé'); // 4 characters, 8 bytes
      sockjs.emit('data', 'éé'); // 12 bytes
      expect(handler.errors.map((e) => e.code)).toEqual(['INBOUND_QUEUE_FULL']);
    });

    it('close ends a pause and drops what was held; pause after close is ignored', () => {
      const { sockjs, handler, conn } = connection();
      conn.pause();
      sockjs.emit('data', 'held');
      conn.close('server-shutdown');
      conn.resume();
      conn.pause();
      expect(handler.data).toEqual([]);
    });
  });

  describe('slow consumer (limits.sendBufferSizeLimit)', () => {
    it('more than the limit queued in the SockJS session: refused, reported once in the next turn', async () => {
      const { sockjs, handler, conn } = connection();
      expect(conn.send(buf(chars(60)), false)).toBe(true);
      expect(conn.send(buf(chars(50)), false)).toBe(true); // 60 unsent before it: fine
      expect(sockjs._session.send_buffer).toHaveLength(2);
      expect(conn.send(buf('x'), false)).toBe(false); // 110 unsent
      expect(conn.send(buf('y'), false)).toBe(false);
      expect(sockjs.written).toHaveLength(2);
      expect(handler.slowConsumer).toBe(0);
      await nextTurn();
      expect(handler.slowConsumer).toBe(1);
      expect(conn.sendParts(buf('a'), buf('b'), buf('c'), false)).toBe(false);
      await nextTurn();
      await nextTurn();
      expect(handler.slowConsumer).toBe(1);
    });

    it('exactly the limit unsent is not a slow consumer', async () => {
      const { handler, conn } = connection();
      expect(conn.send(buf(chars(100)), false)).toBe(true);
      expect(conn.send(buf('x'), false)).toBe(true);
      expect(conn.send(buf('y'), false)).toBe(false);
      await nextTurn();
      expect(handler.slowConsumer).toBe(1);
    });

    it('counts characters queued plus what the receiving socket has not sent', async () => {
      const { sockjs, handler, conn } = connection();
      const socket = new FakeSocket();
      sockjs._session.attach(socket);
      sockjs.flushing = true;
      socket.writableLength = 90;
      expect(conn.send(buf(chars(15)), false)).toBe(true); // 90 unsent before it
      expect(socket.writableLength).toBe(105);
      expect(sockjs._session.send_buffer).toEqual([]);
      expect(conn.send(buf('x'), false)).toBe(false); // 105
      await nextTurn();
      expect(handler.slowConsumer).toBe(1);
    });

    it('a flush (sockjs swaps its queue out) and a drained socket make room again', async () => {
      const { sockjs, handler, conn } = connection();
      expect(conn.send(buf(chars(60)), false)).toBe(true);
      expect(conn.send(buf(chars(50)), false)).toBe(true);
      // A polling request comes and takes both, and the kernel takes them from its socket.
      const socket = new FakeSocket();
      sockjs._session.attach(socket);
      sockjs._session.flush();
      expect(socket.writableLength).toBe(110);
      socket.writableLength = 0;
      sockjs._session.recv = null;
      expect(conn.send(buf(chars(80)), false)).toBe(true);
      expect(conn.send(buf(chars(20)), false)).toBe(true); // 80 queued
      expect(conn.send(buf('x'), false)).toBe(true); // 100 queued: not more than the limit
      expect(conn.send(buf('y'), false)).toBe(false); // 101
      await nextTurn();
      expect(handler.slowConsumer).toBe(1);
    });

    it('counts a frame of multi-byte characters by its characters', () => {
      const { conn } = connection();
      expect(conn.send(buf('é'.repeat(100)), false)).toBe(true); // 200 bytes, 100 characters
      expect(conn.send(buf('x'), false)).toBe(true);
    });
  });

  describe('close', () => {
    const table: Array<[SessionCloseReason, StompErrorCode | undefined]> = [
      ['client-disconnect', undefined],
      ['socket-closed', undefined],
      ['server-shutdown', undefined],
      ['slow-consumer', undefined],
      ['heartbeat-timeout', undefined],
      ['error', 'FRAME_TOO_LARGE'],
      ['error', 'CONNECT_REJECTED'],
      ['error', 'INBOUND_QUEUE_FULL'],
      ['error', 'INVALID_SOCKJS_MESSAGE'],
      ['error', 'INTERNAL_ERROR'],
      ['error', undefined],
    ];
    it.each(table)('%s %s: closes the SockJS session with the WebSocket close code', (reason, errorCode) => {
      const { sockjs, conn } = connection();
      const expected = webSocketCloseCode(reason, errorCode);
      expect(conn.close(reason, errorCode, 'why')).toBe(expected);
      expect(sockjs.closes).toEqual([{ code: expected, reason: 'why' }]);
    });

    it('pins a few codes of that table', () => {
      expect([
        connection().conn.close('client-disconnect'),
        connection().conn.close('server-shutdown'),
        connection().conn.close('slow-consumer'),
        connection().conn.close('error', 'FRAME_TOO_LARGE'),
        connection().conn.close('error', 'INVALID_SOCKJS_MESSAGE'),
        connection().conn.close('error', 'INTERNAL_ERROR'),
      ]).toEqual([1000, 1001, 1008, 1009, 1002, 1011]);
    });

    it('closes sockjs once, returns the code every time, and refuses writes after it', () => {
      const { sockjs, conn } = connection();
      expect(conn.close('error', 'FRAME_TOO_LARGE', 'FRAME_TOO_LARGE')).toBe(1009);
      expect(conn.isOpen).toBe(false);
      expect(conn.close('client-disconnect')).toBe(1000);
      expect(sockjs.closes).toEqual([{ code: 1009, reason: 'FRAME_TOO_LARGE' }]);
      expect(conn.send(buf('x'), false)).toBe(false);
      expect(conn.sendParts(buf('a'), buf('b'), buf('c'), false)).toBe(false);
      expect(sockjs.written).toEqual([]);
    });

    it('cuts a long reason as a WebSocket close frame would (123 bytes of UTF-8, on a character boundary)', () => {
      const { sockjs, conn } = connection();
      conn.close('server-shutdown', undefined, 'é'.repeat(100));
      expect(sockjs.closes[0].reason).toBe('é'.repeat(61));
    });

    it("sockjs's close reaches onClose in the next tick, exactly once", async () => {
      const { sockjs, handler, conn } = connection();
      sockjs.emit('close');
      sockjs.emit('close');
      expect(handler.closes).toEqual([]);
      expect(conn.isOpen).toBe(true);
      await nextTick();
      expect(handler.closes).toEqual([1000]);
      expect(conn.isOpen).toBe(false);
      await nextTurn();
      expect(handler.closes).toEqual([1000]);
      // After it, close() does not touch sockjs.
      expect(conn.close('client-disconnect')).toBe(1000);
      expect(sockjs.closes).toEqual([]);
    });

    it('a close that sockjs reports from inside close() reaches the handler after close() returned', async () => {
      const { sockjs, handler, conn } = connection(limits, 'websocket');
      sockjs.closeSynchronously = true;
      conn.close('client-disconnect');
      expect(sockjs.readyState).toBe(3);
      expect(handler.closes).toEqual([]);
      await nextTick();
      expect(handler.closes).toEqual([1000]);
    });

    it('with a request attached, closes and ends the session at once (nothing more could reach the client)', async () => {
      const { sockjs, handler, conn } = connection();
      const socket = new FakeSocket();
      sockjs._session.attach(socket);
      conn.close('client-disconnect');
      expect(sockjs.closes).toEqual([{ code: 1000, reason: '' }]);
      expect(sockjs._session.aborts).toBe(1);
      expect(sockjs.readyState).toBe(3);
      expect(handler.closes).toEqual([]);
      await nextTick();
      expect(handler.closes).toEqual([1000]);
      expect(socket.destroys).toBe(0);
    });

    it('drops a socket that has not sent its last frames within closeTimeout, even after the session ended', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
      const { sockjs, handler, conn } = connection();
      const socket = new FakeSocket();
      sockjs._session.attach(socket);
      socket.writableLength = 500; // the client stopped reading
      conn.close('slow-consumer');
      await nextTick();
      expect(handler.closes).toEqual([1000]);
      jest.advanceTimersByTime(4_999);
      expect(socket.destroys).toBe(0);
      jest.advanceTimersByTime(1);
      expect(socket.destroys).toBe(1);
      expect(logs.expect('debug', 'SockJS connection from 10.0.0.7: last frames not sent within 5000 ms; dropping the connection')).toHaveLength(1);
      jest.advanceTimersByTime(60_000);
      expect(socket.destroys).toBe(1);
      expect(sockjs._session.aborts).toBe(1);
      expect(handler.closes).toEqual([1000]);
      expect(logs.at('debug')).toHaveLength(1);
    });

    it('a socket that sent everything (or was destroyed already) is left alone when closeTimeout passes', () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
      const drained = connection();
      const socket = new FakeSocket();
      drained.sockjs._session.attach(socket);
      drained.conn.close('heartbeat-timeout');
      const gone = connection();
      const goneSocket = new FakeSocket();
      gone.sockjs._session.attach(goneSocket);
      goneSocket.writableLength = 500;
      gone.conn.close('heartbeat-timeout');
      goneSocket.destroy();
      jest.advanceTimersByTime(60_000);
      expect(socket.destroys).toBe(0);
      expect(goneSocket.destroys).toBe(1);
      expect(logs.at('debug')).toEqual([]);
    });

    it('with no request attached (between two polls), the close waits for the next request, at most closeTimeout, then the session is ended', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
      const { sockjs, handler, conn } = connection();
      conn.close('heartbeat-timeout');
      expect(sockjs.closes).toEqual([{ code: 1002, reason: '' }]);
      expect(sockjs.readyState).toBe(2);
      jest.advanceTimersByTime(4_999);
      expect(sockjs._session.timeouts).toBe(0);
      await nextTick();
      expect(handler.closes).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(sockjs._session.timeouts).toBe(1);
      expect(sockjs.readyState).toBe(3);
      await nextTick();
      expect(handler.closes).toEqual([1000]);
      jest.advanceTimersByTime(60_000);
      expect(sockjs._session.timeouts).toBe(1);
      expect(handler.closes).toEqual([1000]);
    });

    it('a session that ends in time is not ended again when closeTimeout passes', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
      const { sockjs, handler, conn } = connection();
      conn.close('client-disconnect');
      jest.advanceTimersByTime(100);
      sockjs.end(); // the next poll took the close frame
      await nextTick();
      jest.advanceTimersByTime(60_000);
      expect(sockjs._session.timeouts).toBe(0);
      expect(sockjs._session.aborts).toBe(0);
      expect(handler.closes).toEqual([1000]);
      expect(logs.at('debug')).toEqual([]);
    });

    it('ends a session with no request with a tiny real closeTimeout too', async () => {
      const { sockjs, handler, conn } = connection({ ...limits, closeTimeout: 5 });
      conn.close('slow-consumer');
      for (let i = 0; i < 200 && handler.closes.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(sockjs._session.timeouts).toBe(1);
      expect(handler.closes).toEqual([1000]);
    });

    it('terminate() ends the session and destroys its socket at once, without a close frame', async () => {
      const { sockjs, handler, conn } = connection();
      const socket = new FakeSocket();
      sockjs._session.attach(socket);
      conn.terminate();
      expect(sockjs._session.aborts).toBe(1);
      expect(socket.destroys).toBe(1);
      expect(sockjs.closes).toEqual([]);
      await nextTick();
      expect(handler.closes).toEqual([1000]);
    });
  });
});
