import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable } from '@nestjs/common';
import { ExternalContextCreator, ModulesContainer } from '@nestjs/core';
import { isObservable } from 'rxjs';
import { contextModuleKey, exceptionFiltersOf, ROUTE_ARGS_METADATA, stompExternalContextCreator } from './nest-compat.js';
import { STOMP_CONTEXT_TYPE, StompArgumentsHost } from './stomp-arguments-host.js';
import { StompParamsFactory } from './stomp-params-factory.js';

export type HandlerProxy = (...args: unknown[]) => Promise<unknown>;

/**
 * The outcome of offering an exception to Nest's exception filters:
 * - `none`: no filter catches this type;
 * - `answered`: the filter returned something other than `undefined`, or emitted to the client;
 * - `silent`: the filter returned `null` and emitted nothing: it handled the error on purpose;
 * - `unanswered`: the filter returned `undefined` and emitted nothing (as a gateway filter
 *   writing to a client API STOMP does not have would): the error is treated as unhandled;
 * - `declined`: the filter rethrew the exception (`if (host.getType() !== 'http') throw exception`):
 *   the error is treated as unhandled;
 * - `failed`: the filter threw something else (an HTTP-only filter calling `response.status()`):
 *   the error is treated as unhandled, and the filter's own failure reported.
 */
export type FilterOutcome =
  | { kind: 'none' }
  | { kind: 'answered'; filter: string; result: unknown }
  | { kind: 'silent' | 'unanswered' | 'declined'; filter: string }
  | { kind: 'failed'; filter: string; global: boolean; error: unknown };

/**
 * Offers an exception to the filters of one handler. `emit` receives what the filter sends to the
 * client through `host.switchToWs().getClient()` (`emit(event, data)`, `send(data)`).
 */
export type FilterProxy = (exception: unknown, args: unknown[], emit: (payload: unknown) => void) => Promise<FilterOutcome>;

const currentOutcome = new AsyncLocalStorage<MethodOutcome>();

/**
 * What one invocation's handler method itself returned. Interceptors turn every result into an
 * Observable; this tells a plain or Promise result (one reply, to be sent before the session's
 * next frame is handled) from an Observable the method returned (a stream, which must not hold
 * the session back).
 */
export class MethodOutcome {
  private markStream!: () => void;
  /** Settles once the method returned an Observable, or a Promise of one; never otherwise. */
  readonly stream = new Promise<void>((resolve) => (this.markStream = resolve));

  /** Runs `fn` (the invocation, the subscription to its result) so that the method reports here. */
  run<T>(fn: () => T): T {
    return currentOutcome.run(this, fn);
  }

  report(value: unknown): void {
    if (isObservable(value)) this.markStream();
    else if (value instanceof Promise) {
      value.then(
        (resolved: unknown) => isObservable(resolved) && this.markStream(),
        () => undefined,
      );
    }
  }
}

/**
 * The client a filter sees: the session, plus the two ways Nest's WebSocket filters talk to a
 * client. `BaseWsExceptionFilter` calls `emit('exception', data)` (Nest 11 always; Nest 12 when the
 * client has no numeric `readyState`); a filter written for `ws` gateways may call `send(text)`.
 * Both reach the sender's error destination. Everything else is the session itself.
 */
