import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryService, ExternalContextCreator, MetadataScanner } from '@nestjs/core';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import type { ErrorType } from './decorators/message-exception-handler.decorator.js';
import type { SendToUserMetadata } from './decorators/send-to.decorator.js';
import { combinePatterns, DestinationPattern } from './destination-pattern.js';
import {
  MESSAGE_EXCEPTION_HANDLER_METADATA,
  MESSAGE_MAPPING_METADATA,
  SEND_TO_METADATA,
  SEND_TO_USER_METADATA,
  SUBSCRIBE_MAPPING_METADATA,
} from './handler-metadata.constants.js';
import { explorableInstance, scopedGlobalEnhancers, singletonScopeProblem, type NestInstanceWrapper } from './nest-compat.js';

/** Where a method's return value goes; `undefined` fields mean "not annotated". */
export interface ReturnTarget {
  sendTo?: string[];
  sendToUser?: SendToUserMetadata;
}

export interface ExceptionHandlerMethod extends ReturnTarget {
  instance: object;
  methodName: string;
  label: string;
  errorTypes: ErrorType[];
}

export interface HandlerMethod extends ReturnTarget {
  kind: 'message' | 'subscribe';
  patterns: DestinationPattern[];
  instance: object;
  methodName: string;
  /** `ClassName.method`, for logs and start-up errors. */
  label: string;
  /** The `@MessageExceptionHandler` methods of the same class. */
  exceptionHandlers: ExceptionHandlerMethod[];
}

/**
 * Finds `@MessageMapping`, `@SubscribeMapping` and `@MessageExceptionHandler` methods in every
 * controller and provider, once, at bootstrap (the metadata explorer of `@nestjs/websockets`
 * and `@nestjs/microservices`, fed by Nest's `DiscoveryService`).
 */
@Injectable()
export class HandlerExplorer {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    @Inject(STOMP_OPTIONS) private readonly options: ResolvedStompOptions,
    private readonly externalContextCreator: ExternalContextCreator,
  ) {}

  /**
   * Every handler method. Start-up errors, each naming its cause, for what would otherwise
   * misbehave silently (STOMP messages have no HTTP request, so nothing runs per request):
   * - a request- or transient-scoped global guard, interceptor, pipe or filter (`APP_GUARD` with
   *   `scope: Scope.REQUEST`): Nest would skip it for every message, a guard bypass;
   * - handlers in a transient-scoped class: they would run on an instance without dependencies;
   * - handlers in a request-scoped class, or one made request-scoped by a dependency (the error
   *   names the chain down to the request-scoped provider).
   */
  explore(): HandlerMethod[] {
    const handlers: HandlerMethod[] = [];
    const scopeProblems: string[] = [];
    const seen = new Set<object>();
    const wrappers: NestInstanceWrapper[] = [...this.discovery.getControllers(), ...this.discovery.getProviders()];
    for (const wrapper of wrappers) {
      const instance = explorableInstance(wrapper);
      if (!instance || seen.has(instance)) continue;
      seen.add(instance);
      const found = this.exploreInstance(instance);
      if (found.length === 0) continue;
      const problem = singletonScopeProblem(wrapper);
      if (problem) scopeProblems.push(`${found[0].label}: STOMP handlers must live in singleton-scoped classes, but ${problem}`);
      handlers.push(...found);
    }
    if (handlers.length > 0) this.assertNoScopedGlobalEnhancers(handlers[0].label);
    if (scopeProblems.length > 0) throw new Error(scopeProblems.join('\n'));
    return handlers;
  }

  private assertNoScopedGlobalEnhancers(label: string): void {
    const scoped = scopedGlobalEnhancers(this.externalContextCreator);
    if (scoped.length === 0) return;
    throw new Error(
      `STOMP handlers (${label}, …) cannot run with request- or transient-scoped global enhancers: ${scoped.join(', ')}. ` +
        'A STOMP message has no HTTP request, so Nest would skip them for every message. Make them singleton-scoped ' +
        '(read the request from the ExecutionContext instead of injecting REQUEST).',
    );
  }

  private exploreInstance(instance: object): HandlerMethod[] {
    const type = instance.constructor;
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
    const typePatterns = (Reflect.getMetadata(MESSAGE_MAPPING_METADATA, type) as string[] | undefined) ?? [''];
    const typeTarget = this.returnTarget(type);
    const separator = this.options.pathSeparator;
    const handlers: HandlerMethod[] = [];
    const exceptionHandlers: ExceptionHandlerMethod[] = [];

    for (const methodName of this.scanner.getAllMethodNames(prototype)) {
      const method = prototype[methodName];
      if (typeof method !== 'function') continue;
      const label = `${type.name}.${methodName}`;
      const methodTarget = this.returnTarget(method);
      // Method-level @SendTo/@SendToUser replace the class-level ones (Spring's rule).
      const target = methodTarget.sendTo || methodTarget.sendToUser ? methodTarget : typeTarget;
      const errorTypes = Reflect.getMetadata(MESSAGE_EXCEPTION_HANDLER_METADATA, method) as ErrorType[] | undefined;
      if (errorTypes) exceptionHandlers.push({ instance, methodName, label, errorTypes, ...target });
      for (const kind of ['message', 'subscribe'] as const) {
        const key = kind === 'message' ? MESSAGE_MAPPING_METADATA : SUBSCRIBE_MAPPING_METADATA;
        const methodPatterns = Reflect.getMetadata(key, method) as string[] | undefined;
        if (!methodPatterns) continue;
        const patterns: DestinationPattern[] = [];
        for (const t of typePatterns) {
          for (const m of methodPatterns) {
            const source = combinePatterns(t, m, separator);
            try {
              patterns.push(new DestinationPattern(source, separator));
            } catch (err) {
              throw new Error(`${label}: ${(err as Error).message}`);
            }
          }
        }
        handlers.push({ kind, patterns, instance, methodName, label, exceptionHandlers, ...target });
      }
    }
    return handlers;
  }

  private returnTarget(target: object): ReturnTarget {
    return {
      sendTo: Reflect.getMetadata(SEND_TO_METADATA, target) as string[] | undefined,
      sendToUser: Reflect.getMetadata(SEND_TO_USER_METADATA, target) as SendToUserMetadata | undefined,
    };
  }
}
