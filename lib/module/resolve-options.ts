import type { Type } from '@nestjs/common';
import type { StompChannelInterceptor } from '../messaging/channel-interceptor.js';
import type { StompAuthenticator } from '../auth/stomp-authenticator.js';
import type { FrameDecoderLimits } from '../protocol/frame-decoder.js';
import { unknownOptionProblems } from './option-keys.js';
import { MAX_TIMER_DELAY } from '../protocol/heartbeat.js';
import { isWritableUnescaped } from '../protocol/header-escaping.js';
import type {
  BrokerOptions,
  InterceptorRef,
  SimpleBrokerOptions,
  SockJsOptions,
  SockJsTransport,
  StompConnectDecision,
  StompConnectRequest,
  StompEndpointOptions,
  StompLimits,
  StompModuleOptions,
} from './stomp-options.js';
import type { SimpleBrokerConfig } from '../broker/simple/simple-broker.js';
import type { SimpUserRegistry } from '../user/simp-user-registry.js';
import type { AuthorizationConfig } from '../messaging/authorization.js';
import { resolveAuthorization } from './resolve-authorization.js';
import { brokerKindProblems, resolveRelay } from './resolve-relay.js';
import type { RelayBrokerConfig } from '../broker/relay/relay-broker-config.js';

export const LIBRARY_VERSION = '0.1.0';

/** Options after defaults and validation: what the rest of the library reads. */
export interface ResolvedStompOptions {
  endpoints: ResolvedEndpoint[];
  applicationDestinationPrefixes: string[];
  /**
   * What the simple broker is built with (one type, so the two cannot drift apart). With a relay
   * its `prefixes`, `queuePrefixes` (for defaults such as `errorDestination`) and `pathSeparator`
   * still hold, and `relay` holds the rest.
   */
  broker: SimpleBrokerConfig & { kind: 'simple' | 'relay' };
  /** The relay's settings, when `broker.kind` is `'relay'`. */
  relay?: RelayBrokerConfig;
  pathSeparator: '/' | '.';
  userDestinationPrefix: string;
  errorDestination: string | false;
  unmappedDestination: 'report' | 'close';
  heartbeat: { floor: number | false; tolerance: number; ceiling: number };
  limits: FrameDecoderLimits & {
    maxWebSocketMessageSize: number;
    sendBufferSizeLimit: number;
    connectTimeout: number;
    maxSubscriptionsPerSession: number;
    maxTransactionFrames: number;
    maxTransactionBytes: number;
    maxTransactionsPerSession: number;
    maxJsonNestingDepth: number;
    inboundHighWaterMark: number;
    inboundFramesPerTurn: number;
    closeTimeout: number;
    /** 0: off. */
    sendTimeLimit: number;
    /** 0: no limit. */
    maxSessions: number;
    /** 0: no limit. */
    maxSessionsPerUser: number;
  };
  /** `authenticator`, or `authenticate` as `{ authenticateConnect }`; `ChannelInterceptors` resolves a class. */
  authenticator?: Type<StompAuthenticator> | StompAuthenticator;
  serverName: string;
  stats: { logInterval: number };
  /** Interceptors listed in options, per channel (`[]` when none); `ChannelInterceptors` resolves them. */
  interceptors: Readonly<Record<'clientInbound' | 'clientOutbound' | 'broker', readonly InterceptorRef[]>>;
  /** The `userRegistry` class, if one was given (the `SimpUserRegistry` provider creates it). */
  userRegistry?: Type<SimpUserRegistry>;
  /** The authorization rules compiled, or `undefined` when there are none (no step at all). */
  authorization?: AuthorizationConfig;
}

/** One endpoint after defaults and validation. */
export interface ResolvedEndpoint {
  path: string;
  allowedOrigins: string[] | 'same-origin';
  /** SockJS settings when the endpoint serves SockJS too, else `undefined`. */
  sockjs?: ResolvedSockJsOptions;
}

export type ResolvedSockJsOptions = Required<SockJsOptions>;

/** Every SockJS transport, in `sockjs-client`'s order of preference. */
export const SOCKJS_TRANSPORTS: readonly SockJsTransport[] = [
  'websocket',
  'xhr-streaming',
  'xhr-polling',
  'eventsource',
  'htmlfile',
  'jsonp-polling',
];

