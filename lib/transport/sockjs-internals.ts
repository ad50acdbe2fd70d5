/**
 * The parts of `sockjs` 0.3.24 that its public API does not expose, in one place: the server
 * needs them to bound what a SockJS client makes it hold (the queued frames of a session whose
 * client stopped reading) and to drop a connection at once. The `sockjs` dependency is pinned to
 * `~0.3.24` (its last release, 2021); `test/sockjs/sockjs-internals.spec.ts` checks every
 * assumption below against the installed package, so an upgrade that breaks one fails there,
 * not in production.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { parse as parseQuery } from 'node:querystring';

/** `sockjs.createServer()` options used here (snake_case as sockjs names them). */
export interface SockJsServerOptions {
  prefix: string;
  sockjs_url: string;
  response_limit: number;
  websocket: boolean;
  heartbeat_delay: number;
  disconnect_delay: number;
  /** Options for `faye-websocket` (the websocket transport), e.g. `maxLength` in bytes. */
  faye_server_options: { maxLength: number };
  log(severity: string, line: string): void;
}

/** One SockJS session as sockjs's public API gives it (its `connection` event). */
export interface Connection {
  /** `websocket`, `xhr-streaming`, `xhr-polling`, `eventsource`, `htmlfile`, `jsonp-polling`. */
  readonly protocol: string;
  readonly remoteAddress?: string;
  readonly url: string;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Queues a message; false when the session is not open. */
  write(message: string): boolean;
  close(code?: number, reason?: string): boolean;
  on(event: 'data', listener: (message: unknown) => void): this;
  on(event: 'close', listener: () => void): this;
}

/** A filter of sockjs's request pipeline: `next` continues it; throwing `{ status: 0 }` suspends it. */
type BodyFilter = (request: IncomingMessage, response: ServerResponse, data: unknown, next: (data: unknown) => void) => never;

/** sockjs's request pipeline (`App`), where the filters that read request bodies live. */
interface SockJsApp {
  expect_xhr: BodyFilter;
  expect_form: BodyFilter;
  /** Answers a filter's `throw { status: 500, message }` (sockjs looks for `handle_<status>` first). */
  handle_500?: (request: IncomingMessage, response: ServerResponse, error: { status: number; message?: string }) => void;
  log(severity: string, line: string): void;
}

export interface SockJsListener {
  /** Serves a request or upgrade under `prefix`; false (and nothing answered) when the URL is not its. */
  getHandler(): (request: IncomingMessage, responseOrSocket: ServerResponse | Duplex, head?: Buffer) => boolean;
  readonly app: SockJsApp;
}

export interface SockJsServer {
  on(event: 'connection', listener: (connection: Connection | null) => void): this;
  listener(): SockJsListener;
}

/** `require('sockjs')`: a CommonJS package. */
export const sockjs = createRequire(import.meta.url)('sockjs') as { createServer(options: SockJsServerOptions): SockJsServer };

/** sockjs's receiving side: one HTTP response (streaming, polling) or one WebSocket. */
interface SockJsReceiver {
  /** `ResponseReceiver` (xhr, eventsource, htmlfile, jsonp): the request that carries frames to the client. */
  readonly request?: IncomingMessage;
  readonly response?: ServerResponse | null;
  /** `WebSocketReceiver` and the raw WebSocket session: the TCP socket. */
  readonly connection?: Socket | null;
  /** Ends this receiver as if its socket closed (`GenericReceiver.didAbort`). */
  didAbort?(): void;
}

/** sockjs's `Session` (or the raw WebSocket session, which shares its shape where used here). */
interface SockJsSessionInternals {
  readonly session_id?: string | null;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Frames written while no receiver could take them (or before it flushes), oldest first. */
  readonly send_buffer?: string[];
  readonly recv?: SockJsReceiver | null;
  /** Ends the session now (emits `close` on the connection); throws while a receiver is attached. */
  didTimeout?(): void;
}

const CLOSED = 3;

function internals(connection: Connection): SockJsSessionInternals | undefined {
  return (connection as unknown as { _session?: SockJsSessionInternals })._session;
}

