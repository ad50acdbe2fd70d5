import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { StompSessionEvent } from '../../lib/events/stomp-events.js';
import type { StompChannelInterceptor } from '../../lib/messaging/channel-interceptor.js';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';
import type { StompModuleOptions } from '../../lib/module/stomp-options.js';
import type { StompFrame, StompHeaders } from '../../lib/protocol/frame.js';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import { OutboundMessage } from '../../lib/protocol/message-frame.js';
import { StompProtocolError } from '../../lib/protocol/stomp-protocol-error.js';
import { SessionSubscription } from '../../lib/transport/session-subscription.js';
import { StompSession, type ClientInboundHandler } from '../../lib/transport/stomp-session.js';
import { FakeConnection, fakeRequest, sessionServices } from '../support/fake-connection.js';
import { CapturingLogger } from '../support/stomp-app.js';

// ---- helpers ------------------------------------------------------------------------------------

interface Written {
  command: string;
  headers: StompHeaders;
  body: string;
}

/** The frames the session wrote, decoded (heart-beats left out). */
function written(conn: FakeConnection): Written[] {
  const out: Written[] = [];
  const decoder = new FrameDecoder(resolveStompOptions().limits, {
    onFrame: (f) => out.push({ command: f.command, headers: { ...f.headers }, body: f.body.toString('utf8') }),
  });
  for (const w of conn.written) if (w.data.toString() !== '\n') decoder.push(w.data);
  return out;
}

const heartbeats = (conn: FakeConnection): number => conn.texts.filter((t) => t === '\n').length;

function frame(command: string, headers: Record<string, string> = {}, body = ''): string {
  let text = `${command}\n`;
  for (const [name, value] of Object.entries(headers)) text += `${name}:${value}\n`;
  return `${text}\n${body}\0`;
}

const CONNECT = frame('CONNECT', { 'accept-version': '1.2', host: 'localhost' });

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => (resolve = res));
  return { promise, resolve };
}

/** Lets Promise callbacks run, then one event-loop turn (never a wall-clock wait). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/**
 * A scripted router behind the client inbound channel. It records every frame routed to it (by
 * command, and `n` when the frame has one), keeps subscriptions in `session.subscriptions` as
 * the real dispatcher does, delivers a MESSAGE per subscription for a SEND with `echo:true`, and
 * can hold a frame with a Promise (`hold`) or throw (`fail`).
 */
class ScriptedHandler implements ClientInboundHandler {
  readonly routed: string[] = [];
  readonly frames: StompFrame[] = [];
  readonly holds = new Map<string, Deferred>();
  connected = 0;
  closed = 0;
  /** Frames (by `n`) whose handling returns a Promise the test settles. */
  hold = new Set<string>();
  /** Throws this for a frame with `n:fail`. */
  failWith?: unknown;
  /** CONNECT handling returns this Promise (an asynchronous authentication, say). */
  connectPromise?: Promise<void>;

  handle(session: StompSession, frame: StompFrame): void | Promise<void> {
    const n = frame.headers['n'];
    this.routed.push(n === undefined ? frame.command : `${frame.command} ${n}`);
    this.frames.push(frame);
    if (n === 'fail') throw this.failWith;
    switch (frame.command) {
      case 'CONNECT':
      case 'STOMP':
        return this.connectPromise;
      case 'SUBSCRIBE': {
        const id = frame.headers['id'];
        const destination = frame.headers['destination'];
        session.subscriptions.set(id, new SessionSubscription(session, id, destination, 'auto', frame.headers, 'broker'));
        break;
      }
      case 'UNSUBSCRIBE':
        session.subscriptions.delete(frame.headers['id']);
        break;
      case 'SEND':
        if (frame.headers['echo'] === 'true') {
          for (const sub of session.subscriptions.values()) {
            session.deliver(sub, new OutboundMessage(frame.headers['destination'], `m-${n}`, { 'content-type': 'text/plain' }, frame.body));
          }
        }
        break;
    }
    if (n !== undefined && this.hold.has(n)) {
      const d = deferred();
      this.holds.set(n, d);
      return d.promise;
    }
  }

  sessionConnected(): void {
    this.connected++;
  }

  sessionClosed(): void {
    this.closed++;
  }

  release(n: string): void {
    const d = this.holds.get(n);
    if (d === undefined) throw new Error(`frame ${n} is not held`);
    d.resolve();
  }
}

interface Harness {
  conn: FakeConnection;
  session: StompSession;
  handler: ScriptedHandler;
  events: StompSessionEvent[];
}

const open: FakeConnection[] = [];

function start(
  options: StompModuleOptions = {},
  interceptors: { clientInbound?: StompChannelInterceptor[]; clientOutbound?: StompChannelInterceptor[] } = {},
  handler = new ScriptedHandler(),
): Harness {
  const conn = new FakeConnection();
  const services = sessionServices(handler, interceptors);
  const session = new StompSession(conn, fakeRequest, resolveStompOptions(options), services, undefined);
  open.push(conn);
  return { conn, session, handler, events: services.recorded };
}

/** A session with CONNECTED sent. */
function connected(
  options: StompModuleOptions = {},
  interceptors: { clientInbound?: StompChannelInterceptor[]; clientOutbound?: StompChannelInterceptor[] } = {},
): Harness {
  const h = start(options, interceptors);
  h.conn.receive(CONNECT);
  expect(h.session.state).toBe('connected');
  return h;
}

const interceptor = (preSend: StompChannelInterceptor['preSend']): StompChannelInterceptor => ({ preSend });

let logs: CapturingLogger;

beforeEach(() => {
  logs = new CapturingLogger();
  Logger.overrideLogger(logs);
});

afterEach(() => {
  // Ends every session (and its timers).
  for (const conn of open.splice(0)) conn.end();
  jest.useRealTimers();
  logs.assertNoUnexpectedErrors();
});

