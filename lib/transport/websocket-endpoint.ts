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
import { SUBPROTOCOL_VERSIONS } from '../protocol/frame.js';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import { InboundDispatcher } from '../messaging/inbound-dispatcher.js';
import { ChannelInterceptors } from '../messaging/channel-interceptors.js';
import { StompEvents } from '../events/stomp-events.service.js';
import { StompCounters } from '../stats/stomp-counters.js';
import { isOriginAllowed, originRefusal } from './allowed-origins.js';
import { SessionRegistry } from './session-registry.js';
import { StompSession, type SessionServices } from './stomp-session.js';
import { WebSocketConnection } from './websocket-connection.js';
import { pathnameOf, UpgradeDispatcher } from './upgrade-dispatcher.js';

/** Highest STOMP version first: the order in which a client's sub-protocols are considered. */
const SUBPROTOCOL_PREFERENCE = ['v12.stomp', 'v11.stomp', 'v10.stomp'];

/** How long `app.close()` waits for clients to finish the close handshake. */
const SHUTDOWN_GRACE_MS = 3000;

function refuse(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * The STOMP WebSocket endpoints, served on the Nest application's own HTTP server (Express or
 * Fastify). Checks origins, picks the `vXY.stomp` sub-protocol, and opens a {@link StompSession}
 * per connection. On `app.close()` it stops accepting, lets pending frames go out, and closes
 * every connection with 1001 (going away).
 */
@Injectable()
export class WebSocketEndpoint implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('StompWebSocketEndpoint');
  private readonly endpoints: Map<string, ResolvedStompOptions['endpoints'][number]>;
  private wss?: WebSocketServer;
  private upgrades?: UpgradeDispatcher;
  private accepting = false;
  private readonly services: SessionServices;

  constructor(
    @Inject(STOMP_OPTIONS) private readonly options: ResolvedStompOptions,
    private readonly adapterHost: HttpAdapterHost,
    dispatcher: InboundDispatcher,
    private readonly sessions: SessionRegistry,
    events: StompEvents,
    counters: StompCounters,
    interceptors: ChannelInterceptors,
  ) {
    this.endpoints = new Map(options.endpoints.map((e) => [e.path, e]));
    this.services = { handler: dispatcher, interceptors, events, counters };
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
    this.upgrades = new UpgradeDispatcher(
      server,
      (path) => this.endpoints.has(path),
      (request, socket, head) => this.upgrade(request, socket, head),
    );
    this.accepting = true;
    this.logger.log(`STOMP endpoints: ${[...this.endpoints.keys()].join(', ')}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.accepting = false;
    this.upgrades?.detach();
    this.upgrades = undefined;
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

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const endpoint = this.endpoints.get(pathnameOf(request));
    if (!this.accepting || !endpoint || !this.wss) {
      refuse(socket, '503 Service Unavailable');
      return;
    }
    if (!isOriginAllowed(request, endpoint.allowedOrigins)) {
      this.logger.warn(originRefusal(request, endpoint.path, endpoint.allowedOrigins));
      refuse(socket, '403 Forbidden');
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, socket, request, endpoint.path));
  }

  /**
   * `socket` is the upgrade's TCP socket, which `ws` writes to: handed to the connection so it
   * can cork it for a tick's writes (`ws` keeps its own reference private).
   */
  private accept(ws: WebSocket, socket: Duplex, request: IncomingMessage, path: string): void {
    const connection = new WebSocketConnection(ws, socket, path, request.socket.remoteAddress, this.options.limits);
    const session = new StompSession(connection, request, this.options, this.services, SUBPROTOCOL_VERSIONS[ws.protocol]);
    this.sessions.add(session);
    void session.closed.then(() => this.sessions.remove(session));
  }
}
