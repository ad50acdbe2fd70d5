import { Scope, type ArgumentsHost } from '@nestjs/common';
import type { DiscoveryService, ExternalContextCreator, ModulesContainer } from '@nestjs/core';

/**
 * Every place where nestjs-stomp depends on NestJS internals, and no other file does.
 *
 * Checked against `@nestjs/core` 11.2.12 (CommonJS) and 12.5.1 (ESM); CI runs both majors
 * (`.ci/run`). When a Nest release moves one of these, the failure names the touchpoint (see
 * {@link NestCompatError}) and the fix stays in this file.
 *
 * Public API the rest of the library uses, so not listed below: `ExternalContextCreator.create`
 * (guards, interceptors and pipes around a method in a given context type, as `@nestjs/graphql`
 * uses it), `DiscoveryService`, `MetadataScanner`, `ModulesContainer`, `ParamsFactory` (exported
 * from the `@nestjs/core` root), and `ArgumentsHost` (`StompArgumentsHost` is our own, instead of
 * Nest's internal `ExecutionContextHost`).
 *
 * Touchpoints, and why no public API does each:
 * 1. Metadata keys `'__routeArguments__'` (parameter decorators: our `@Payload()`, Nest's
 *    `createParamDecorator`, `@MessageBody()`) and `'__exceptionFilters__'` (`@UseFilters`).
 *    Nest exports them (`ROUTE_ARGS_METADATA`, `EXCEPTION_FILTERS_METADATA`) only from deep paths
 *    (`@nestjs/common/constants`; in 12 `@nestjs/common/internal`), so they are written out here.
 * 2. `ExternalContextCreator.transformToResult`, shadowed on an `Object.create` of Nest's instance:
 *    `create()` collapses an Observable result to its last value and has no option to keep it;
 *    STOMP sends each emission as one message.
 * 3. `ExternalContextCreator.getContextModuleKey`, shadowed the same way, and `Module.controllers`
 *    (the `Module` class is internal in 12): `create()` finds a handler's module among providers
 *    only and takes no module key, so for a controller it finds none and silently drops guards,
 *    pipes and filters referenced by class (`@UseGuards(AuthGuard)`).
 * 4. The private `ExternalContextCreator.filtersContextCreator` (an `ExternalExceptionFilterContext`),
 *    its protected `moduleContext` and its `getGlobalMetadata()` / `createConcreteContext()`:
 *    resolves the filters that apply to a handler (method, class, global; class references in the
 *    handler's module). The public alternative, `create(…, { filters: true })`, hands unmatched
 *    exceptions to Nest's `ExternalExceptionsHandler` (logs with a stack trace, rethrows) and does
 *    not say which filter answered or how, so no STOMP ERROR fallback and no one-line warning.
 * 5. The private `config` (`ApplicationConfig`) of that filter context, and its
 *    `getGlobalRequestGuards/Interceptors/Pipes/Filters()`: request-scoped global enhancers, which
 *    Nest skips for anything without an HTTP request (a guard bypass), become a start-up error.
 *    `ApplicationConfig` is a public class but not an injectable provider.
 * 6. `InstanceWrapper` members beyond `instance` and `name` (what Nest's DiscoveryService docs
 *    show of an entry): `isAlias`, `isTransient`, `scope`, `isDependencyTreeStatic()`,
 *    `getCtorMetadata()`, `getPropertiesMetadata()`, `getEnhancersMetadata()`. The class is
 *    internal (12 exports it only from `@nestjs/core/internal`); its type is reached as
 *    {@link NestInstanceWrapper}. Used to skip alias providers and to name why a class holding
 *    handlers or channel interceptors is not a singleton.
 */

/** Touchpoint 1: Nest's `ROUTE_ARGS_METADATA` (`@nestjs/websockets`' `PARAM_ARGS_METADATA`). */
export const ROUTE_ARGS_METADATA = '__routeArguments__';
/** Touchpoint 1: Nest's `EXCEPTION_FILTERS_METADATA`, written by `@UseFilters`. */
export const EXCEPTION_FILTERS_METADATA = '__exceptionFilters__';

/** A provider or controller as `DiscoveryService` returns it (Nest's `InstanceWrapper`). */
export type NestInstanceWrapper = ReturnType<DiscoveryService['getProviders']>[number];

/** A Nest release no longer has an internal this library relies on. */
export class NestCompatError extends Error {
  constructor(touchpoint: number, what: string) {
    super(
      `nestjs-stomp cannot run on this @nestjs/core: ${what} (touchpoint ${touchpoint} in lib/handlers/nest-compat.ts; ` +
        'checked against @nestjs/core 11 and 12)',
    );
    this.name = 'NestCompatError';
  }
}

/**
 * Touchpoint 3. The key of the module that declares `type`: Nest's own lookup (providers), else
 * the module whose controllers hold it; `''` for none (Nest's "no module").
 */
export function contextModuleKey(creator: ExternalContextCreator, modules: ModulesContainer, type?: Function): string {
  const key = creator.getContextModuleKey(type);
  if (key || !type) return key;
  for (const [moduleKey, moduleRef] of modules.entries()) {
    if (moduleRef.controllers.has(type)) return moduleKey;
  }
  return key;
}

/**
 * Touchpoints 2 and 3. Nest's context creator, except that `create()` keeps an Observable result
 * as it is and finds the module of a handler's class with `moduleKeyOf`.
 */
