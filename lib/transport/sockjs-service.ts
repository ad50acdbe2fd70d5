import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { Logger } from '@nestjs/common';
import type { ResolvedEndpoint, ResolvedSockJsOptions } from '../module/resolve-options.js';
import type { SockJsTransport } from '../module/stomp-options.js';
import { StompProtocolError } from '../protocol/stomp-protocol-error.js';
import { isOriginAllowed, originRefusal } from './allowed-origins.js';
import { refuseUpgrade } from './refuse-upgrade.js';
import { pathnameOf } from './server-event-dispatcher.js';
import { SockJsConnection, type SockJsConnectionLimits } from './sockjs-connection.js';
import { answerClientErrorsWith400, endNow, readBodiesInLinearTime, receiverSocket, sockjs, sockJsSessionId, type Connection, type SockJsServer } from './sockjs-internals.js';

/** The URL names (`/ws/<server>/<session>/<name>`) each transport uses. */
const TRANSPORT_URLS: Record<SockJsTransport, readonly string[]> = {
  websocket: ['websocket'],
  'xhr-streaming': ['xhr_streaming', 'xhr_send'],
  'xhr-polling': ['xhr', 'xhr_send'],
  eventsource: ['eventsource', 'xhr_send'],
  htmlfile: ['htmlfile', 'xhr_send'],
  'jsonp-polling': ['jsonp', 'jsonp_send'],
};

/** URL names of the requests that open a SockJS session over HTTP (the websocket transport is an upgrade). */
const OPENING_URLS = new Set(['xhr_streaming', 'xhr', 'eventsource', 'htmlfile', 'jsonp']);
/** URL names of the opening requests that end after one write (polling). */
const POLLING_URLS = new Set(['xhr', 'jsonp']);

/**
 * Which service holds each open SockJS session id, process-wide. sockjs keeps one session table
 * for the whole process, so without this a request under another SockJS endpoint's path that
 * names a session's id would reach that session past this endpoint's origin rule.
 */
const sessionOwners = new Map<string, SockJsService>();

/** The iframe page of the iframe transports (`/iframe.html`, `/iframe-1.6.1.html`…). */
const IFRAME_PAGE = /^\/iframe[0-9a-z_.-]*\.html$/;

/**
 * A server or session id in a transport URL: what SockJS clients generate (digits, letters),
 * nothing sockjs or `url.parse` would read differently (`.`, `\`, `%`, characters it escapes),
 * and never the name of an `Object.prototype` property: sockjs keeps its sessions in a plain
 * object, where `constructor` or `__proto__` find a built-in function and make it throw.
 */
function isId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(id) && !(id in Object.prototype);
}

/** What a request under a SockJS endpoint asks for (see `SockJsService.classify`). */
type SockJsUrl =
  | { kind: 'welcome' | 'info' | 'iframe' | 'library' }
  | { kind: 'transport'; session: string; name: string };

/** File name the client library is served under by default (`<path>/sockjs.min.js`). */
const CLIENT_LIBRARY_FILE = '/sockjs.min.js';

/** Where `sockjs-client`'s browser bundle is installed, if it is. */
function clientLibraryPath(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('sockjs-client/dist/sockjs.min.js');
  } catch {
    return undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function answer(response: ServerResponse, status: number, body = ''): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=UTF-8', 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
}


/**
 * The SockJS protocol of one endpoint (Spring's `SockJsService`), served by the `sockjs` package
 * under the endpoint's path: `/ws/info`, `/ws/iframe.html`, `/ws/<server>/<session>/<transport>`.
 * In front of the package it checks origins, refuses disabled transports, bounds what a client
 * may post, serves the client library for the iframe transports, and hands each new SockJS
 * session to `open` with the HTTP request that opened it (its headers and cookies are what
 * CONNECT interceptors and `authenticate` see).
 */
export class SockJsService {
  private static readonly logger = new Logger('StompSockJs');
  private readonly serve: (request: IncomingMessage, responseOrSocket: ServerResponse | Duplex, head?: Buffer) => boolean;
  private readonly urls: Set<string>;
  /** Requests that opened an HTTP session, by SockJS session id, until sockjs reports the session. */
  private readonly opening = new Map<string, IncomingMessage>();
  /** Upgrade requests of the websocket transport, by their socket. */
  private readonly upgrades = new WeakMap<object, IncomingMessage>();
  /** Open sessions by SockJS session id (HTTP transports). */
  private readonly live = new Map<string, SockJsConnection>();
  private readonly libraryFile: string | undefined;
  private library?: Promise<Buffer | undefined>;
  private accepting = true;

