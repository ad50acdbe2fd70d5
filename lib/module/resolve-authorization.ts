import { MAX_TIMER_DELAY } from '../protocol/heartbeat.js';
import { DestinationPattern } from '../handlers/destination-pattern.js';
import {
  ACCESS_KEYWORDS,
  type AuthorizationConfig,
  type CompiledRule,
  type StompAccess,
  type StompAuthorizedType,
} from '../messaging/authorization.js';

const TYPES: readonly StompAuthorizedType[] = ['SUBSCRIBE', 'SEND'];
const BOTH: ReadonlySet<StompAuthorizedType> = new Set(TYPES);

function shown(value: unknown): string {
  if (typeof value === 'function') return `the function ${value.name || '(anonymous)'}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Whether `access` is an ES class (`class X {}`, whose source starts with `class`) without an
 * `authorize` method on its prototype: not a predicate class, and calling it throws
 * `Class constructor X cannot be invoked without 'new'`, which would deny every frame its rule
 * matches. The usual cause is a Nest guard class (`canActivate`) given as `access`.
 */
function isClassWithoutAuthorize(access: unknown): access is abstract new (...args: never[]) => unknown {
  if (typeof access !== 'function') return false;
  if (typeof (access.prototype as { authorize?: unknown } | undefined)?.authorize === 'function') return false;
  return /^class\b/.test(Function.prototype.toString.call(access));
}

/**
 * `authorization` checked and compiled: each rule's `type` (`'SUBSCRIBE'`, `'SEND'`, an array of
 * them, or left out), `destination` (a pattern starting with `/`, `**` only as a whole segment,
 * compiled with `pathSeparator` as `@MessageMapping` patterns are) and `access` (a keyword, a
 * function, a class with an `authorize` method, or an object with an `authorize` function);
 * `default` a keyword, `timeout` ms (default 10000). Every problem goes to `problems`, named by its place
 * (`authorization.rules[2].destination`). `undefined` when there are no rules: no step at all.
 */
export function resolveAuthorization(
  value: unknown,
  separator: '/' | '.',
  topicPrefixes: readonly string[],
  problems: string[],
): AuthorizationConfig | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`authorization must be an object such as { rules: [{ type: 'SEND', destination: '/topic/presence', access: 'denyAll' }] }, got ${shown(value)}`);
    return undefined;
  }
  const given = value as { rules?: unknown; default?: unknown; timeout?: unknown };
  const fallback = given.default ?? 'permitAll';
  const timeout = given.timeout ?? 10_000;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > MAX_TIMER_DELAY) {
    problems.push(`authorization.timeout must be an integer number of ms from 1 to ${MAX_TIMER_DELAY}, got ${shown(given.timeout)}`);
  }
  if (typeof fallback !== 'string' || !ACCESS_KEYWORDS.includes(fallback)) {
    problems.push(`authorization.default must be 'permitAll', 'denyAll' or 'authenticated', got ${shown(given.default)}`);
  }
  if (!Array.isArray(given.rules)) {
    problems.push(`authorization.rules must be an array of { type?, destination?, access }, got ${shown(given.rules)}`);
    return undefined;
  }
  const rules: CompiledRule[] = [];
  given.rules.forEach((entry: unknown, i) => {
    const at = `authorization.rules[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${at} must be an object { type?, destination?, access }, got ${shown(entry)}`);
      return;
    }
    const rule = entry as { type?: unknown; destination?: unknown; access?: unknown };
    let types = BOTH;
    if (rule.type !== undefined) {
      const list: unknown[] = Array.isArray(rule.type) ? rule.type : [rule.type];
      if (list.length === 0 || list.some((t) => !TYPES.includes(t as StompAuthorizedType))) {
        problems.push(`${at}.type must be 'SUBSCRIBE', 'SEND' or an array of them (leave it out for both), got ${shown(rule.type)}`);
      } else types = new Set(list as StompAuthorizedType[]);
    }
    let pattern: DestinationPattern | undefined;
    if (rule.destination !== undefined) {
      const source = rule.destination;
      if (typeof source !== 'string' || !source.startsWith('/')) {
        problems.push(`${at}.destination must be a destination pattern starting with "/" (leave it out for every destination), got ${shown(source)}`);
      } else if (source.split(separator).some((segment) => segment.includes('**') && segment !== '**')) {
        problems.push(
          `${at}.destination ${shown(source)}: "**" matches any number of segments only as a whole segment between "${separator}" separators (pathSeparator is "${separator}")`,
        );
      } else {
        try {
          pattern = new DestinationPattern(source, separator);
        } catch (err) {
          problems.push(`${at}.destination: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
    const access = rule.access;
    if (isClassWithoutAuthorize(access)) {
      problems.push(
        `${at}.access: the class ${access.name || '(anonymous)'} has no authorize(context) method (a Nest guard's canActivate is not one), so it could only be called as a function, which a class cannot be`,
      );
      return;
    }
    const valid =
      (typeof access === 'string' && ACCESS_KEYWORDS.includes(access)) ||
      typeof access === 'function' ||
      (typeof access === 'object' && access !== null && typeof (access as { authorize?: unknown }).authorize === 'function');
    if (!valid) {
      problems.push(
        `${at}.access must be 'permitAll', 'denyAll', 'authenticated', a function (context) => boolean | Promise<boolean>, a class with an authorize(context) method or an object with one, got ${shown(access)}`,
      );
      return;
    }
    rules.push({ index: i + 1, types, pattern, access: access as StompAccess });
  });
  if (rules.length === 0 && fallback === 'permitAll') return undefined;
  return {
    rules,
    default: fallback as AuthorizationConfig['default'],
    timeout: timeout as number,
    pathSeparator: separator,
    topicPrefixes,
  };
}
