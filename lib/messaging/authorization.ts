import { Logger, type Type } from '@nestjs/common';
import { findPrefix } from '../broker/destination-prefixes.js';
import { SubscriptionRegistry } from '../broker/simple/subscription-registry.js';
import { DestinationPattern, segmentReach } from '../handlers/destination-pattern.js';
import type { StompFrame } from '../protocol/frame.js';
import { StompProtocolError } from '../protocol/stomp-protocol-error.js';
import type { StompSessionInfo } from '../transport/stomp-session-info.js';
import type { StompPrincipal } from '../user/stomp-principal.js';
import type { ChannelInterceptorContext, StompChannelInterceptor } from './channel-interceptor.js';

/** The frames authorization rules apply to. */
export type StompAuthorizedType = 'SUBSCRIBE' | 'SEND';

/** What an authorization predicate is told (Spring Security's `MessageAuthorizationContext`). */
export interface StompAuthorizationContext {
  /** `'SUBSCRIBE'` or `'SEND'`. */
  readonly type: StompAuthorizedType;
  /**
   * The destination as the client wrote it (`/user/queue/x`, not the resolved
   * `/queue/x-user<session>`; for a pattern SUBSCRIBE, the pattern, e.g. `/topic/**`).
   */
  readonly destination: string;
  /** The session's principal, `undefined` when anonymous. */
  readonly principal: StompPrincipal | undefined;
  /** The session's attributes (Spring's `simpSessionAttributes`). */
  readonly attributes: Map<string, unknown>;
  /** The session, read-only. */
  readonly session: StompSessionInfo;
  /** The frame as the earlier inbound interceptors left it (read it, do not change it). */
  readonly frame: StompFrame;
  /** The rule's `{name}` template variables (`/topic/tenant/{tenant}/**` → `{ tenant }`); `{}` without. */
  readonly variables: Readonly<Record<string, string>>;
}

/**
 * An authorization decision as a class (so it can inject Nest services): listed as a rule's
 * `access`, it is the provider of that class when some module provides it, else one instance
 * created with its dependencies, as `interceptors` classes are. Anything but `true` denies.
 */
export interface StompAuthorizationPredicate {
  authorize(context: StompAuthorizationContext): boolean | Promise<boolean>;
}

/** A predicate function: anything but `true` (or a Promise of `true`) denies. */
export type StompAuthorizationFunction = (context: StompAuthorizationContext) => boolean | Promise<boolean>;

/**
 * What a rule grants: everybody, nobody, sessions with a principal, or what a predicate (a
 * function, a {@link StompAuthorizationPredicate} class, or an object with `authorize`) decides.
 */
export type StompAccess =
  | 'permitAll'
  | 'denyAll'
  | 'authenticated'
  | StompAuthorizationFunction
  | Type<StompAuthorizationPredicate>
  | StompAuthorizationPredicate;

export const ACCESS_KEYWORDS: readonly string[] = ['permitAll', 'denyAll', 'authenticated'];

/** Whether `access` is a class to resolve from Nest's container (its prototype has `authorize`). */
export function isPredicateClass(access: unknown): access is Type<StompAuthorizationPredicate> {
  return typeof access === 'function' && typeof (access.prototype as { authorize?: unknown } | undefined)?.authorize === 'function';
}

/** One rule after validation: the types it covers, its compiled pattern (none: every destination). */
export interface CompiledRule {
  /** 1-based, as the README and log lines count rules. */
  readonly index: number;
  readonly types: ReadonlySet<StompAuthorizedType>;
  readonly pattern: DestinationPattern | undefined;
  readonly access: StompAccess;
}

/** A rule whose `access` is resolved: a keyword or a function. */
interface ActiveRule extends CompiledRule {
  readonly decide: 'permitAll' | 'denyAll' | 'authenticated' | StompAuthorizationFunction;
}

/** What the authorization step needs of the resolved options. */
export interface AuthorizationConfig {
  readonly rules: readonly CompiledRule[];
  readonly default: 'permitAll' | 'denyAll' | 'authenticated';
  /** Ms a predicate's Promise may take before the frame is denied (`authorization.timeout`). */
  readonly timeout: number;
  readonly pathSeparator: '/' | '.';
  /** Topic-like broker prefixes: a SUBSCRIBE there with `*`, `**` or `#` is a pattern subscription. */
  readonly topicPrefixes: readonly string[];
}

const logger = new Logger('StompAuthorization');

/** A client-chosen string as it goes into a log line: quoted (no line breaks), cut to 200 characters. */
function logValue(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}