const MiB = 1024 * 1024;

/**
 * Applies defaults and checks every option, collecting all problems into one start-up error
 * so that a misconfigured app fails at boot with a message that says what to fix.
 */
export function resolveStompOptions(options: StompModuleOptions = {}): ResolvedStompOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new Error(
      `Invalid StompModule options: StompModule.forRoot() (or the forRootAsync() factory) must give an options object, got ${shown(options)}`,
    );
  }
  // Unknown keys first: a misspelt option (`endpoint`) would otherwise leave its default in force.
  const problems: string[] = unknownOptionProblems(options);
  const positiveInt = (name: string, value: number | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value <= 0) {
      problems.push(`${name} must be a positive integer, got ${String(value)}`);
      return fallback;
    }
    return value;
  };
  /** A whole number from 0 (which means `zero`, e.g. "off") to `max`. */
  const wholeNumber = (name: string, value: number | undefined, fallback: number, unit: string, zero: string, max = Number.MAX_SAFE_INTEGER): number => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value < 0 || value > max) {
      problems.push(`${name} must be a whole number of ${unit} from 0 (${zero}) to ${max}, got ${shown(value)}`);
      return fallback;
    }
    return value;
  };
  const destinationPrefixes = (name: string, value: string[] | undefined, fallback: string[]) => {
    const list: unknown = value ?? fallback;
    if (!Array.isArray(list)) {
      const fix = typeof list === 'string' && isPrefix(withSlash(list)) ? `: use ${shownList([withSlash(list)])}` : '';
      problems.push(`${name} must be an array of strings starting with "/", got ${shown(list)}${fix}`);
      return fallback;
    }
    const fixable = list.every((p) => typeof p === 'string' && isPrefix(withSlash(p)));
    for (const prefix of list) {
      if (!isPrefix(prefix)) {
        const fix = fixable ? `: use ${shownList(list.map((p: string) => withSlash(p)))}` : '';
        problems.push(`${name}: ${shown(prefix)} must be a string starting with "/" and naming a prefix${fix}`);
      }
    }
    return list.map(withoutTrailingSeparator);
  };

  let endpointList: unknown[] = options.endpoints ?? [{ path: '/ws' }];
  if (!Array.isArray(endpointList)) {
    const fix = typeof endpointList === 'string' ? `: use [{ path: ${JSON.stringify(withSlash(endpointList))} }]` : '';
    problems.push(`endpoints must be an array of { path, allowedOrigins? }, got ${shown(endpointList)}${fix}`);
    endpointList = [];
  }
  const endpoints = endpointList.map((entry, i) => {
    if (typeof entry !== 'object' || entry === null) {
      const fix = typeof entry === 'string' ? `: use { path: ${JSON.stringify(withSlash(entry))} }` : '';
      problems.push(`endpoints[${i}] must be an object { path, allowedOrigins? }, got ${shown(entry)}${fix}`);
      return { path: undefined, allowedOrigins: 'same-origin' as const, sockjs: undefined };
    }
    const endpoint = entry as Partial<StompEndpointOptions>;
    if (typeof endpoint.path !== 'string' || !endpoint.path.startsWith('/')) {
      const fix = typeof endpoint.path === 'string' ? `: use ${JSON.stringify(withSlash(endpoint.path))}` : '';
      problems.push(`endpoints[${i}].path must be a string starting with "/", got ${shown(endpoint.path)}${fix}`);
    }
    const origins: unknown = endpoint.allowedOrigins;
    if (origins !== undefined && (!Array.isArray(origins) || origins.some((o) => typeof o !== 'string'))) {
      const fix = typeof origins === 'string' ? `: use ${shownList([origins])}` : '';
      problems.push(`endpoints[${i}].allowedOrigins must be an array of strings, got ${shown(origins)}${fix}`);
    }
    const sockjs = sockJsOptions(endpoint.sockjs, `endpoints[${i}].sockjs`, endpoint.path, problems);
    return { path: endpoint.path, allowedOrigins: (origins as string[] | undefined) ?? ('same-origin' as const), sockjs };
  });
  if (endpoints.length === 0) {
    problems.push('endpoints must name at least one endpoint (leave endpoints out for the default [{ path: "/ws" }])');
  }
  const paths = endpoints.map((e) => e.path);
  const duplicatePath = paths.find((p, i) => p !== undefined && paths.indexOf(p) !== i);
  if (duplicatePath) problems.push(`endpoints: path "${duplicatePath}" is configured twice`);

  let broker: BrokerOptions = options.broker ?? { kind: 'simple' };
  if (typeof broker !== 'object' || broker === null || Array.isArray(broker)) {
    problems.push(`broker must be an object such as { kind: 'simple' }, got ${shown(broker)}`);
    broker = { kind: 'simple' };
  }
  if (broker.kind !== undefined && broker.kind !== 'simple' && broker.kind !== 'relay') {
    problems.push(`broker.kind must be "simple" or "relay", got ${JSON.stringify((broker as { kind: unknown }).kind)}`);
  }
  brokerKindProblems(broker, problems);
  // The relay takes none of the simple broker's own options (checked just above).
  const simple = broker as SimpleBrokerOptions;
  const brokerPrefixes = destinationPrefixes('broker.prefixes', broker.prefixes, ['/topic', '/queue']);
  if (brokerPrefixes.length === 0) problems.push('broker.prefixes must name at least one prefix');
  const queuePrefixes = destinationPrefixes(
    'broker.queuePrefixes',
    simple.queuePrefixes,
    brokerPrefixes.includes('/queue') ? ['/queue'] : [],
  );
  for (const q of queuePrefixes) {
    if (!brokerPrefixes.includes(q)) {
      problems.push(`broker.queuePrefixes: "${q}" is not one of broker.prefixes (${brokerPrefixes.join(', ')})`);
    }
  }
  const separator = options.pathSeparator ?? '/';
  if (separator !== '/' && separator !== '.') {
    problems.push(`pathSeparator must be "/" or ".", got ${JSON.stringify(separator)}`);
  }
  let userDestinationPrefix: string = options.userDestinationPrefix ?? '/user';
  if (!isPrefix(userDestinationPrefix)) {
    const fix = typeof userDestinationPrefix === 'string' && isPrefix(withSlash(userDestinationPrefix))
      ? `: use ${JSON.stringify(withSlash(userDestinationPrefix))}`
      : '';
    problems.push(`userDestinationPrefix must be a string starting with "/", got ${shown(userDestinationPrefix)}${fix}`);
    userDestinationPrefix = '/user';
  }
  userDestinationPrefix = withoutTrailingSeparator(userDestinationPrefix);
  if ([...brokerPrefixes].includes(userDestinationPrefix)) {
    problems.push(`userDestinationPrefix "${userDestinationPrefix}" must not also be a broker prefix`);
  }
  // Default: errors under the first queue-like prefix (`/queue/errors`), else the first broker prefix.
  const errorDestination = options.errorDestination ?? `${queuePrefixes[0] ?? brokerPrefixes[0] ?? '/queue'}/errors`;
  if (errorDestination !== false && (typeof errorDestination !== 'string' || !brokerPrefixes.some((p) => errorDestination.startsWith(p)))) {
    problems.push(
      `errorDestination must be false or a destination under a broker prefix (${brokerPrefixes.join(', ')}), got ${JSON.stringify(errorDestination)}: e.g. "${queuePrefixes[0] ?? brokerPrefixes[0]}/errors"`,
    );
  }
  const unmappedDestination = options.unmappedDestination ?? 'report';
  if (unmappedDestination !== 'report' && unmappedDestination !== 'close') {
    problems.push(`unmappedDestination must be "report" or "close", got ${JSON.stringify(unmappedDestination)}`);
  }
  const appPrefixes = destinationPrefixes(
    'applicationDestinationPrefixes',
    options.applicationDestinationPrefixes,
    ['/app'],
  );
  for (const p of appPrefixes) {
    const clash = brokerPrefixes.find((b) => b === p);
    if (clash) {
      problems.push(`"${p}" is both in applicationDestinationPrefixes and in broker.prefixes: remove it from one of them`);
    }
  }

  const hb = broker.heartbeat;
  let heartbeat: ResolvedStompOptions['heartbeat'] = { floor: 1000, tolerance: 2, ceiling: 3_600_000 };
  if (hb === false) heartbeat = { floor: false, tolerance: 2, ceiling: 3_600_000 };
  else if (hb !== undefined && (typeof hb !== 'object' || hb === null || Array.isArray(hb))) {
    problems.push(`broker.heartbeat must be an object { floor?, tolerance?, ceiling? } or false, got ${shown(hb)}`);
  } else if (hb !== undefined) {
    const floor = hb.floor ?? 1000;
    if (!Number.isInteger(floor) || floor < 1) {
      problems.push(`broker.heartbeat.floor must be a positive integer number of milliseconds, got ${shown(floor)}`);
    }
    const tolerance = hb.tolerance ?? 2;
    if (typeof tolerance !== 'number' || !(tolerance >= 1)) {
      problems.push(`broker.heartbeat.tolerance must be a number >= 1, got ${String(tolerance)}`);
    }
    const ceiling = hb.ceiling ?? 3_600_000;
    // Node fires any timer delay above 2^31 - 1 ms after 1 ms; the check timer runs ceiling × tolerance.
    if (!Number.isInteger(ceiling) || ceiling < floor) {
      problems.push(`broker.heartbeat.ceiling must be a whole number of milliseconds >= floor (${String(floor)}), got ${String(ceiling)}`);
    } else if (typeof tolerance === 'number' && ceiling * tolerance > MAX_TIMER_DELAY) {
      problems.push(`broker.heartbeat.ceiling × tolerance must not exceed ${MAX_TIMER_DELAY} ms (Node's longest timer), got ${ceiling} × ${tolerance}`);
    }
    heartbeat = { floor, tolerance, ceiling };
  }

  let l: StompLimits = options.limits ?? {};
  if (typeof l !== 'object' || l === null || Array.isArray(l)) {
    problems.push(`limits must be an object such as { maxFrameSize: 65536 }, got ${shown(l)}`);
    l = {};
  }
  const maxFrameSize = positiveInt('limits.maxFrameSize', l.maxFrameSize, 5 * MiB);
  const limits = {
    maxFrameSize,
    maxBodyLength: positiveInt('limits.maxBodyLength', l.maxBodyLength, 4 * MiB),
    maxHeaders: positiveInt('limits.maxHeaders', l.maxHeaders, 100),
    maxHeaderLineLength: positiveInt('limits.maxHeaderLineLength', l.maxHeaderLineLength, 8 * 1024),
    maxWebSocketMessageSize: positiveInt(
      'limits.maxWebSocketMessageSize',
      l.maxWebSocketMessageSize,
      2 * maxFrameSize,
    ),
    sendBufferSizeLimit: positiveInt('limits.sendBufferSizeLimit', l.sendBufferSizeLimit, 16 * MiB),
    connectTimeout: positiveInt('limits.connectTimeout', l.connectTimeout, 10_000),
    maxSubscriptionsPerSession: positiveInt('limits.maxSubscriptionsPerSession', l.maxSubscriptionsPerSession, 1000),
    maxTransactionFrames: positiveInt('limits.maxTransactionFrames', l.maxTransactionFrames, 1000),
    maxTransactionBytes: positiveInt('limits.maxTransactionBytes', l.maxTransactionBytes, 32 * MiB),
    maxTransactionsPerSession: positiveInt('limits.maxTransactionsPerSession', l.maxTransactionsPerSession, 16),
    maxJsonNestingDepth: positiveInt('limits.maxJsonNestingDepth', l.maxJsonNestingDepth, 1000),
    inboundHighWaterMark: positiveInt('limits.inboundHighWaterMark', l.inboundHighWaterMark, 256),
    inboundFramesPerTurn: positiveInt('limits.inboundFramesPerTurn', l.inboundFramesPerTurn, 128),
    closeTimeout: positiveInt('limits.closeTimeout', l.closeTimeout, 5000),
    sendTimeLimit: wholeNumber('limits.sendTimeLimit', l.sendTimeLimit, 10_000, 'milliseconds', 'off', MAX_TIMER_DELAY),
    maxSessions: wholeNumber('limits.maxSessions', l.maxSessions, 0, 'sessions', 'no limit'),
    maxSessionsPerUser: wholeNumber('limits.maxSessionsPerUser', l.maxSessionsPerUser, 0, 'sessions', 'no limit'),
  };
  if (limits.connectTimeout > MAX_TIMER_DELAY || limits.closeTimeout > MAX_TIMER_DELAY) {
    problems.push(`limits.connectTimeout and limits.closeTimeout must not exceed ${MAX_TIMER_DELAY} ms (Node's longest timer)`);
  }
  const queueCapacity = positiveInt('broker.queueCapacity', simple.queueCapacity, 1000);
  const maxDestinationLength = positiveInt('broker.maxDestinationLength', simple.maxDestinationLength, 1024);
  const maxDestinationSegments = positiveInt('broker.maxDestinationSegments', simple.maxDestinationSegments, 64);
  const maxPatternWildcards = positiveInt('broker.maxPatternWildcards', simple.maxPatternWildcards, 8);
  const maxQueues = positiveInt('broker.maxQueues', simple.maxQueues, 10_000);
  const maxUnackedMessages = positiveInt('broker.maxUnackedMessages', simple.maxUnackedMessages, 1000);
  const maxHeldBytes = positiveInt('broker.maxHeldBytes', simple.maxHeldBytes, 64 * MiB);
  const maxUnackedBytes = positiveInt('broker.maxUnackedBytes', simple.maxUnackedBytes, 32 * MiB);

  if (options.authenticate !== undefined && typeof options.authenticate !== 'function') {
    problems.push(`authenticate must be a function (request) => { user?, reject? }, got ${shown(options.authenticate)}`);
  }
  const authenticator = authenticatorOption(options, problems);

  // CONNECTED headers are never escaped (STOMP 1.2, "Value Encoding"): a line break or NUL in
  // the server header would inject headers into every CONNECTED.
  if (options.serverName !== undefined && (typeof options.serverName !== 'string' || !isWritableUnescaped(options.serverName))) {
    problems.push(`serverName must be a string without CR, LF or NUL (CONNECTED headers are not escaped), got ${JSON.stringify(options.serverName)}`);
  }
  const interceptors = channelInterceptors(options.interceptors, problems);
  const stats = statsOptions(options.stats, problems);
  const userRegistry = userRegistryClass(options.userRegistry, problems);
  const authorization = resolveAuthorization(
    options.authorization,
    separator,
    brokerPrefixes.filter((p) => !queuePrefixes.includes(p)),
    problems,
  );
  const relay = broker.kind === 'relay' ? resolveRelay(broker, brokerPrefixes, problems) : undefined;
  if (problems.length > 0) {
    throw new Error(`Invalid StompModule options:\n  - ${problems.join('\n  - ')}`);
  }
  return {
    endpoints: endpoints as ResolvedStompOptions['endpoints'],
    applicationDestinationPrefixes: appPrefixes,
    relay,
    broker: {
      kind: relay === undefined ? 'simple' : 'relay',
      prefixes: brokerPrefixes,
      queuePrefixes,
      queueCapacity,
      pathSeparator: separator,
      maxDestinationLength,
      maxDestinationSegments,
      maxPatternWildcards,
      maxQueues,
      maxUnackedMessages,
      maxHeldBytes,
      maxUnackedBytes,
    },
    pathSeparator: separator,
    userDestinationPrefix,
    errorDestination,
    unmappedDestination,
    heartbeat,
    limits,
    authenticator,
    serverName: options.serverName ?? `nestjs-stomp/${LIBRARY_VERSION}`,
    stats,
    interceptors,
    userRegistry,
    authorization,
  };
}

