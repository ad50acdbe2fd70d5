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

/** `-user<uuid>` anywhere, after {@link sessionsNamedIn} decoded and case-folded the text. */
const NAMED_SESSION = /-user([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/g;
/** What a destination that could name a session holds somewhere: `user` in any case, `%`, non-ASCII. */
const MAY_NAME_SESSION = /user|%|[^\x00-\x7f]/i;
const NON_ASCII = /[^\x00-\x7f]/;
const PERCENT_RUN = /(?:%[0-9a-f]{2})+/gi;

/**
 * Every session id a client-written destination names in a resolved user destination's form
 * (`-user<session id>`), however it is spelt: anywhere in the destination (so a trailing `/`,
 * whitespace, `/.`, `/..`, `//` or a suffix do not hide it), with percent-escapes decoded (up to
 * four times, for `%252D`), Unicode compatibility forms folded (NFKC: fullwidth letters, `ſ`) and
 * letters in any case (session ids are lower-case UUIDs; `-USER<ID>` names the same one). STOMP
 * header escapes (`\c`, `\\`) are already decoded by the frame decoder. A broker that normalizes
 * destinations (a relay) would take any of these spellings for the session's own destination, so
 * all of them are one canonical check, not a list of spellings. Lower-case ids, `[]` for none.
 * Cheap when the destination holds no `user`, `%` or non-ASCII character (one regex test).
 */
export function sessionsNamedIn(destination: string): string[] {
  if (!MAY_NAME_SESSION.test(destination)) return [];
  let text = destination;
  for (let round = 0; round < 4 && text.includes('%'); round++) {
    const decoded = text.replace(PERCENT_RUN, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
    if (decoded === text) break;
    text = decoded;
  }
  if (NON_ASCII.test(text)) text = text.normalize('NFKC');
  const ids: string[] = [];
  for (const m of text.toLowerCase().matchAll(NAMED_SESSION)) ids.push(m[1]);
  return ids;
}
