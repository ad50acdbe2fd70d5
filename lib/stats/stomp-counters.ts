import { Injectable } from '@nestjs/common';
import type { CountedLimit } from '../transport/session-limits.js';

/**
 * @internal Running counts the server keeps as it works, read by `StompStats` and the
 * OpenTelemetry instruments. Plain field increments: cheap enough for the delivery hot path.
 * Session, subscription and disconnect-reason counts come from the lifecycle events instead.
 */
@Injectable()
export class StompCounters {
  /** Client frames received, by command (`CONNECT`, `SEND`, …; unknown commands are not counted). */
  readonly framesIn: Record<string, number> = Object.create(null) as Record<string, number>;
  /** Frames sent to clients, by command (`CONNECTED`, `MESSAGE`, `RECEIPT`, `ERROR`). */
  readonly framesOut: Record<string, number> = Object.create(null) as Record<string, number>;
  /** MESSAGE frames sent (the hot path counts here, not in `framesOut`). */
  messagesOut = 0;
  /** ERROR frames sent, by error code. */
  readonly errorsSent: Record<string, number> = Object.create(null) as Record<string, number>;
  /** Errors thrown by `@MessageMapping`/`@SubscribeMapping` handlers (after filters ran). */
  handlerErrors = 0;
  /** Violations of the session and slow-consumer limits, by option name. */
  readonly limitsExceeded: Partial<Record<CountedLimit, number>> = Object.create(null) as Partial<Record<CountedLimit, number>>;

  frameIn(command: string): void {
    this.framesIn[command] = (this.framesIn[command] ?? 0) + 1;
  }

  frameOut(command: string): void {
    this.framesOut[command] = (this.framesOut[command] ?? 0) + 1;
  }

  limitExceeded(limit: CountedLimit): void {
    this.limitsExceeded[limit] = (this.limitsExceeded[limit] ?? 0) + 1;
  }

  errorSent(code: string): void {
    this.errorsSent[code] = (this.errorsSent[code] ?? 0) + 1;
  }
}
