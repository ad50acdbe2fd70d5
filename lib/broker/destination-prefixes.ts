/**
 * True when `destination` is `prefix` itself or continues it with a `/` or `.` segment,
 * so `/topic` covers `/topic/a` and `/topic.a` but not `/topics`.
 */
export function hasPrefix(destination: string, prefix: string): boolean {
  if (!destination.startsWith(prefix)) return false;
  if (destination.length === prefix.length) return true;
  const next = destination.charCodeAt(prefix.length);
  return next === 0x2f /* / */ || next === 0x2e /* . */;
}

export function findPrefix(destination: string, prefixes: readonly string[]): string | undefined {
  for (const prefix of prefixes) if (hasPrefix(destination, prefix)) return prefix;
  return undefined;
}

/**
 * A user destination resolved for one session ends in `-user<session id>` (Spring's form,
 * `/queue/news-user<id>`). Session ids are random UUIDs, so the suffix is recognised exactly.
 */
const SESSION_SUFFIX = /-user([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/**
 * The session a resolved user destination belongs to, or `undefined` for any other destination.
 * Such destinations are private to their session: only it may subscribe to or send to them
 * directly, and pattern subscriptions never match them.
 */
export function sessionOfDestination(destination: string): string | undefined {
  // Cheap test first: this runs on every publish.
  if (destination.length < 41 || destination.lastIndexOf('-user') !== destination.length - 41) return undefined;
  return SESSION_SUFFIX.exec(destination)?.[1];
}
