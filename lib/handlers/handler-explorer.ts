import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
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
  ) {}

  explore(): HandlerMethod[] {
    const handlers: HandlerMethod[] = [];
    const seen = new Set<object>();
    const wrappers: InstanceWrapper[] = [...this.discovery.getControllers(), ...this.discovery.getProviders()];
    for (const wrapper of wrappers) {
      const instance: unknown = wrapper.instance;
      if (wrapper.isAlias || !instance || typeof instance !== 'object' || seen.has(instance)) continue;
      seen.add(instance);
      const found = this.exploreInstance(instance);
      if (found.length > 0 && !wrapper.isDependencyTreeStatic()) {
        throw new Error(
          `${found[0].label}: STOMP handlers must live in singleton-scoped classes, but ${wrapper.name} is request- or transient-scoped`,
        );
      }
      handlers.push(...found);
    }
    return handlers;
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