// ---- CONNECT ------------------------------------------------------------------------------------

describe('StompSession over a fake connection', () => {
  describe('CONNECT', () => {
    it('answers CONNECTED with version, heart-beat, server, session and the user named by a clientInbound interceptor', () => {
      const auth = interceptor((f, context) => {
        if (f.command === 'CONNECT') context.connect?.setUser(f.headers['login']);
      });
      const { conn, session, handler, events } = start({ serverName: 'test-server/1' }, { clientInbound: [auth] });
      conn.receive(frame('CONNECT', { 'accept-version': '1.0,1.1,1.2', host: 'h', login: 'alice', 'heart-beat': '20000,30000' }));
      const [connectedFrame, ...rest] = written(conn);
      expect(rest).toEqual([]);
      expect(connectedFrame.command).toBe('CONNECTED');
      expect(connectedFrame.headers).toEqual({
        version: '1.2',
        // server-to-client first: the client wants one every 30 s, and sends one every 20 s.
        'heart-beat': '30000,20000',
        server: 'test-server/1',
        session: session.id,
        'user-name': 'alice',
      });
      expect(session.user).toBe('alice');
      expect(session.info.user).toBe('alice');
      expect(session.state).toBe('connected');
      expect(session.negotiatedHeartbeat).toEqual({ clientToServer: 20_000, serverToClient: 30_000 });
      // CONNECT reaches the router too.
      expect(handler.routed).toEqual(['CONNECT']);
      expect(handler.connected).toBe(1);
      expect(events.map((e) => e.type)).toEqual(['connect', 'connected']);
    });

    it('negotiates the highest common version; no user-name without a user; heart-beats raised to the floor', () => {
      const { conn } = start({ broker: { heartbeat: { floor: 5000 } } });
      conn.receive(frame('STOMP', { 'accept-version': '1.0,1.1', host: 'h', 'heart-beat': '1000,0' }));
      const [connectedFrame] = written(conn);
      expect(connectedFrame.headers['version']).toBe('1.1');
      expect(connectedFrame.headers['heart-beat']).toBe('0,5000');
      expect(connectedFrame.headers['user-name']).toBeUndefined();
    });

    it('frames pipelined behind a CONNECT whose handling is asynchronous wait for CONNECTED', async () => {
      const { conn, handler } = start();
      const auth = deferred();
      handler.connectPromise = auth.promise;
      conn.receive(CONNECT + frame('SEND', { destination: '/queue/a', receipt: 'r-1', n: '1' }));
      await settle();
      expect(written(conn)).toEqual([]);
      expect(handler.routed).toEqual(['CONNECT']);
      auth.resolve();
      await settle();
      expect(handler.routed).toEqual(['CONNECT', 'SEND 1']);
      expect(written(conn).map((f) => f.command)).toEqual(['CONNECTED', 'RECEIPT']);
    });

    it('a second CONNECT is an ERROR ALREADY_CONNECTED, then close', () => {
      const { conn } = connected();
      conn.receive(CONNECT);
      expect(written(conn).map((f) => f.command)).toEqual(['CONNECTED', 'ERROR']);
      expect(conn.closes).toEqual([{ reason: 'error', errorCode: 'ALREADY_CONNECTED', message: 'ALREADY_CONNECTED', code: 1002 }]);
    });
  });

  describe('frames before CONNECT', () => {
    it('answers ERROR NOT_CONNECTED (with receipt-id), sends no RECEIPT, routes nothing, then closes with 1002', () => {
      const { conn, handler, events } = start();
      conn.receive(frame('SEND', { destination: '/queue/a', receipt: 'r-1' }, 'hi') + CONNECT);
      const frames = written(conn);
      expect(frames.map((f) => f.command)).toEqual(['ERROR']);
      expect(frames[0].headers['message']).toBe('Expected a CONNECT or STOMP frame, got SEND');
      expect(frames[0].headers['receipt-id']).toBe('r-1');
      expect(conn.closes).toEqual([{ reason: 'error', errorCode: 'NOT_CONNECTED', message: 'NOT_CONNECTED', code: 1002 }]);
      // The CONNECT behind it is never handled.
      expect(handler.routed).toEqual([]);
      expect(events).toEqual([]);
      conn.end(1002);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'disconnect', reason: 'error', closeCode: 1002, errorCode: 'NOT_CONNECTED' });
    });
  });

  // ---- ordering and receipts --------------------------------------------------------------------

  describe('ordering', () => {
    it('a handler returning a Promise holds later frames; each RECEIPT follows what its frame wrote', async () => {
      const { conn, handler } = connected();
      handler.hold = new Set(['1', '3']);
      conn.receive(frame('SUBSCRIBE', { id: 's', destination: '/topic/t', n: '0' }));
      conn.receive(
        frame('SEND', { destination: '/topic/t', echo: 'true', receipt: 'r-1', n: '1' }, 'one') +
          frame('SEND', { destination: '/topic/t', echo: 'true', receipt: 'r-2', n: '2' }, 'two') +
          frame('SEND', { destination: '/topic/t', echo: 'true', receipt: 'r-3', n: '3' }, 'three'),
      );
      conn.receive(frame('SEND', { destination: '/topic/t', echo: 'true', receipt: 'r-4', n: '4' }, 'four'));
      await settle();
      expect(handler.routed).toEqual(['CONNECT', 'SUBSCRIBE 0', 'SEND 1']);
      // Frame 1's MESSAGE is out; its RECEIPT waits for its handling to finish.
      expect(written(conn).map((f) => f.command)).toEqual(['CONNECTED', 'MESSAGE']);
      handler.release('1');
      await settle();
      expect(handler.routed).toEqual(['CONNECT', 'SUBSCRIBE 0', 'SEND 1', 'SEND 2', 'SEND 3']);
      handler.release('3');
      await settle();
      expect(handler.routed).toEqual(['CONNECT', 'SUBSCRIBE 0', 'SEND 1', 'SEND 2', 'SEND 3', 'SEND 4']);
      const frames = written(conn).map((f) => (f.command === 'MESSAGE' ? `MESSAGE ${f.body}` : f.command === 'RECEIPT' ? `RECEIPT ${f.headers['receipt-id']}` : f.command));
      expect(frames).toEqual([
        'CONNECTED',
        'MESSAGE one', 'RECEIPT r-1',
        'MESSAGE two', 'RECEIPT r-2',
        'MESSAGE three', 'RECEIPT r-3',
        'MESSAGE four', 'RECEIPT r-4',
      ]);
    });

    it('an asynchronous clientInbound interceptor holds later frames too', async () => {
      const gate = deferred();
      const slow = interceptor(async (f) => {
        if (f.headers['n'] === '1') await gate.promise;
      });
      const { conn, handler } = start({}, { clientInbound: [slow] });
      conn.receive(CONNECT);
      await settle();
      conn.receive(frame('SEND', { destination: '/queue/a', n: '1', receipt: 'r-1' }) + frame('SEND', { destination: '/queue/a', n: '2', receipt: 'r-2' }));
      await settle();
      expect(handler.routed).toEqual(['CONNECT']);
      gate.resolve();
      await settle();
      expect(handler.routed).toEqual(['CONNECT', 'SEND 1', 'SEND 2']);
      expect(written(conn).map((f) => f.headers['receipt-id'])).toEqual([undefined, 'r-1', 'r-2']);
    });
  });

  describe('receipts', () => {
    it('every command but CONNECT gets its RECEIPT, in order', async () => {
      const { conn } = start();
      conn.receive(frame('CONNECT', { 'accept-version': '1.2', host: 'h', receipt: 'r-connect' }));
      const commands: Array<[string, Record<string, string>]> = [
        ['SUBSCRIBE', { id: 's1', destination: '/topic/t' }],
        ['SEND', { destination: '/topic/t' }],
        ['ACK', { id: 'a1' }],
        ['NACK', { id: 'a2' }],
        ['BEGIN', { transaction: 'tx' }],
        ['COMMIT', { transaction: 'tx' }],
        ['ABORT', { transaction: 'tx2' }],
        ['UNSUBSCRIBE', { id: 's1' }],
        ['DISCONNECT', {}],
      ];
      conn.receive(commands.map(([command, headers], i) => frame(command, { ...headers, receipt: `r-${i}` })).join(''));
      await settle();
      const frames = written(conn);
      expect(frames[0].command).toBe('CONNECTED');
      expect(frames[0].headers['receipt-id']).toBeUndefined();
      expect(frames.slice(1).map((f) => `${f.command} ${f.headers['receipt-id']}`)).toEqual(commands.map((_, i) => `RECEIPT r-${i}`));
    });

    it('a frame an inbound interceptor dropped (null) gets no RECEIPT and is not routed; the next one is', () => {
      const dropper = interceptor((f) => (f.headers['drop'] === 'yes' ? null : undefined));
      const { conn, handler } = connected({}, { clientInbound: [dropper] });
      conn.receive(frame('SEND', { destination: '/queue/a', drop: 'yes', receipt: 'r-1', n: '1' }) + frame('SEND', { destination: '/queue/a', receipt: 'r-2', n: '2' }));
      expect(handler.routed).toEqual(['CONNECT', 'SEND 2']);
      expect(written(conn).map((f) => `${f.command} ${f.headers['receipt-id'] ?? ''}`)).toEqual(['CONNECTED ', 'RECEIPT r-2']);
      expect(conn.closes).toEqual([]);
    });

    it('a header an inbound interceptor changed is what gets routed, and the RECEIPT follows the changed frame', () => {
      const rewrite = interceptor((f) => {
        if (f.command === 'SEND') return { ...f, headers: { ...f.headers, receipt: 'rewritten', stamped: 'yes' } };
      });
      const { conn, handler } = connected({}, { clientInbound: [rewrite] });
      conn.receive(frame('SEND', { destination: '/queue/a', receipt: 'r-1' }));
      expect(handler.frames[1].headers['stamped']).toBe('yes');
      expect(written(conn)[1].headers['receipt-id']).toBe('rewritten');
    });
  });

  // ---- ERROR then close -------------------------------------------------------------------------

  describe('ERROR then close', () => {
    it('a protocol error from the router: ERROR with message, receipt-id and body, then close with reason error and its code', () => {
      const { conn, handler } = connected();
      handler.failWith = new StompProtocolError('UNKNOWN_DESTINATION', 'No handler for /app/nowhere');
      conn.receive(frame('SEND', { destination: '/app/nowhere', receipt: 'r-9', n: 'fail' }) + frame('SEND', { destination: '/queue/a', n: 'after' }));
      const frames = written(conn);
      expect(frames.map((f) => f.command)).toEqual(['CONNECTED', 'ERROR']);
      const error = frames[1];
      expect(error.headers['message']).toBe('No handler for /app/nowhere');
      expect(error.headers['receipt-id']).toBe('r-9');
      expect(error.headers['content-type']).toBe('text/plain');
      expect(error.body).toBe('No handler for /app/nowhere\n\nOffending frame: SEND\n');
      expect(conn.closes).toEqual([{ reason: 'error', errorCode: 'UNKNOWN_DESTINATION', message: 'UNKNOWN_DESTINATION', code: 1002 }]);
      // Nothing after the failing frame is routed, and the router is told once that the session is gone.
      expect(handler.routed).toEqual(['CONNECT', 'SEND fail']);
      expect(handler.closed).toBe(1);
      expect(logs.unexpectedErrors()).toEqual([]);
    });

    it('an oversized frame: ERROR naming the limit (with receipt-id), close 1009', () => {
      const { conn } = connected({ limits: { maxBodyLength: 16 } });
      conn.receive(frame('SEND', { destination: '/queue/a', receipt: 'r-big', 'content-length': '100' }, 'x'.repeat(100)));
      const error = written(conn)[1];
      expect(error.command).toBe('ERROR');
      expect(error.headers['message']).toContain('16');
      expect(error.headers['receipt-id']).toBe('r-big');
      expect(conn.closes).toHaveLength(1);
      expect(conn.closes[0]).toMatchObject({ reason: 'error', errorCode: 'BODY_TOO_LARGE', code: 1009 });
    });

    it('a rejected Promise from the router is answered the same way', async () => {
      const router: ClientInboundHandler = {
        handle: (_session, f) =>
          f.command === 'SEND' ? Promise.reject(new StompProtocolError('UNKNOWN_ACK', 'No message to acknowledge')) : undefined,
        sessionClosed: () => undefined,
      };
      const { conn } = start({}, {}, router as ScriptedHandler);
      conn.receive(CONNECT + frame('SEND', { destination: '/queue/a', receipt: 'r-2' }));
      await settle();
      const error = written(conn)[1];
      expect(error.command).toBe('ERROR');
      expect(error.headers['message']).toBe('No message to acknowledge');
      expect(error.headers['receipt-id']).toBe('r-2');
      expect(conn.closes[0]).toMatchObject({ reason: 'error', errorCode: 'UNKNOWN_ACK', code: 1002 });
    });

    it('a thrown non-protocol error: "Internal server error" to the client (no details), an error log with the stack', () => {
      const { conn, handler, session } = connected();
      handler.failWith = new Error('database is down at 10.1.2.3');
      conn.receive(frame('SEND', { destination: '/queue/a', n: 'fail', receipt: 'r-1' }));
      const error = written(conn)[1];
      expect(error.command).toBe('ERROR');
      expect(error.headers['message']).toBe('Internal server error');
      expect(error.headers['receipt-id']).toBe('r-1');
      expect(JSON.stringify(error)).not.toContain('database');
      expect(conn.closes[0]).toMatchObject({ reason: 'error', errorCode: 'INTERNAL_ERROR', code: 1011 });
      const lines = logs.expect('error', 'database is down at 10.1.2.3');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`Session ${session.id}`);
      expect(lines[0]).toContain('stomp-session.spec.ts');
    });

    it('an unknown command of thousands of characters is cut to 32 in the ERROR, header and body alike', () => {
      const { conn } = connected();
      conn.receive(frame('X'.repeat(5000)));
      const [, error] = written(conn);
      expect(error.command).toBe('ERROR');
      expect(error.headers['message']).toBe(`Unknown command "${'X'.repeat(32)}"`);
      expect(error.body).toBe(`Unknown command "${'X'.repeat(32)}"\n\nOffending frame: ${'X'.repeat(32)}\n`);
    });

    it('an ERROR is written before the close, and nothing after it', () => {
      const { conn, session } = connected();
      session.fail(new StompProtocolError('INVALID_HEADER', 'bad header'));
      session.fail(new StompProtocolError('INVALID_HEADER', 'again'));
      session.sendFrame('RECEIPT', { 'receipt-id': 'late' });
      expect(written(conn).map((f) => f.command)).toEqual(['CONNECTED', 'ERROR']);
      expect(conn.closes).toHaveLength(1);
    });
  });

  // ---- DISCONNECT -------------------------------------------------------------------------------

  describe('DISCONNECT', () => {
    it('RECEIPT, then close client-disconnect (1000); frames after it are ignored', async () => {
      const { conn, handler, events } = connected();
      conn.receive(frame('DISCONNECT', { receipt: 'bye' }) + frame('SEND', { destination: '/queue/a', n: 'after', receipt: 'r-after' }));
      conn.receive(frame('SEND', { destination: '/queue/a', n: 'later' }));
      await settle();
      expect(handler.routed).toEqual(['CONNECT', 'DISCONNECT']);
      expect(written(conn).map((f) => `${f.command} ${f.headers['receipt-id'] ?? ''}`)).toEqual(['CONNECTED ', 'RECEIPT bye']);
      expect(conn.closes).toEqual([{ reason: 'client-disconnect', errorCode: undefined, message: 'DISCONNECT', code: 1000 }]);
      expect(handler.closed).toBe(1);
      // The disconnect event waits for the connection to be closed.
      expect(events.map((e) => e.type)).toEqual(['connect', 'connected']);
      conn.end(1000);
      expect(events.map((e) => e.type)).toEqual(['connect', 'connected', 'disconnect']);
      expect(events[2]).toMatchObject({ reason: 'client-disconnect', closeCode: 1000 });
    });

    it('a DISCONNECT held by an asynchronous router sends its RECEIPT and closes once it settles', async () => {
      const { conn, handler } = connected();
      handler.hold = new Set(['d']);
      conn.receive(frame('DISCONNECT', { receipt: 'bye', n: 'd' }));
      await settle();
      expect(conn.closes).toEqual([]);
      handler.release('d');
      await settle();
      expect(written(conn).map((f) => f.command)).toEqual(['CONNECTED', 'RECEIPT']);
      expect(conn.closes.map((c) => c.reason)).toEqual(['client-disconnect']);
    });
  });

  // ---- slow consumer ----------------------------------------------------------------------------

  describe('slow consumer', () => {
    it('onSlowConsumer() closes with slow-consumer (1008), logs one warning, sends no ERROR', () => {
      const { conn, session, events, handler } = connected({ limits: { sendBufferSizeLimit: 4096 } });
      session.onSlowConsumer();
      session.onSlowConsumer();
      expect(conn.closes).toEqual([{ reason: 'slow-consumer', errorCode: undefined, message: 'Send buffer limit exceeded', code: 1008 }]);
      expect(written(conn).map((f) => f.command)).toEqual(['CONNECTED']);
      const warnings = logs.expect('warn', 'slow consumer');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`Session ${session.id} is a slow consumer: more than 4096 bytes unsent; disconnecting it`);
      expect(logs.at('warn')).toHaveLength(1);
      expect(handler.closed).toBe(1);
      conn.end(1008);
      expect(events.at(-1)).toMatchObject({ type: 'disconnect', reason: 'slow-consumer', closeCode: 1008 });
    });
  });

  // ---- lifecycle events -------------------------------------------------------------------------

  describe('events', () => {
    it('connect, connected, subscribe, unsubscribe, then disconnect exactly once with reason and close code', async () => {
      const { conn, session, events } = start();
      conn.receive(frame('CONNECT', { 'accept-version': '1.2', host: 'h', login: 'bob' }));
      conn.receive(frame('SUBSCRIBE', { id: 'sub-1', destination: '/topic/news', ack: 'auto' }));
      conn.receive(frame('UNSUBSCRIBE', { id: 'sub-1' }));
      // Unknown to the router: no event.
      conn.receive(frame('UNSUBSCRIBE', { id: 'never' }));
      await settle();
      expect(events.map((e) => e.type)).toEqual(['connect', 'connected', 'subscribe', 'unsubscribe']);
      const [connect, , subscribe, unsubscribe] = events;
      expect(connect).toMatchObject({ type: 'connect', headers: { login: 'bob' } });
      expect(subscribe).toMatchObject({ subscriptionId: 'sub-1', destination: '/topic/news' });
      expect(subscribe.type === 'subscribe' && subscribe.headers['ack']).toBe('auto');
      expect(unsubscribe).toMatchObject({ subscriptionId: 'sub-1', destination: '/topic/news' });
      for (const e of events) expect(e.session.id).toBe(session.id);
      expect(session.subscriptions.size).toBe(0);
      conn.end(1006);
      conn.end(1000);
      expect(events.map((e) => e.type)).toEqual(['connect', 'connected', 'subscribe', 'unsubscribe', 'disconnect']);
      expect(events[4]).toMatchObject({ reason: 'socket-closed', closeCode: 1006, errorCode: undefined });
      expect(session.state).toBe('closed');
      await expect(session.closed).resolves.toBeUndefined();
    });

    it('the disconnect event carries the close code the server sent, not the one the transport saw', () => {
      const { conn, session, events } = connected();
      session.close('server-shutdown', undefined, 'Server shutting down');
      conn.end(1006);
      expect(events.at(-1)).toMatchObject({ type: 'disconnect', reason: 'server-shutdown', closeCode: 1001 });
    });

    it('a refused SUBSCRIBE (the router threw) gets no subscribe event', () => {
      const { conn, handler, events } = connected();
      handler.failWith = new StompProtocolError('TOO_MANY_SUBSCRIPTIONS', 'too many');
      conn.receive(frame('SUBSCRIBE', { id: 's', destination: '/topic/t', n: 'fail' }));
      conn.end(1002);
      expect(events.map((e) => e.type)).toEqual(['connect', 'connected', 'disconnect']);
    });
  });

  // ---- outbound interceptors --------------------------------------------------------------------

  describe('clientOutbound interceptors', () => {
    it('a header added by an outbound interceptor reaches CONNECTED, MESSAGE, RECEIPT and ERROR', () => {
      const seen: string[] = [];
      const stamp = interceptor((f, context) => {
        seen.push(`${f.command} ${context.channel}`);
        f.headers['x-stamp'] = 'yes';
        return f;
      });
      const { conn, handler } = connected({}, { clientOutbound: [stamp] });
      conn.receive(frame('SUBSCRIBE', { id: 's', destination: '/topic/t' }));
      conn.receive(frame('SEND', { destination: '/topic/t', echo: 'true', receipt: 'r-1', n: '7', 'content-type': 'text/plain' }, 'hello'));
      handler.failWith = new StompProtocolError('INVALID_HEADER', 'bad');
      conn.receive(frame('SEND', { destination: '/topic/t', n: 'fail' }));
      const frames = written(conn);
      expect(frames.map((f) => f.command)).toEqual(['CONNECTED', 'MESSAGE', 'RECEIPT', 'ERROR']);
      for (const f of frames) expect(f.headers['x-stamp']).toBe('yes');
      expect(seen).toEqual(['CONNECTED clientOutbound', 'MESSAGE clientOutbound', 'RECEIPT clientOutbound', 'ERROR clientOutbound']);
      const message = frames[1];
      expect(message.headers).toMatchObject({ subscription: 's', destination: '/topic/t', 'message-id': 'm-7', 'content-type': 'text/plain' });
      expect(message.body).toBe('hello');
    });

    it('a MESSAGE re-encoded for an outbound interceptor keeps the header order of the shared encoding', () => {
      const headerLines = (conn: FakeConnection): string[] => {
        const message = conn.texts.find((t) => t.startsWith('MESSAGE\n')) as string;
        return message.slice(0, message.indexOf('\n\n')).split('\n');
      };
      const send = (conn: FakeConnection): void => {
        conn.receive(frame('SUBSCRIBE', { id: 's', destination: '/topic/t' }));
        conn.receive(frame('SEND', { destination: '/topic/t', echo: 'true', n: '1' }, 'hello'));
      };
      const plain = connected();
      send(plain.conn);
      const stamped = connected({}, { clientOutbound: [interceptor((f) => void (f.headers['x-outbound'] = 'yes'))] });
      send(stamped.conn);
      expect(headerLines(plain.conn)).toEqual([
        'MESSAGE',
        'subscription:s',
        'destination:/topic/t',
        'message-id:m-1',
        'content-length:5',
        'content-type:text/plain',
      ]);
      expect(headerLines(stamped.conn)).toEqual([...headerLines(plain.conn), 'x-outbound:yes']);
    });

    it('a MESSAGE body an outbound interceptor replaces decides text or binary again', () => {
      const swap = interceptor((f) => {
        if (f.command !== 'MESSAGE') return;
        f.body = f.headers['destination'] === '/topic/bin' ? Buffer.from([0xff, 0xfe, 0x00]) : Buffer.from('now text');
        delete f.headers['content-type'];
      });
      const { conn } = connected({}, { clientOutbound: [swap] });
      conn.receive(frame('SUBSCRIBE', { id: 'b', destination: '/topic/bin' }));
      conn.receive(frame('SEND', { destination: '/topic/bin', echo: 'true', n: '1' }, 'was text'));
      conn.receive(frame('UNSUBSCRIBE', { id: 'b' }));
      conn.receive(frame('SUBSCRIBE', { id: 't', destination: '/topic/text' }));
      conn.receive(Buffer.concat([Buffer.from('SEND\ndestination:/topic/text\necho:true\nn:2\ncontent-type:application/octet-stream\n\n'), Buffer.from([1, 2, 3]), Buffer.from([0])]));
      const messages = conn.written.filter((w) => w.data.subarray(0, 8).toString() === 'MESSAGE\n');
      expect(messages.map((m) => m.binary)).toEqual([true, false]);
    });

    it('a frame an outbound interceptor drops (null) is not written; one that throws is dropped and logged as a warning', () => {
      const filter = interceptor((f) => {
        if (f.headers['receipt-id'] === 'drop') return null;
        if (f.headers['receipt-id'] === 'throw') throw new Error('not for you');
      });
      const { conn, session } = connected({}, { clientOutbound: [filter] });
      conn.receive(frame('SEND', { destination: '/queue/a', receipt: 'drop' }) + frame('SEND', { destination: '/queue/a', receipt: 'throw' }) + frame('SEND', { destination: '/queue/a', receipt: 'kept' }));
      expect(written(conn).map((f) => `${f.command} ${f.headers['receipt-id'] ?? ''}`)).toEqual(['CONNECTED ', 'RECEIPT kept']);
      const warnings = logs.expect('warn', 'not for you');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`Session ${session.id}: an outbound interceptor refused a RECEIPT frame: not for you`);
      expect(conn.closes).toEqual([]);
    });

    it('an asynchronous outbound interceptor keeps write order, and the close waits for the frames queued before it', async () => {
      const gate = deferred();
      const slowReceipts = interceptor(async (f) => {
        if (f.command === 'RECEIPT') await gate.promise;
      });
      const { conn } = connected({}, { clientOutbound: [slowReceipts] });
      conn.receive(frame('SUBSCRIBE', { id: 's', destination: '/topic/t' }));
      conn.receive(
        frame('SEND', { destination: '/topic/t', echo: 'true', receipt: 'r-1', n: '1' }, 'one') +
          frame('SEND', { destination: '/topic/t', echo: 'true', n: '2' }, 'two') +
          frame('DISCONNECT', { receipt: 'bye' }),
      );
      await settle();
      const shown = (): string[] =>
        written(conn).map((f) => (f.command === 'MESSAGE' ? `MESSAGE ${f.body}` : f.command === 'RECEIPT' ? `RECEIPT ${f.headers['receipt-id']}` : f.command));
      expect(shown()).toEqual(['CONNECTED', 'MESSAGE one']);
      expect(conn.closes).toEqual([]);
      gate.resolve();
      await settle();
      expect(shown()).toEqual(['CONNECTED', 'MESSAGE one', 'RECEIPT r-1', 'MESSAGE two', 'RECEIPT bye']);
      expect(conn.closes.map((c) => c.reason)).toEqual(['client-disconnect']);
    });
  });

  describe('interceptors that drop or never answer', () => {
    it('an outbound interceptor that never answers holds the close only until limits.closeTimeout', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      const never = interceptor((f) => (f.command === 'RECEIPT' ? new Promise<undefined>(() => undefined) : undefined));
      const { conn } = connected({ limits: { closeTimeout: 2000 } }, { clientOutbound: [never] });
      conn.receive(frame('DISCONNECT', { receipt: 'bye' }));
      await settle();
      expect(conn.closes).toEqual([]);
      jest.advanceTimersByTime(1999);
      expect(conn.closes).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(conn.closes.map((c) => c.reason)).toEqual(['client-disconnect']);
    });

    it('a DISCONNECT an inbound interceptor drops (null) leaves the session working: later frames are handled', () => {
      const keepOpen = interceptor((f) => (f.command === 'DISCONNECT' ? null : undefined));
      const { conn, session } = connected({}, { clientInbound: [keepOpen] });
      conn.receive(frame('DISCONNECT', { receipt: 'bye' }) + frame('SEND', { destination: '/queue/a', receipt: 'after' }));
      expect(written(conn).map((f) => `${f.command} ${f.headers['receipt-id'] ?? ''}`)).toEqual(['CONNECTED ', 'RECEIPT after']);
      expect(conn.closes).toEqual([]);
      expect(session.state).toBe('connected');
    });

    it('a CONNECT an inbound interceptor drops (null) is refused at once, not left to the connect timeout', () => {
      const dropConnect = interceptor((f) => (f.command === 'CONNECT' ? null : undefined));
      const { conn, events } = start({}, { clientInbound: [dropConnect] });
      conn.receive(CONNECT);
      const [error] = written(conn);
      expect(error.command).toBe('ERROR');
      expect(error.headers['message']).toBe('CONNECT refused');
      expect(conn.closes).toMatchObject([{ reason: 'error', errorCode: 'CONNECT_REJECTED', code: 1008 }]);
      expect(events.map((e) => e.type)).toEqual([]);
    });
  });

  // ---- inbound refusal --------------------------------------------------------------------------

  describe('clientInbound refusal', () => {
    it('a thrown Error refuses the frame: ERROR MESSAGE_REFUSED with its message and receipt-id, close 1008', () => {
      const refuse = interceptor((f) => {
        if (f.command === 'SEND') throw new Error('Sending to /queue/secret is not allowed');
      });
      const { conn, handler } = connected({}, { clientInbound: [refuse] });
      conn.receive(frame('SEND', { destination: '/queue/secret', receipt: 'r-1' }));
      const error = written(conn)[1];
      expect(error.command).toBe('ERROR');
      expect(error.headers['message']).toBe('Sending to /queue/secret is not allowed');
      expect(error.headers['receipt-id']).toBe('r-1');
      expect(conn.closes[0]).toMatchObject({ reason: 'error', errorCode: 'MESSAGE_REFUSED', code: 1008 });
      expect(handler.routed).toEqual(['CONNECT']);
      expect(logs.unexpectedErrors()).toEqual([]);
    });

    it('an asynchronous refusal (rejected Promise) is answered the same way', async () => {
      const refuse = interceptor(async (f) => {
        if (f.command === 'SUBSCRIBE') throw new Error('No subscribing here');
      });
      const { conn } = start({}, { clientInbound: [refuse] });
      conn.receive(CONNECT);
      await settle();
      expect(written(conn).map((f) => f.command)).toEqual(['CONNECTED']);
      conn.receive(frame('SUBSCRIBE', { id: 's', destination: '/topic/t' }));
      await settle();
      expect(written(conn)[1].headers['message']).toBe('No subscribing here');
      expect(conn.closes[0]).toMatchObject({ errorCode: 'MESSAGE_REFUSED', code: 1008 });
    });

    it('a refused CONNECT: ERROR CONNECT_REJECTED, no CONNECTED, no connect event, close 1008, disconnect event after close', () => {
      const refuse = interceptor((f) => {
        if (f.command === 'CONNECT') throw new Error('Invalid token');
      });
      const { conn, handler, events } = start({}, { clientInbound: [refuse] });
      conn.receive(CONNECT);
      const frames = written(conn);
      expect(frames.map((f) => f.command)).toEqual(['ERROR']);
      expect(frames[0].headers['message']).toBe('Invalid token');
      expect(conn.closes[0]).toMatchObject({ reason: 'error', errorCode: 'CONNECT_REJECTED', code: 1008 });
      expect(handler.routed).toEqual([]);
      expect(events).toEqual([]);
      conn.end(1008);
      expect(events.map((e) => e.type)).toEqual(['disconnect']);
      expect(events[0]).toMatchObject({ reason: 'error', errorCode: 'CONNECT_REJECTED', closeCode: 1008 });
    });

    it('a SUBSCRIBE whose asynchronous interceptor answers after the connection dropped is not routed (no subscription leaks)', async () => {
      const gate = deferred();
      const authorize = interceptor(async (f) => {
        if (f.command === 'SUBSCRIBE') await gate.promise;
      });
      const { conn, session, handler, events } = start({}, { clientInbound: [authorize] });
      conn.receive(CONNECT);
      await settle();
      conn.receive(frame('SUBSCRIBE', { id: 's', destination: '/topic/t', receipt: 'r-1' }));
      await settle();
      conn.end(1006);
      expect(handler.closed).toBe(1);
      gate.resolve();
      await settle();
      expect(handler.routed).toEqual(['CONNECT']);
      expect(session.subscriptions.size).toBe(0);
      expect(events.map((e) => e.type)).toEqual(['connect', 'connected', 'disconnect']);
      expect(written(conn).map((f) => f.command)).toEqual(['CONNECTED']);
    });

    it('a StompProtocolError thrown by an interceptor keeps its own code', () => {
      const refuse = interceptor(() => {
        throw new StompProtocolError('FORBIDDEN_DESTINATION', 'Not yours');
      });
      const { conn } = start({}, { clientInbound: [refuse] });
      conn.receive(CONNECT);
      expect(conn.closes[0]).toMatchObject({ errorCode: 'FORBIDDEN_DESTINATION', code: 1002 });
    });

    it('a user name CONNECTED cannot carry refuses the CONNECT (INVALID_USER_NAME, 1008) with a warning', () => {
      const auth = interceptor((f, context) => context.connect?.setUser('eve\nuser-name:admin'));
      const { conn } = start({}, { clientInbound: [auth] });
      conn.receive(CONNECT);
      expect(written(conn).map((f) => f.command)).toEqual(['ERROR']);
      expect(conn.closes[0]).toMatchObject({ errorCode: 'INVALID_USER_NAME', code: 1008 });
      expect(logs.expect('warn', 'cannot be sent in CONNECTED')).toHaveLength(1);
    });
  });

  // ---- heart-beats (fake timers: a virtual clock, nothing waits) ---------------------------------

  describe('heart-beats', () => {
    // Only the clock-driven timers are faked; setImmediate stays real (the inbound queue's turns).
    const fakeClock = (): void => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    };

    it('sends an EOL when idle: at most one server-to-client interval of silence', () => {
      fakeClock();
      const { conn } = start();
      conn.receive(frame('CONNECT', { 'accept-version': '1.2', host: 'h', 'heart-beat': '0,10000' }));
      expect(heartbeats(conn)).toBe(0);
      jest.advanceTimersByTime(9_999);
      expect(heartbeats(conn)).toBe(0);
      jest.advanceTimersByTime(1);
      expect(heartbeats(conn)).toBe(1);
      jest.advanceTimersByTime(10_000);
      expect(heartbeats(conn)).toBe(3);
      expect(conn.texts.at(-1)).toBe('\n');
    });

    it('sends none while other frames are written', () => {
      fakeClock();
      const { conn } = start();
      conn.receive(frame('CONNECT', { 'accept-version': '1.2', host: 'h', 'heart-beat': '0,10000' }));
      for (let i = 0; i < 20; i++) {
        jest.advanceTimersByTime(2_500);
        conn.receive(frame('SEND', { destination: '/queue/a', receipt: `r-${i}` }));
      }
      expect(written(conn)).toHaveLength(21);
      expect(heartbeats(conn)).toBe(0);
    });

    it('no heart-beat from the client for clientToServer × tolerance: ERROR HEARTBEAT_TIMEOUT, close heartbeat-timeout (1002)', async () => {
      fakeClock();
      const { conn, events } = start({ broker: { heartbeat: { tolerance: 2 } } });
      conn.receive(frame('CONNECT', { 'accept-version': '1.2', host: 'h', 'heart-beat': '5000,0' }));
      // Beats (EOLs) keep it alive.
      for (let i = 0; i < 10; i++) {
        jest.advanceTimersByTime(5_000);
        conn.receive('\n');
      }
      expect(conn.closes).toEqual([]);
      jest.advanceTimersByTime(20_000);
      await settle();
      const error = written(conn).at(-1);
      expect(error?.command).toBe('ERROR');
      expect(error?.headers['message']).toBe('No heart-beat received for 10000 ms');
      expect(conn.closes).toEqual([{ reason: 'heartbeat-timeout', errorCode: 'HEARTBEAT_TIMEOUT', message: 'HEARTBEAT_TIMEOUT', code: 1002 }]);
      conn.end(1006);
      expect(events.at(-1)).toMatchObject({ type: 'disconnect', reason: 'heartbeat-timeout', closeCode: 1002, errorCode: 'HEARTBEAT_TIMEOUT' });
    });

    it('does not expire while the session holds back reading (its own backlog), and does once reading resumed', async () => {
      fakeClock();
      const h = start({ limits: { inboundHighWaterMark: 2 } });
      h.conn.receive(frame('CONNECT', { 'accept-version': '1.2', host: 'h', 'heart-beat': '5000,0' }));
      h.handler.hold = new Set(['1']);
      h.conn.receive(
        frame('SEND', { destination: '/queue/a', n: '1' }) + frame('SEND', { destination: '/queue/a', n: '2' }) + frame('SEND', { destination: '/queue/a', n: '3' }),
      );
      expect(h.conn.paused).toBe(true);
      jest.advanceTimersByTime(120_000);
      expect(h.conn.closes).toEqual([]);
      h.handler.release('1');
      await settle();
      expect(h.conn.paused).toBe(false);
      expect(h.handler.routed).toEqual(['CONNECT', 'SEND 1', 'SEND 2', 'SEND 3']);
      jest.advanceTimersByTime(20_000);
      await settle();
      expect(h.conn.closes[0]?.reason).toBe('heartbeat-timeout');
    });

    it('stops beating once closing starts', () => {
      fakeClock();
      const { conn, session } = start();
      conn.receive(frame('CONNECT', { 'accept-version': '1.2', host: 'h', 'heart-beat': '0,1000' }));
      session.close('server-shutdown');
      jest.advanceTimersByTime(60_000);
      expect(heartbeats(conn)).toBe(0);
    });
  });

  describe('connect timeout (limits.connectTimeout)', () => {
    it('no CONNECT in time: ERROR CONNECT_TIMEOUT, close 1002', () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      const { conn, events } = start({ limits: { connectTimeout: 3000 } });
      jest.advanceTimersByTime(2_999);
      expect(conn.closes).toEqual([]);
      jest.advanceTimersByTime(1);
      const frames = written(conn);
      expect(frames.map((f) => f.command)).toEqual(['ERROR']);
      expect(frames[0].headers['message']).toBe('No CONNECT frame received within 3000 ms');
      expect(conn.closes[0]).toMatchObject({ reason: 'error', errorCode: 'CONNECT_TIMEOUT', code: 1002 });
      conn.end(1002);
      expect(events.map((e) => e.type)).toEqual(['disconnect']);
    });

    it('a CONNECT interceptor that does not answer in time: the message says so', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      const never = interceptor((f) => (f.command === 'CONNECT' ? new Promise<undefined>(() => undefined) : undefined));
      const { conn } = start({ limits: { connectTimeout: 3000 } }, { clientInbound: [never] });
      conn.receive(CONNECT);
      await settle();
      jest.advanceTimersByTime(3_000);
      expect(written(conn)[0].headers['message']).toBe('CONNECT not completed within 3000 ms: authentication did not answer in time');
    });

    it('a CONNECT interceptor answering after the timeout: no CONNECTED, no connect event, CONNECT not routed', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      const gate = deferred();
      const late = interceptor(async (f, context) => {
        await gate.promise;
        context.connect?.setUser('late');
        return f;
      });
      const { conn, handler, events } = start({ limits: { connectTimeout: 3000 } }, { clientInbound: [late] });
      conn.receive(CONNECT);
      await settle();
      jest.advanceTimersByTime(3_000);
      expect(conn.closes[0]).toMatchObject({ errorCode: 'CONNECT_TIMEOUT' });
      conn.end(1002);
      gate.resolve();
      await settle();
      expect(written(conn).map((f) => f.command)).toEqual(['ERROR']);
      expect(handler.routed).toEqual([]);
      expect(handler.connected).toBe(0);
      expect(events.map((e) => e.type)).toEqual(['disconnect']);
    });

    it('CONNECTED in time stops the timer', () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      const { conn } = start({ limits: { connectTimeout: 3000 } });
      conn.receive(CONNECT);
      jest.advanceTimersByTime(60_000);
      expect(conn.closes).toEqual([]);
      expect(written(conn).map((f) => f.command)).toEqual(['CONNECTED']);
    });
  });
});
