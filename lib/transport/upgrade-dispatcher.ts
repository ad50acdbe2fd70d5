import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

export type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * Owns the HTTP server's `'upgrade'` event: upgrades for our paths go to us, every other upgrade
 * to the listeners that were there before (e.g. `@nestjs/platform-ws` gateways, which destroy any
 * upgrade they do not own, so they must never see ours). With no other listener, an upgrade for
 * an unknown path is answered with 404.
 */
export class UpgradeDispatcher {
  private readonly previous: UpgradeListener[];
  private readonly listener: UpgradeListener;

  constructor(
    private readonly server: Server,
    private readonly owns: (pathname: string) => boolean,
    handle: UpgradeListener,
  ) {
    this.previous = server.listeners('upgrade') as UpgradeListener[];
    server.removeAllListeners('upgrade');
    this.listener = (request, socket, head) => {
      if (this.owns(pathnameOf(request))) {
        handle(request, socket, head);
      } else if (this.previous.length > 0) {
        for (const l of this.previous) l.call(this.server, request, socket, head);
      } else {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      }
    };
    server.on('upgrade', this.listener);
  }

  /** Gives the event back to the listeners that had it. */
  detach(): void {
    this.server.off('upgrade', this.listener);
    for (const l of this.previous) this.server.on('upgrade', l);
  }
}

export function pathnameOf(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
