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
