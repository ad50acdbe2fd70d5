import { describe, expect, it, jest } from '@jest/globals';
import { combinePatterns, DestinationPattern, expandPlaceholders } from '../../lib/handlers/destination-pattern.js';
import { HandlerRegistry } from '../../lib/handlers/handler-registry.js';

const slash = (source: string) => new DestinationPattern(source, '/');
const dot = (source: string) => new DestinationPattern(source, '.');

describe('DestinationPattern with "/"', () => {
  it('matches an exact destination and nothing else', () => {
    const p = slash('/app-less/hello');
    expect(p.isLiteral).toBe(true);
    expect(p.match('/app-less/hello')).toEqual({});
    expect(p.match('/app-less/hello/')).toBeUndefined();
    expect(p.match('/app-less/hellO')).toBeUndefined();
    expect(p.match('/app-less')).toBeUndefined();
  });

  it('treats regex metacharacters in literals literally', () => {
    const p = slash('/a.b/{x}');
    expect(p.match('/a.b/1')).toEqual({ x: '1' });
    expect(p.match('/aXb/1')).toBeUndefined();
  });

  it('"*" matches within one segment only', () => {
    const p = slash('/news/*');
    expect(p.isLiteral).toBe(false);
    expect(p.match('/news/sport')).toEqual({});
    expect(p.match('/news/sport/football')).toBeUndefined();
    expect(p.match('/other/sport')).toBeUndefined();
    const partial = slash('/news/s*t');
    expect(partial.match('/news/sport')).toEqual({});
    expect(partial.match('/news/st')).toEqual({});
    expect(partial.match('/news/spa')).toBeUndefined();
  });

  it('"?" matches exactly one character', () => {
    const p = slash('/q/a?c');
    expect(p.match('/q/abc')).toEqual({});
    expect(p.match('/q/ac')).toBeUndefined();
    expect(p.match('/q/abbc')).toBeUndefined();
    expect(p.match('/q/a/c')).toBeUndefined();
  });

  it('"**" matches zero or many segments', () => {
    const tail = slash('/files/**');
    expect(tail.match('/files')).toEqual({});
    expect(tail.match('/files/a')).toEqual({});
    expect(tail.match('/files/a/b/c')).toEqual({});
    expect(tail.match('/filesystem')).toBeUndefined();

    const middle = slash('/files/**/end');
    expect(middle.match('/files/end')).toEqual({});
    expect(middle.match('/files/a/b/end')).toEqual({});
    expect(middle.match('/files/a/b/ending')).toBeUndefined();
    expect(middle.match('/files/xend')).toBeUndefined();

    const all = slash('/**');
    expect(all.match('/')).toEqual({});
    expect(all.match('/x/y/z')).toEqual({});
  });

  it('"{var}" captures one segment', () => {
    const p = slash('/chat/{room}');
    expect(p.variableNames).toEqual(['room']);
    expect(p.match('/chat/lobby')).toEqual({ room: 'lobby' });
    expect(p.match('/chat/lobby/x')).toBeUndefined();
    expect(p.match('/chat/')).toBeUndefined();

    const two = slash('/shop/{shop}/item/{item}');
    expect(two.match('/shop/s1/item/i-9')).toEqual({ shop: 's1', item: 'i-9' });
    const part = slash('/file/{name}.json');
    expect(part.match('/file/report.json')).toEqual({ name: 'report' });
  });

  it('"{id:\\d+}" matches only what its regex matches', () => {
    const p = slash('/order/{id:\\d+}');
    expect(p.match('/order/42')).toEqual({ id: '42' });
    expect(p.match('/order/abc')).toBeUndefined();
    expect(p.match('/order/4a')).toBeUndefined();
    expect(p.match('/order/')).toBeUndefined();
  });

  it('a constraint with its own capturing group does not shift later variables', () => {
    const p = slash('/m/{kind:(news|sport)}/{id:(\\d)(\\d)}/{rest}');
    expect(p.variableNames).toEqual(['kind', 'id', 'rest']);
    expect(p.match('/m/sport/12/tail')).toEqual({ kind: 'sport', id: '12', rest: 'tail' });
    expect(p.match('/m/other/12/tail')).toBeUndefined();
  });

  it('refuses malformed patterns', () => {
    expect(() => slash('/chat/{room')).toThrow(/Unclosed "\{"/);
    expect(() => slash('/chat/{a}/{a}')).toThrow(/appears twice/);
    expect(() => slash('/chat/{1x}')).toThrow(/Invalid variable name/);
    expect(() => slash('/chat/{x:(}')).toThrow(/Invalid regex/);
  });
});

