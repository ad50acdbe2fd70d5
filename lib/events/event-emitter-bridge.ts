import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Subscription } from 'rxjs';
import { BROKER_AVAILABILITY_EVENT_NAME, STOMP_EVENT_NAMES, type BrokerAvailabilityEvent, type StompSessionEvent } from './stomp-events.js';
import { StompEvents } from './stomp-events.service.js';

/**
 * What the bridge uses of `EventEmitter2` (the emitter `@nestjs/event-emitter`'s
 * `EventEmitterModule` provides). Typed here so that no public type of this library depends on
 * the optional peer.
 */
interface AsyncEmitter {
  /** Calls the listeners of `event` now; resolves when the promises they returned settle (`false` when none). */
  emitAsync(event: string, ...values: unknown[]): Promise<unknown[]> | false;
}

/**
 * Finds the app's `EventEmitter2` when `@nestjs/event-emitter` is installed and the app imported
 * `EventEmitterModule`; `undefined` otherwise. The package is an optional peer dependency, so it
 * is loaded with a guarded dynamic `import()`: an app without it pays nothing and sees nothing.
 */
async function findEventEmitter(moduleRef: ModuleRef): Promise<AsyncEmitter | undefined> {
  let token: unknown;
  try {
    token = (await import('@nestjs/event-emitter')).EventEmitter2;
  } catch {
    return undefined; // not installed
  }
  try {
    return moduleRef.get(token as new () => AsyncEmitter, { strict: false });
  } catch {
    return undefined; // installed, but EventEmitterModule is not imported
  }
}

/**
 * Re-emits every lifecycle event of {@link StompEvents} on `@nestjs/event-emitter` under
 * {@link STOMP_EVENT_NAMES} (`stomp.session.connect`, `…connected`, `…subscribe`,
 * `…unsubscribe`, `…disconnect`) and the broker's availability under `stomp.broker.availability`, with the event object as the payload, so that
 * `@OnEvent('stomp.session.connected')` works (Spring publishes the same events as
 * `ApplicationEvent`s). Does nothing when the package is not installed or the app did not import
 * `EventEmitterModule.forRoot()`.
 *
 * Listeners run synchronously, in the server's handling of the frame or close that caused the
 * event (an `async` listener runs up to its first `await`). An error a listener throws, or a
 * promise it returns that rejects, is logged as one error line and never reaches the session.
 * (`@OnEvent` handlers already have their errors logged by `@nestjs/event-emitter` unless
 * `suppressErrors: false`.)
 */
@Injectable()
export class EventEmitterBridge implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('StompEvents');
  private subscription: Subscription | undefined;

  constructor(
    private readonly events: StompEvents,
    private readonly moduleRef: ModuleRef,
  ) {}

  async onModuleInit(): Promise<void> {
    const emitter = await findEventEmitter(this.moduleRef);
    if (emitter === undefined) return;
    this.subscription = this.events.events$.subscribe((event) => this.forward(emitter, event));
    this.subscription.add(this.events.brokerAvailability$.subscribe((event) => this.forward(emitter, event)));
  }

  /** After the sessions closed (their disconnect events went out in `beforeApplicationShutdown`). */
  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  private forward(emitter: AsyncEmitter, event: StompSessionEvent | BrokerAvailabilityEvent): void {
    const name = event.type === 'brokerAvailability' ? BROKER_AVAILABILITY_EVENT_NAME : STOMP_EVENT_NAMES[event.type];
    try {
      const settled = emitter.emitAsync(name, event);
      if (settled !== false) settled.catch((err: unknown) => this.listenerFailed(name, err));
    } catch (err) {
      this.listenerFailed(name, err);
    }
  }

  private listenerFailed(name: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.logger.error(`A listener of ${name} failed: ${message.split('\n', 1)[0]}`);
  }
}