/**
 * The `authorization` option as the last `clientInbound` step (Spring Security's
 * `AuthorizationChannelInterceptor` with `MessageMatcherDelegatingAuthorizationManager`): on
 * every SUBSCRIBE and SEND, the rules are tried in order and the first whose type and destination
 * pattern match decides; a destination no rule matches follows `default`. Other frames pass.
 *
 * A pattern SUBSCRIBE on a topic-like prefix (`/topic/**`) receives what is published to every
 * destination it matches, so it must also be allowed by every rule before its own match whose
 * pattern could cover some of those destinations: `/topic/**` is refused when an earlier rule
 * denies `/topic/admin/**` to that session.
 *
 * Synchronous while the rules that decide are (keywords, predicates returning a boolean): only a
 * Promise from a predicate holds the session's next frames. A denial throws
 * `StompProtocolError('ACCESS_DENIED')` naming the frame type and the destination (ERROR with
 * `receipt-id` when asked, close 1008) and logs one warning naming session, user and destination.
 * A predicate that throws or rejects denies too, its message in the warning.
 */
export class AuthorizationInterceptor implements StompChannelInterceptor {
  constructor(
    private readonly rules: readonly ActiveRule[],
    private readonly config: AuthorizationConfig,
  ) {}

  /**
   * Builds the step, resolving each class `access` with `instanceOf` (at start-up).
   * @throws Error naming the rule when a class cannot be created.
   */
  static async create(
    config: AuthorizationConfig,
    instanceOf: (type: Type<StompAuthorizationPredicate>) => Promise<StompAuthorizationPredicate>,
    problems: string[],
  ): Promise<AuthorizationInterceptor> {
    const rules: ActiveRule[] = [];
    for (const rule of config.rules) {
      const access = rule.access;
      let decide: ActiveRule['decide'];
      if (typeof access === 'string') decide = access;
      else if (isPredicateClass(access)) {
        try {
          const instance = await instanceOf(access);
          decide = (context) => instance.authorize(context);
        } catch (err) {
          problems.push(`authorization.rules[${rule.index - 1}].access: ${access.name} could not be created: ${err instanceof Error ? err.message : String(err)}`);
          continue;
        }
      } else if (typeof access === 'function') decide = access as StompAuthorizationFunction;
      else decide = (context) => access.authorize(context);
      rules.push({ ...rule, decide });
    }
    return new AuthorizationInterceptor(rules, config);
  }

  preSend(frame: StompFrame, context: ChannelInterceptorContext): undefined | Promise<undefined> {
    const type = frame.command;
    if (type !== 'SUBSCRIBE' && type !== 'SEND') return undefined;
    const destination = frame.headers['destination'];
    const session = context.session;
    // Without a destination the dispatcher refuses the frame (MISSING_HEADER).
    if (destination === undefined || session === undefined) return undefined;
    const isPattern =
      type === 'SUBSCRIBE' && SubscriptionRegistry.isPattern(destination) && findPrefix(destination, this.config.topicPrefixes) !== undefined;
    return this.check(0, type, destination, isPattern, frame, session);
  }

  /** Tries the rules from `from` on; stays synchronous until a predicate answers with a Promise. */
  private check(
    from: number,
    type: StompAuthorizedType,
    destination: string,
    isPattern: boolean,
    frame: StompFrame,
    session: StompSessionInfo,
  ): undefined | Promise<undefined> {
    for (let i = from; i < this.rules.length; i++) {
      const rule = this.rules[i];
      if (!rule.types.has(type)) continue;
      const variables = rule.pattern === undefined ? {} : rule.pattern.match(destination);
      // A pattern SUBSCRIBE also answers to the earlier rules covering part of what it receives,
      // and its text matching a rule (`/topic/status/**` is matched by `/topic/status/*`, whose
      // `*` takes `**` as one segment's characters) decides only when the rule covers every
      // destination the pattern receives; otherwise that rule is asked and the later ones too.
      const overlaps =
        isPattern && rule.pattern !== undefined && (variables === undefined ? mayOverlap(rule.pattern, destination, this.config.pathSeparator) : !covers(rule.pattern, destination));
      if (variables === undefined && !overlaps) continue;
      const last = !overlaps;
      // A rule asked for part of what a pattern receives gets no variables: what its `{name}` took
      // of the pattern's text (`*` from `/topic/team/*/chat`) names no destination.
      const known = overlaps || variables === undefined ? {} : variables;
      const verdict = this.decide(rule.decide, { type, destination, principal: session.principal, attributes: session.attributes, session, frame, variables: known });
      if (verdict instanceof Promise) {
        return verdict.then(
          (allowed) => {
            if (allowed !== true) throw this.denied(type, destination, session, rule, overlaps);
            return last ? undefined : this.check(i + 1, type, destination, isPattern, frame, session);
          },
          (err: unknown) => {
            throw this.denied(type, destination, session, rule, overlaps, err);
          },
        );
      }
      if (verdict !== true) throw this.denied(type, destination, session, rule, overlaps, verdict instanceof Error ? verdict : undefined);
      if (last) return undefined;
    }
    if (this.decideKeyword(this.config.default, session)) return undefined;
    throw this.denied(type, destination, session, undefined, false);
  }

