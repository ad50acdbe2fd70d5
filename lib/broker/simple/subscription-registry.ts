/**
 * Topic subscriptions indexed for lookup without scanning: exact destinations in a map, pattern
 * subscriptions in a trie keyed by segment. A pattern segment `*` matches exactly one segment,
 * `**` (or RabbitMQ's `#`) matches any number, including none. Lookup cost grows with the
 * destination's depth and the number of patterns that actually match, not with the number of
 * subscriptions.
 */
export class SubscriptionRegistry<S> {
  /**
   * Exact destinations: the only subscriber itself, or a set once there are several. Many
   * destinations have one subscriber (per-user or per-session topics), and a set per destination
   * would be most of their memory. So `S` must not itself be a `Set`.
   */
  private readonly exact = new Map<string, S | Set<S>>();
  private readonly root = new TrieNode<S>();
  private patternCount = 0;

  constructor(private readonly separator: '/' | '.') {}

  static isPattern(destination: string): boolean {
    return destination.includes('*') || destination.includes('#');
  }

  add(destination: string, subscriber: S): void {
    if (!SubscriptionRegistry.isPattern(destination)) {
      const current = this.exact.get(destination);
      if (current === undefined) this.exact.set(destination, subscriber);
      else if (current instanceof Set) current.add(subscriber);
      else if (current !== subscriber) this.exact.set(destination, new Set([current, subscriber]));
      return;
    }
    let node = this.root;
    for (const segment of destination.split(this.separator)) node = node.child(segment);
    node.subscribers.add(subscriber);
    this.patternCount++;
  }

  remove(destination: string, subscriber: S): void {
    if (!SubscriptionRegistry.isPattern(destination)) {
      const current = this.exact.get(destination);
      if (current === subscriber) this.exact.delete(destination);
      else if (current instanceof Set && current.delete(subscriber) && current.size === 0) {
        this.exact.delete(destination);
      }
      return;
    }
    const path: TrieNode<S>[] = [this.root];
    const segments = destination.split(this.separator);
    for (const segment of segments) {
      const next = path[path.length - 1].children.get(segment);
      if (!next) return;
      path.push(next);
    }
    if (!path[path.length - 1].subscribers.delete(subscriber)) return;
    this.patternCount--;
    for (let i = path.length - 1; i > 0; i--) {
      if (!path[i].isEmpty()) break;
      path[i - 1].children.delete(segments[i - 1]);
    }
  }

  /** Calls `visit` once for every subscriber whose destination or pattern matches. */
  forEachMatch(destination: string, visit: (subscriber: S) => void): void {
    const exact = this.exact.get(destination);
    if (exact instanceof Set) for (const s of exact) visit(s);
    else if (exact !== undefined) visit(exact);
    if (this.patternCount === 0) return;
    const found = new Set<S>();
    this.root.collect(destination.split(this.separator), 0, found);
    for (const s of found) visit(s);
  }

  get size(): number {
    let n = this.patternCount;
    for (const entry of this.exact.values()) n += entry instanceof Set ? entry.size : 1;
    return n;
  }
}

const MULTI_SEGMENT = ['**', '#'] as const;

class TrieNode<S> {
  readonly children = new Map<string, TrieNode<S>>();
  readonly subscribers = new Set<S>();

  child(segment: string): TrieNode<S> {
    let node = this.children.get(segment);
    if (!node) this.children.set(segment, (node = new TrieNode<S>()));
    return node;
  }

  isEmpty(): boolean {
    return this.subscribers.size === 0 && this.children.size === 0;
  }

  collect(segments: string[], index: number, found: Set<S>): void {
    // `**` and `#` may stand for no segment here, or swallow one or more.
    for (const wildcard of MULTI_SEGMENT) {
      const node = this.children.get(wildcard);
      if (node) for (let i = index; i <= segments.length; i++) node.collect(segments, i, found);
    }
    if (index === segments.length) {
      for (const s of this.subscribers) found.add(s);
      return;
    }
    const segment = segments[index];
    this.children.get(segment)?.collect(segments, index + 1, found);
    if (segment !== '*') this.children.get('*')?.collect(segments, index + 1, found);
  }
}
