import type { IncomingMessage } from 'node:http';

/**
 * Checks a handshake's `Origin`. The same origin (see {@link isSameOrigin}) is always accepted,
 * as Spring does before it looks at `allowedOrigins` (`WebUtils.isSameOrigin`): a page served by
 * the app itself can connect whatever the list says. `'same-origin'` accepts nothing more; a
 * list also accepts exact origins, `*` wildcards inside an origin, and `*` alone for everyone.
 *
 * A request without `Origin` comes from a non-browser client and is accepted, unless a browser
 * marked it `Sec-Fetch-Site: cross-site` (a GET started by another site's `<img>` or `<script>`
 * tag, or a form post from a browser that sends no `Origin` with it): that is another site's
 * page, accepted only with `['*']`.
 */
export function isOriginAllowed(request: IncomingMessage, allowed: string[] | 'same-origin'): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return request.headers['sec-fetch-site'] !== 'cross-site' || (allowed !== 'same-origin' && allowed.includes('*'));
  if (isSameOrigin(origin, request)) return true;
  if (allowed === 'same-origin') return false;
  return allowed.some((pattern) => pattern === '*' || pattern === origin || matchesWildcard(pattern, origin));
}

/**
 * Whether `origin` is the request's own: the same host and port as the `Host` header, and not a
 * downgrade. An `http:` page is the same origin only when the request itself came over plain
 * HTTP (`X-Forwarded-Proto` first, as a TLS-terminating proxy sets it, else the socket), so a
 * script injected into the plain-HTTP site of a host cannot pass for its HTTPS pages. An
 * `https:` page of the same host is the same origin even when a proxy forwards it over HTTP.
 */
export function isSameOrigin(origin: string, request: IncomingMessage): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.host !== request.headers.host) return false;
  if (url.protocol === 'https:' || url.protocol === 'wss:') return true;
  if (url.protocol !== 'http:' && url.protocol !== 'ws:') return false;
  return requestScheme(request) === 'http';
}

function requestScheme(request: IncomingMessage): 'http' | 'https' {
  const forwarded = request.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0].trim().toLowerCase();
  if (first === 'https' || first === 'wss') return 'https';
  if (first === 'http' || first === 'ws') return 'http';
  return (request.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http';
}

/**
 * `*` in an `allowedOrigins` entry stands for any characters but `/` (`https://*.example.com`).
 * Matched without a regular expression: a pattern with several `*` turned into `[^/]*…[^/]*`
 * backtracks polynomially on a long `Origin` header, and the header is the client's. Here each
 * `/`-separated part is matched on its own with the greedy two-pointer glob walk, which costs at
 * most (pattern length × origin length) steps and usually one pass.
 */
export function matchesWildcard(pattern: string, origin: string): boolean {
  const patternParts = pattern.split('/');
  const originParts = origin.split('/');
  if (patternParts.length !== originParts.length) return false;
  for (let i = 0; i < patternParts.length; i++) {
    if (!globPart(patternParts[i], originParts[i])) return false;
  }
  return true;
}

/** Glob match of one part (no `/` in either): `*` matches any run of characters. */
function globPart(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (star !== -1) {
      // The last `*` takes one more character; the earlier ones never need to change (every
      // later `*` can absorb whatever they would have given up).
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * The log line for a handshake refused by {@link isOriginAllowed}: which origin, which endpoint,
 * and the `allowedOrigins` option that would let it in.
 */
export function originRefusal(
  request: IncomingMessage,
  path: string,
  allowed: string[] | 'same-origin',
  what = 'WebSocket handshake',
): string {
  const origin = request.headers.origin ?? '';
  const rule =
    allowed === 'same-origin'
      ? `only the same origin (host ${JSON.stringify(request.headers.host ?? '')}) is allowed by default`
      : `allowedOrigins is ${JSON.stringify(allowed)}`;
  return (
    `Refused ${what} to ${path} from origin ${JSON.stringify(origin)} (HTTP 403): ${rule}; ` +
    `to accept it, list it in StompModule.forRoot({ endpoints: [{ path: ${JSON.stringify(path)}, allowedOrigins: [${JSON.stringify(origin)}] }] })`
  );
}
