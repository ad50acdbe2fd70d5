import { Inject, Injectable, type OnModuleInit, type Type } from '@nestjs/common';
import { DiscoveryService, ModuleRef } from '@nestjs/core';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import type { InterceptorRef } from '../module/stomp-options.js';
import { AuthenticateInterceptor } from './authenticate-interceptor.js';
import { AuthorizationInterceptor } from './authorization.js';
import type { StompChannel, StompChannelInterceptor } from './channel-interceptor.js';
import { interceptedChannels } from './channel-interceptor.decorator.js';
import { explorableInstance, singletonScopeProblem } from '../handlers/nest-compat.js';

/** A readable name for start-up errors. */
function nameOf(ref: InterceptorRef | object): string {
  return typeof ref === 'function' ? ref.name : (ref.constructor?.name ?? 'an interceptor object');
}

/**
 * The interceptors of the three channels (Spring's `ChannelRegistration` of
 * `clientInboundChannel`, `clientOutboundChannel` and `brokerChannel`), in the order they run:
 * 1. on `clientInbound`, the `authenticator` (or `authenticate`) option as an
 *    {@link AuthenticateInterceptor}, when set (a class resolved as in 2);
 * 2. the entries of the `interceptors` option, in the order given: a class is the provider of
 *    that class when some module provides it, otherwise an instance created once with its
 *    constructor dependencies injected (`ModuleRef.create`); an object is used as is;
 * 3. providers decorated with `@StompChannelInterceptor(channel)`, in Nest's discovery order
 *    (modules in import order, providers in the order listed); one already listed in options
 *    for that channel is not added twice.
 * 4. on `clientInbound`, the `authorization` rules as an {@link AuthorizationInterceptor}, when
 *    there are any (last, so they judge the destination as it will be routed); a class given as
 *    a rule's `access` is resolved as the option's interceptor classes are.
 *
 * The arrays are filled once, in `onModuleInit` (before any connection is accepted, which
 * happens in `onApplicationBootstrap`), and never replaced, so a reference taken earlier sees
 * them. An empty array means the channel costs nothing: callers skip `applyInterceptors`.
 * @throws Error at start-up when an interceptor is request- or transient-scoped (it would need
 *   a request that STOMP messages do not have), or when a class listed in options cannot be
 *   created (a dependency not visible to `StompModule`); the message names the class.
 */
@Injectable()
export class ChannelInterceptors implements OnModuleInit {
  readonly clientInbound: readonly StompChannelInterceptor[] = [];
  readonly clientOutbound: readonly StompChannelInterceptor[] = [];
  readonly broker: readonly StompChannelInterceptor[] = [];
  /** The authenticator as the first `clientInbound` interceptor, also asked by endpoints about handshakes. */
  authentication?: AuthenticateInterceptor;
  private initialized = false;

  constructor(
    @Inject(STOMP_OPTIONS) private readonly options: ResolvedStompOptions,
    private readonly discovery: DiscoveryService,
    private readonly moduleRef: ModuleRef,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.initialized) return;
    this.initialized = true;
    const lists: Record<StompChannel, StompChannelInterceptor[]> = {
      clientInbound: this.clientInbound as StompChannelInterceptor[],
      clientOutbound: this.clientOutbound as StompChannelInterceptor[],
      broker: this.broker as StompChannelInterceptor[],
    };
    const found: Record<StompChannel, StompChannelInterceptor[]> = { clientInbound: [], clientOutbound: [], broker: [] };
    const created = new Map<Type<unknown>, unknown>();
    const problems: string[] = [];
    const authenticator = this.options.authenticator;
    if (authenticator !== undefined) {
      try {
        this.authentication = new AuthenticateInterceptor(
          typeof authenticator === 'function' ? await this.instanceOf(authenticator, created) : authenticator,
        );
        found.clientInbound.push(this.authentication);
      } catch (err) {
        problems.push(`authenticator: ${nameOf(authenticator)} could not be created: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    for (const channel of ['clientInbound', 'clientOutbound', 'broker'] as const) {
      for (const ref of this.options.interceptors[channel]) {
        try {
          found[channel].push(typeof ref === 'function' ? await this.instanceOf(ref, created) : ref);
        } catch (err) {
          problems.push(
            `interceptors.${channel}: ${nameOf(ref)} could not be created: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
    }
    for (const wrapper of this.discovery.getProviders()) {
      const instance = explorableInstance(wrapper);
      // The class of what the provider gave (`useClass`, `useValue`, `useFactory` alike).
      const channels = interceptedChannels(instance?.constructor);
      if (!instance || channels.length === 0) continue;
      const scope = singletonScopeProblem(wrapper);
      if (scope !== undefined) {
        problems.push(`@StompChannelInterceptor: channel interceptors run without an HTTP request and must be singletons, but ${scope}`);
        continue;
      }
      if (typeof (instance as Partial<StompChannelInterceptor>).preSend !== 'function') {
        problems.push(`@StompChannelInterceptor: ${String(wrapper.name)} has no preSend(frame, context) method`);
        continue;
      }
      for (const channel of channels) {
        if (!found[channel].includes(instance as StompChannelInterceptor)) found[channel].push(instance as StompChannelInterceptor);
      }
    }
    // Last, so that the rules judge the destination as it will be routed.
    const authorization = this.options.authorization;
    if (authorization) found.clientInbound.push(await AuthorizationInterceptor.create(authorization, (type) => this.instanceOf(type, created), problems));
    if (problems.length > 0) throw new Error(`Invalid STOMP channel interceptors:\n  - ${problems.join('\n  - ')}`);
    for (const channel of ['clientInbound', 'clientOutbound', 'broker'] as const) lists[channel].push(...found[channel]);
  }

  /** The provider of `type` if a module provides it, else one instance created with its dependencies. */
  private async instanceOf<T extends object>(type: Type<T>, created: Map<Type<unknown>, unknown>): Promise<T> {
    for (const wrapper of this.discovery.getProviders()) {
      const provided = explorableInstance(wrapper);
      if (provided?.constructor !== type) continue;
      const scope = singletonScopeProblem(wrapper);
      if (scope !== undefined) throw new Error(`it runs without an HTTP request and must be a singleton, but ${scope}`);
      return provided as T;
    }
    let instance = created.get(type) as T | undefined;
    if (!instance) {
      // Without a class decorator TypeScript emits no constructor types, and Nest would inject
      // `undefined` for every parameter without a word.
      if (type.length > 0 && Reflect.getMetadata('design:paramtypes', type) === undefined) {
        throw new Error('its constructor takes parameters but the class has no @Injectable() decorator, so their types are unknown');
      }
      try {
        instance = await this.moduleRef.create(type);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new Error(
          `${reason.trim()} (a class listed in options and provided by no module is created in StompModule's scope: make its dependencies global, import their module with StompModule.forRootAsync({ imports }), or list the class in the providers of a module that has them)`,
        );
      }
      created.set(type, instance);
    }
    return instance;
  }
}
