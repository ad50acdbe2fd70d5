import { connect } from 'node:net';

/** Where the relay tests expect RabbitMQ's STOMP listener (scripts/rabbitmq.sh binds it there). */
export const RABBITMQ_STOMP = { host: '127.0.0.1', port: 61613 } as const;

/** How long the probe waits for the TCP handshake (ms); loopback answers at once. */
const PROBE_MS = 2000;

/** Resolves whether `host:port` accepts a TCP connection within {@link PROBE_MS}. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), PROBE_MS);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Jest global setup of `npm run test:relay` (jest.relay.config.js): fails the whole run at once,
 * naming the command to run, when RabbitMQ is not accepting STOMP on 127.0.0.1:61613, instead of
 * every test timing out on its own.
 */
export default async function relayGlobalSetup(): Promise<void> {
  const { host, port } = RABBITMQ_STOMP;
  if (!(await accepts(host, port))) {
    throw new Error(`RabbitMQ is not running on ${host}:${port}: run \`bash scripts/rabbitmq.sh start\``);
  }
}
