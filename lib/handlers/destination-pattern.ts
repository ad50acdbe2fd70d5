/**
 * A compiled `@MessageMapping` / `@SubscribeMapping` pattern, matched against the destination
 * without its application prefix. Syntax (Spring's `AntPathMatcher` with template variables):
 *
 * - `*` matches zero or more characters within one segment, `?` exactly one character;
 * - `**` as a whole segment matches zero or more segments;
 * - `{name}` captures one segment (or the part of one), `{name:regex}` only what the regex matches.
 *
 * Segments are separated by `/` (default) or `.` (RabbitMQ style: `chat.{room}`).
 *
 * Patterns are matched segment by segment, in time proportional to pattern segments ×
 * destination segments, and within a segment by {@link SegmentGlob} in time proportional to its
 * wildcards × its length: one regular expression would backtrack for seconds on a long
 * destination a client chose (`*-*-*.json` against 2000 dashes took 1.3 s). A segment holding a
 * `{name:regex}` is matched by its own regular expression (the application that wrote the regex
 * answers for its cost, and for that of the `*` beside it in that segment). The exception is a
 * pattern with at most one `**` and a `{name:regex}` that may match the separator (`{path:.+}`,
 * see `mayMatchSeparator`), which may span segments: it is one regular expression. With two or
 * more `**`, every `{name:regex}` matches within one segment, as in Spring's `AntPathMatcher`.
 */
export class DestinationPattern {
  readonly variableNames: readonly string[];
  /** Same pattern with variable names erased: two patterns with equal keys are ambiguous. */
  readonly key: string;
  /** Lower is more specific: used to order candidate matches, Spring's way. */
  readonly specificity: readonly number[];
  private readonly regex: RegExp | undefined;
  /** For each variable, the index of its capture group. */
  private readonly groups: readonly number[];
  /**
   * One matcher per segment, `'**'` for any number of segments: every pattern but a literal one
   * and one whose `{name:regex}` may span segments (with a single `**` or none).
   */
  private readonly segments?: ReadonlyArray<SegmentMatcher | '**'>;

  constructor(
    readonly source: string,
    readonly separator: '/' | '.',
  ) {
    const names: string[] = [];
    const groups: number[] = [];
    let groupCount = 0;
    let wildcards = 0;
    let doubleWildcards = 0;
    let literalLength = 0;
    /** Some `{name:regex}` could match the separator, hence span segments. */
    let spanningRegex = false;
    const sep = escapeRegex(separator);
    const segment = `[^${sep}]`;
    const compileSegment = (text: string): string => {
      let out = '';
      let i = 0;
      while (i < text.length) {
        const ch = text[i];
        if (ch === '{') {
          const end = findClosingBrace(text, i);
          if (end === -1) throw new Error(`Unclosed "{" in destination pattern "${source}"`);
          const inner = text.slice(i + 1, end);
          const colon = inner.indexOf(':');
          const name = colon === -1 ? inner : inner.slice(0, colon);
          const constraint = colon === -1 ? `${segment}+` : inner.slice(colon + 1);
          if (!/^[A-Za-z_$][\w$]*$/.test(name)) {
            throw new Error(`Invalid variable name "${name}" in destination pattern "${source}"`);
          }
          if (names.includes(name)) {
            throw new Error(`Variable "${name}" appears twice in destination pattern "${source}"`);
          }
          names.push(name);
          if (colon !== -1 && mayMatchSeparator(constraint, separator)) spanningRegex = true;
          groups.push(++groupCount);
          groupCount += countGroups(constraint, source);
          out += `(${constraint})`;
          i = end + 1;
        } else if (ch === '*') {
          wildcards++;
          out += `${segment}*`;
          i++;
        } else if (ch === '?') {
          wildcards++;
          out += segment;
          i++;
        } else {
          literalLength++;
          out += escapeRegex(ch);
          i++;
        }
      }
      return out;
    };

    const isLiteral = !/[*?{]/.test(source);
    const segments = source.split(separator);
    let body = '';
    segments.forEach((text, index) => {
      if (text === '**') {
        doubleWildcards++;
        // A leading "**" owns the separator after it, so that "**.end" also matches "end".
        // `[^]`, not `.`: a destination may hold a line break (STOMP's `\n` escape), and a "**"
        // that did not take it let `/topic/admin/a<LF>b/c` pass a rule `/topic/admin/**/{id:[^x]+}`.
        if (index > 0) body += `(?:${sep}[^]*)?`;
        else body += segments.length > 1 ? `(?:[^]*${sep})?` : `(?:[^]*)`;
        return;
      }
      const afterLeadingDoubleWildcard = index === 1 && segments[0] === '**';
      body += (index === 0 || afterLeadingDoubleWildcard ? '' : sep) + compileSegment(text);
    });
    this.regex = isLiteral ? undefined : new RegExp(`^${body}$`);
    const customRegex = /\{[^}]*:/.test(source);
    // One segment holding a `{name:regex}` is its own regular expression (the segment matcher
    // below, so it must not come here again); several segments go segment by segment unless a
    // `{name:regex}` may span them.
    if (!isLiteral && (doubleWildcards > 1 || !customRegex || (!spanningRegex && segments.length > 1))) {
      // Segment by segment: `*`, `?` and `{name}` by SegmentGlob (no backtracking), a segment
      // with a `{name:regex}` by its own regular expression.
      this.segments = segments.map((text) =>
        text === '**' ? '**' : /\{[^}]*:/.test(text) ? new DestinationPattern(text, separator) : new SegmentGlob(text, source),
      );
    }
    this.variableNames = names;
    this.groups = groups;
    this.key = source.replace(/\{([^}:]*)(:[^}]*)?\}/g, (_m, _n, c: string | undefined) => `{${c ?? ''}}`);
    this.specificity = [doubleWildcards, wildcards, names.length, -literalLength];
  }

  get isLiteral(): boolean {
    return this.regex === undefined;
  }

  /** The template variables when `destination` matches, otherwise `undefined`. */
  match(destination: string): Record<string, string> | undefined {
    if (!this.regex) return destination === this.source ? {} : undefined;
    if (this.segments) return matchSegments(this.segments, destination.split(this.separator));
    const m = this.regex.exec(destination);
    if (!m) return undefined;
    const variables: Record<string, string> = {};
    this.variableNames.forEach((name, i) => (variables[name] = m[this.groups[i]]));
    return variables;
  }

  static compare(a: DestinationPattern, b: DestinationPattern): number {
    for (let i = 0; i < a.specificity.length; i++) {
      const d = a.specificity[i] - b.specificity[i];
      if (d !== 0) return d;
    }
    return 0;
  }
}

