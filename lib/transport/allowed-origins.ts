import type { IncomingMessage } from 'node:http';

/**
 * Checks a handshake's `Origin`. `'same-origin'` accepts an origin whose host equals the
 * request's `Host` header; a list accepts exact origins, `*` wildcards inside an origin, and `*`
 * alone for everyone. A request without `Origin` comes from a non-browser client and is accepted.
 */
export function isOriginAllowed(request: IncomingMessage, allowed: string[] | 'same-origin'): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed === 'same-origin') {
    try {
      return new URL(origin).host === request.headers.host;
    } catch {
      return false;
    }
  }
  return allowed.some((pattern) => pattern === '*' || pattern === origin || wildcard(pattern).test(origin));
}

const patterns = new Map<string, RegExp>();

function wildcard(pattern: string): RegExp {
  let re = patterns.get(pattern);
  if (!re) {
    const body = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*');
    patterns.set(pattern, (re = new RegExp(`^${body}$`)));
  }
  return re;
}

/**
 * The log line for a handshake refused by {@link isOriginAllowed}: which origin, which endpoint,
 * and the `allowedOrigins` option that would let it in.
 */
export function originRefusal(request: IncomingMessage, path: string, allowed: string[] | 'same-origin'): string {
  const origin = request.headers.origin ?? '';
  const rule =
    allowed === 'same-origin'
      ? `only the same origin (host ${JSON.stringify(request.headers.host ?? '')}) is allowed by default`
      : `allowedOrigins is ${JSON.stringify(allowed)}`;
  return (
    `Refused WebSocket handshake to ${path} from origin ${JSON.stringify(origin)} (HTTP 403): ${rule}; ` +
    `to accept it, list it in StompModule.forRoot({ endpoints: [{ path: ${JSON.stringify(path)}, allowedOrigins: [${JSON.stringify(origin)}] }] })`
  );
}
