import { Injectable } from '@nestjs/common';
import { ExternalContextCreator } from '@nestjs/core';
import type { ExternalExceptionFilterContext } from '@nestjs/core/exceptions/external-exception-filter-context.js';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { PARAM_ARGS_METADATA } from './handler-metadata.constants.js';
import { StompParamsFactory } from './stomp-params-factory.js';

/** Handlers run in Nest's WebSocket execution context: `context.getType() === 'ws'`. */
export const STOMP_CONTEXT_TYPE = 'ws';

export type HandlerProxy = (...args: unknown[]) => Promise<unknown>;

/** The outcome of offering an exception to Nest's exception filters. */
export type FilterOutcome = { handled: false } | { handled: true; result: unknown };
export type FilterProxy = (exception: unknown, args: unknown[]) => FilterOutcome;

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
 * Two adjustments, both through public surfaces:
 * - Nest collapses an Observable result to its last value; here the Observable is kept, so each
 *   emission (after interceptors) becomes one message.
 * - Exception filters are resolved by Nest's filter context (method, class, global), but offered
 *   the exception by the caller, so that one with no filter can fall back to STOMP's own answer
 *   instead of Nest's generic "log with stack trace and rethrow".
 */
@Injectable()
export class StompContextCreator {
  private readonly creator: ExternalContextCreator;
  private readonly paramsFactory = new StompParamsFactory();

  constructor(private readonly externalContextCreator: ExternalContextCreator) {
    this.creator = Object.create(externalContextCreator, {
      transformToResult: { value: async (result: unknown) => result },
    }) as ExternalContextCreator;
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
    const moduleKey = this.externalContextCreator.getContextModuleKey(instance.constructor);
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
    const callback = (instance as Record<string, (...args: unknown[]) => unknown>)[methodName];
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
