import type { FactoryProvider, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import { DefaultSimpUserRegistry } from './default-simp-user-registry.js';
import { SimpUserRegistry } from './simp-user-registry.js';
import { MultiServerUserRegistry } from './multi-server-user-registry.js';

/**
 * The `userRegistry` class, created once in `StompModule`'s scope with its dependencies injected.
 * @throws Error at start-up, naming the class, when it cannot be created (a dependency not visible
 *   to `StompModule`, constructor parameters without `@Injectable()`, a throwing constructor).
 */
async function createUserRegistry(type: Type<SimpUserRegistry>, moduleRef: ModuleRef): Promise<SimpUserRegistry> {
  // Without a class decorator TypeScript emits no constructor types, and Nest would inject
  // `undefined` for every parameter without a word.
  if (type.length > 0 && Reflect.getMetadata('design:paramtypes', type) === undefined) {
    throw new Error(
      `userRegistry: ${type.name} could not be created: its constructor takes parameters but the class has no @Injectable() decorator, so their types are unknown`,
    );
  }
  try {
    return await moduleRef.create(type);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `userRegistry: ${type.name} could not be created: ${reason.trim()} (it is created in StompModule's scope: make its dependencies global, or import their module with StompModule.forRootAsync({ imports }))`,
    );
  }
}

/**
 * `SimpUserRegistry`, the injection token of the user registry: the `userRegistry` option's
 * class, else this server's {@link DefaultSimpUserRegistry}. Tests may also replace it with
 * `Test.createTestingModule(…).overrideProvider(SimpUserRegistry)`.
 */
export const userRegistryProvider: FactoryProvider<SimpUserRegistry> = {
  provide: SimpUserRegistry,
  useFactory: (options: ResolvedStompOptions, moduleRef: ModuleRef, local: DefaultSimpUserRegistry) => {
    const type = options.userRegistry;
    // Several instances behind a relay: Spring's MultiServerUserRegistry over the local one.
    const broadcast = options.relay?.userRegistryBroadcast;
    if (type === undefined && options.relay !== undefined && broadcast !== false) {
      return new MultiServerUserRegistry(local, 2 * options.relay.userRegistryBroadcastInterval);
    }
    if (type === undefined || type === DefaultSimpUserRegistry) return local;
    return createUserRegistry(type, moduleRef);
  },
  inject: [STOMP_OPTIONS, ModuleRef, DefaultSimpUserRegistry],
};
