/**
 * Topic subscriptions indexed for lookup without scanning: exact destinations in a map, pattern
 * subscriptions in a trie keyed by segment. A pattern segment `*` matches exactly one segment,
 * `**` (or RabbitMQ's `#`) matches any number, including none.
 *
 * Matching runs the trie as an automaton over the destination's segments, one segment at a time,
 * with the set of trie nodes still in play (each node at most once per segment). So a lookup
 * costs at most `segments × pattern trie nodes` steps, and in practice `segments × patterns that
 * could still match`: no recursion, no backtracking, and never exponential, however many `**` a
 * pattern holds (a run of them is stored as one, since `**` followed by `**` matches what one does).
 */
export class SubscriptionRegistry<S> {
  /**
   * Exact destinations: the only subscriber itself, or a set once there are several. Many
   * destinations have one subscriber (per-user or per-session topics), and a set per destination
   * would be most of their memory. So `S` must not itself be a `Set`.
   */
  private readonly exact = new Map<string, S | Set<S>>();
  private readonly root = new TrieNode<S>(false);
  private patternCount = 0;
  /** Generation of the current matching step, to mark trie nodes already in play without a set. */
  private generation = 0;

  constructor(private readonly separator: '/' | '.') {}

  static isPattern(destination: string): boolean {
    return destination.includes('*') || destination.includes('#');
  }

  /** Whether a segment is a multi-segment wildcard (`**` or `#`). */
  static isMultiWildcard(segment: string): boolean {
    return segment === '**' || segment === '#';
  }

  /**
   * The segments of a pattern as stored: split on the separator, every multi-segment wildcard
   * spelled `**`, and a run of them collapsed into one.
   */
  patternSegments(pattern: string): string[] {
    const out: string[] = [];
    for (const segment of pattern.split(this.separator)) {
      if (!SubscriptionRegistry.isMultiWildcard(segment)) out.push(segment);
      else if (out[out.length - 1] !== MULTI) out.push(MULTI);
    }
    return out;
  }

  /** `literal`: take `destination` as a name even if it holds `*` or `#` (it matches only itself). */
  add(destination: string, subscriber: S, literal = false): void {
    if (literal || !SubscriptionRegistry.isPattern(destination)) {
      const current = this.exact.get(destination);
      if (current === undefined) this.exact.set(destination, subscriber);
      else if (current instanceof Set) current.add(subscriber);
      else if (current !== subscriber) this.exact.set(destination, new Set([current, subscriber]));
      return;
    }
    let node = this.root;
    for (const segment of this.patternSegments(destination)) node = node.child(segment);
    if (!node.subscribers) node.subscribers = new Set();
    if (node.subscribers.has(subscriber)) return;
    node.subscribers.add(subscriber);
    this.patternCount++;
  }

  /** Removes what {@link add} added, given the same `literal`. */
  remove(destination: string, subscriber: S, literal = false): void {
    if (literal || !SubscriptionRegistry.isPattern(destination)) {
      const current = this.exact.get(destination);
      if (current === subscriber) this.exact.delete(destination);
      else if (current instanceof Set && current.delete(subscriber) && current.size === 0) {
        this.exact.delete(destination);
      }
      return;
    }
    const path: TrieNode<S>[] = [this.root];
    const segments = this.patternSegments(destination);
    for (const segment of segments) {
      const next = path[path.length - 1].children?.get(segment);
      if (!next) return;
      path.push(next);
    }
    const last = path[path.length - 1];
    if (!last.subscribers?.delete(subscriber)) return;
    if (last.subscribers.size === 0) last.subscribers = undefined;
    this.patternCount--;
    for (let i = path.length - 1; i > 0; i--) {
      if (!path[i].isEmpty()) break;
      path[i - 1].removeChild(segments[i - 1]);
    }
  }

  /**
   * Calls `visit` once for every subscriber whose destination or pattern matches (with
   * `exactOnly`, only subscribers of exactly `destination`), and returns
   * the number of steps the pattern lookup took (trie nodes visited), for tests and monitoring.
   */
  forEachMatch(destination: string, visit: (subscriber: S) => void, exactOnly = false): number {
    const exact = this.exact.get(destination);
    if (exact instanceof Set) for (const s of exact) visit(s);
    else if (exact !== undefined) visit(exact);
    if (exactOnly || this.patternCount === 0) return 0;
    let steps = 0;
    let current: TrieNode<S>[] = [];
    this.enter(this.root, current, ++this.generation);
    for (const segment of destination.split(this.separator)) {
      const next: TrieNode<S>[] = [];
      const generation = ++this.generation;
      for (const node of current) {
        steps++;
        // A `**` node may swallow this segment too, and stay in play.
        if (node.multi) this.enter(node, next, generation);
        const children = node.children;
        if (!children) continue;
        const literal = children.get(segment);
        if (literal) this.enter(literal, next, generation);
        if (segment !== '*') {
          const star = children.get('*');
          if (star) this.enter(star, next, generation);
        }
      }
      if (next.length === 0) return steps;
      current = next;
    }
    // Each subscriber once, even when several of its patterns match.
    const found = new Set<S>();
    for (const node of current) {
      steps++;
      if (node.subscribers) for (const s of node.subscribers) found.add(s);
    }
    for (const s of found) visit(s);
    return steps;
  }

  get size(): number {
    let n = this.patternCount;
    for (const entry of this.exact.values()) n += entry instanceof Set ? entry.size : 1;
    return n;
  }

  /** Distinct exact destinations and patterns with subscribers; walks the pattern trie. */
  get destinationCount(): number {
    let n = this.exact.size;
    const stack: TrieNode<S>[] = [this.root];
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      if (node.subscribers !== undefined) n++;
      if (node.children) for (const child of node.children.values()) stack.push(child);
    }
    return n;
  }

  /** Puts `node` in play for this step, and its `**` child, which may match no segment at all. */
  private enter(node: TrieNode<S>, into: TrieNode<S>[], generation: number): void {
    for (let n: TrieNode<S> | undefined = node; n !== undefined && n.mark !== generation; n = n.children?.get(MULTI)) {
      n.mark = generation;
      into.push(n);
    }
  }
}

const MULTI = '**';

/** A trie node. Its maps are created on first use: most nodes have one child or none. */
class TrieNode<S> {
  children: Map<string, TrieNode<S>> | undefined;
  subscribers: Set<S> | undefined;
  /** The generation in which this node was last put in play (see `forEachMatch`). */
  mark = 0;

  /** `multi`: this node is reached through a `**` segment and may swallow any number of segments. */
  constructor(readonly multi: boolean) {}

  child(segment: string): TrieNode<S> {
    this.children ??= new Map();
    let node = this.children.get(segment);
    if (!node) this.children.set(segment, (node = new TrieNode<S>(segment === MULTI)));
    return node;
  }

  removeChild(segment: string): void {
    this.children?.delete(segment);
    if (this.children?.size === 0) this.children = undefined;
  }

  isEmpty(): boolean {
    return this.subscribers === undefined && this.children === undefined;
  }
}