/** What matches one segment of a destination. */
interface SegmentMatcher {
  match(segment: string): Record<string, string> | undefined;
}

/** One piece of a segment pattern: literal text, or a wildcard of `min`..`max` characters. */
type GlobToken = { text: string } | { min: 0 | 1; max: number; name?: string };

/**
 * One segment of a pattern without `{name:regex}`: literal text, `*` (any characters), `?` (one)
 * and `{name}` (one or more, captured). Matched without backtracking: `reach[t][j]` (tokens from
 * `t` match the segment from `j`) is filled from the end, then each wildcard takes, left to
 * right, the most characters that leave the rest matchable, which is what a greedy regular
 * expression would capture. O(tokens × length).
 */
class SegmentGlob implements SegmentMatcher {
  private readonly tokens: GlobToken[] = [];

  constructor(text: string, source: string) {
    let literal = '';
    const flush = (): void => {
      if (literal) this.tokens.push({ text: literal });
      literal = '';
    };
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (ch === '*' || ch === '?') {
        flush();
        this.tokens.push(ch === '*' ? { min: 0, max: Infinity } : { min: 1, max: 1 });
      } else if (ch === '{') {
        const end = findClosingBrace(text, i);
        if (end === -1) throw new Error(`Unclosed "{" in destination pattern "${source}"`);
        flush();
        this.tokens.push({ min: 1, max: Infinity, name: text.slice(i + 1, end) });
        i = end;
      } else {
        literal += ch;
      }
    }
    flush();
  }

  match(segment: string): Record<string, string> | undefined {
    const tokens = this.tokens;
    const k = tokens.length;
    const n = segment.length;
    const width = n + 1;
    const reach = new Uint8Array((k + 1) * width);
    reach[k * width + n] = 1;
    for (let t = k - 1; t >= 0; t--) {
      const token = tokens[t];
      const row = t * width;
      const next = (t + 1) * width;
      if ('text' in token) {
        const length = token.text.length;
        for (let j = n - length; j >= 0; j--) {
          if (reach[next + j + length] && segment.startsWith(token.text, j)) reach[row + j] = 1;
        }
      } else if (token.max === Infinity) {
        // reach[t][j] = some j' ≥ j + min with reach[t+1][j']: a running OR from the end.
        let any = 0;
        for (let j = n; j >= 0; j--) {
          if (j + token.min <= n && reach[next + j + token.min]) any = 1;
          reach[row + j] = any;
        }
      } else {
        for (let j = n - 1; j >= 0; j--) reach[row + j] = reach[next + j + 1];
      }
    }
    if (!reach[0]) return undefined;
    const variables: Record<string, string> = {};
    let j = 0;
    for (let t = 0; t < k; t++) {
      const token = tokens[t];
      const next = (t + 1) * width;
      if ('text' in token) {
        j += token.text.length;
        continue;
      }
      let take = Math.min(token.max, n - j);
      while (take > token.min && !reach[next + j + take]) take--;
      if (token.name !== undefined) variables[token.name] = segment.slice(j, j + take);
      j += take;
    }
    return variables;
  }
}

