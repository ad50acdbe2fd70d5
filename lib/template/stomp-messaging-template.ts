import { Inject, Injectable } from '@nestjs/common';
import { MESSAGE_BROKER, type MessageBroker } from '../broker/message-broker.js';
import { MessageConverter } from '../messaging/message-converter.js';
import { SessionRegistry } from '../transport/session-registry.js';
import { UserDestinationResolver } from '../user/user-destination-resolver.js';

/** Extra headers for a message sent from server code, e.g. `{ priority: '9' }`. */
export type MessageHeaders = Readonly<Record<string, string>>;

/**
 * Sends messages to the broker from anywhere: HTTP controllers, schedulers, event listeners
 * (Spring's `SimpMessagingTemplate`). Payloads are converted like handler return values:
 * objects → JSON (`application/json`), strings → `text/plain`, `Buffer`/`Uint8Array` → binary.
 *
 * ```ts
 * @Controller('news')
 * export class NewsController {
 *   constructor(private readonly template: StompMessagingTemplate) {}
 *   @Post() publish(@Body() item: NewsItem) {
 *     return this.template.convertAndSend('/topic/news', item);
 *   }
 * }
 * ```
 */
@Injectable()
export class StompMessagingTemplate {
  private readonly converter = new MessageConverter();

  constructor(
    @Inject(MESSAGE_BROKER) private readonly broker: MessageBroker,
    private readonly users: UserDestinationResolver,
    private readonly sessions: SessionRegistry,
  ) {}

  /**
   * Publishes `payload` to a broker destination (`/topic/…`, `/queue/…`), or to a user
   * destination written out (`/user/ann/queue/news`; the name is literal, `%2F` stands for `/`).
   * @throws Error when `destination` is neither a broker nor a user destination.
   * @throws StompProtocolError when it breaks a broker bound (`DESTINATION_TOO_LONG`,
   *   `TOO_MANY_DESTINATIONS`, `QUEUE_FULL`); the message names the option.
   */
  async convertAndSend(destination: string, payload: unknown, headers?: MessageHeaders): Promise<void> {
    if (this.users.isUserDestination(destination)) {
      const target = this.users.parseSendDestination(destination);
      return this.convertAndSendToUser(target.user, target.destination, payload, headers);
    }
    if (!this.broker.handles(destination)) {
      throw new Error(`Cannot send to ${destination}: it is neither a broker destination nor a user destination`);
    }
    await this.publish([destination], payload, headers);
  }

  /** Sends to every session of `user` (the name as is, never decoded) subscribed to `/user` + `destination`. */
  async convertAndSendToUser(
    user: string,
    destination: string,
    payload: unknown,
    headers?: MessageHeaders,
  ): Promise<void> {
    await this.publish(this.users.userTargets(user, destination), payload, headers);
  }

  /** Sends to one session, if it is subscribed to `/user` + `destination`. */
  async convertAndSendToSession(
    sessionId: string,
    destination: string,
    payload: unknown,
    headers?: MessageHeaders,
  ): Promise<void> {
    const session = this.sessions.get(sessionId);
    const target = session && this.users.sessionTarget(session, destination);
    if (target !== undefined) await this.publish([target], payload, headers);
  }

  private async publish(destinations: string[], payload: unknown, headers?: MessageHeaders): Promise<void> {
    if (destinations.length === 0) return;
    const message = this.converter.toMessage(payload, headers);
    for (const destination of destinations) {
      await this.broker.publish({ destination, headers: message.headers, body: message.body });
    }
  }
}
