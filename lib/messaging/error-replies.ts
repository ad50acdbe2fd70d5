import { Inject, Injectable, Logger } from '@nestjs/common';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import { StompMessagingTemplate } from '../template/stomp-messaging-template.js';
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

  constructor(
    @Inject(STOMP_OPTIONS) private readonly options: ResolvedStompOptions,
    private readonly template: StompMessagingTemplate,
  ) {}

  /** False with `errorDestination: false`: errors are only logged. */
  get enabled(): boolean {
    return this.options.errorDestination !== false;
  }

  async send(session: StompSession, payload: unknown): Promise<void> {
    const destination = this.options.errorDestination;
    if (destination === false || hasEnded(session)) return;
    await this.template.convertAndSendToSession(session.id, destination, payload).catch((err: unknown) => {
      this.logger.warn(`Sending an error reply to session ${session.id} failed: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
}
