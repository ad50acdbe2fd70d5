import { MESSAGE_BROKER, RelayBroker, type StompModuleOptions } from '../../lib/index.js';
import { startStompApp, type RunningApp, type StartAppExtras } from '../support/stomp-app.js';

/** `broker: { kind: 'relay' }` against the RabbitMQ scripts/rabbitmq.sh runs (127.0.0.1:61613, guest/guest). */
export const RELAY_BROKER = { kind: 'relay', virtualHost: '/' } as const;

/** The app's relay, once its system connection is up (bounded: rejects after `timeoutMs`). */
export async function availableRelay(running: RunningApp, timeoutMs = 15_000): Promise<RelayBroker> {
  const broker = running.app.get<RelayBroker>(MESSAGE_BROKER);
  if (!(broker instanceof RelayBroker)) throw new Error('The app does not run the relay');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    broker.system.whenAvailable(),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`The relay's system connection did not come up within ${timeoutMs} ms`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  return broker;
}

/** A Nest app with StompModule on the relay, returned once the broker is available. */
export async function startRelayApp(options: StompModuleOptions = {}, extra: StartAppExtras = {}): Promise<RunningApp> {
  const running = await startStompApp({ ...options, broker: { ...RELAY_BROKER, ...(options.broker ?? {}), kind: 'relay' } }, extra);
  try {
    await availableRelay(running);
  } catch (err) {
    await running.close();
    throw err;
  }
  return running;
}