  constructor(
    private readonly endpoint: ResolvedEndpoint & { sockjs: ResolvedSockJsOptions },
    private readonly limits: SockJsConnectionLimits,
    private readonly open: (connection: SockJsConnection, request: IncomingMessage) => void,
  ) {
    const options = endpoint.sockjs;
    this.urls = new Set(options.transports.flatMap((t) => TRANSPORT_URLS[t]));
    const servesLibrary = options.clientLibraryUrl === `${endpoint.path}${CLIENT_LIBRARY_FILE}`;
    this.libraryFile = servesLibrary ? clientLibraryPath() : undefined;
    if (servesLibrary && this.libraryFile === undefined) {
      SockJsService.logger.debug(
        `${endpoint.path}${CLIENT_LIBRARY_FILE} is not served: sockjs-client is not installed. Browsers that need an iframe transport fall back to another; install sockjs-client or set sockjs.clientLibraryUrl to serve it`,
      );
    }
    const server: SockJsServer = sockjs.createServer({
      prefix: escapeRegExp(endpoint.path),
      sockjs_url: options.clientLibraryUrl,
      response_limit: options.streamBytesLimit,
      websocket: options.transports.includes('websocket'),
      heartbeat_delay: options.heartbeatTime,
      disconnect_delay: options.disconnectDelay,
      // A websocket-transport message as received (JSON-encoded), like an xhr_send body.
      faye_server_options: { maxLength: limits.maxWebSocketMessageSize },
      log: (severity, line) => this.log(severity, line),
    });
    server.on('connection', (connection) => this.connected(connection));
    const listener = server.listener();
    readBodiesInLinearTime(listener);
    answerClientErrorsWith400(listener);
    this.serve = listener.getHandler();
  }

  /** The endpoint's path, e.g. `/ws`. */
  get path(): string {
    return this.endpoint.path;
  }

  /** True when `pathname` is this endpoint's path or below it. */
  owns(pathname: string): boolean {
    return pathname.startsWith(this.endpoint.path) && (pathname.length === this.endpoint.path.length || pathname[this.endpoint.path.length] === '/');
  }

  /** An HTTP request under the endpoint's path. */
  handleRequest(request: IncomingMessage, response: ServerResponse): void {
    if (!this.accepting) return answer(response, 503);
    if (!this.originAllowed(request)) return answer(response, 403);
    const url = this.classify(request);
    if (url === undefined) return answer(response, 404);
    if (url.kind === 'library') {
      void this.serveLibrary(request, response);
      return;
    }
    if (url.kind === 'iframe' && !this.iframeAllowed(response)) return answer(response, 404);
    if (url.kind === 'transport') {
      if (!this.urls.has(url.name) || url.name === 'websocket') return answer(response, 404);
      const owner = sessionOwners.get(url.session);
      if (owner !== undefined && owner !== this) return answer(response, 404);
      if (OPENING_URLS.has(url.name) && !this.live.has(url.session)) this.remember(url.session, request);
    }
    const session = url.kind === 'transport' ? url.session : undefined;
    if (request.method === 'POST' && !this.boundBody(request, response, session)) return;
    const live = url.kind === 'transport' && OPENING_URLS.has(url.name) ? this.live.get(url.session) : undefined;
    let served = false;
    if (live !== undefined && url.kind === 'transport') live.receive(() => (served = this.serve(request, response)), POLLING_URLS.has(url.name));
    else served = this.serve(request, response);
    // sockjs matches its paths against the URL with its query string (`/ws?x` is not its) and
    // leaves what it does not match unanswered.
    if (!served) answer(response, 404);
  }

  /**
   * What a request under the endpoint asks for, in the exact forms SockJS clients use; anything
   * else is refused before sockjs sees it. sockjs itself is looser (a trailing `/`, `\` read as
   * `/`, any character before `html` in the iframe page's name), and each looser spelling
   * would pass around a check made here on the strict one.
   */
  private classify(request: IncomingMessage): SockJsUrl | undefined {
    const rest = pathnameOf(request).slice(this.endpoint.path.length);
    if (rest === '' || rest === '/') return { kind: 'welcome' };
    if (rest === '/info') return { kind: 'info' };
    if (rest === CLIENT_LIBRARY_FILE) return this.libraryFile === undefined ? undefined : { kind: 'library' };
    if (IFRAME_PAGE.test(rest)) return { kind: 'iframe' };
    const parts = rest.split('/');
    if (parts.length !== 4 || parts[0] !== '' || !isId(parts[1]) || !isId(parts[2])) return undefined;
    return { kind: 'transport', session: parts[2], name: parts[3] };
  }

  /**
   * The iframe page of the iframe transports relays a SockJS session to its parent window, with
   * the endpoint's own origin and cookies. Spring's rule: served to any page when
   * `allowedOrigins` is `['*']`; only to pages of the same origin (`X-Frame-Options: SAMEORIGIN`)
   * by default; not at all (404) when a list of origins is given, since the browser cannot be
   * told to frame it for those only.
   */
  private iframeAllowed(response: ServerResponse): boolean {
    const allowed = this.endpoint.allowedOrigins;
    if (allowed === 'same-origin') {
      response.setHeader('X-Frame-Options', 'SAMEORIGIN');
      return true;
    }
    return allowed.includes('*');
  }

