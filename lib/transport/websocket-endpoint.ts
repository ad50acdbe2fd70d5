import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { WebSocketServer, type WebSocket } from 'ws';
import { SUBPROTOCOL_VERSIONS, type StompVersion } from '../protocol/frame.js';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedEndpoint, ResolvedStompOptions } from '../module/resolve-options.js';
import { InboundDispatcher } from '../messaging/inbound-dispatcher.js';
import { ChannelInterceptors } from '../messaging/channel-interceptors.js';
import type { HandshakeRefusal } from '../messaging/authenticate-interceptor.js';
import { StompEvents } from '../events/stomp-events.service.js';
import { StompCounters } from '../stats/stomp-counters.js';
import { isOriginAllowed, originRefusal } from './allowed-origins.js';
import { SessionRegistry } from './session-registry.js';
import { SessionLimits } from './session-limits.js';
import { StompSession, type SessionServices } from './stomp-session.js';
import { WebSocketConnection } from './websocket-connection.js';
import { pathnameOf, RequestDispatcher, UpgradeDispatcher, type UpgradeListener } from './server-event-dispatcher.js';
import type { SockJsConnection } from './sockjs-connection.js';
import { SockJsService } from './sockjs-service.js';
import type { StompConnection } from './stomp-connection.js';
import { refuseUpgrade } from './refuse-upgrade.js';

/** Highest STOMP version first: the order in which a client's sub-protocols are considered. */
const SUBPROTOCOL_PREFERENCE = ['v12.stomp', 'v11.stomp', 'v10.stomp'];

/** How long `app.close()` waits for clients to finish the close handshake. */
const SHUTDOWN_GRACE_MS = 3000;

/**
 * Answers an upgrade request with an HTTP error and lets go of the socket once the answer is
 * written (as `ws` does): the HTTP server keeps sockets half-open, so a client that ignored our end
 * would otherwise hold a refused socket, uncounted by `limits.maxSessions`, for ever.
 */
const refuse = refuseUpgrade;

const STATUS_TEXT = { 401: '401 Unauthorized', 403: '403 Forbidden' } as const;
/** Longest refusal reason written in a 401/403 body or a log line. */
const MAX_REASON_LENGTH = 200;
const noop = (): void => undefined;

/**
 * The STOMP WebSocket endpoints, served on the Nest application's own HTTP server (Express or
 * Fastify). Checks origins, picks the `vXY.stomp` sub-protocol, and opens a {@link StompSession}
 * per connection. An endpoint with `sockjs` also serves SockJS under its path (a
 * {@link SockJsService} each), and its SockJS sessions are STOMP sessions like the others. On
 * `app.close()` it stops accepting, lets pending frames go out, and closes every connection with
 * 1001 (going away).
 */
