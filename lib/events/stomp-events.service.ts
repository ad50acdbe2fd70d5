import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Observable, Subject, filter } from 'rxjs';
import type { BrokerAvailabilityEvent, StompSessionEvent, StompSessionEventType } from './stomp-events.js';

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
 * event. An error thrown by an RxJS subscriber does not reach the session or other listeners, but
 * RxJS reports it asynchronously as an uncaught exception (which ends a Node process by default):
 * catch errors inside the listener. Errors of `@OnEvent` listeners (see `EventEmitterBridge`)
 * are logged.
 */
@Injectable()
export class StompEvents implements OnApplicationShutdown {
  private readonly subject = new Subject<StompSessionEvent>();

  /** Every lifecycle event of every session, in order. Completes when the application closes. */
  readonly events$: Observable<StompSessionEvent> = this.subject.asObservable();

  /** The events of one type, typed. */
  ofType<T extends StompSessionEventType>(type: T): Observable<Extract<StompSessionEvent, { type: T }>> {
    return this.events$.pipe(filter((e): e is Extract<StompSessionEvent, { type: T }> => e.type === type));
  }

  private readonly availability = new Subject<BrokerAvailabilityEvent>();

  /**
   * The broker's availability changes (a relay's system connection up or down), in order. The
   * simple broker emits none. Completes when the application closes.
   */
  readonly brokerAvailability$: Observable<BrokerAvailabilityEvent> = this.availability.asObservable();

  /** @internal */
  emitBrokerAvailability(event: BrokerAvailabilityEvent): void {
    this.availability.next(event);
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
    this.availability.complete();
  }

  /**
   * Completes the stream once the application has closed (after `beforeApplicationShutdown`, in
   * which every session is closed and its disconnect event emitted).
   */
  onApplicationShutdown(): void {
    this.complete();
  }
}