describe('DestinationPattern with "."', () => {
  it('matches RabbitMQ-style destinations', () => {
    const p = dot('chat.{room}');
    expect(p.match('chat.lobby')).toEqual({ room: 'lobby' });
    expect(p.match('chat.lobby.x')).toBeUndefined();
    expect(p.match('chat/lobby')).toBeUndefined();
    // "/" is an ordinary character when "." separates segments.
    expect(p.match('chat.a/b')).toEqual({ room: 'a/b' });
  });

  it('"*" stays within a segment and "**" spans zero or more', () => {
    expect(dot('news.*').match('news.sport')).toEqual({});
    expect(dot('news.*').match('news.sport.x')).toBeUndefined();
    expect(dot('news.**').match('news')).toEqual({});
    expect(dot('news.**').match('news.a.b')).toEqual({});
    expect(dot('**.end').match('a.b.end')).toEqual({});
    expect(dot('**.end').match('end')).toEqual({});
    expect(dot('**.end').match('a.bend')).toBeUndefined();
  });

  it('"{id:\\d+}" works with "."', () => {
    expect(dot('order.{id:\\d+}.items').match('order.7.items')).toEqual({ id: '7' });
    expect(dot('order.{id:\\d+}.items').match('order.x.items')).toBeUndefined();
  });
});

describe('combinePatterns', () => {
  it('joins class and method patterns with "/"', () => {
    expect(combinePatterns('/chat', '/{room}', '/')).toBe('/chat/{room}');
    expect(combinePatterns('/chat', '{room}', '/')).toBe('/chat/{room}');
    expect(combinePatterns('/chat/', '/{room}', '/')).toBe('/chat/{room}');
    expect(combinePatterns('chat', 'x', '/')).toBe('/chat/x');
    expect(combinePatterns('', '/hello', '/')).toBe('/hello');
    expect(combinePatterns('/prefix', '', '/')).toBe('/prefix');
  });

  it('joins class and method patterns with "."', () => {
    expect(combinePatterns('chat', '{room}', '.')).toBe('chat.{room}');
    expect(combinePatterns('chat.', '{room}', '.')).toBe('chat.{room}');
    expect(combinePatterns('chat.', '.{room}', '.')).toBe('chat.{room}');
    expect(combinePatterns('', 'chat.{room}', '.')).toBe('chat.{room}');
    expect(combinePatterns('shop', '', '.')).toBe('shop');
  });
});

describe('expandPlaceholders', () => {
  it('fills {var} placeholders and leaves unknown ones', () => {
    expect(expandPlaceholders('/topic/chat/{room}', { room: 'lobby' })).toBe('/topic/chat/lobby');
    expect(expandPlaceholders('/topic/{a}.{b}', { a: 'x', b: 'y' })).toBe('/topic/x.y');
    expect(expandPlaceholders('/topic/{room}/{other}', { room: 'r' })).toBe('/topic/r/{other}');
    expect(expandPlaceholders('/topic/plain', { room: 'r' })).toBe('/topic/plain');
  });
});

