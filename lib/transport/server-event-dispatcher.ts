import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
export type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

type Listener = (request: IncomingMessage, ...rest: never[]) => void;
type AnyListener = (request: IncomingMessage, second: Duplex | ServerResponse, head?: Buffer) => void;

/**
 * Owns one event of the HTTP server (`'upgrade'` or `'request'`): what `route` claims goes to
 * the listener it returns, everything else to the listeners that were there before (Nest's
 * Express or Fastify app for requests; `@nestjs/platform-ws` gateways for upgrades, which destroy
 * any upgrade they do not own, so they must never see ours). With no earlier listener, what is
 * not ours gets 404.
 */
class ServerEventDispatcher<L extends Listener> {
  private readonly previous: L[];
  private readonly listener: AnyListener;

  constructor(
    private readonly server: Server,
    private readonly event: 'upgrade' | 'request',
    route: (request: IncomingMessage) => L | undefined,
  ) {
    this.previous = server.listeners(event) as L[];
    server.removeAllListeners(event);
    this.listener = (request, second, head) => {
      const ours = route(request);
      if (ours !== undefined) {
        (ours as unknown as AnyListener)(request, second, head);
      } else if (this.previous.length > 0) {
        for (const l of this.previous) (l as unknown as AnyListener).call(this.server, request, second, head);
      } else if (event === 'upgrade') {
        (second as Duplex).end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      } else {
        (second as ServerResponse).writeHead(404, { 'Content-Length': 0 }).end();
      }
    };
    server.on(event, this.listener);
  }

  /** Gives the event back to the listeners that had it. */
  detach(): void {
    this.server.off(this.event, this.listener);
    for (const l of this.previous) this.server.on(this.event, l as unknown as AnyListener);
  }
}

/** The `'upgrade'` event: WebSocket handshakes for our endpoints. */
export class UpgradeDispatcher extends ServerEventDispatcher<UpgradeListener> {
  constructor(server: Server, route: (request: IncomingMessage) => UpgradeListener | undefined) {
    super(server, 'upgrade', route);
  }
}

/** The `'request'` event: SockJS's HTTP requests, ahead of the Nest application's routes. */
export class RequestDispatcher extends ServerEventDispatcher<RequestListener> {
  constructor(server: Server, route: (request: IncomingMessage) => RequestListener | undefined) {
    super(server, 'request', route);
  }
}

/**
 * The path of a request's target, without its query string. An absolute-form target
 * (`GET http://host/ws/info HTTP/1.1`, which proxies send and servers must accept) gives its path,
 * as Express and Fastify route it.
 */
export function pathnameOf(request: IncomingMessage): string {
  let url = request.url ?? '/';
  if (!url.startsWith('/')) {
    const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url);
    if (scheme !== null) url = url.slice(scheme[0].length) || '/';
  }
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