/**
 * `authenticator`: a class (with an `authenticateHandshake` or `authenticateConnect` method on its
 * prototype) or an object with one of them; `authenticate` becomes `{ authenticateConnect }`.
 */
function authenticatorOption(options: StompModuleOptions, problems: string[]): ResolvedStompOptions['authenticator'] {
  const value: unknown = options.authenticator;
  if (value === undefined) {
    return typeof options.authenticate === 'function' ? { authenticateConnect: options.authenticate } : undefined;
  }
  if (options.authenticate !== undefined) {
    problems.push('authenticate and authenticator cannot both be set: move the authenticate function into the authenticator as authenticateConnect');
    return undefined;
  }
  const methods = typeof value === 'function' ? (value as { prototype?: unknown }).prototype : value;
  const has = (name: string): boolean =>
    typeof methods === 'object' && methods !== null && typeof (methods as Record<string, unknown>)[name] === 'function';
  if (!has('authenticateHandshake') && !has('authenticateConnect')) {
    problems.push(
      `authenticator must be a class or an object with an authenticateHandshake(request) or authenticateConnect(request) method, got ${shown(value)}`,
    );
    return undefined;
  }
  return value as Type<StompAuthenticator> | StompAuthenticator;
}

/** The methods a `userRegistry` class must have (those of `SimpUserRegistry`). */
const USER_REGISTRY_METHODS = [
  'getUser',
  'getUsers',
  'getUserCount',
  'getSessionCount',
  'getSubscriptionCount',
  'findSubscriptions',
  'findSubscriptionsByDestination',
] as const;