describe('HandlerRegistry', () => {
  function registry(...sources: string[]): HandlerRegistry<string> {
    const r = new HandlerRegistry<string>();
    for (const s of sources) r.register(slash(s), s, `C.${s}`);
    return r;
  }

  it('prefers exact over {var} over * over **, whatever the registration order', () => {
    const all = ['/a/**', '/a/*', '/a/{x}', '/a/b'];
    expect(registry(...all).match('/a/b')).toEqual({ handler: '/a/b', variables: {} });
    expect(registry(...[...all].reverse()).match('/a/b')).toEqual({ handler: '/a/b', variables: {} });
    expect(registry('/a/**', '/a/*', '/a/{x}').match('/a/b')).toEqual({ handler: '/a/{x}', variables: { x: 'b' } });
    expect(registry('/a/{x}', '/a/*', '/a/**').match('/a/b')).toEqual({ handler: '/a/{x}', variables: { x: 'b' } });
    expect(registry('/a/**', '/a/*').match('/a/b')?.handler).toBe('/a/*');
    expect(registry('/a/**').match('/a/b')?.handler).toBe('/a/**');
    // Only "**" spans segments.
    expect(registry(...all).match('/a/b/c')?.handler).toBe('/a/**');
    expect(registry(...all).match('/z')).toBeUndefined();
  });

  it('prefers the pattern with more literal text among equals', () => {
    expect(registry('/a/{x}/{y}', '/a/{x}/end').match('/a/1/end')).toEqual({ handler: '/a/{x}/end', variables: { x: '1' } });
    expect(registry('/a/*/*', '/a/*/end').match('/a/1/end')?.handler).toBe('/a/*/end');
  });

  it('refuses a duplicate mapping, naming both methods', () => {
    const r = new HandlerRegistry<string>();
    r.register(slash('/hello'), 'h1', 'First.greet');
    expect(() => r.register(slash('/hello'), 'h2', 'Second.greet')).toThrow(
      /Duplicate STOMP mapping: Second\.greet \("\/hello"\) and First\.greet \("\/hello"\)/,
    );
    r.register(slash('/news/*'), 'n1', 'First.news');
    expect(() => r.register(slash('/news/*'), 'n2', 'Second.news')).toThrow(/Duplicate STOMP mapping: Second\.news .* First\.news/);
  });

  it('refuses an ambiguous mapping (same pattern, other variable names), naming both methods', () => {
    const r = new HandlerRegistry<string>();
    r.register(slash('/chat/{room}'), 'a', 'RoomController.say');
    expect(() => r.register(slash('/chat/{id}'), 'b', 'IdController.say')).toThrow(
      /Ambiguous STOMP mapping: IdController\.say \("\/chat\/\{id\}"\) and RoomController\.say \("\/chat\/\{room\}"\)/,
    );
    // Different constraints are different patterns.
    expect(() => r.register(slash('/chat/{id:\\d+}'), 'c', 'NumController.say')).not.toThrow();
    expect(r.size).toBe(2);
  });
});

describe('patterns with several "**" (issue 7: no backtracking on a long client destination)', () => {
  it('match segment by segment, with variables, for "/" and "."', () => {
    const p = slash('/**/news/{topic}/**/item-*/**');
    expect(p.match('/news/sport/item-1')).toEqual({ topic: 'sport' });
    expect(p.match('/x/y/news/sport/a/b/item-1/c')).toEqual({ topic: 'sport' });
    expect(p.match('/x/news/sport/a/b/c')).toBeUndefined();
    expect(p.match('/news/item-1')).toBeUndefined();
    const d = dot('**.orders.{id:\\d+}.**.done');
    expect(d.match('orders.42.done')).toEqual({ id: '42' });
    expect(d.match('eu.west.orders.42.x.y.done')).toEqual({ id: '42' });
    expect(d.match('orders.4x2.done')).toBeUndefined();
    expect(d.match('orders.42.done.later')).toBeUndefined();
  });

  it('agree with the single-regex matcher on every destination of a small alphabet', () => {
    // The same pattern shape with one "**" fewer would use the regex; compare on both shapes.
    const multi = slash('/**/a/**/b');
    const equivalent = /^(?:\/.*)?\/a(?:\/.*)?\/b$/;
    const letters = ['a', 'b', 'c', ''];
    const destinations: string[] = [''];
    for (let length = 1; length <= 5; length++) {
      for (let n = 0; n < letters.length ** length; n++) {
        let d = '';
        for (let k = 0, m = n; k < length; k++, m = Math.floor(m / letters.length)) d += `/${letters[m % letters.length]}`;
        destinations.push(d);
      }
    }
    for (const d of destinations) expect([d, multi.match(d) !== undefined]).toEqual([d, equivalent.test(d)]);
  });

  it('answers a 40,000-character destination that almost matches (a single regex backtracked for minutes)', () => {
    const p = slash('/**/a/**/b/**/c/**/d');
    const destination = '/a/b/c'.repeat(7000) + '/zz';
    expect(p.match(destination)).toBeUndefined();
    expect(p.match(`${destination}/d`)).toEqual({});
  });
});

