import { Inject, Injectable, Logger } from '@nestjs/common';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import { StompProtocolError, type StompErrorCode } from '../protocol/stomp-protocol-error.js';
import type { StompSession } from '../transport/stomp-session.js';
import { ErrorReplies, logValue } from './error-replies.js';

/** Distinct unmapped destinations one session may have logged at warn level; the rest go to debug. */
const WARNINGS_PER_SESSION = 8;

/** The payload a sender receives on its error destination for a destination nothing serves. */
export interface UnmappedDestinationReply {
  status: 'error';
  /** E.g. `No @MessageMapping handler for /app/orders/abc/cancel`. */
  message: string;
  destination: string;
}

/**
 * What happens to a SEND or SUBSCRIBE whose destination nothing serves: an `/app` destination no
 * `@MessageMapping` / `@SubscribeMapping` matches, or a destination under no configured prefix.
 *
 * Spring drops such a frame with a debug line; the STOMP spec would answer ERROR and close. With
 * `unmappedDestination: 'report'` (the default) the sender is told on its error destination
 * ({@link UnmappedDestinationReply}), the session stays open, and the server logs a warning once
 * per destination and session (at most 8 per session, then debug), so a typo is seen by the
 * developer and costs the client nothing else. With `'close'` it is a `StompProtocolError`
 * (ERROR frame, then close 1002).
 */
@Injectable()
export class UnmappedDestinationReporter {
  private readonly logger = new Logger('StompUnmappedDestination');
  private readonly warned = new WeakMap<StompSession, Set<string>>();

  constructor(
    @Inject(STOMP_OPTIONS) private readonly options: ResolvedStompOptions,
    private readonly errorReplies: ErrorReplies,
  ) {}

  /** Whether an unmapped destination keeps the session (`'report'`) rather than closing it. */
  get reports(): boolean {
    return this.options.unmappedDestination === 'report';
  }

  /**
   * Reports `message` about `destination` to `session`.
   * @throws StompProtocolError (code `code`) with `unmappedDestination: 'close'`.
   */
  report(session: StompSession, destination: string, message: string, code: StompErrorCode = 'NO_HANDLER'): Promise<void> {
    if (!this.reports) throw new StompProtocolError(code, message);
    this.log(session, destination, message);
    const reply: UnmappedDestinationReply = { status: 'error', message, destination };
    return this.errorReplies.send(session, reply);
  }

  private log(session: StompSession, destination: string, message: string): void {
    let warned = this.warned.get(session);
    if (warned === undefined) this.warned.set(session, (warned = new Set()));
    // The client's destination is quoted and cut in the log, wherever the message names it.
    const line = `${message.replace(destination, () => logValue(destination))} (session ${session.id})`;
    if (warned.has(destination) || warned.size >= WARNINGS_PER_SESSION) {
      this.logger.debug(line);
      return;
    }
    warned.add(destination);
    const more =
      warned.size === WARNINGS_PER_SESSION ? '; further unmapped destinations of this session are logged at debug level' : '';
    const told =
      this.errorReplies.enabled
        ? 'the sender is told on its error destination'
        : 'the frame is dropped (errorDestination: false)';
    this.logger.warn(`${line}; ${told}${more}`);
  }
}