/** `userRegistry`: a class whose prototype has every `SimpUserRegistry` method (extending it or implementing it). */
function userRegistryClass(value: unknown, problems: string[]): Type<SimpUserRegistry> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    problems.push(`userRegistry must be a class extending SimpUserRegistry, got ${shown(value)}`);
    return undefined;
  }
  const prototype = value.prototype as Record<string, unknown> | undefined;
  const missing = USER_REGISTRY_METHODS.filter((m) => typeof prototype?.[m] !== 'function');
  if (missing.length > 0) {
    problems.push(`userRegistry: ${value.name || '(anonymous class)'} must extend SimpUserRegistry, but it lacks ${missing.join(', ')}`);
    return undefined;
  }
  return value as Type<SimpUserRegistry>;
}

const CHANNEL_NAMES = ['clientInbound', 'clientOutbound', 'broker'] as const;

/**
 * `interceptors`: per channel an array whose entries are classes with a `preSend` method (Nest
 * providers or classes to instantiate) or objects with a `preSend` function. A plain function
 * (`(frame) => frame`) is refused: it would be taken for a class.
 */
function channelInterceptors(value: unknown, problems: string[]): ResolvedStompOptions['interceptors'] {
  const resolved = { clientInbound: [] as InterceptorRef[], clientOutbound: [] as InterceptorRef[], broker: [] as InterceptorRef[] };
  if (value === undefined) return resolved;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`interceptors must be an object such as { clientInbound: [MyInterceptor] }, got ${shown(value)}`);
    return resolved;
  }
  const byChannel = value as Record<string, unknown>;
  for (const channel of CHANNEL_NAMES) {
    const list = byChannel[channel];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      problems.push(`interceptors.${channel} must be an array of interceptor classes or objects with a preSend method, got ${shown(list)}`);
      continue;
    }
    list.forEach((entry: unknown, i) => {
      if (isInterceptorClass(entry) || isInterceptorObject(entry)) {
        resolved[channel].push(entry);
        return;
      }
      const got =
        typeof entry === 'function'
          ? `the function ${entry.name || '(anonymous)'}, whose prototype has no preSend method (for a plain function, pass { preSend: fn })`
          : shown(entry);
      problems.push(`interceptors.${channel}[${i}] must be a class with a preSend(frame, context) method or an object with a preSend function, got ${got}`);
    });
  }
  return resolved;
}