/**
 * The reach table of segment patterns against destination segments: `reach[i * (parts + 1) + j]`
 * says whether pattern segments from `i` match destination segments from `j`, filled from the
 * end (a `**` either ends or takes one more segment; any other segment must `accept` its part).
 * O(pattern segments × destination segments) calls of `accept`, no backtracking. Shared by
 * {@link matchSegments} and the authorization rules' `covers()`.
 */
export function segmentReach<S>(
  pattern: ReadonlyArray<S | '**'>,
  parts: readonly string[],
  accept: (segment: S, part: string, index: number) => boolean,
): Uint8Array {
  const p = pattern.length;
  const s = parts.length;
  const width = s + 1;
  const reach = new Uint8Array((p + 1) * width);
  reach[p * width + s] = 1;
  for (let i = p - 1; i >= 0; i--) {
    const segment = pattern[i];
    for (let j = s; j >= 0; j--) {
      if (segment === '**') {
        reach[i * width + j] = reach[(i + 1) * width + j] || (j < s ? reach[i * width + j + 1] : 0);
      } else if (j < s && reach[(i + 1) * width + j + 1] && accept(segment, parts[j], i * width + j)) {
        reach[i * width + j] = 1;
      }
    }
  }
  return reach;
}

/**
 * Matches pattern segments against destination segments with {@link segmentReach}; the
 * variables are then read on one walk from the start along reachable states.
 */
function matchSegments(
  pattern: ReadonlyArray<SegmentMatcher | '**'>,
  parts: readonly string[],
): Record<string, string> | undefined {
  const p = pattern.length;
  const width = parts.length + 1;
  const found: Array<Record<string, string> | undefined> = new Array((p + 1) * width);
  const reach = segmentReach(pattern, parts, (segment, part, index) => (found[index] = segment.match(part)) !== undefined);
  if (!reach[0]) return undefined;
  const variables: Record<string, string> = {};
  for (let i = 0, j = 0; i < p; ) {
    if (pattern[i] === '**') {
      if (reach[(i + 1) * width + j]) i++;
      else j++;
    } else {
      Object.assign(variables, found[i * width + j]);
      i++;
      j++;
    }
  }
  return variables;
}

/**
 * Joins a class-level and a method-level pattern (`/chat` + `/{room}` → `/chat/{room}`,
 * `chat` + `{room}` → `chat.{room}`). With `/` as separator, patterns always start with `/`.
 */
export function combinePatterns(typeLevel: string, methodLevel: string, separator: '/' | '.'): string {
  let combined: string;
  if (!typeLevel) combined = methodLevel;
  else if (!methodLevel) combined = typeLevel;
  else if (typeLevel.endsWith(separator) || methodLevel.startsWith(separator)) {
    combined = typeLevel.endsWith(separator) && methodLevel.startsWith(separator)
      ? typeLevel + methodLevel.slice(1)
      : typeLevel + methodLevel;
  } else combined = typeLevel + separator + methodLevel;
  if (separator === '/' && !combined.startsWith('/')) combined = '/' + combined;
  // With '.', lookups have no leading slash (/app/chat.lobby → chat.lobby), so neither do patterns.
  if (separator === '.' && combined.startsWith('/')) combined = combined.slice(1);
  return combined;
}

/** Replaces `{var}` placeholders in a `@SendTo` destination with the matched values. */
export function expandPlaceholders(destination: string, variables: Readonly<Record<string, string>>): string {
  return destination.replace(/\{([^}:]+)\}/g, (whole, name: string) => variables[name] ?? whole);
}

/**
 * Whether a `{name:regex}` constraint could match the separator, so that a destination's segments
 * cannot be matched one by one. Conservative (a yes may be wrong, a no is not): the separator
 * itself anywhere, an unescaped `.` outside brackets, a negated class `[^…]`, and the escapes
 * that can stand for any character (`\D`, `\W`, `\S`, `\x`, `\u`, `\c`, `\p`, `\P`, `\k`,
 * back references and octal digits) all say yes; `\d+`, `[a-z0-9-]+`, `\w{3}` say no.
 */
function mayMatchSeparator(regex: string, separator: '/' | '.'): boolean {
  if (regex.includes(separator)) return true;
  let inClass = false;
  for (let i = 0; i < regex.length; i++) {
    const ch = regex[i];
    if (ch === '\\') {
      if (/[DWSxucpPk0-9]/.test(regex[i + 1] ?? '')) return true;
      i++;
    } else if (inClass) {
      if (ch === ']') inClass = false;
    } else if (ch === '[') {
      if (regex[i + 1] === '^') return true;
      inClass = true;
    } else if (ch === '.') return true;
  }
  return false;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function findClosingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

function countGroups(regex: string, source: string): number {
  try {
    return (new RegExp(`${regex}|`).exec('') as RegExpExecArray).length - 1;
  } catch (err) {
    throw new Error(`Invalid regex "${regex}" in destination pattern "${source}": ${(err as Error).message}`);
  }
}