  /** `true`, `false`, a Promise of the predicate's answer, or the Error a predicate threw. */
  private decide(decide: ActiveRule['decide'], context: StompAuthorizationContext): boolean | Error | Promise<unknown> {
    if (typeof decide === 'string') return this.decideKeyword(decide, context.session);
    try {
      const answer: unknown = decide(context);
      if (answer instanceof Promise) return this.bounded(answer);
      // Another thenable (Bluebird, another realm's Promise) is awaited too, not taken for a "no".
      const then: unknown = typeof answer === 'object' && answer !== null ? (answer as { then?: unknown }).then : undefined;
      return typeof then === 'function' ? this.bounded(Promise.resolve(answer as PromiseLike<unknown>)) : answer === true;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /**
   * A predicate's Promise, rejected when it has not settled within `authorization.timeout`: it
   * holds its session's next frames, and a predicate that never answers must not hold them
   * forever. One timer per pending answer.
   */
  private bounded(answer: Promise<unknown>): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`it did not answer within ${this.config.timeout} ms (authorization.timeout)`)),
        this.config.timeout,
      );
      // Like the session's connect timer: a pending predicate does not keep a closing app alive.
      timer.unref();
    });
    return Promise.race([answer, limit]).finally(() => clearTimeout(timer));
  }

  private decideKeyword(access: 'permitAll' | 'denyAll' | 'authenticated', session: StompSessionInfo): boolean {
    return access === 'permitAll' || (access === 'authenticated' && session.principal !== undefined);
  }

  private denied(
    type: StompAuthorizedType,
    destination: string,
    session: StompSessionInfo,
    rule: CompiledRule | undefined,
    overlaps: boolean,
    err?: unknown,
  ): StompProtocolError {
    const by =
      rule === undefined
        ? `no rule matches, authorization.default is '${this.config.default}'`
        : `rule ${rule.index}: ${describeRule(rule)}${overlaps ? ', covering destinations this pattern would receive' : ''}`;
    const failure = err === undefined ? '' : `; its predicate failed: ${err instanceof Error ? err.message : String(err)}`;
    logger.warn(
      `Session ${session.id} (user ${session.principal === undefined ? 'anonymous' : logValue(session.principal.name)}): ${type} to ${logValue(destination)} denied (${by}${failure})`,
    );
    return new StompProtocolError('ACCESS_DENIED', `${type} to ${destination} is not allowed (access denied)`);
  }
}

function describeRule(rule: CompiledRule): string {
  const access =
    typeof rule.access === 'string'
      ? rule.access
      : typeof rule.access === 'function'
        ? rule.access.name || 'a predicate'
        : (rule.access.constructor?.name ?? 'a predicate');
  return `${[...rule.types].join('|')} ${rule.pattern?.source ?? 'any destination'} → ${access}`;
}

/** Each rule pattern's segments, compiled once: `'**'` or a one-segment matcher. */
const compiledSegments = new WeakMap<DestinationPattern, ReadonlyArray<DestinationPattern | '**'>>();

function segmentsOf(rule: DestinationPattern): ReadonlyArray<DestinationPattern | '**'> {
  let segments = compiledSegments.get(rule);
  if (segments === undefined) {
    segments = rule.source.split(rule.separator).map((text) => (text === '**' ? '**' : new DestinationPattern(text, rule.separator)));
    compiledSegments.set(rule, segments);
  }
  return segments;
}

/**
 * Whether every destination a broker pattern subscription receives (`*` one segment, `**` or `#`
 * any number) matches the rule's pattern, so that the rule alone may decide for it. Conservative:
 * a subscription's `*` is covered only by a rule segment that is exactly `*`, its `**`/`#` only
 * by a rule `**`, a literal segment by a rule segment that matches it (a `{name}` capturing `*`
 * does not cover: the predicate would judge the text `*`, not the destinations). Segment by
 * segment, in rule segments × subscription segments steps, no backtracking.
 */
export function covers(rule: DestinationPattern, subscription: string): boolean {
  const reach = segmentReach(segmentsOf(rule), subscription.split(rule.separator), (segment, part) =>
    SubscriptionRegistry.isMultiWildcard(part) ? false : part === '*' ? segment.source === '*' : segment.match(part) !== undefined,
  );
  return reach[0] === 1;
}

/**
 * Whether the rule's pattern could match some destination a broker pattern subscription
 * (`*` one segment, `**` or `#` any number) receives. Conservative: segments are compared
 * pairwise, a wildcard in either (`*`, `?`, `{var}` in the rule) counts as matching, and a
 * multi-segment wildcard on either side means "may overlap". Over-approximates: it may say yes
 * for a pair that cannot meet (the SUBSCRIBE is then judged by that rule too), never no for one
 * that can.
 */
export function mayOverlap(rule: DestinationPattern, subscription: string, separator: '/' | '.'): boolean {
  const a = rule.source.split(separator);
  const b = subscription.split(separator);
  for (let i = 0; ; i++) {
    const x = a[i];
    const y = b[i];
    if (x === '**' || SubscriptionRegistry.isMultiWildcard(y ?? '')) return true;
    if (x === undefined || y === undefined) return x === undefined && y === undefined;
    if (/[*?{]/.test(x) || y === '*') continue;
    if (x !== y) return false;
  }
}