function isInterceptorClass(entry: unknown): entry is Type<StompChannelInterceptor> {
  return typeof entry === 'function' && typeof (entry.prototype as { preSend?: unknown } | undefined)?.preSend === 'function';
}

function isInterceptorObject(entry: unknown): entry is StompChannelInterceptor {
  return typeof entry === 'object' && entry !== null && typeof (entry as { preSend?: unknown }).preSend === 'function';
}

/** `stats`: `logInterval` a whole number of ms from 0 (off) to Node's longest timer; default 30 min (Spring's). */
function statsOptions(value: StompModuleOptions['stats'], problems: string[]): ResolvedStompOptions['stats'] {
  const fallback = { logInterval: 1_800_000 };
  if (value === undefined) return fallback;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`stats must be an object such as { logInterval: 60000 }, got ${shown(value)}`);
    return fallback;
  }
  const logInterval = value.logInterval ?? fallback.logInterval;
  if (!Number.isInteger(logInterval) || logInterval < 0 || logInterval > MAX_TIMER_DELAY) {
    problems.push(`stats.logInterval must be a whole number of milliseconds from 0 (off) to ${MAX_TIMER_DELAY}, got ${shown(logInterval)}`);
    return fallback;
  }
  return { logInterval };
}

/** A value as it would be written in the options (strings quoted), for error messages. */
function shown(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function shownList(list: string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(', ')}]`;
}

/** A destination prefix: a string of `/` and at least one more character. */
function isPrefix(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('/') && value.length > 1;
}

/** `app` → `/app`, for the "use …" part of a message. */
function withSlash(value: string): string {
  return `/${value.replace(/^\/+/, '')}`;
}

function withoutTrailingSeparator<T>(prefix: T): T {
  return (typeof prefix === 'string' && prefix.length > 1 && (prefix.endsWith('/') || prefix.endsWith('.'))
    ? prefix.slice(0, -1)
    : prefix) as T;
}

/**
 * `endpoints[i].sockjs` with defaults (Spring's), or `undefined` when SockJS is off. Problems are
 * collected like every other option's.
 */
function sockJsOptions(value: unknown, name: string, path: unknown, problems: string[]): ResolvedSockJsOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    problems.push(`${name} must be true, false or an object of SockJS options, got ${shown(value)}`);
    return undefined;
  }
  if (typeof path === 'string' && (path === '/' || path.endsWith('/'))) {
    // SockJS takes every HTTP request under the path: '/' would take the whole app.
    problems.push(
      `${name} needs a path below "/" without a trailing "/" (SockJS serves every request under it), got ${shown(path)}` +
        (path.length > 1 ? `: use ${JSON.stringify(path.replace(/\/+$/, ''))}` : ''),
    );
  }
  const given: SockJsOptions = value === true ? {} : (value as SockJsOptions);
  const ms = (key: 'heartbeatTime' | 'disconnectDelay', fallback: number): number => {
    const v = given[key];
    if (v === undefined) return fallback;
    if (!Number.isInteger(v) || v <= 0 || v > MAX_TIMER_DELAY) {
      problems.push(`${name}.${key} must be a whole number of milliseconds from 1 to ${MAX_TIMER_DELAY}, got ${shown(v)}`);
      return fallback;
    }
    return v;
  };
  const heartbeatTime = ms('heartbeatTime', 25000);
  const disconnectDelay = ms('disconnectDelay', 5000);
  let streamBytesLimit = given.streamBytesLimit ?? 128 * 1024;
  if (!Number.isInteger(streamBytesLimit) || streamBytesLimit <= 0) {
    problems.push(`${name}.streamBytesLimit must be a positive integer, got ${shown(given.streamBytesLimit)}`);
    streamBytesLimit = 128 * 1024;
  }
  let transports: SockJsTransport[] = SOCKJS_TRANSPORTS.filter((t) => t !== 'jsonp-polling');
  const names = SOCKJS_TRANSPORTS.map((t) => JSON.stringify(t)).join(', ');
  const listed: unknown = given.transports;
  if (listed !== undefined) {
    if (!Array.isArray(listed) || listed.length === 0) {
      problems.push(`${name}.transports must be a non-empty array of transport names (${names}), got ${shown(listed)}`);
    } else {
      const unknown = listed.filter((t) => !SOCKJS_TRANSPORTS.includes(t as SockJsTransport));
      if (unknown.length > 0) {
        problems.push(`${name}.transports: unknown ${unknown.map((t) => shown(t)).join(', ')}; the transports are ${names}`);
      } else {
        transports = [...new Set(listed as SockJsTransport[])];
      }
    }
  }
  let clientLibraryUrl = given.clientLibraryUrl ?? `${typeof path === 'string' ? path.replace(/\/+$/, '') : ''}/sockjs.min.js`;
  if (typeof clientLibraryUrl !== 'string' || clientLibraryUrl === '' || /["<>\s]/.test(clientLibraryUrl)) {
    problems.push(`${name}.clientLibraryUrl must be a URL (no quotes, angle brackets or spaces), got ${shown(given.clientLibraryUrl)}`);
    clientLibraryUrl = '';
  }
  return { heartbeatTime, disconnectDelay, streamBytesLimit, transports, clientLibraryUrl };
}
