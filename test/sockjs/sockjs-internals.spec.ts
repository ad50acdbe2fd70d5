/**
 * Pins every assumption `lib/transport/sockjs-internals.ts` makes about the installed `sockjs`
 * package (its private fields and its timing), against a real sockjs server on a real
 * `node:http` server on 127.0.0.1, with no Nest in between. An upgrade of `sockjs` that breaks
 * one of them must fail here.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import WebSocket from 'ws';
import {
  answerClientErrorsWith400,
  endNow,
  queuedFrameCount,
  readBodiesInLinearTime,
  receiverSocket,
  sockjs,
  sockJsSessionId,
  type Connection,
  type SockJsListener,
  type SockJsServer,
} from '../../lib/transport/sockjs-internals.js';
import { GUARD_MS, withTimeout } from '../support/stomp-client.js';

const PREFIX = '/echo';
/** A second server whose streaming responses end after SMALL_LIMIT characters (`response_limit`). */
const SMALL_PREFIX = '/small';
const SMALL_LIMIT = 4096;
/** faye-websocket's `maxLength` for the websocket transport, in bytes. */
const MAX_LENGTH = 1024;

/** The private shape the internals read, for asserting on it directly. */
interface SessionView {
  session_id?: string | null;
  readyState: number;
  send_buffer?: unknown;
  recv?: {
    request?: IncomingMessage;
    response?: { socket?: unknown } | null;
    connection?: unknown;
    didAbort?: unknown;
  } | null;
  didTimeout?: unknown;
}
const sessionOf = (connection: Connection): SessionView => (connection as unknown as { _session: SessionView })._session;

let httpServer: Server;
let base: string;
const logLines: string[] = [];
/** Connections sockjs reported and no test took yet, and tests waiting for one. */
const reported: Connection[] = [];
const waiting: Array<(connection: Connection) => void> = [];
/** Every connection of this file, to end whatever a failing test left open. */
const all: Connection[] = [];
/** Every client socket and WebSocket, to close at the end. */
const clients: Array<{ destroy(): void } | WebSocket> = [];

function nextConnection(): Promise<Connection> {
  const ready = reported.shift();
  if (ready) return Promise.resolve(ready);
  return withTimeout(new Promise<Connection>((resolve) => waiting.push(resolve)), 'a sockjs connection event');
}

/** Waits (bounded) until `condition` holds, checking every few ms. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < GUARD_MS / 5; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting until ${what}`);
}

let sessionCounter = 0;
const sessionId = (): string => `s${process.pid}x${++sessionCounter}`;

/** One HTTP exchange on its own TCP connection. */
function post(path: string, body?: string): Promise<{ status: number; body: string }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = httpRequest(`${base}${path}`, { method: 'POST', agent: false, headers: body === undefined ? {} : { 'Content-Type': 'text/plain' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    }),
    `POST ${path}`,
  );
}

/** A request whose response stays open (xhr-streaming, or a poll that waits): what it received so far. */
function openStream(path: string): { received: () => string; ended: Promise<void>; socket: Promise<Socket> } {
  let text = '';
  let socketReady: (socket: Socket) => void = () => undefined;
  const socket = new Promise<Socket>((resolve) => (socketReady = resolve));
  const ended = new Promise<void>((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method: 'POST', agent: false }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    req.on('socket', (s) => {
      clients.push(s);
      socketReady(s);
    });
    req.on('error', reject);
    req.end();
  });
  return { received: () => text, ended: withTimeout(ended, `the end of ${path}`), socket };
}

/** A websocket-transport session: the client and what it received. */
async function openWebSocket(): Promise<{ ws: WebSocket; messages: string[]; closed: Promise<number> }> {
  const ws = new WebSocket(`${base.replace('http', 'ws')}${PREFIX}/000/${sessionId()}/websocket`);
  clients.push(ws);
  const messages: string[] = [];
  ws.on('message', (data: Buffer) => messages.push(data.toString('utf8')));
  const closed = new Promise<number>((resolve) => ws.on('close', (code: number) => resolve(code)));
  await withTimeout(new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  }), 'the websocket to open');
  await until(() => messages.includes('o'), "the websocket's open frame");
  return { ws, messages, closed };
}

