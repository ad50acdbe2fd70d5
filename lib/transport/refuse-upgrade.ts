import type { Duplex } from 'node:stream';

/**
 * Answers an HTTP upgrade request with `status` (e.g. `'403 Forbidden'`) and an optional
 * plain-text body, then destroys the socket once the answer is written: `socket.end()` alone
 * leaves it half-open for as long as the client keeps its side, and a client refused again and
 * again would pile up file descriptors (`ws` destroys refused sockets the same way).
 */
export function refuseUpgrade(socket: Duplex, status: string, body = ''): void {
  const bytes = Buffer.from(body, 'utf8');
  const type = bytes.length > 0 ? 'Content-Type: text/plain; charset=utf-8\r\n' : '';
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n${type}Content-Length: ${bytes.length}\r\n\r\n${body}`);
}
