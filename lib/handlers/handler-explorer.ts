import { Inject, Injectable, Scope } from '@nestjs/common';
import { DiscoveryService, ExternalContextCreator, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
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
    const wrappers: InstanceWrapper[] = [...this.discovery.getControllers(), ...this.discovery.getProviders()];
    for (const wrapper of wrappers) {
      const instance: unknown = wrapper.instance;
      if (wrapper.isAlias || !instance || typeof instance !== 'object' || seen.has(instance)) continue;
      seen.add(instance);
      const found = this.exploreInstance(instance);
      if (found.length === 0) continue;
      const problem = scopeProblem(wrapper);
      if (problem) scopeProblems.push(`${found[0].label}: STOMP handlers must live in singleton-scoped classes, but ${problem}`);
      handlers.push(...found);
    }
    if (handlers.length > 0) this.assertNoScopedGlobalEnhancers(handlers[0].label);
    if (scopeProblems.length > 0) throw new Error(scopeProblems.join('\n'));
    return handlers;
  }

  private assertNoScopedGlobalEnhancers(label: string): void {
    const config = (this.externalContextCreator as unknown as { guardsContextCreator?: { config?: GlobalRequestEnhancers } })
      .guardsContextCreator?.config;
    if (!config) return;
    const scoped = [
      ...(config.getGlobalRequestGuards?.() ?? []).map((w) => `guard ${w.name}`),
      ...(config.getGlobalRequestInterceptors?.() ?? []).map((w) => `interceptor ${w.name}`),
      ...(config.getGlobalRequestPipes?.() ?? []).map((w) => `pipe ${w.name}`),
      ...(config.getGlobalRequestFilters?.() ?? []).map((w) => `filter ${w.name}`),
    ];
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

/** The global enhancers Nest keeps per request (`ApplicationConfig`, Nest 11 and 12). */
interface GlobalRequestEnhancers {
  getGlobalRequestGuards?(): InstanceWrapper[];
  getGlobalRequestInterceptors?(): InstanceWrapper[];
  getGlobalRequestPipes?(): InstanceWrapper[];
  getGlobalRequestFilters?(): InstanceWrapper[];
}

/** Why a class holding handlers cannot be a singleton, or `undefined` if it is one. */
function scopeProblem(wrapper: InstanceWrapper): string | undefined {
  if (wrapper.isTransient) {
    return `${wrapper.name} is transient-scoped (Scope.TRANSIENT): its handlers would run on an instance without its dependencies`;
  }
  if (wrapper.isDependencyTreeStatic()) return undefined;
  if (wrapper.scope === Scope.REQUEST) return `${wrapper.name} is request-scoped (Scope.REQUEST)`;
  const chain = requestScopedChain(wrapper, new Set());
  return chain
    ? `${wrapper.name} is request-scoped through its dependency ${chain.slice(1).join(' → ')} (${chain[chain.length - 1]} is request-scoped)`
    : `${wrapper.name} is request-scoped through one of its dependencies`;
}

/** The path from `wrapper` down to a request-scoped provider it depends on (constructor, property or enhancer). */
function requestScopedChain(wrapper: InstanceWrapper, visited: Set<InstanceWrapper>): string[] | undefined {
  if (visited.has(wrapper)) return undefined;
  visited.add(wrapper);
  if (wrapper.scope === Scope.REQUEST) return [String(wrapper.name)];
  const dependencies = [
    ...(wrapper.getCtorMetadata() ?? []),
    ...(wrapper.getPropertiesMetadata() ?? []).map((p) => p.wrapper),
    ...(wrapper.getEnhancersMetadata() ?? []),
  ];
  for (const dependency of dependencies) {
    if (!dependency || dependency.isDependencyTreeStatic()) continue;
    const chain = requestScopedChain(dependency, visited);
    if (chain) return [String(wrapper.name), ...chain];
  }
  return undefined;
}