/** Counts the connection's `close` events, noting whether each came synchronously. */
function closeCounter(connection: Connection): { count: () => number } {
  let count = 0;
  connection.on('close', () => count++);
  return { count: () => count };
}

/** A listener of a sockjs server of its own: its sessions never reach the connection queue of the other tests. */
function detachedListener(prefix: string): SockJsListener {
  return sockjs
    .createServer({
      prefix,
      sockjs_url: '/unused/sockjs.min.js',
      response_limit: 1024,
      websocket: false,
      heartbeat_delay: 25_000,
      // Its sessions end soon after their last request: nothing of it outlives the file.
      disconnect_delay: 50,
      faye_server_options: { maxLength: MAX_LENGTH },
      log: () => undefined,
    })
    .listener();
}

function createSockJsServer(prefix: string, responseLimit: number): SockJsServer {
  const server = sockjs.createServer({
    prefix,
    sockjs_url: '/unused/sockjs.min.js',
    response_limit: responseLimit,
    websocket: true,
    heartbeat_delay: 25_000,
    disconnect_delay: 5_000,
    faye_server_options: { maxLength: MAX_LENGTH },
    log: (severity, line) => logLines.push(`${severity} ${line}`),
  });
  server.on('connection', (connection) => {
    if (connection === null) return;
    all.push(connection);
    const waiter = waiting.shift();
    if (waiter) waiter(connection);
    else reported.push(connection);
  });
  return server;
}

beforeAll(async () => {
  const handlers = [createSockJsServer(PREFIX, 128 * 1024), createSockJsServer(SMALL_PREFIX, SMALL_LIMIT)].map((server) => server.listener().getHandler());
  httpServer = createServer((req, res) => {
    if (!handlers.some((handler) => handler(req, res))) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not sockjs');
    }
  });
  httpServer.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (!handlers.some((handler) => handler(req, socket, head))) socket.destroy();
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
});

afterEach(() => {
  expect(reported).toEqual([]);
});

afterAll(async () => {
  for (const connection of all) endNow(connection);
  for (const client of clients) {
    if (client instanceof WebSocket) client.terminate();
    else client.destroy();
  }
  await new Promise<void>((resolve) => httpServer.close(() => resolve()));
});

