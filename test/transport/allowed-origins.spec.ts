import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage } from 'node:http';
import { isOriginAllowed, matchesWildcard } from '../../lib/transport/allowed-origins.js';

function request(origin: string | undefined, host = 'app.example.com', headers: Record<string, string> = {}): IncomingMessage {
  return { headers: { origin, host, ...headers } } as unknown as IncomingMessage;
}

describe('allowedOrigins wildcards', () => {
  it.each([
    ['https://*.example.com', 'https://a.example.com', true],
    ['https://*.example.com', 'https://a.b.example.com', true],
    ['https://*.example.com', 'https://example.com', false],
    ['https://*.example.com', 'http://a.example.com', false],
    ['https://*.example.com', 'https://a.example.com.evil.test', false],
    ['https://*.example.com', 'https://evil.test/x.example.com', false],
    ['http://localhost:*', 'http://localhost:4200', true],
    ['http://localhost:*', 'http://localhost', false],
    ['*://*.example.*', 'https://a.example.com', true],
    ['https://a*b*c', 'https://aXbYc', true],
    ['https://a*b*c', 'https://abcbc', true],
    ['https://a*b*c', 'https://acb', false],
    ['https://**', 'https://anything', true],
    ['https://x', 'https://x', true],
  ])('%s against %s is %s', (pattern, origin, expected) => {
    expect(matchesWildcard(pattern, origin)).toBe(expected);
    expect(isOriginAllowed(request(origin), [pattern])).toBe(expected);
  });

  it('answers a long hostile Origin against a many-star pattern without backtracking blow-up', () => {
    // As a regular expression ([^/]* five times) this input costs about length^5 steps and never
    // finishes; the glob walk is bounded by pattern length × origin length.
    const origin = `https://${'a'.repeat(16_000)}`;
    expect(matchesWildcard('https://*a*a*a*a*a*b', origin)).toBe(false);
    expect(matchesWildcard('https://*a*a*a*a*a*', origin)).toBe(true);
  });

  it('accepts the same origin whatever the list says, as Spring does', () => {
    expect(isOriginAllowed(request('https://app.example.com'), ['https://frontend.example'])).toBe(true);
    expect(isOriginAllowed(request('http://app.example.com:8080', 'app.example.com:8080'), ['https://frontend.example'])).toBe(true);
    expect(isOriginAllowed(request('http://app.example.com:8081', 'app.example.com:8080'), ['https://frontend.example'])).toBe(false);
    expect(isOriginAllowed(request('https://other.example.com'), ['https://frontend.example'])).toBe(false);
  });

  it('does not take an http: page for the same origin of a request that came over TLS (a downgrade)', () => {
    const overTls = (origin: string, headers: Record<string, string> = {}) =>
      ({ headers: { origin, host: 'app.example.com', ...headers }, socket: { encrypted: true } }) as unknown as IncomingMessage;
    expect(isOriginAllowed(overTls('http://app.example.com'), 'same-origin')).toBe(false);
    expect(isOriginAllowed(overTls('https://app.example.com'), 'same-origin')).toBe(true);
    // Behind a TLS-terminating proxy: the proxy's X-Forwarded-Proto decides.
    expect(isOriginAllowed(request('http://app.example.com', 'app.example.com', { 'x-forwarded-proto': 'https' }), 'same-origin')).toBe(false);
    expect(isOriginAllowed(request('https://app.example.com', 'app.example.com', { 'x-forwarded-proto': 'http' }), 'same-origin')).toBe(true);
    expect(isOriginAllowed(request('http://app.example.com', 'app.example.com', { 'x-forwarded-proto': 'http' }), 'same-origin')).toBe(true);
    // A listed http: origin is still allowed by the list.
    expect(isOriginAllowed(overTls('http://app.example.com'), ['http://app.example.com'])).toBe(true);
    expect(isOriginAllowed(request('null'), 'same-origin')).toBe(false);
  });

  it("refuses a request without Origin that a browser marked cross-site, unless allowedOrigins is ['*']", () => {
    const crossSite = request(undefined, 'app.example.com', { 'sec-fetch-site': 'cross-site' });
    expect(isOriginAllowed(crossSite, 'same-origin')).toBe(false);
    expect(isOriginAllowed(crossSite, ['https://frontend.example'])).toBe(false);
    expect(isOriginAllowed(crossSite, ['*'])).toBe(true);
    expect(isOriginAllowed(request(undefined, 'app.example.com', { 'sec-fetch-site': 'same-origin' }), 'same-origin')).toBe(true);
  });

  it('accepts clients without Origin, and same-origin by Host', () => {
    expect(isOriginAllowed(request(undefined), 'same-origin')).toBe(true);
    expect(isOriginAllowed(request('https://app.example.com'), 'same-origin')).toBe(true);
    expect(isOriginAllowed(request('https://evil.test'), 'same-origin')).toBe(false);
    expect(isOriginAllowed(request('not a url'), 'same-origin')).toBe(false);
  });
});