describe('DestinationPattern within a segment (no backtracking)', () => {
  /** The regular expression the pattern stands for, built independently: the reference. */
  function reference(source: string): RegExp {
    let body = '';
    for (let i = 0; i < source.length; i++) {
      const ch = source[i];
      if (ch === '*') body += '[^/]*';
      else if (ch === '?') body += '[^/]';
      else if (ch === '{') {
        body += '([^/]+)';
        i = source.indexOf('}', i);
      } else body += ch === '-' || ch === '/' ? `\\${ch}` : ch;
    }
    return new RegExp(`^${body}$`);
  }

  /** Deterministic pseudo-random numbers (a linear congruential generator). */
  function lcg(seed: number): () => number {
    let state = seed;
    return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  }

  it('agrees with the greedy regular expression on 3000 generated patterns and destinations, captures included', () => {
    const next = lcg(7);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
    for (let n = 0; n < 3000; n++) {
      let variable = 0;
      const segments: string[] = [];
      const segmentCount = 1 + Math.floor(next() * 3);
      for (let s = 0; s < segmentCount; s++) {
        let text = '';
        const length = Math.floor(next() * 5);
        for (let c = 0; c < length; c++) text += pick(['a', 'b', '-', '*', '?', '{}']).replace('{}', () => `{v${variable++}}`);
        segments.push(text);
      }
      const source = '/' + segments.join('/');
      const destination =
        '/' +
        Array.from({ length: segmentCount + (next() < 0.1 ? 1 : 0) }, () =>
          Array.from({ length: Math.floor(next() * 7) }, () => pick(['a', 'b', '-'])).join(''),
        ).join('/');
      const expected = reference(source).exec(destination);
      const actual = slash(source).match(destination);
      const names = Array.from({ length: variable }, (_, i) => `v${i}`);
      const expectedVariables = expected ? Object.fromEntries(names.map((name, i) => [name, expected[i + 1]])) : undefined;
      expect({ source, destination, variables: actual }).toEqual({ source, destination, variables: expectedVariables });
    }
  });

  it('matches several wildcards in one segment of a long destination a client chose without any regular expression', () => {
    const dashes = `/topic/${'-'.repeat(8000)}`;
    // Compiled first: compiling uses regular expressions, matching must not.
    const patterns = [slash('/topic/*-*-*.json'), slash('/topic/{a}-{b}-{c}.json'), slash('/topic/**/*-*-*.json'), slash('/topic/{a}-{b}'), dot('chat.*-*-*.json')];
    const exec = jest.spyOn(RegExp.prototype, 'exec');
    try {
      expect(patterns[0].match(dashes)).toBeUndefined();
      expect(patterns[1].match(dashes)).toBeUndefined();
      expect(patterns[2].match(`${dashes}/x`)).toBeUndefined();
      expect(patterns[3].match('/topic/x-y-z')).toEqual({ a: 'x-y', b: 'z' });
      expect(patterns[4].match(`chat.${'-'.repeat(8000)}`)).toBeUndefined();
      expect(exec).not.toHaveBeenCalled();
    } finally {
      exec.mockRestore();
    }
  });
});

