import { describe, expect, it } from '@jest/globals';
import { Catch, Controller, createParamDecorator, type ExceptionFilter, Module, UseFilters } from '@nestjs/common';
import { ExternalContextCreator } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { MessageBody } from '@nestjs/websockets';
import {
  EXCEPTION_FILTERS_METADATA,
  exceptionFiltersOf,
  NestCompatError,
  ROUTE_ARGS_METADATA,
  scopedGlobalEnhancers,
  stompExternalContextCreator,
} from '../../lib/handlers/nest-compat.js';
import { StompArgumentsHost } from '../../lib/handlers/stomp-arguments-host.js';

/*
 * The Nest internals listed in lib/handlers/nest-compat.ts, checked against the installed Nest
 * (CI runs this on 11 and 12). The pipeline specs prove the behaviour built on them; these fail
 * first, and by touchpoint number, when a Nest release moves one.
 */

@Catch()
class CatchAll implements ExceptionFilter {
  catch(): null {
    return null;
  }
}

const Custom = createParamDecorator(() => 'custom');

class Decorated {
  @UseFilters(CatchAll)
  filtered(@MessageBody() body: unknown, @Custom() custom: string): [unknown, string] {
    return [body, custom];
  }
}

@Controller()
class FilteredController {
  @UseFilters(new CatchAll())
  handle(): void {}
}

@Module({ controllers: [FilteredController] })
class FilteredModule {}

describe('nest-compat: the Nest internals this library relies on', () => {
  it('touchpoint 1: @UseFilters, @MessageBody() and createParamDecorator write the metadata keys written out here', () => {
    expect(Reflect.getMetadata(EXCEPTION_FILTERS_METADATA, Decorated.prototype.filtered)).toEqual([CatchAll]);
    const params = Reflect.getMetadata(ROUTE_ARGS_METADATA, Decorated, 'filtered') as Record<string, { index: number }>;
    expect(Object.values(params).map((p) => p.index).sort()).toEqual([0, 1]);
  });

  it("touchpoints 2 to 5 exist on this Nest's ExternalContextCreator", async () => {
    const moduleRef = await Test.createTestingModule({ imports: [FilteredModule] }).compile();
    try {
      const creator = moduleRef.get(ExternalContextCreator);
      const keys: Array<Function | undefined> = [];
      const derived = stompExternalContextCreator(creator, (type) => (keys.push(type), 'module-key'));
      expect(await derived.transformToResult('kept')).toBe('kept');
      expect(derived.getContextModuleKey(FilteredController)).toBe('module-key');
      expect(keys).toEqual([FilteredController]);

      const instance = moduleRef.get(FilteredController);
      const filters = exceptionFiltersOf(creator, '', instance, 'handle');
      expect(filters.map((f) => [f.name, f.global, f.exceptionMetatypes])).toEqual([['CatchAll', false, []]]);
      expect(filters[0].func(new Error('x'), new StompArgumentsHost([]))).toBeNull();
      expect(scopedGlobalEnhancers(creator)).toEqual([]);
    } finally {
      await moduleRef.close();
    }
  });

  it('a Nest without an internal fails with NestCompatError naming the touchpoint, not a TypeError', () => {
    const bare = {} as ExternalContextCreator;
    expect(() => stompExternalContextCreator(bare, () => '')).toThrow(NestCompatError);
    expect(() => stompExternalContextCreator(bare, () => '')).toThrow(/transformToResult\(\) \(touchpoint 2 in lib\/handlers\/nest-compat\.ts/);
    expect(() => exceptionFiltersOf(bare, '', new FilteredController(), 'handle')).toThrow(/filtersContextCreator .*\(touchpoint 4 /);
    expect(() => scopedGlobalEnhancers(bare)).toThrow(/touchpoint 4 /);
  });
});

describe('StompArgumentsHost', () => {
  const client = { id: 's-1' };
  const host = new StompArgumentsHost([client, { n: 1 }, 'context', '/app/orders']);

  it("is a 'ws' host whose switchToWs() gives client, data and pattern (the destination), as Nest's gateway hosts do", () => {
    expect(host.getType()).toBe('ws');
    const ws = host.switchToWs();
    expect([ws.getClient(), ws.getData(), ws.getPattern()]).toEqual([client, { n: 1 }, '/app/orders']);
    expect(host.getArgs()).toEqual([client, { n: 1 }, 'context', '/app/orders']);
    expect(host.getArgByIndex(2)).toBe('context');
  });

  it('switchToHttp() and switchToRpc() read the same positions as Nest (no response object for an HTTP-only filter)', () => {
    const http = host.switchToHttp();
    expect([http.getRequest(), http.getResponse(), http.getNext()]).toEqual([client, { n: 1 }, 'context']);
    const rpc = host.switchToRpc();
    expect([rpc.getData(), rpc.getContext()]).toEqual([client, { n: 1 }]);
  });
});
