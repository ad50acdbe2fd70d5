import type { BrokerOptions } from '../lib/index.js';

/**
 * The sample's broker from its environment: `BROKER=relay` relays to RabbitMQ's STOMP plugin at
 * `RELAY_HOST` (default 127.0.0.1), `RELAY_PORT` (61613), as `RELAY_LOGIN`/`RELAY_PASSCODE`
 * (guest/guest) for both the client sessions' and the system connection; anything else (or
 * nothing) runs the embedded simple broker. Same prefixes either way.
 * @throws Error for a `BROKER` other than `simple`/`relay`, or a `RELAY_PORT` that is no port.
 */
export function sampleBroker(env: NodeJS.ProcessEnv = process.env): BrokerOptions {
  const prefixes = ['/topic', '/queue'];
  const kind = env.BROKER ?? 'simple';
  if (kind === 'simple') return { kind: 'simple', prefixes };
  if (kind !== 'relay') throw new Error(`BROKER must be "simple" or "relay", got ${JSON.stringify(kind)}`);
  const port = Number(env.RELAY_PORT ?? 61613);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`RELAY_PORT must be a TCP port, got ${JSON.stringify(env.RELAY_PORT)}`);
  const login = env.RELAY_LOGIN ?? 'guest';
  const passcode = env.RELAY_PASSCODE ?? 'guest';
  return {
    kind: 'relay',
    prefixes,
    host: env.RELAY_HOST ?? '127.0.0.1',
    port,
    clientLogin: login,
    clientPasscode: passcode,
    systemLogin: login,
    systemPasscode: passcode,
  };
}
