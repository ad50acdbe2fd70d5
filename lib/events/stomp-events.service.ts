import { Injectable } from '@nestjs/common';
import { Observable, Subject, filter } from 'rxjs';
import type { StompSessionEvent, StompSessionEventType } from './stomp-events.js';

/**
 * The session lifecycle events as an RxJS stream (see {@link StompSessionEvent} for the order
 * and the exactly-once rules). Inject it anywhere:
 *
 * ```ts
 * constructor(events: StompEvents) {
 *   events.ofType('disconnect').subscribe((e) => console.log(e.session.id, e.reason, e.closeCode));
 * }
 * ```
 *
 * Listeners run synchronously inside the server's handling of the frame or close that caused the
 * event; an error thrown by one is logged and does not reach the session or other listeners.
 */
@Injectable()
export class StompEvents {
  private readonly subject = new Subject<StompSessionEvent>();

  /** Every lifecycle event of every session, in order. Completes when the application closes. */
  readonly events$: Observable<StompSessionEvent> = this.subject.asObservable();

  /** The events of one type, typed. */
  ofType<T extends StompSessionEventType>(type: T): Observable<Extract<StompSessionEvent, { type: T }>> {
    return this.events$.pipe(filter((e): e is Extract<StompSessionEvent, { type: T }> => e.type === type));
  }

  /** True when anyone listens: emitters skip building events nobody would see. */
  get observed(): boolean {
    return this.subject.observed;
  }

  /** @internal Emits one event to the stream (and to listeners such as the event-emitter bridge). */
  emit(event: StompSessionEvent): void {
    this.subject.next(event);
  }

  /** @internal */
  complete(): void {
    this.subject.complete();
  }
}