  /**
   * A WebSocket upgrade under the endpoint's path (not the path itself, which is the plain
   * endpoint). `gate`, when given, runs once the request passed every check here (origin, URL,
   * WebSocket version) and calls `proceed` to let sockjs take it, or answers it itself (the
   * endpoint's handshake authentication).
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, gate?: (proceed: () => void) => void): void {
    if (!this.accepting) return refuseUpgrade(socket, '503 Service Unavailable');
    if (!this.originAllowed(request)) return refuseUpgrade(socket, '403 Forbidden');
    const url = this.classify(request);
    if (url?.kind !== 'transport' || url.name !== 'websocket' || !this.urls.has('websocket')) return refuseUpgrade(socket, '404 Not Found');
    // RFC 6455 only: faye-websocket would also take the drafts of 2010 (no Sec-WebSocket-Key).
    if (request.headers['sec-websocket-version'] !== '13' || request.headers['sec-websocket-key'] === undefined) {
      return refuseUpgrade(socket, '400 Bad Request');
    }
    const serve = (): void => {
      this.upgrades.set(socket, request);
      if (!this.serve(request, socket, head)) refuseUpgrade(socket, '404 Not Found');
    };
    if (gate === undefined) serve();
    else gate(serve);
  }

  /**
   * Keeps the request that opens session `id` until sockjs reports the session (in the next
   * tick); forgotten when the request ends first (a session id that sockjs did not open anew).
   */
  private remember(id: string, request: IncomingMessage): void {
    this.opening.set(id, request);
    request.once('close', () => {
      if (this.opening.get(id) === request) this.opening.delete(id);
    });
  }

  /** Ends what the service holds: sessions still opening are forgotten. */
  stop(): void {
    this.accepting = false;
    this.opening.clear();
  }

  private originAllowed(request: IncomingMessage): boolean {
    if (isOriginAllowed(request, this.endpoint.allowedOrigins)) return true;
    SockJsService.logger.warn(originRefusal(request, this.endpoint.path, this.endpoint.allowedOrigins, 'SockJS request'));
    return false;
  }

  /**
   * Bounds the body of a POST (sockjs would read any size for `xhr_send`, `jsonp_send` and its
   * `chunking_test`) to `limits.maxWebSocketMessageSize` bytes: a bigger one gets 413, and the
   * session it was for (if any) an ERROR.
   * @returns false when the request was refused.
   */
  private boundBody(request: IncomingMessage, response: ServerResponse, session: string | undefined): boolean {
    const limit = this.limits.maxWebSocketMessageSize;
    const tooLarge = (): void => {
      answer(response, 413);
      request.destroy();
      if (session === undefined) return;
      this.live
        .get(session)
        ?.handler?.onTransportError(
          new StompProtocolError('FRAME_TOO_LARGE', `SockJS message body larger than ${limit} bytes (limits.maxWebSocketMessageSize)`),
        );
    };
    const declared = Number(request.headers['content-length']);
    if (declared > limit) {
      tooLarge();
      return false;
    }
    let received = 0;
    request.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit && !request.destroyed) tooLarge();
    });
    return true;
  }

  private connected(sockJs: Connection | null): void {
    if (sockJs === null) return;
    const id = sockJsSessionId(sockJs);
    let request: IncomingMessage | undefined;
    if (id !== undefined) {
      request = this.opening.get(id);
      this.opening.delete(id);
    } else {
      const socket = receiverSocket(sockJs);
      if (socket !== undefined) request = this.upgrades.get(socket);
    }
    if (request === undefined || !this.accepting) {
      // Refused (shutting down): sockjs's session ends now, not after its disconnect delay.
      sockJs.close(1001, 'Going away');
      endNow(sockJs);
      return;
    }
    const connection = new SockJsConnection(sockJs, this.endpoint.path, this.limits);
    if (id !== undefined) {
      this.live.set(id, connection);
      sessionOwners.set(id, this);
      sockJs.on('close', () => {
        this.live.delete(id);
        if (sessionOwners.get(id) === this) sessionOwners.delete(id);
      });
    }
    this.open(connection, request);
  }

  private async serveLibrary(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'GET' && request.method !== 'HEAD') return answer(response, 405);
    const file = this.libraryFile as string;
    const body = await (this.library ??= readFile(file).catch(() => undefined));
    if (body === undefined) return answer(response, 404);
    response.writeHead(200, {
      'Content-Type': 'application/javascript; charset=UTF-8',
      'Content-Length': body.length,
      'Cache-Control': 'public, max-age=31536000',
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  }

  /**
   * sockjs's own log lines, one line each and never a stack. An exception inside sockjs is a
   * warning; what a client can cause (a post with an unsupported content-type) and the start-up
   * line are debug, so that a client cannot flood the log. Its per-request access lines (`info`)
   * are dropped: an access log belongs to the application's HTTP middleware.
   */
  private log(severity: string, line: string): void {
    const first = line.split('\n', 1)[0];
    if (severity === 'error' && first.startsWith('Exception')) SockJsService.logger.warn(first);
    else if (severity !== 'info') SockJsService.logger.debug(first);
  }
}
