import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { MESSAGE_BROKER, type BrokerMessage, type MessageBroker } from '../broker/message-broker.js';
import { BrokerChannel } from '../messaging/broker-channel.js';
import { MessageConverter } from '../messaging/message-converter.js';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import { OutboundMessage } from '../protocol/message-frame.js';
import { UserDestinationResolver } from '../user/user-destination-resolver.js';
import { expandPlaceholders } from './destination-pattern.js';
import type { ReturnTarget } from './handler-explorer.js';
import type { StompMessageContext } from './stomp-message-context.js';

/** The default destination prefix of return values without `@SendTo` (Spring's). */
const DEFAULT_DESTINATION_PREFIX = '/topic';

/**
 * Sends a handler's return value where it belongs (Spring's `SendToMethodReturnValueHandler`
 * and `SubscriptionMethodReturnValueHandler`):
 * - `@SendTo(...)`: to each destination, `{var}` filled from the matched destination;
 * - `@SendToUser(...)`: to the sender's user (all sessions) or, with `broadcast: false` or
 *   without a user, to the sending session only;
 * - `@SubscribeMapping` without either: straight back to the subscriber, once;
 * - otherwise: to `/topic` + the mapped destination.
 * `undefined` and `null` send nothing.
 */
@Injectable()
export class ReturnValueHandler {
  private readonly converter = new MessageConverter();
  private readonly idPrefix = randomBytes(4).toString('hex');
  private replies = 0;

  constructor(
    @Inject(STOMP_OPTIONS) private readonly options: ResolvedStompOptions,
    @Inject(MESSAGE_BROKER) private readonly broker: MessageBroker,
    private readonly channel: BrokerChannel,
    private readonly users: UserDestinationResolver,
  ) {}

  async handle(value: unknown, target: ReturnTarget, context: StompMessageContext): Promise<void> {
    if (value === undefined || value === null) return;
    const { sendTo, sendToUser } = target;
    // Everything but a @SubscribeMapping reply goes through the broker channel, whose
    // interceptors see the sending session.
    const session = context.session;
    if (sendToUser) {
      for (const raw of sendToUser.destinations) {
        const message = this.toMessage(expandPlaceholders(raw, context.variables), value);
        const user = session.principal?.name;
        if (sendToUser.broadcast && user !== undefined) {
          await this.channel.sendToUser(user, message, session);
        } else {
          await this.channel.sendToSession(session.id, message, session);
        }
      }
    }
    if (sendTo) {
      for (const raw of sendTo) await this.channel.send(this.toMessage(expandPlaceholders(raw, context.variables), value), session);
    }
    if (sendTo || sendToUser) return;
    if (context.subscription) {
      this.replyToSubscriber(value, context);
      return;
    }
    await this.channel.send(this.toMessage(this.defaultDestination(context.lookupDestination), value), session);
  }

  private toMessage(destination: string, value: unknown): BrokerMessage {
    const { headers, body } = this.converter.toMessage(value);
    return { destination, headers, body };
  }

  /** Start-up check: a `@SendTo`/`@SendToUser` destination must reach the broker. */
  validate(target: ReturnTarget, label: string): void {
    for (const destination of target.sendTo ?? []) {
      if (!this.broker.handles(destination) && !this.users.isUserDestination(destination)) {
        throw new Error(
          `${label}: @SendTo("${destination}") is under no broker prefix (${this.options.broker.prefixes.join(', ')}) nor the user prefix ${this.users.prefix}`,
        );
      }
    }
    for (const destination of target.sendToUser?.destinations ?? []) {
      if (!this.broker.handles(destination)) {
        throw new Error(
          `${label}: @SendToUser("${destination}") is under no broker prefix (${this.options.broker.prefixes.join(', ')}): name the user's destination as a broker one, e.g. @SendToUser("${this.options.broker.queuePrefixes[0] ?? this.options.broker.prefixes[0]}/replies")`,
        );
      }
    }
  }

  private defaultDestination(lookup: string): string {
    return DEFAULT_DESTINATION_PREFIX + (lookup.startsWith('/') ? lookup : `/${lookup}`);
  }

  private replyToSubscriber(value: unknown, context: StompMessageContext): void {
    const subscription = context.subscription;
    if (!subscription) return;
    const { body, headers } = this.converter.toMessage(value);
    const messageId = `${this.idPrefix}-r${(++this.replies).toString(36)}`;
    const message = new OutboundMessage(subscription.clientDestination, messageId, headers, body);
    context.stompSession.deliver(subscription, message);
  }
}
