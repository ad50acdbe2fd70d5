import type { RelayBrokerConfig } from '../broker/relay/relay-broker-config.js';
import { brokerKeys, relayOnlyKeys } from './option-keys.js';
import type { BrokerOptions, RelayBrokerOptions } from './stomp-options.js';

/** Simple-broker options that mean nothing to a relay (the external broker has its own). */
const SIMPLE_ONLY = Object.keys(brokerKeys).filter((k) => k !== 'kind' && k !== 'prefixes' && k !== 'heartbeat');

/**
 * Checks that `broker` holds only the keys of its `kind` (a relay option on the simple broker,
 * or `queueCapacity` on a relay, is a mistake worth a start-up error rather than silence).
 */
export function brokerKindProblems(broker: BrokerOptions, problems: string[]): void {
  const given = broker as unknown as Record<string, unknown>;
  const relay = broker.kind === 'relay';
  const foreign = relay ? SIMPLE_ONLY : Object.keys(relayOnlyKeys);
  for (const key of foreign) {
    if (given[key] === undefined) continue;
    problems.push(
      relay
        ? `broker.${key} is an option of the simple broker; the relay leaves it to the external broker (remove it)`
        : `broker.${key} is an option of the relay: set broker.kind to "relay" to use it`,
    );
  }
}

/**
 * `broker: { kind: 'relay', … }` with Spring's defaults (`StompBrokerRelayMessageHandler`):
 * 127.0.0.1:61613, guest/guest for both connections, 10 s system heart-beats.
 */
export function resolveRelay(options: RelayBrokerOptions, prefixes: string[], problems: string[]): RelayBrokerConfig {
  const text = (name: keyof RelayBrokerOptions, fallback: string, allowEmpty = true): string => {
    const value = options[name];
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || (!allowEmpty && value === '') || /[\r\n\0]/.test(value)) {
      problems.push(`broker.${name} must be a ${allowEmpty ? '' : 'non-empty '}string without CR, LF or NUL, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  };
  const ms = (name: keyof RelayBrokerOptions, fallback: number, min: number): number => {
    const value = options[name];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2 ** 31 - 1) {
      problems.push(`broker.${name} must be a whole number of milliseconds from ${min} to ${2 ** 31 - 1}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  };
  const broadcast = (name: 'userDestinationBroadcast' | 'userRegistryBroadcast', fallback: string): string | false => {
    const value = options[name];
    if (value === undefined) return fallback;
    if (value === false) return false;
    if (typeof value !== 'string' || !prefixes.some((p) => value.startsWith(p + '/') || value.startsWith(p + '.'))) {
      problems.push(`broker.${name} must be false or a destination under a relayed prefix (${prefixes.join(', ')}), got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  };
  const port = options.port;
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) {
    problems.push(`broker.port must be a TCP port (1 to 65535), got ${JSON.stringify(port)}`);
  }
  const reconnectDelay = ms('reconnectDelay', 1000, 1);
  const maxReconnectDelay = ms('maxReconnectDelay', 30_000, 1);
  if (maxReconnectDelay < reconnectDelay) {
    problems.push(`broker.maxReconnectDelay (${maxReconnectDelay}) must not be less than broker.reconnectDelay (${reconnectDelay})`);
  }
  const virtualHost = text('virtualHost', '/', false);
  const userDestinationBroadcast = broadcast('userDestinationBroadcast', `${prefixes.includes('/topic') ? '/topic' : prefixes[0]}/unresolved-user-destination`);
  const userRegistryBroadcast = broadcast('userRegistryBroadcast', `${prefixes.includes('/topic') ? '/topic' : prefixes[0]}/simp-user-registry`);
  if (userDestinationBroadcast !== false && userDestinationBroadcast === userRegistryBroadcast) {
    problems.push(`broker.userDestinationBroadcast and broker.userRegistryBroadcast must differ, both are ${JSON.stringify(userRegistryBroadcast)}`);
  }
  return {
    prefixes,
    host: text('host', '127.0.0.1', false),
    port: typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535 ? port : 61613,
    clientLogin: text('clientLogin', 'guest'),
    clientPasscode: text('clientPasscode', 'guest'),
    systemLogin: text('systemLogin', 'guest'),
    systemPasscode: text('systemPasscode', 'guest'),
    virtualHost,
    systemHeartbeatSendInterval: ms('systemHeartbeatSendInterval', 10_000, 0),
    systemHeartbeatReceiveInterval: ms('systemHeartbeatReceiveInterval', 10_000, 0),
    clientHeartbeatInterval: ms('clientHeartbeatInterval', 10_000, 0),
    connectTimeout: ms('connectTimeout', 10_000, 1),
    reconnectDelay,
    maxReconnectDelay,
    userDestinationBroadcast,
    userRegistryBroadcast,
    userRegistryBroadcastInterval: ms('userRegistryBroadcastInterval', 10_000, 1),
  };
}