describe('sockjs 0.3.24 as sockjs-internals.ts assumes it', () => {
  it('createServer takes the options used, and its listener claims only URLs under the prefix', async () => {
    const info = await withTimeout(fetch(`${base}${PREFIX}/info`), 'GET /info');
    expect(info.status).toBe(200);
    expect((await info.json()) as { websocket: boolean }).toEqual(expect.objectContaining({ websocket: true }));
    const other = await post('/elsewhere');
    expect(other).toEqual({ status: 404, body: 'not sockjs' });
    // The prefix is a regular expression source: a longer name is not under it.
    expect(await post(`${PREFIX}x/000/${sessionId()}/xhr`)).toEqual({ status: 404, body: 'not sockjs' });
    // The log callback gets sockjs's lines (severity first).
    expect(logLines.some((l) => l.startsWith('debug SockJS v0.3.24 bound to'))).toBe(true);
  });

  it("has the body readers readBodiesInLinearTime replaces, as App filters that suspend the pipeline by throwing { status: 0 }", () => {
    const listener = detachedListener('/pin');
    const app = listener.app as unknown as Record<string, unknown>;
    expect(typeof app.expect_xhr).toBe('function');
    expect(typeof app.expect_form).toBe('function');
    const originalXhr = app.expect_xhr;
    readBodiesInLinearTime(listener);
    expect(app.expect_xhr).not.toBe(originalXhr);
    // The replacement suspends the pipeline as sockjs's own filters do.
    const request = new PassThrough() as unknown as IncomingMessage;
    (request as { headers: Record<string, string> }).headers = { 'content-type': 'text/plain' };
    let next: unknown;
    expect(() => (app.expect_xhr as (...a: unknown[]) => void)(request, {}, undefined, (d: unknown) => (next = d))).toThrow(
      expect.objectContaining({ status: 0 }),
    );
    (request as unknown as PassThrough).end('["a","b"]');
    return withTimeout(
      new Promise<void>((resolve) => (request as unknown as PassThrough).on('end', () => setImmediate(resolve))),
      'the body',
    ).then(() => expect(next).toBe('["a","b"]'));
  });

  it('throws { status: 500 } for client errors and answers them through app.handle_500 when one is defined', async () => {
    const listener = detachedListener('/pin500');
    expect(typeof (listener.app as unknown as Record<string, unknown>).handle_500).toBe('undefined');
    answerClientErrorsWith400(listener);
    const handler = listener.getHandler();
    const server = createServer((req, res) => {
      if (!handler(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pin500/000/${sessionId()}`;
      expect((await withTimeout(fetch(`${url}/xhr`, { method: 'POST' }), 'open')).status).toBe(200);
      const reply = await withTimeout(fetch(`${url}/xhr_send`, { method: 'POST', body: 'not json' }), 'xhr_send');
      expect([reply.status, await reply.text()]).toEqual([400, 'Broken JSON encoding.']);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  describe('an xhr-polling session', () => {
    it('has the URL session id, queues writes in an array while no poll waits, and a poll empties it', async () => {
      const id = sessionId();
      expect(await post(`${PREFIX}/000/${id}/xhr`)).toEqual({ status: 200, body: 'o\n' });
      const connection = await nextConnection();
      expect(connection.protocol).toBe('xhr-polling');
      expect(connection.remoteAddress).toBe('127.0.0.1');
      expect(connection.url).toBe(`${PREFIX}/000/${id}/xhr`);
      expect(connection.readyState).toBe(1);
      const session = sessionOf(connection);
      expect(session.session_id).toBe(id);
      expect(sockJsSessionId(connection)).toBe(id);
      expect(session.readyState).toBe(1);
      expect(typeof session.didTimeout).toBe('function');

      // The opening poll was answered: no receiver now.
      expect(session.recv ?? null).toBeNull();
      expect(receiverSocket(connection)).toBeUndefined();
      expect(Array.isArray(session.send_buffer)).toBe(true);
      expect(queuedFrameCount(connection)).toBe(0);
      expect(connection.write('one')).toBe(true);
      expect(connection.write('two')).toBe(true);
      expect(connection.write('thrée')).toBe(true);
      expect(session.send_buffer).toEqual(['one', 'two', 'thrée']);
      expect(queuedFrameCount(connection)).toBe(3);

      // The next poll takes all of it; the queue is empty after.
      expect(await post(`${PREFIX}/000/${id}/xhr`)).toEqual({ status: 200, body: 'a["one","two","thrée"]\n' });
      expect(Array.isArray(session.send_buffer)).toBe(true);
      expect(queuedFrameCount(connection)).toBe(0);

      // What the client sends arrives as `data`, whatever JSON it is (strings are not enforced).
      const data: unknown[] = [];
      connection.on('data', (message: unknown) => data.push(message));
      expect((await post(`${PREFIX}/000/${id}/xhr_send`, '["hi",1,null,{"a":[2]}]')).status).toBe(204);
      expect(data).toEqual(['hi', 1, null, { a: [2] }]);

      // No receiver: endNow times the session out at once, and sockjs emits close before it returns.
      const closes = closeCounter(connection);
      endNow(connection);
      expect(closes.count()).toBe(1);
      expect(connection.readyState).toBe(3);
      expect(session.readyState).toBe(3);
      expect(sockJsSessionId(connection)).toBeUndefined();
      expect(connection.write('late')).toBe(false);
      // Ending again does nothing.
      endNow(connection);
      expect(closes.count()).toBe(1);
    });

    it('a waiting poll is a receiver on a net.Socket (recv.response.socket); a write goes to it at once; endNow with it attached emits close at once', async () => {
      const id = sessionId();
      expect((await post(`${PREFIX}/000/${id}/xhr`)).body).toBe('o\n');
      const connection = await nextConnection();
      const session = sessionOf(connection);
      const poll = openStream(`${PREFIX}/000/${id}/xhr`);
      await until(() => receiverSocket(connection) !== undefined, 'the poll is attached');
      const socket = receiverSocket(connection);
      expect(socket).toBeInstanceOf(Socket);
      expect(session.recv?.response?.socket).toBe(socket);
      expect(session.recv?.request?.socket).toBe(socket);
      expect(typeof session.recv?.didAbort).toBe('function');
      // It is the server side of the poll's own TCP connection.
      const clientSocket = await poll.socket;
      expect((socket as Socket).remotePort).toBe(clientSocket.localPort);
      expect((socket as Socket).writableLength).toBe(0);

      // A write with a receiver attached is flushed to it at once: nothing stays queued.
      expect(connection.write('now')).toBe(true);
      expect(queuedFrameCount(connection)).toBe(0);
      await poll.ended;
      expect(poll.received()).toBe('a["now"]\n');
      expect(receiverSocket(connection)).toBeUndefined();

      // Another poll waits; endNow aborts it and sockjs emits close synchronously.
      const second = openStream(`${PREFIX}/000/${id}/xhr`);
      await until(() => receiverSocket(connection) !== undefined, 'the second poll is attached');
      const closes = closeCounter(connection);
      endNow(connection);
      expect(closes.count()).toBe(1);
      expect(connection.readyState).toBe(3);
      expect(receiverSocket(connection)).toBeUndefined();
      // The aborted poll's response is ended.
      await second.ended;
      expect(second.received()).toBe('');
    });

    it("close() between polls keeps the session closing until the next poll or endNow; endNow then emits close at once", async () => {
      const id = sessionId();
      await post(`${PREFIX}/000/${id}/xhr`);
      const connection = await nextConnection();
      const closes = closeCounter(connection);
      expect(connection.close(1008, 'bye')).toBe(true);
      expect(connection.readyState).toBe(2);
      expect(closes.count()).toBe(0);
      endNow(connection);
      expect(closes.count()).toBe(1);
      expect(connection.readyState).toBe(3);
    });
  });

  describe('an xhr-streaming session', () => {
    it('streams through a receiver on a net.Socket; close() with it attached sends the close frame and detaches it; endNow then emits close at once', async () => {
      const id = sessionId();
      const stream = openStream(`${PREFIX}/000/${id}/xhr_streaming`);
      const connection = await nextConnection();
      expect(connection.protocol).toBe('xhr-streaming');
      expect(sockJsSessionId(connection)).toBe(id);
      const session = sessionOf(connection);
      const socket = receiverSocket(connection);
      expect(socket).toBeInstanceOf(Socket);
      expect(session.recv?.response?.socket).toBe(socket);
      expect((socket as Socket).remotePort).toBe((await stream.socket).localPort);

      expect(connection.write('m1')).toBe(true);
      expect(connection.write('m2')).toBe(true);
      expect(queuedFrameCount(connection)).toBe(0);
      await until(() => stream.received().includes('a["m2"]'), 'the streamed messages');
      expect(stream.received().endsWith('o\na["m1"]\na["m2"]\n')).toBe(true);

      // close() with the receiver attached: the close frame goes out and the receiver is detached
      // (the streaming response ends), but sockjs keeps the session until its disconnect delay.
      const closes = closeCounter(connection);
      expect(connection.close(1002, 'done')).toBe(true);
      await stream.ended;
      expect(stream.received().endsWith('c[1002,"done"]\n')).toBe(true);
      expect(session.recv ?? null).toBeNull();
      expect(connection.readyState).toBe(2);
      expect(closes.count()).toBe(0);
      endNow(connection);
      expect(closes.count()).toBe(1);
      expect(connection.readyState).toBe(3);
    });

    it('endNow with the receiver attached emits close synchronously and ends the response', async () => {
      const id = sessionId();
      const stream = openStream(`${PREFIX}/000/${id}/xhr_streaming`);
      const connection = await nextConnection();
      expect(receiverSocket(connection)).toBeInstanceOf(Socket);
      const closes = closeCounter(connection);
      endNow(connection);
      expect(closes.count()).toBe(1);
      expect(connection.readyState).toBe(3);
      expect(receiverSocket(connection)).toBeUndefined();
      await stream.ended;
    });

    it('a stream that reached response_limit detaches its receiver: writes queue in send_buffer until the next streaming request flushes them', async () => {
      const id = sessionId();
      const stream = openStream(`${SMALL_PREFIX}/000/${id}/xhr_streaming`);
      const connection = await nextConnection();
      const session = sessionOf(connection);
      expect(connection.write('x'.repeat(SMALL_LIMIT))).toBe(true);
      await stream.ended;
      expect(session.recv ?? null).toBeNull();
      expect(receiverSocket(connection)).toBeUndefined();
      expect(connection.readyState).toBe(1);
      expect(connection.write('a')).toBe(true);
      expect(connection.write('b')).toBe(true);
      expect(session.send_buffer).toEqual(['a', 'b']);
      expect(queuedFrameCount(connection)).toBe(2);
      // The client's next streaming request takes them.
      const again = openStream(`${SMALL_PREFIX}/000/${id}/xhr_streaming`);
      await until(() => again.received().includes('a["a","b"]'), 'the queued messages on the new stream');
      expect(queuedFrameCount(connection)).toBe(0);
      const closes = closeCounter(connection);
      endNow(connection);
      expect(closes.count()).toBe(1);
      await again.ended;
    });

    it("a client that drops its streaming request ends the session at once (the receiver's didAbort)", async () => {
      const id = sessionId();
      const stream = openStream(`${PREFIX}/000/${id}/xhr_streaming`);
      stream.ended.catch(() => undefined);
      const connection = await nextConnection();
      const closes = closeCounter(connection);
      (await stream.socket).destroy();
      await until(() => closes.count() === 1, 'sockjs reports the close');
      expect(connection.readyState).toBe(3);
    });
  });

  describe('a websocket-transport session', () => {
    it('has no session id, and its receiver is on a net.Socket (recv.connection), with no response', async () => {
      const { ws, messages, closed } = await openWebSocket();
      const connection = await nextConnection();
      expect(connection.protocol).toBe('websocket');
      expect(connection.remoteAddress).toBe('127.0.0.1');
      const session = sessionOf(connection);
      expect(session.session_id).toBeUndefined();
      expect(sockJsSessionId(connection)).toBeUndefined();
      const socket = receiverSocket(connection);
      expect(socket).toBeInstanceOf(Socket);
      expect(session.recv?.connection).toBe(socket);
      expect(session.recv?.response).toBeUndefined();
      expect(session.recv?.request).toBeUndefined();
      expect((socket as Socket).remotePort).toBe((ws as unknown as { _socket: Socket })._socket.localPort);

      expect(connection.write('w1')).toBe(true);
      expect(queuedFrameCount(connection)).toBe(0);
      await until(() => messages.includes('a["w1"]'), 'the message over the websocket');

      const data: unknown[] = [];
      connection.on('data', (message: unknown) => data.push(message));
      ws.send('["x",7]');
      await until(() => data.length === 2, 'the client messages');
      expect(data).toEqual(['x', 7]);

      const closes = closeCounter(connection);
      endNow(connection);
      expect(closes.count()).toBe(1);
      expect(connection.readyState).toBe(3);
      expect(await withTimeout(closed, 'the websocket close')).toBe(1000);
    });

    it('close() emits close synchronously, from inside close()', async () => {
      const { messages, closed } = await openWebSocket();
      const connection = await nextConnection();
      const closes = closeCounter(connection);
      expect(connection.close(1008, 'policy')).toBe(true);
      expect(closes.count()).toBe(1);
      expect(connection.readyState).toBe(3);
      await withTimeout(closed, 'the websocket close');
      expect(messages).toContain('c[1008,"policy"]');
      // endNow on a closed session does nothing.
      endNow(connection);
      expect(closes.count()).toBe(1);
    });

    it('faye_server_options.maxLength bounds a websocket message: a longer one closes the session with 1009', async () => {
      const { ws, closed } = await openWebSocket();
      const connection = await nextConnection();
      const closes = closeCounter(connection);
      const data: unknown[] = [];
      connection.on('data', (message: unknown) => data.push(message));
      ws.send(JSON.stringify(['x'.repeat(MAX_LENGTH)]));
      expect(await withTimeout(closed, 'the websocket close')).toBe(1009);
      await until(() => closes.count() === 1, 'sockjs reports the close');
      expect(data).toEqual([]);
    });
  });
});
