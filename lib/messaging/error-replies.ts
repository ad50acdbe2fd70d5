import { Inject, Injectable, Logger } from '@nestjs/common';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import { BrokerChannel } from './broker-channel.js';
import { MessageConverter } from './message-converter.js';
import type { StompSession } from '../transport/stomp-session.js';

/** A client-chosen string as it goes into a log line: quoted (no line breaks) and cut to 200 characters. */
export function logValue(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}

/** Whether a session is closing or closed: nothing more is sent to it. */
export function hasEnded(session: StompSession): boolean {
  return session.state === 'closing' || session.state === 'closed';
}

/**
 * Sends error replies to a session on its error destination: the user destination `/user` +
 * `errorDestination` (default `/queue/errors`), reaching only that session, as Spring's
 * `@SendToUser("/queue/errors", broadcast = false)`. Nothing is sent with `errorDestination:
 * false` or once the session is ending. A failed send is logged as a warning, never thrown: an
 * error reply must not raise a second error.
 */
@Injectable()
export class ErrorReplies {
  private readonly logger = new Logger('StompErrorReplies');
  private readonly converter = new MessageConverter();

  constructor(
    @Inject(STOMP_OPTIONS) private readonly options: ResolvedStompOptions,
    private readonly channel: BrokerChannel,
  ) {}

  /** False with `errorDestination: false`: errors are only logged. */
  get enabled(): boolean {
    return this.options.errorDestination !== false;
  }

  async send(session: StompSession, payload: unknown): Promise<void> {
    const destination = this.options.errorDestination;
    if (destination === false || hasEnded(session)) return;
    try {
      // Through the broker channel, whose interceptors see the session whose frame failed.
      const { headers, body } = this.converter.toMessage(payload);
      await this.channel.sendToSession(session.id, { destination, headers, body }, session.info);
    } catch (err) {
      this.logger.warn(`Sending an error reply to session ${session.id} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