function filterClient(session: object, emit: (payload: unknown) => void): object {
  const send = (data: unknown): void => emit(typeof data === 'string' ? parseJsonOr(data) : data);
  return new Proxy(session, {
    get(target, property, receiver) {
      if (property === 'emit') return (_event: unknown, payload: unknown) => (emit(payload), true);
      if (property === 'send') return send;
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

/** A `send(text)` of JSON (`{"event":"exception","data":…}` from a ws filter) is passed on as that value. */
function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Wraps handler methods with Nest's own machinery, as `@nestjs/websockets` does for gateways:
 * guards, then interceptors, then pipes per parameter, then the method, through Nest's public
 * `ExternalContextCreator` in the `'ws'` context. Arguments are `[session, payload, context,
 * destination]`, so `switchToWs()` gives the session as client and the payload as data.
 *
 * Adjustments; the first three reach into Nest internals, all of them through `nest-compat.ts`
 * (its header lists each touchpoint and why no public API does it):
 * - Nest collapses an Observable result to its last value; here the Observable is kept, so each
 *   emission (after interceptors) becomes one message.
 * - Exception filters are resolved by Nest's filter context (method, class, global), but offered
 *   the exception by the caller, with a {@link StompArgumentsHost}, so that one with no filter can
 *   fall back to STOMP's own answer instead of Nest's generic "log with stack trace and rethrow".
 * - Enhancers referenced by class are looked up in the controller's module (see `moduleKeyOf`).
 * - The method reports what it returned to a {@link MethodOutcome}, for ordering.
 */
@Injectable()
export class StompContextCreator {
  private readonly creator: ExternalContextCreator;
  private readonly paramsFactory = new StompParamsFactory();

  constructor(
    private readonly externalContextCreator: ExternalContextCreator,
    private readonly modules: ModulesContainer,
  ) {
    this.creator = stompExternalContextCreator(externalContextCreator, (type) => this.moduleKeyOf(type));
  }

  /**
   * The module of a handler's class. Nest's `getContextModuleKey` searches providers only; for a
   * controller it answers "no module", and guards, pipes and filters referenced by class
   * (`@UseGuards(AuthGuard)`, `ParseIntPipe`) would then be silently dropped.
   */
  private moduleKeyOf(type?: Function): string {
    return contextModuleKey(this.externalContextCreator, this.modules, type);
  }

  /** Guards, interceptors and pipes around a `@MessageMapping`/`@SubscribeMapping` method. */
  createHandler(instance: object, methodName: string): HandlerProxy {
    return this.create(instance, methodName, true);
  }

  /** Pipes (no guards, no interceptors) around a `@MessageExceptionHandler` method. */
  createExceptionHandler(instance: object, methodName: string): HandlerProxy {
    return this.create(instance, methodName, false);
  }

  /**
   * Nest exception filters that apply to this method, in Nest's order (`@UseFilters` on the
   * method, last listed first, then the class, then global), resolved in the handler's module.
   * The first filter whose `@Catch()` types match gets the exception, as in Nest.
   */
  createFilters(instance: object, methodName: string): FilterProxy {
    const filters = exceptionFiltersOf(this.externalContextCreator, this.moduleKeyOf(instance.constructor), instance, methodName);
    return async (exception, args, emit) => {
      const filter = filters.find(
        (f) => f.exceptionMetatypes.length === 0 || f.exceptionMetatypes.some((t) => exception instanceof t),
      );
      if (!filter) return { kind: 'none' };
      let emitted = false;
      const host = new StompArgumentsHost([
        filterClient(args[0] as object, (payload) => {
          emitted = true;
          emit(payload);
        }),
        ...args.slice(1),
      ]);
      let result: unknown;
      try {
        result = await filter.func(exception, host);
      } catch (error) {
        if (error === exception) return { kind: 'declined', filter: filter.name };
        return { kind: 'failed', filter: filter.name, global: filter.global, error };
      }
      if (result !== undefined && result !== null) return { kind: 'answered', filter: filter.name, result };
      if (emitted) return { kind: 'answered', filter: filter.name, result: undefined };
      return { kind: result === null ? 'silent' : 'unanswered', filter: filter.name };
    };
  }

  private create(instance: object, methodName: string, enhancers: boolean): HandlerProxy {
    const method = (instance as Record<string, (...args: unknown[]) => unknown>)[methodName];
    const callback = enhancers ? reportingOutcome(method) : method;
    return this.creator.create(
      instance as never,
      callback,
      methodName,
      ROUTE_ARGS_METADATA,
      this.paramsFactory,
      undefined,
      undefined,
      { guards: enhancers, interceptors: enhancers, filters: false },
      STOMP_CONTEXT_TYPE,
    ) as HandlerProxy;
  }
}

/**
 * The method, reporting its return value to the current {@link MethodOutcome}. Guards, pipes and
 * interceptors are read from the callback's metadata (and guards may read it through
 * `context.getHandler()`), so the wrapper carries the method's metadata and name.
 */
function reportingOutcome(method: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  const wrapper = function (this: unknown, ...args: unknown[]): unknown {
    const result = method.apply(this, args);
    currentOutcome.getStore()?.report(result);
    return result;
  };
  for (const key of Reflect.getOwnMetadataKeys(method)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, method), wrapper);
  }
  Object.defineProperty(wrapper, 'name', { value: method.name });
  return wrapper;
}
