import { describe, expect, it } from '@jest/globals';
import { SubscriptionRegistry } from '../../lib/broker/simple/subscription-registry.js';

function matches<S>(registry: SubscriptionRegistry<S>, destination: string): S[] {
  const out: S[] = [];
  registry.forEachMatch(destination, (s) => out.push(s));
  return out;
}

describe('SubscriptionRegistry', () => {
  it('matches exact destinations only exactly', () => {
    const r = new SubscriptionRegistry<string>('/');
    r.add('/topic/a', 'x');
    r.add('/topic/a', 'y');
    r.add('/topic/b', 'z');
    expect(matches(r, '/topic/a').sort()).toEqual(['x', 'y']);
    expect(matches(r, '/topic/b')).toEqual(['z']);
    expect(matches(r, '/topic/a/b')).toEqual([]);
    expect(matches(r, '/topic')).toEqual([]);
    expect(r.size).toBe(3);
  });

  it('* matches exactly one segment', () => {
    const r = new SubscriptionRegistry<string>('/');
    r.add('/topic/a/*', 'star');
    expect(matches(r, '/topic/a/b')).toEqual(['star']);
    expect(matches(r, '/topic/a/')).toEqual(['star']);
    expect(matches(r, '/topic/a')).toEqual([]);
    expect(matches(r, '/topic/a/b/c')).toEqual([]);
    expect(matches(r, '/topic/ab/c')).toEqual([]);
  });

  it('* can stand in the middle, and several can combine', () => {
    const r = new SubscriptionRegistry<string>('/');
    r.add('/topic/*/c', 'mid');
    r.add('/topic/*/*', 'two');
    expect(matches(r, '/topic/x/c').sort()).toEqual(['mid', 'two']);
    expect(matches(r, '/topic/x/d')).toEqual(['two']);
    expect(matches(r, '/topic/x')).toEqual([]);
  });

  it.each(['**', '#'])('%s matches zero or more segments', (wildcard) => {
    const r = new SubscriptionRegistry<string>('/');
    r.add(`/topic/a/${wildcard}`, 'multi');
    expect(matches(r, '/topic/a')).toEqual(['multi']);
    expect(matches(r, '/topic/a/b')).toEqual(['multi']);
    expect(matches(r, '/topic/a/b/c/d')).toEqual(['multi']);
    expect(matches(r, '/topic/b')).toEqual([]);
    expect(matches(r, '/topic/ab')).toEqual([]);
  });

  it('** in the middle matches any run of segments before the rest', () => {
    const r = new SubscriptionRegistry<string>('/');
    r.add('/topic/**/end', 'p');
    expect(matches(r, '/topic/end')).toEqual(['p']);
    expect(matches(r, '/topic/a/end')).toEqual(['p']);
    expect(matches(r, '/topic/a/b/end')).toEqual(['p']);
    expect(matches(r, '/topic/a/b/end/x')).toEqual([]);
    expect(matches(r, '/topic/a/b')).toEqual([]);
  });

  it('visits a subscriber once even when it matches through several paths', () => {
    const r = new SubscriptionRegistry<string>('/');
    r.add('/topic/**/**', 'double');
    r.add('/topic/#/b/**', 'mixed');
    expect(matches(r, '/topic/a/b/c').sort()).toEqual(['double', 'mixed']);
  });

  it('visits a subscriber twice when it holds an exact and a pattern subscription', () => {
    // One subscriber object per subscription: the same object under two destinations is two entries.
    const r = new SubscriptionRegistry<string>('/');
    r.add('/topic/a', 's');
    r.add('/topic/*', 's');
    expect(matches(r, '/topic/a')).toEqual(['s', 's']);
  });

  it('treats a literal * in a published destination as that segment, not as a wildcard', () => {
    const r = new SubscriptionRegistry<string>('/');
    r.add('/topic/a', 'exact');
    r.add('/topic/*', 'star');
    expect(matches(r, '/topic/*')).toEqual(['star']);
  });

  it('splits on "." when configured so', () => {
    const r = new SubscriptionRegistry<string>('.');
    r.add('/topic/stocks.*', 'star');
    r.add('/topic/stocks.#', 'hash');
    expect(matches(r, '/topic/stocks.ibm').sort()).toEqual(['hash', 'star']);
    expect(matches(r, '/topic/stocks.nyse.ibm')).toEqual(['hash']);
    expect(matches(r, '/topic/stocks')).toEqual(['hash']);
    // With "." as separator, "/" is an ordinary character.
    expect(matches(r, '/topic/stocks/ibm')).toEqual([]);
  });

  it('removes exact and pattern subscriptions and prunes empty trie branches', () => {
    const r = new SubscriptionRegistry<string>('/');
    r.add('/topic/a', 'x');
    r.add('/topic/a/*', 'p');
    r.add('/topic/a/**', 'q');
    r.add('/topic/a/*', 'p2');
    expect(r.size).toBe(4);
    r.remove('/topic/a/*', 'p');
    expect(matches(r, '/topic/a/b').sort()).toEqual(['p2', 'q']);
    r.remove('/topic/a/*', 'p2');
    r.remove('/topic/a/**', 'q');
    r.remove('/topic/a', 'x');
    expect(r.size).toBe(0);
    expect(matches(r, '/topic/a/b')).toEqual([]);
    expect(matches(r, '/topic/a')).toEqual([]);
    const root = (r as unknown as { root: { children?: Map<string, unknown> } }).root;
    expect(root.children?.size ?? 0).toBe(0);
  });

  it('ignores removal of what was never added', () => {
    const r = new SubscriptionRegistry<string>('/');
    r.add('/topic/a/*', 'p');
    r.remove('/topic/a/*', 'other');
    r.remove('/topic/b/*', 'p');
    r.remove('/topic/a', 'p');
    expect(r.size).toBe(1);
    expect(matches(r, '/topic/a/z')).toEqual(['p']);
  });

  it('keeps a shared trie node while another pattern still uses it', () => {
    const r = new SubscriptionRegistry<string>('/');
    r.add('/topic/a/*', 'short');
    r.add('/topic/a/*/c', 'long');
    r.remove('/topic/a/*', 'short');
    expect(matches(r, '/topic/a/b/c')).toEqual(['long']);
    expect(matches(r, '/topic/a/b')).toEqual([]);
  });

  it('agrees with a brute-force matcher on many destinations', () => {
    const patterns = ['/t/*', '/t/**', '/t/a/*', '/t/*/b', '/t/#', '/t/a/**/c', '/t/**/b', '/t/a', '/t/a/b'];
    const r = new SubscriptionRegistry<string>('/');
    for (const p of patterns) r.add(p, p);
    const toRegex = (p: string) =>
      new RegExp(
        '^' +
          p
            .split('/')
            .map((seg) => (seg === '*' ? '[^/]*' : seg === '**' || seg === '#' ? '\u0000' : seg))
            .join('/')
            .replace(/\/\u0000/g, '(?:/[^/]*)*')
            .replace(/\u0000/g, '(?:[^/]*(?:/[^/]*)*)?') +
          '$',
      );
    const segs = ['a', 'b', 'c'];
    const destinations: string[] = ['/t'];
    for (const x of segs) {
      destinations.push(`/t/${x}`);
      for (const y of segs) {
        destinations.push(`/t/${x}/${y}`);
        for (const z of segs) destinations.push(`/t/${x}/${y}/${z}`);
      }
    }
    for (const d of destinations) {
      const expected = patterns
        .filter((p) => (SubscriptionRegistry.isPattern(p) ? toRegex(p).test(d) : p === d))
        .sort();
      expect({ d, got: matches(r, d).sort() }).toEqual({ d, got: expected });
    }
  });

  describe('cost is polynomial and the matcher is not recursive (issue 7, item 7)', () => {
    const deep = (n: number, last = 'a') => `/topic/${Array.from({ length: n - 1 }, () => 'a').join('/')}/${last}`;

    it('matches a 300-segment destination against /topic/**/**/**/**/x in a bounded number of steps', () => {
      const r = new SubscriptionRegistry<string>('/');
      r.add('/topic/**/**/**/**/x', 'p');
      const segments = 301; // '', 'topic' and 299 more
      const miss: string[] = [];
      const missSteps = r.forEachMatch(deep(300), (s) => miss.push(s));
      expect(miss).toEqual([]);
      const hit: string[] = [];
      const hitSteps = r.forEachMatch(deep(300, 'x'), (s) => hit.push(s));
      expect(hit).toEqual(['p']);
      // Trie: root, '', 'topic', '**' (the run of four stored as one), 'x': 5 nodes, each at most once per segment.
      expect(missSteps).toBeLessThanOrEqual((segments + 1) * 5);
      expect(hitSteps).toBeLessThanOrEqual((segments + 1) * 5);
    });

    it('stores a run of ** and # as one trie node, and still removes the pattern by its original spelling', () => {
      const r = new SubscriptionRegistry<string>('/');
      expect(r.patternSegments('/topic/**/#/**/x/#/#')).toEqual(['', 'topic', '**', 'x', '**']);
      r.add('/topic/**/#/**/x', 'p');
      r.add('/topic/**/x', 'q');
      expect(matches(r, '/topic/x').sort()).toEqual(['p', 'q']);
      r.remove('/topic/#/#/**/x', 'p');
      expect(matches(r, '/topic/a/x')).toEqual(['q']);
    });

    it('a pattern of 4,080 # segments neither overflows the stack nor slows later publishes', () => {
      const r = new SubscriptionRegistry<string>('/');
      const pattern = `/topic/${Array.from({ length: 4080 }, () => '#').join('/')}`;
      r.add(pattern, 'deep');
      r.add('/topic/*/*', 'two');
      const got: string[] = [];
      const steps = r.forEachMatch('/topic/a/b', (s) => got.push(s));
      expect(got.sort()).toEqual(['deep', 'two']);
      expect(steps).toBeLessThanOrEqual(5 * 8);
      r.remove(pattern, 'deep');
      expect(matches(r, '/topic/a/b')).toEqual(['two']);
    });

    it('a destination of many segments against many alternating * and ** patterns stays within segments × trie nodes', () => {
      const r = new SubscriptionRegistry<number>('/');
      let nodes = 1;
      for (let i = 0; i < 20; i++) {
        const pattern = `/topic/${Array.from({ length: 8 }, (_, j) => ((i + j) % 2 ? '**' : '*')).join('/')}/end${i}`;
        r.add(pattern, i);
        nodes += r.patternSegments(pattern).length;
      }
      const destination = `${deep(200)}/end7`;
      const got: number[] = [];
      const steps = r.forEachMatch(destination, (s) => got.push(s));
      expect(got).toEqual([7]);
      expect(steps).toBeLessThanOrEqual((202 + 1) * nodes);
    });
  });
});