describe('patterns with a {name:regex} that cannot match the separator (matched segment by segment)', () => {
  it('give only the regex segment to a regular expression: the "*" beside it never backtrack over a destination a client chose', () => {
    // One regular expression for the whole pattern took 1.3 s on 2000 dashes, 12 s on 4000.
    const patterns = [slash('/t/{id:\\d+}/*-*-*.json'), dot('chat.{room:[a-z0-9-]+}.*-*-*x'), slash('/t/{id:\\d+}/**/*-*')];
    const exec = jest.spyOn(RegExp.prototype, 'exec');
    try {
      expect(patterns[0].match(`/t/1/${'-'.repeat(8000)}`)).toBeUndefined();
      expect(patterns[1].match(`chat.lobby.${'-'.repeat(8000)}`)).toBeUndefined();
      expect(patterns[2].match(`/t/1/a/b/${'-'.repeat(8000)}/x`)).toBeUndefined();
      expect(patterns[0].match('/t/42/a-b-c.json')).toEqual({ id: '42' });
      expect(patterns[1].match('chat.lobby-2.x-y-zx')).toEqual({ room: 'lobby-2' });
      // No regular expression ran on the long destinations (their last segments fail first); on
      // the matching ones, only on the segment holding the {name:regex}.
      expect(exec.mock.calls.map(([input]) => input)).toEqual(['42', 'lobby-2']);
    } finally {
      exec.mockRestore();
    }
  });

  it('still let a {name:regex} that may match the separator span segments', () => {
    expect(slash('/files/{path:.+}').match('/files/a/b/c.txt')).toEqual({ path: 'a/b/c.txt' });
    expect(slash('/files/{path:[^?]+}/raw').match('/files/a/b/raw')).toEqual({ path: 'a/b' });
    expect(dot('orders.{rest:\\S+}').match('orders.eu.42')).toEqual({ rest: 'eu.42' });
  });

  it('agree with the whole-pattern regular expression on 3000 generated patterns and destinations, captures included', () => {
    let state = 11;
    const next = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
    const constraints = ['\\d+', '[ab]+', 'a|b-', '[a-]*', '\\w?'];
    for (let n = 0; n < 3000; n++) {
      let variable = 0;
      let reference = '';
      const segments: string[] = [];
      const segmentCount = 1 + Math.floor(next() * 3);
      for (let s = 0; s < segmentCount; s++) {
        let text = '';
        reference += '\\/';
        const length = Math.floor(next() * 4);
        for (let c = 0; c < length; c++) {
          const token = pick(['a', '1', '-', '*', '?', '{}', '{:}', '{:}']);
          if (token === '*') reference += '[^/]*';
          else if (token === '?') reference += '[^/]';
          else if (token === '{}') reference += '([^/]+)';
          else if (token === '{:}') {
            const constraint = pick(constraints);
            reference += `(${constraint})`;
            text += `{v${variable++}:${constraint}}`;
            continue;
          } else reference += token === '-' ? '\\-' : token;
          text += token === '{}' ? `{v${variable++}}` : token;
        }
        segments.push(text);
      }
      const source = '/' + segments.join('/');
      const destination =
        '/' +
        Array.from({ length: segmentCount + (next() < 0.1 ? 1 : 0) }, () =>
          Array.from({ length: Math.floor(next() * 6) }, () => pick(['a', 'b', '-', '1'])).join(''),
        ).join('/');
      const expected = new RegExp(`^${reference}$`).exec(destination);
      const names = Array.from({ length: variable }, (_, i) => `v${i}`);
      const expectedVariables = expected ? Object.fromEntries(names.map((name, i) => [name, expected[i + 1]])) : undefined;
      expect({ source, destination, variables: slash(source).match(destination) }).toEqual({ source, destination, variables: expectedVariables });
    }
  });
});

describe('"**" and line breaks (a STOMP header may carry one as \\n)', () => {
  it('takes segments holding a line break in every matcher, as the segment matchers do', () => {
    // One regular expression (a {name:regex} that may match the separator): "**" was `.*`, which
    // stops at a line break, so a deny rule of this shape let such a destination through.
    const spanning = slash('/topic/admin/**/{id:[^x]+}');
    expect(spanning.match('/topic/admin/a\nb/c')).toEqual({ id: 'c' });
    expect(slash('/topic/**/{rest:.+}').match('/topic/x\ny/z')).toEqual({ rest: 'z' });
    expect(slash('**/{id:[^x]+}').match('a\n/b')).toEqual({ id: 'b' });
    // The segment matchers agree.
    expect(slash('/topic/admin/**').match('/topic/admin/a\nb/c')).toEqual({});
    expect(slash('/topic/admin/*/{id:\\d+}').match('/topic/admin/a\nb/1')).toEqual({ id: '1' });
  });
});
