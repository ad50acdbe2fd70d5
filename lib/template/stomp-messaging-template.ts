import { Injectable } from '@nestjs/common';
import { BrokerChannel } from '../messaging/broker-channel.js';
import { MessageConverter } from '../messaging/message-converter.js';

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

  constructor(private readonly channel: BrokerChannel) {}

  /**
   * Publishes `payload` to a broker destination (`/topic/…`, `/queue/…`), or to a user
   * destination written out (`/user/ann/queue/news`; the name is literal, `%2F` stands for `/`).
   * The message passes the `broker` channel interceptors first (see `StompModuleOptions.interceptors`).
   * @throws Error when `destination` is neither a broker nor a user destination.
   * @throws StompProtocolError when it breaks a broker bound (`DESTINATION_TOO_LONG`,
   *   `TOO_MANY_DESTINATIONS`, `QUEUE_FULL`); the message names the option.
   * @throws whatever a `broker` channel interceptor throws to refuse the message.
   */
  async convertAndSend(destination: string, payload: unknown, headers?: MessageHeaders): Promise<void> {
    const message = this.converter.toMessage(payload, headers);
    await this.channel.send({ destination, headers: message.headers, body: message.body });
  }

  /** Sends to every session of `user` (the name as is, never decoded) subscribed to `/user` + `destination`. */
  async convertAndSendToUser(
    user: string,
    destination: string,
    payload: unknown,
    headers?: MessageHeaders,
  ): Promise<void> {
    const message = this.converter.toMessage(payload, headers);
    await this.channel.sendToUser(user, { destination, headers: message.headers, body: message.body });
  }

  /** Sends to one session, if it is subscribed to `/user` + `destination`. */
  async convertAndSendToSession(
    sessionId: string,
    destination: string,
    payload: unknown,
    headers?: MessageHeaders,
  ): Promise<void> {
    const message = this.converter.toMessage(payload, headers);
    await this.channel.sendToSession(sessionId, { destination, headers: message.headers, body: message.body });
  }
}
