import type {
  ChannelInterceptorOptions,
  HeartbeatOptions,
  SimpleBrokerOptions,
  RelayBrokerOptions,
  StompStatsOptions,
  StompEndpointOptions,
  SockJsOptions,
  StompLimits,
  StompModuleOptions,
  StompAuthorizationOptions,
  StompAuthorizationRule,
} from './stomp-options.js';

/**
 * `{ key: true }` for every key of `T`, optional ones included. TypeScript rejects a literal of
 * this type that misses a key of `T` or has one `T` lacks, so each list below stays in step with
 * its interface in `stomp-options.ts` (test/module/option-keys.spec.ts checks the wiring too).
 */
type EveryKey<T> = { readonly [K in keyof Required<T>]: true };

const moduleKeys: EveryKey<StompModuleOptions> = {
  endpoints: true,
  applicationDestinationPrefixes: true,
  broker: true,
  pathSeparator: true,
  userDestinationPrefix: true,
  errorDestination: true,
  unmappedDestination: true,
  limits: true,
  authenticate: true,
  authenticator: true,
  serverName: true,
  stats: true,
  interceptors: true,
  userRegistry: true,
  authorization: true,
};

const authorizationKeys: EveryKey<StompAuthorizationOptions> = { rules: true, default: true, timeout: true };

const authorizationRuleKeys: EveryKey<StompAuthorizationRule> = { type: true, destination: true, access: true };

const endpointKeys: EveryKey<StompEndpointOptions> = { path: true, allowedOrigins: true, sockjs: true };

const sockJsKeys: EveryKey<SockJsOptions> = {
  heartbeatTime: true,
  disconnectDelay: true,
  streamBytesLimit: true,
  transports: true,
  clientLibraryUrl: true,
};

export const brokerKeys: EveryKey<SimpleBrokerOptions> = {
  kind: true,
  prefixes: true,
  queuePrefixes: true,
  queueCapacity: true,
  maxDestinationLength: true,
  maxDestinationSegments: true,
  maxPatternWildcards: true,
  maxQueues: true,
  maxUnackedMessages: true,
  maxHeldBytes: true,
  maxUnackedBytes: true,
  heartbeat: true,
};

/** Keys only the relay takes (checked against `kind` in `resolve-relay.ts`). */
export const relayOnlyKeys: EveryKey<Omit<RelayBrokerOptions, keyof SimpleBrokerOptions>> = {
  host: true,
  port: true,
  clientLogin: true,
  clientPasscode: true,
  systemLogin: true,
  systemPasscode: true,
  virtualHost: true,
  systemHeartbeatSendInterval: true,
  systemHeartbeatReceiveInterval: true,
  clientHeartbeatInterval: true,
  connectTimeout: true,
  reconnectDelay: true,
  maxReconnectDelay: true,
  userDestinationBroadcast: true,
  userRegistryBroadcast: true,
  userRegistryBroadcastInterval: true,
};

const interceptorKeys: EveryKey<ChannelInterceptorOptions> = { clientInbound: true, clientOutbound: true, broker: true };

const statsKeys: EveryKey<StompStatsOptions> = { logInterval: true };

const heartbeatKeys: EveryKey<HeartbeatOptions> = { floor: true, tolerance: true, ceiling: true };

const limitKeys: EveryKey<StompLimits> = {
  maxFrameSize: true,
  maxBodyLength: true,
  maxHeaders: true,
  maxHeaderLineLength: true,
  maxWebSocketMessageSize: true,
  sendBufferSizeLimit: true,
  connectTimeout: true,
  maxSubscriptionsPerSession: true,
  maxTransactionFrames: true,
  maxTransactionBytes: true,
  maxTransactionsPerSession: true,
  maxJsonNestingDepth: true,
  inboundHighWaterMark: true,
  inboundFramesPerTurn: true,
  closeTimeout: true,
  sendTimeLimit: true,
  maxSessions: true,
  maxSessionsPerUser: true,
};

/**
 * Every object in `StompModuleOptions` and the keys it may hold: `path` is the dotted way from the
 * top (`''`), `[]` marking each element of an array. To add an option, add its key to the list of
 * its object above; to add an object-valued option, add a row here.
 */
