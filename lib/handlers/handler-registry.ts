import type { DestinationPattern } from './destination-pattern.js';
import { DestinationPattern as Pattern } from './destination-pattern.js';

export interface HandlerMatch<H> {
  handler: H;
  variables: Record<string, string>;
}

interface Entry<H> {
  pattern: DestinationPattern;
  handler: H;
  label: string;
}

/**
 * The mapping table of one kind of handler (SEND or SUBSCRIBE): exact destinations in a map,
 * patterns in a list ordered from most to least specific. Registering the same or an equivalent
 * pattern twice (`/chat/{room}` and `/chat/{id}`) is an error that names both methods.
 */
export class HandlerRegistry<H> {
  private readonly exact = new Map<string, Entry<H>>();
  private readonly patterns: Entry<H>[] = [];

  register(pattern: DestinationPattern, handler: H, label: string): void {
    const clash = pattern.isLiteral
      ? this.exact.get(pattern.source)
      : this.patterns.find((e) => e.pattern.key === pattern.key);
    if (clash) {
      const what = clash.pattern.source === pattern.source ? 'Duplicate' : 'Ambiguous';
      throw new Error(
        `${what} STOMP mapping: ${label} ("${pattern.source}") and ${clash.label} ("${clash.pattern.source}") map the same destinations`,
      );
    }
    const entry = { pattern, handler, label };
    if (pattern.isLiteral) {
      this.exact.set(pattern.source, entry);
      return;
    }
    this.patterns.push(entry);
    this.patterns.sort((a, b) => Pattern.compare(a.pattern, b.pattern));
  }

  match(destination: string): HandlerMatch<H> | undefined {
    const exact = this.exact.get(destination);
    if (exact) return { handler: exact.handler, variables: {} };
    for (const entry of this.patterns) {
      const variables = entry.pattern.match(destination);
      if (variables) return { handler: entry.handler, variables };
    }
    return undefined;
  }

  get size(): number {
    return this.exact.size + this.patterns.length;
  }
}