@Injectable()
export class WebSocketEndpoint implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('StompWebSocketEndpoint');
  private wss?: WebSocketServer;
  private upgrades?: UpgradeDispatcher;
  private requests?: RequestDispatcher;
  private readonly sockJs: SockJsService[] = [];
  /**
   * The endpoint of each path a plain WebSocket client may connect to: each endpoint's own, and
   * `<path>/websocket` of a SockJS one (Spring's raw WebSocket URL under a SockJS endpoint).
   */
  private readonly plain = new Map<string, ResolvedEndpoint>();
  private accepting = false;
  /** Handshakes an asynchronous authenticator is deciding: each ends its wait when called (shutdown). */
  private readonly deciding = new Set<() => void>();
  private readonly services: SessionServices;

  constructor(
    @Inject(STOMP_OPTIONS) private readonly options: ResolvedStompOptions,
    private readonly adapterHost: HttpAdapterHost,
    dispatcher: InboundDispatcher,
    private readonly sessions: SessionRegistry,
    events: StompEvents,
    counters: StompCounters,
    private readonly interceptors: ChannelInterceptors,
    private readonly limits: SessionLimits,
  ) {
    this.services = { handler: dispatcher, interceptors, events, counters, limits };
    for (const endpoint of options.endpoints) {
      this.plain.set(endpoint.path, endpoint);
      const sockjs = endpoint.sockjs;
      if (sockjs === undefined) continue;
      if (sockjs.transports.includes('websocket') && !this.plain.has(`${endpoint.path}/websocket`)) {
        this.plain.set(`${endpoint.path}/websocket`, endpoint);
      }
      this.sockJs.push(
        new SockJsService({ ...endpoint, sockjs }, options.limits, (connection, request) => this.openSockJs(connection, request)),
      );
    }
    // Nested SockJS paths (`/ws`, `/ws/admin`): the longest that owns a request serves it.
    this.sockJs.sort((a, b) => b.path.length - a.path.length);
  }

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server) {
      throw new Error(
        'StompModule needs an HTTP application (its WebSocket endpoints share the HTTP server): create the app with NestFactory.create(), not NestFactory.createApplicationContext() or NestFactory.createMicroservice(); to combine it with a microservice, use NestFactory.create() then app.connectMicroservice()',
      );
    }
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: this.options.limits.maxWebSocketMessageSize,
      // The STOMP decoder validates UTF-8 where STOMP requires it (command and headers).
      skipUTF8Validation: true,
      handleProtocols: (offered: Set<string>) =>
        SUBPROTOCOL_PREFERENCE.find((p) => offered.has(p)) ?? false,
    });
    // Nest gateways on @nestjs/platform-ws are bound by now; take the upgrade event from them.
    this.upgrades = new UpgradeDispatcher(server, (request) => this.routeUpgrade(request));
    // SockJS's HTTP requests are taken before the Nest application's routes see them.
    if (this.sockJs.length > 0) {
      this.requests = new RequestDispatcher(server, (request) => {
        const pathname = pathnameOf(request);
        const service = this.sockJs.find((s) => s.owns(pathname));
        return service === undefined ? undefined : (req, res) => service.handleRequest(req, res);
      });
    }
    this.accepting = true;
    const names = this.options.endpoints.map((e) => (e.sockjs === undefined ? e.path : `${e.path} (+SockJS)`));
    this.logger.log(`STOMP endpoints: ${names.join(', ')}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.accepting = false;
    for (const service of this.sockJs) service.stop();
    this.upgrades?.detach();
    this.upgrades = undefined;
    this.requests?.detach();
    this.requests = undefined;
    // Refused now (503): the HTTP server's close would otherwise wait up to connectTimeout for them.
    for (const stop of this.deciding) stop();
    const open = [...this.sessions.all()];
    for (const session of open) session.close('server-shutdown', undefined, 'Server shutting down');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(open.map((s) => s.closed)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_GRACE_MS))),
    ]);
    clearTimeout(timer);
    for (const session of open) if (session.state !== 'closed') session.terminate();
    this.wss?.close();
  }

  private routeUpgrade(request: IncomingMessage): UpgradeListener | undefined {
    const pathname = pathnameOf(request);
    if (this.plain.has(pathname)) return this.upgradePlain;
    const service = this.sockJs.find((s) => s.owns(pathname));
    if (service === undefined) return undefined;
    // The authenticator runs after SockJS's own checks (origin, URL, WebSocket version).
    return (req, socket, head) => service.handleUpgrade(req, socket, head, (proceed) => this.authenticated(req, socket, service.path, proceed));
  }

  private readonly upgradePlain: UpgradeListener = (request, socket, head) => this.upgrade(request, socket, head);

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const endpoint = this.plain.get(pathnameOf(request));
    if (!this.accepting || !endpoint || !this.wss) {
      refuse(socket, '503 Service Unavailable');
      return;
    }
    if (!isOriginAllowed(request, endpoint.allowedOrigins)) {
      this.logger.warn(originRefusal(request, endpoint.path, endpoint.allowedOrigins));
      refuse(socket, '403 Forbidden');
      return;
    }
    if (!this.limits.admitHandshake(request, endpoint.path, socket)) {
      refuse(socket, '503 Service Unavailable');
      return;
    }
    const wss = this.wss;
    this.authenticated(request, socket, endpoint.path, () =>
      wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, socket, request, endpoint.path)),
    );
  }

  /**
   * Runs the authenticator's `authenticateHandshake` on an upgrade request, then `proceed`, or
   * answers 401/403 (503 when it did not decide within `limits.connectTimeout`) with one warning
   * line. Without a handshake check, `proceed` runs at once.
   */
  private authenticated(request: IncomingMessage, socket: Duplex, path: string, proceed: () => void): void {
    const authentication = this.interceptors.authentication;
    if (authentication === undefined || !authentication.checksHandshakes) return proceed();
    const decided = authentication.handshake(request);
    if (!(decided instanceof Promise)) return this.handshakeDecided(request, socket, path, decided, proceed);
    // The socket may fail while the authenticator thinks; nobody else listens to it yet.
    socket.on('error', noop);
    let timer: NodeJS.Timeout | undefined;
    let stop: () => void = noop;
    const timeout = new Promise<'timeout' | 'shutdown'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.limits.connectTimeout);
      stop = () => resolve('shutdown');
    });
    this.deciding.add(stop);
    void Promise.race([decided, timeout]).then((outcome) => {
      clearTimeout(timer);
      this.deciding.delete(stop);
      socket.off('error', noop);
      if (socket.destroyed) return;
      if (outcome === 'timeout') {
        this.logger.warn(`Handshake of ${this.client(request)} on ${path} refused: the authenticator did not decide within ${this.options.limits.connectTimeout} ms (503)`);
        refuse(socket, '503 Service Unavailable', 'Authentication did not answer in time');
        return;
      }
      if (outcome === 'shutdown' || !this.accepting) {
        refuse(socket, '503 Service Unavailable', 'Server shutting down');
        return;
      }
      this.handshakeDecided(request, socket, path, outcome, proceed);
    });
  }

  private handshakeDecided(
    request: IncomingMessage,
    socket: Duplex,
    path: string,
    refusal: HandshakeRefusal | undefined,
    proceed: () => void,
  ): void {
    if (refusal === undefined) return proceed();
    const reason = refusal.reason.slice(0, MAX_REASON_LENGTH);
    this.logger.warn(`Handshake of ${this.client(request)} on ${path} refused (${refusal.status}): ${JSON.stringify(reason)}`);
    refuse(socket, STATUS_TEXT[refusal.status], reason);
  }

  private client(request: IncomingMessage): string {
    return request.socket.remoteAddress ?? 'a client';
  }

  /**
   * `socket` is the upgrade's TCP socket, which `ws` writes to: handed to the connection so it
   * can cork it for a tick's writes (`ws` keeps its own reference private).
   */
  private accept(ws: WebSocket, socket: Duplex, request: IncomingMessage, path: string): void {
    const connection = new WebSocketConnection(ws, socket, path, request.socket.remoteAddress, this.options.limits);
    this.startSession(connection, request, SUBPROTOCOL_VERSIONS[ws.protocol]);
    this.limits.handshakeDone(socket);
  }

  /** A new SockJS session: a STOMP session like any other (no sub-protocol: SockJS has none). */
  private openSockJs(connection: SockJsConnection, request: IncomingMessage): void {
    if (!this.accepting) {
      connection.close('server-shutdown', undefined, 'Server shutting down');
      return;
    }
    this.startSession(connection, request, undefined);
  }

  private startSession(connection: StompConnection, request: IncomingMessage, version: StompVersion | undefined): void {
    const session = new StompSession(connection, request, this.options, this.services, version);
    this.sessions.add(session);
    void session.closed.then(() => this.sessions.remove(session));
  }
}