export function stompExternalContextCreator(
  creator: ExternalContextCreator,
  moduleKeyOf: (type?: Function) => string,
): ExternalContextCreator {
  for (const name of ['transformToResult', 'getContextModuleKey'] as const) {
    if (typeof creator[name] !== 'function') throw new NestCompatError(name === 'transformToResult' ? 2 : 3, `ExternalContextCreator has no ${name}()`);
  }
  return Object.create(creator, {
    transformToResult: { value: async (result: unknown) => result },
    getContextModuleKey: { value: moduleKeyOf },
  }) as ExternalContextCreator;
}

/** One exception filter that applies to a handler, with what the logs call it. */
export interface NestExceptionFilter {
  /** The filter's class name, for logs. */
  name: string;
  /** Registered with `useGlobalFilters` or `APP_FILTER`. */
  global: boolean;
  /** The `@Catch()` types; empty catches everything. */
  exceptionMetatypes: Array<Function>;
  /** The filter's `catch`, bound to its instance. */
  func(exception: unknown, host: ArgumentsHost): unknown;
}

/** The parts of Nest's `ExternalExceptionFilterContext` used here. */
interface FilterContext {
  moduleContext?: string;
  config?: GlobalRequestEnhancers;
  getGlobalMetadata(): unknown[];
  createConcreteContext(metadata: unknown[]): Array<Pick<NestExceptionFilter, 'func' | 'exceptionMetatypes'>>;
}

/** The global enhancers Nest keeps per request (`ApplicationConfig`). */
interface GlobalRequestEnhancers {
  getGlobalRequestGuards?(): NestInstanceWrapper[];
  getGlobalRequestInterceptors?(): NestInstanceWrapper[];
  getGlobalRequestPipes?(): NestInstanceWrapper[];
  getGlobalRequestFilters?(): NestInstanceWrapper[];
}

/** Touchpoint 4. */
function filterContextOf(creator: ExternalContextCreator): FilterContext {
  const context = (creator as unknown as { filtersContextCreator?: Partial<FilterContext> }).filtersContextCreator;
  if (typeof context?.getGlobalMetadata !== 'function' || typeof context.createConcreteContext !== 'function') {
    throw new NestCompatError(4, 'ExternalContextCreator has no filtersContextCreator with getGlobalMetadata() and createConcreteContext()');
  }
  return context as FilterContext;
}

/**
 * Touchpoints 1 and 4. The Nest exception filters that apply to `instance[methodName]`, in Nest's
 * order: `@UseFilters` on the method (last listed first), then on the class, then global;
 * filters referenced by class are resolved in `moduleKey`. The first whose `exceptionMetatypes`
 * match gets an exception, as in Nest.
 */
export function exceptionFiltersOf(
  creator: ExternalContextCreator,
  moduleKey: string,
  instance: object,
  methodName: string,
): NestExceptionFilter[] {
  const context = filterContextOf(creator);
  const callback = (instance as Record<string, unknown>)[methodName] as object;
  context.moduleContext = moduleKey;
  const concrete = (metadata: unknown, global: boolean): NestExceptionFilter[] =>
    (Array.isArray(metadata) ? metadata : []).flatMap((filter) =>
      context.createConcreteContext([filter]).map((f) => ({ ...f, name: filterName(filter), global })),
    );
  return [
    ...concrete(context.getGlobalMetadata(), true),
    ...concrete(Reflect.getMetadata(EXCEPTION_FILTERS_METADATA, instance.constructor), false),
    ...concrete(Reflect.getMetadata(EXCEPTION_FILTERS_METADATA, callback), false),
  ].reverse();
}

function filterName(filter: unknown): string {
  if (typeof filter === 'function') return filter.name || 'anonymous filter';
  const type = (filter as { constructor?: { name?: string } } | null)?.constructor;
  return type?.name || 'anonymous filter';
}

/**
 * Touchpoint 5. The request- or transient-scoped global enhancers, as `guard Name`, `pipe Name`…;
 * empty when there are none (or the Nest release keeps none per request).
 */
export function scopedGlobalEnhancers(creator: ExternalContextCreator): string[] {
  const config = filterContextOf(creator).config;
  if (!config) return [];
  return [
    ...(config.getGlobalRequestGuards?.() ?? []).map((w) => `guard ${w.name}`),
    ...(config.getGlobalRequestInterceptors?.() ?? []).map((w) => `interceptor ${w.name}`),
    ...(config.getGlobalRequestPipes?.() ?? []).map((w) => `pipe ${w.name}`),
    ...(config.getGlobalRequestFilters?.() ?? []).map((w) => `filter ${w.name}`),
  ];
}

/** Touchpoint 6. The instance to explore for handlers, or `undefined` (an alias, or not an object yet). */
export function explorableInstance(wrapper: NestInstanceWrapper): object | undefined {
  const instance: unknown = wrapper.instance;
  if (wrapper.isAlias || !instance || typeof instance !== 'object') return undefined;
  return instance;
}

/** Touchpoint 6. Why a class holding handlers cannot be a singleton, or `undefined` if it is one. */
export function singletonScopeProblem(wrapper: NestInstanceWrapper): string | undefined {
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
function requestScopedChain(wrapper: NestInstanceWrapper, visited: Set<NestInstanceWrapper>): string[] | undefined {
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