export const OPTION_OBJECTS: readonly { path: string; keys: readonly string[] }[] = [
  { path: '', keys: Object.keys(moduleKeys) },
  { path: 'endpoints[]', keys: Object.keys(endpointKeys) },
  { path: 'endpoints[].sockjs', keys: Object.keys(sockJsKeys) },
  { path: 'broker', keys: [...Object.keys(brokerKeys), ...Object.keys(relayOnlyKeys)] },
  { path: 'broker.heartbeat', keys: Object.keys(heartbeatKeys) },
  { path: 'limits', keys: Object.keys(limitKeys) },
  { path: 'stats', keys: Object.keys(statsKeys) },
  { path: 'interceptors', keys: Object.keys(interceptorKeys) },
  { path: 'authorization', keys: Object.keys(authorizationKeys) },
  { path: 'authorization.rules[]', keys: Object.keys(authorizationRuleKeys) },
];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The objects found at `path` in `root`, each with its concrete location (`endpoints[1]`). */
function objectsAt(root: unknown, path: string): { where: string; value: Record<string, unknown> }[] {
  let found: { where: string; value: unknown }[] = [{ where: '', value: root }];
  for (const segment of path === '' ? [] : path.split('.')) {
    const each = segment.endsWith('[]');
    const name = each ? segment.slice(0, -2) : segment;
    const next: { where: string; value: unknown }[] = [];
    for (const { where, value } of found) {
      if (!isPlainObject(value) || value[name] === undefined) continue;
      const at = where === '' ? name : `${where}.${name}`;
      const child = value[name];
      if (each && Array.isArray(child)) child.forEach((element, i) => next.push({ where: `${at}[${i}]`, value: element }));
      else if (!each) next.push({ where: at, value: child });
    }
    found = next;
  }
  return found.filter((f): f is { where: string; value: Record<string, unknown> } => isPlainObject(f.value));
}

/**
 * One problem per option key that `StompModule` does not know, at every level, with the closest
 * known keys as a "did you mean": a misspelt key would otherwise be ignored silently (TypeScript
 * only catches it in object literals), leaving the app on a default such as `/ws`.
 */
export function unknownOptionProblems(options: unknown): string[] {
  const problems: string[] = [];
  for (const { path, keys } of OPTION_OBJECTS) {
    for (const { where, value } of objectsAt(options, path)) {
      for (const key of Object.keys(value)) {
        if (keys.includes(key)) continue;
        const name = where === '' ? key : `${where}.${key}`;
        const guesses = suggestions(key, path, where);
        problems.push(
          guesses.length > 0
            ? `unknown option "${name}": did you mean ${guesses.map((g) => `"${g}"`).join(' or ')}?`
            : `unknown option "${name}"; the options ${where === '' ? 'here' : `of ${where}`} are ${keys.join(', ')}`,
        );
      }
    }
  }
  return problems;
}

/** Known keys close to `key`: at the same level first, then elsewhere (named by full path). */
function suggestions(key: string, path: string, where: string): string[] {
  const k = key.toLowerCase();
  const close = (candidate: string) => editDistance(k, candidate.toLowerCase()) <= Math.max(1, Math.floor(key.length / 3));
  // Same leading camel-case words but the last: maxBodySize → maxBodyLength.
  const words = (name: string) => name.split(/(?=[A-Z])/).map((w) => w.toLowerCase());
  const keyWords = words(key);
  const sameStem = (candidate: string) => {
    const c = words(candidate);
    let shared = 0;
    while (shared < Math.min(c.length, keyWords.length) && c[shared] === keyWords[shared]) shared++;
    return Math.max(c.length, keyWords.length) >= 3 && shared >= Math.max(c.length, keyWords.length) - 1;
  };
  const contains = (candidate: string) =>
    k.length >= 4 && (candidate.toLowerCase().includes(k) || k.includes(candidate.toLowerCase()));
  const here = (OPTION_OBJECTS.find((o) => o.path === path)?.keys ?? []).map((c) => ({
    c,
    name: where === '' ? c : `${where}.${c}`,
  }));
  const elsewhere = OPTION_OBJECTS.filter((o) => o.path !== path).flatMap((o) =>
    o.keys.map((c) => ({ c, name: o.path === '' ? c : `${o.path}.${c}` })),
  );
  const ordered = [
    ...here.filter(({ c }) => close(c)),
    ...elsewhere.filter(({ c }) => close(c)),
    ...here.filter(({ c }) => sameStem(c)),
    ...here.filter(({ c }) => contains(c)),
  ].map(({ name }) => name);
  return [...new Set(ordered)].slice(0, 3);
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
