import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable } from '@nestjs/common';
import { ExternalContextCreator, ModulesContainer } from '@nestjs/core';
import type { ExternalExceptionFilterContext } from '@nestjs/core/exceptions/external-exception-filter-context.js';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { isObservable } from 'rxjs';
import { PARAM_ARGS_METADATA } from './handler-metadata.constants.js';
import { StompParamsFactory } from './stomp-params-factory.js';

/** Handlers run in Nest's WebSocket execution context: `context.getType() === 'ws'`. */
export const STOMP_CONTEXT_TYPE = 'ws';

export type HandlerProxy = (...args: unknown[]) => Promise<unknown>;

/** The outcome of offering an exception to Nest's exception filters. */
export type FilterOutcome = { handled: false } | { handled: true; result: unknown };
export type FilterProxy = (exception: unknown, args: unknown[]) => FilterOutcome;

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

interface FilterMetadata {
  func: (exception: unknown, host: ExecutionContextHost) => unknown;
  exceptionMetatypes: Array<new (...args: never[]) => unknown>;
}

/**
 * Wraps handler methods with Nest's own machinery, as `@nestjs/websockets` does for gateways:
 * guards, then interceptors, then pipes per parameter, then the method, through Nest's public
 * `ExternalContextCreator` in the `'ws'` context. Arguments are `[session, payload, context,
 * destination]`, so `switchToWs()` gives the session as client and the payload as data.
 *
 * Adjustments, all through public surfaces:
 * - Nest collapses an Observable result to its last value; here the Observable is kept, so each
 *   emission (after interceptors) becomes one message.
 * - Exception filters are resolved by Nest's filter context (method, class, global), but offered
 *   the exception by the caller, so that one with no filter can fall back to STOMP's own answer
 *   instead of Nest's generic "log with stack trace and rethrow".
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
    this.creator = Object.create(externalContextCreator, {
      transformToResult: { value: async (result: unknown) => result },
      getContextModuleKey: { value: (type?: Function) => this.moduleKeyOf(type) },
    }) as ExternalContextCreator;
  }

  /**
   * The module of a handler's class. Nest's `getContextModuleKey` searches providers only; for a
   * controller it answers "no module", and guards, pipes and filters referenced by class
   * (`@UseGuards(AuthGuard)`, `ParseIntPipe`) would then be silently dropped.
   */
  private moduleKeyOf(type?: Function): string {
    const key = this.externalContextCreator.getContextModuleKey(type);
    if (key || !type) return key;
    for (const [moduleKey, moduleRef] of this.modules.entries()) {
      if (moduleRef.controllers.has(type)) return moduleKey;
    }
    return key;
  }

  /** Guards, interceptors and pipes around a `@MessageMapping`/`@SubscribeMapping` method. */
  createHandler(instance: object, methodName: string): HandlerProxy {
    return this.create(instance, methodName, true);
  }

  /** Pipes (no guards, no interceptors) around a `@MessageExceptionHandler` method. */
  createExceptionHandler(instance: object, methodName: string): HandlerProxy {
    return this.create(instance, methodName, false);
  }

  /** Nest exception filters that apply to this method: `@UseFilters` on method and class, then global. */
  createFilters(instance: object, methodName: string): FilterProxy {
    const context = (this.externalContextCreator as unknown as { filtersContextCreator: ExternalExceptionFilterContext })
      .filtersContextCreator;
    const moduleKey = this.moduleKeyOf(instance.constructor);
    const callback = (instance as Record<string, (...args: unknown[]) => unknown>)[methodName];
    const handler = context.create(instance, callback as never, moduleKey);
    const filters = ((handler as unknown as { filters?: FilterMetadata[] }).filters ?? []).slice();
    return (exception, args) => {
      const filter = filters.find(
        (f) => f.exceptionMetatypes.length === 0 || f.exceptionMetatypes.some((t) => exception instanceof t),
      );
      if (!filter) return { handled: false };
      const host = new ExecutionContextHost(args);
      host.setType(STOMP_CONTEXT_TYPE);
      return { handled: true, result: filter.func(exception, host) };
    };
  }

  private create(instance: object, methodName: string, enhancers: boolean): HandlerProxy {
    const method = (instance as Record<string, (...args: unknown[]) => unknown>)[methodName];
    const callback = enhancers ? reportingOutcome(method) : method;
    return this.creator.create(
      instance as never,
      callback,
      methodName,
      PARAM_ARGS_METADATA,
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