/** The SockJS session id of the URL (`/ws/<server>/<session>/xhr`); `undefined` for the websocket transport. */
export function sockJsSessionId(connection: Connection): string | undefined {
  return internals(connection)?.session_id ?? undefined;
}

/** The TCP socket the session's frames currently leave by, if a receiver is attached. */
export function receiverSocket(connection: Connection): Socket | undefined {
  const recv = internals(connection)?.recv;
  if (!recv) return undefined;
  return recv.response?.socket ?? recv.request?.socket ?? recv.connection ?? undefined;
}

/**
 * Frames queued in the session (`send_buffer`): how many, so that a caller can tell whether the
 * buffer was flushed since it last looked (sockjs swaps the whole array out when it flushes).
 */
export function queuedFrameCount(connection: Connection): number {
  return internals(connection)?.send_buffer?.length ?? 0;
}

/**
 * Ends the SockJS session at once: its receiver is aborted (which ends a waiting response), and
 * a session with no receiver times out now instead of after `disconnectDelay`. Either way sockjs
 * emits `close` on the connection before this returns.
 */
export function endNow(connection: Connection): void {
  const session = internals(connection);
  if (!session || session.readyState === CLOSED) return;
  const recv = session.recv;
  if (recv?.didAbort) recv.didAbort();
  else if (!recv && session.didTimeout) session.didTimeout();
}

/** The post whose messages sockjs is handing to their session right now, if any. */
let delivering: IncomingMessage | undefined;

/**
 * The HTTP request (an `xhr_send` or `jsonp_send` post) that carried the SockJS messages being
 * delivered at this moment: read it inside a connection's `data` listener. `undefined` for
 * messages of the websocket transport.
 */
export function deliveringRequest(): IncomingMessage | undefined {
  return delivering;
}

/**
 * Replaces sockjs's two body readers (`expect_xhr` for `xhr_send`, `expect_form` for
 * `jsonp_send`) with ones that keep the chunks in a list and join them once: sockjs's own copy
 * the whole body on every chunk, so a body posted in many tiny HTTP chunks costs quadratic time
 * (a 256 KiB body in 1-byte chunks blocked the event loop for seconds). What they accept is
 * sockjs's: the same content types, the same parsing. The caller bounds the body's size. While
 * the messages of a post are delivered, {@link deliveringRequest} names the post.
 */
export function readBodiesInLinearTime(listener: SockJsListener): void {
  const app = listener.app;
  const reader =
    (parse: (text: string, contentType: string) => unknown): BodyFilter =>
    (request, _response, _data, next) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const contentType = (request.headers['content-type'] ?? '').split(';')[0];
        // sockjs hands the post's messages to their session synchronously, inside `next`.
        delivering = request;
        try {
          next(parse(Buffer.concat(chunks).toString('utf8'), contentType));
        } finally {
          delivering = undefined;
        }
      });
      // sockjs's way to suspend its pipeline until `next` is called.
      throw { status: 0 };
    };
  app.expect_xhr = reader((text, contentType) => {
    if (['text/plain', 'T', 'application/json', 'application/xml', '', 'text/xml'].includes(contentType)) return text;
    app.log('error', `Unsupported content-type ${contentType}`);
    return undefined;
  });
  app.expect_form = reader((text, contentType) => {
    if (contentType === 'application/x-www-form-urlencoded') return parseQuery(text);
    if (contentType === 'text/plain' || contentType === '') return text;
    app.log('error', `Unsupported content-type ${contentType}`);
    return undefined;
  });
}

/**
 * sockjs answers what a client got wrong with HTTP 500 ("Internal Server Error"): a post that is
 * not a JSON array of strings (`Payload expected.`, `Broken JSON encoding.`) or a JSONP callback
 * missing or invalid. Every `{ status: 500 }` that sockjs throws is such a client error, so they
 * are answered 400 with sockjs's message instead. `sockjs-client` treats any failed post alike.
 */
export function answerClientErrorsWith400(listener: SockJsListener): void {
  listener.app.handle_500 = (_request, response, error) => {
    if (response.headersSent) {
      response.end();
      return;
    }
    const body = error.message ?? '';
    response.writeHead(400, { 'Content-Type': 'text/plain; charset=UTF-8', 'Content-Length': Buffer.byteLength(body) });
    response.end(body);
  };
}
