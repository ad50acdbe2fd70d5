import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { MESSAGE_BROKER, type MessageBroker } from '../message-broker.js';
import { passThroughHeaders } from '../../protocol/message-frame.js';
import type { StompFrame } from '../../protocol/frame.js';
import { SimpUserRegistry } from '../../user/simp-user-registry.js';
import { MultiServerUserRegistry } from '../../user/multi-server-user-registry.js';
import { UserDestinationResolver } from '../../user/user-destination-resolver.js';
import { RelayBroker, USER_DESTINATION_HEADER } from './relay-broker.js';
import type { SystemSubscription } from './system-connection.js';

/**
 * What several instances behind one relayed broker tell each other, over the relay's system
 * connection (Spring's `UserRegistryMessageHandler` and the broadcast half of
 * `UserDestinationMessageHandler`):
 *
 * - every `broker.userRegistryBroadcastInterval` ms, this instance's users, sessions and
 *   subscriptions go to `broker.userRegistryBroadcast` as JSON, and the other instances'
 *   snapshots are taken into the {@link MultiServerUserRegistry};
 * - a message for a user with no session this instance knows of goes to
 *   `broker.userDestinationBroadcast` (see `RelayBroker.broadcastUnresolved`); each instance
 *   delivers such a message to its own sessions of that user, never broadcasting it again.
 *
 * Does nothing on the simple broker.
 */
@Injectable()
export class UserDestinationBroadcasts implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('StompBrokerRelay');
  private readonly subscriptions: SystemSubscription[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(MESSAGE_BROKER) private readonly broker: MessageBroker,
    @Inject(SimpUserRegistry) private readonly registry: SimpUserRegistry,
    private readonly users: UserDestinationResolver,
  ) {}

  onModuleInit(): void {
    const relay = this.broker;
    if (!(relay instanceof RelayBroker)) return;
    const config = relay.settings;
    if (config.userDestinationBroadcast !== false) {
      this.subscriptions.push(relay.system.subscribe(config.userDestinationBroadcast, (frame) => this.deliverUnresolved(relay, frame)));
    }
    const registry = this.registry;
    const target = config.userRegistryBroadcast;
    if (target !== false && registry instanceof MultiServerUserRegistry) {
      this.subscriptions.push(relay.system.subscribe(target, (frame) => this.acceptSnapshot(registry, frame)));
      const broadcast = () => {
        if (!relay.system.available) return;
        try {
          relay.system.send('SEND', { destination: target, 'content-type': 'application/json' }, Buffer.from(JSON.stringify(registry.snapshot())));
        } catch {
          // Down between the check and the send: the next tick tries again.
        }
      };
      this.timer = setInterval(broadcast, config.userRegistryBroadcastInterval);
      this.timer.unref();
      // The first snapshot as soon as the broker is there, not an interval later.
      void relay.system.whenAvailable().then(broadcast, () => undefined);
    }
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
  }

  private acceptSnapshot(registry: MultiServerUserRegistry, frame: StompFrame): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(frame.body.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (!registry.accept(parsed) && (parsed as { instance?: unknown }).instance !== registry.instance)) {
      this.logger.warn(`Ignored a malformed user registry broadcast (${frame.body.length} bytes)`);
    }
  }

  private deliverUnresolved(relay: RelayBroker, frame: StompFrame): void {
    const userDestination = frame.headers[USER_DESTINATION_HEADER];
    if (userDestination === undefined) return;
    let parsed: { user: string; destination: string };
    try {
      parsed = this.users.parseSendDestination(userDestination);
    } catch {
      return;
    }
    const headers = passThroughHeaders(frame.headers);
    delete headers[USER_DESTINATION_HEADER];
    for (const destination of this.users.localTargets(parsed.user, parsed.destination)) {
      void Promise.resolve(relay.publish({ destination, headers, body: frame.body })).catch((err: unknown) =>
        this.logger.warn(`A broadcast message for ${userDestination} was not delivered to ${destination}: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  }
}
