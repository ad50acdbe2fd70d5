import { describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Inject, Module, Scope } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import {
  MessageExceptionHandler,
  MessageMapping,
  SendTo,
  SendToUser,
  StompModule,
  SubscribeMapping,
} from '../../lib/index.js';
import { startupError } from '../support/handler-fixtures.js';
import { startStompApp } from '../support/stomp-app.js';

@Controller()
class FirstController {
  @MessageMapping('/hello')
  greet() {
    return 'first';
  }
}

@Controller()
class SecondController {
  /** No leading slash: still "/hello". */
  @MessageMapping('hello')
  hello() {
    return 'second';
  }
}

@Controller()
class RoomChatController {
  @MessageMapping('/chat/{room}')
  say() {
    return 'room';
  }
}

@Controller()
class IdChatController {
  @MessageMapping('/chat/{id}')
  post() {
    return 'id';
  }
}

@Injectable()
class ProviderWithSameMapping {
  @MessageMapping('/chat/{other}')
  handle() {
    return 'provider';
  }
}

@Controller()
class BadSendToController {
  @MessageMapping('/ok')
  @SendTo('/elsewhere/news')
  send() {
    return 'x';
  }
}

@Controller()
class BadSendToUserController {
  @MessageMapping('/ok')
  @SendToUser('/app/replies')
  send() {
    return 'x';
  }
}

@Controller()
class BadExceptionHandlerController {
  @MessageMapping('/ok')
  send() {
    return 'x';
  }

  @MessageExceptionHandler()
  @SendTo('/nowhere')
  failed() {
    return 'x';
  }
}

@Controller({ scope: Scope.REQUEST })
class RequestScopedController {
  @MessageMapping('/scoped')
  scoped() {
    return 'x';
  }
}

@Controller()
class ImplicitlyScopedController {
  constructor(@Inject(REQUEST) readonly request: unknown) {}

  @MessageMapping('/implicit')
  implicit() {
    return 'x';
  }
}

@Controller({ scope: Scope.REQUEST, path: 'http-only' })
class RequestScopedHttpOnlyController {
  @Get()
  get() {
    return 'fine';
  }
}

@Controller()
class BadPatternController {
  @MessageMapping('/chat/{room')
  broken() {
    return 'x';
  }
}

@Controller()
class SameDestinationBothKindsController {
  @MessageMapping('/both')
  send() {
    return 'send';
  }

  @SubscribeMapping('/both')
  subscribe() {
    return 'subscribe';
  }
}

/** Builds and initializes an app that must start. */
async function starts(controllers: Array<new (...args: never[]) => unknown>): Promise<void> {
  @Module({ imports: [StompModule.forRoot({})], controllers })
  class OkModule {}
  const moduleRef = await Test.createTestingModule({ imports: [OkModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  await app.close();
}

describe('start-up errors', () => {
  it('refuses the same destination mapped in two controllers, naming both methods', async () => {
    const error = await startupError({}, { controllers: [FirstController, SecondController] });
    expect(error.message).toMatch(/Duplicate STOMP mapping/);
    expect(error.message).toContain('FirstController.greet');
    expect(error.message).toContain('SecondController.hello');
    expect(error.message).toContain('"/hello"');
  });

  it('refuses /chat/{room} next to /chat/{id} as ambiguous, naming both methods', async () => {
    const error = await startupError({}, { controllers: [RoomChatController, IdChatController] });
    expect(error.message).toMatch(/Ambiguous STOMP mapping/);
    expect(error.message).toContain('RoomChatController.say');
    expect(error.message).toContain('IdChatController.post');
    expect(error.message).toContain('/chat/{room}');
    expect(error.message).toContain('/chat/{id}');
  });

  it('finds mappings in providers as well', async () => {
    const error = await startupError({}, { controllers: [RoomChatController], providers: [ProviderWithSameMapping] });
    expect(error.message).toMatch(/Ambiguous STOMP mapping/);
    expect(error.message).toContain('ProviderWithSameMapping.handle');
    expect(error.message).toContain('RoomChatController.say');
  });

  it('refuses @SendTo to a destination under no broker prefix', async () => {
    const error = await startupError({}, { controllers: [BadSendToController] });
    expect(error.message).toContain('BadSendToController.send');
    expect(error.message).toContain('@SendTo("/elsewhere/news")');
    expect(error.message).toMatch(/no broker prefix \(\/topic, \/queue\)/);
  });

  it('refuses @SendToUser to a non-broker destination, and checks exception handlers too', async () => {
    const userError = await startupError({}, { controllers: [BadSendToUserController] });
    expect(userError.message).toContain('BadSendToUserController.send');
    expect(userError.message).toContain('@SendToUser("/app/replies")');
    const handlerError = await startupError({}, { controllers: [BadExceptionHandlerController] });
    expect(handlerError.message).toContain('BadExceptionHandlerController.failed');
    expect(handlerError.message).toContain('@SendTo("/nowhere")');
  });

  it('names the configured broker prefixes in that error', async () => {
    const error = await startupError(
      { broker: { kind: 'simple', prefixes: ['/exchange'] }, errorDestination: '/exchange/errors' },
      { controllers: [BadSendToController] },
    );
    expect(error.message).toContain('@SendTo("/elsewhere/news")');
    expect(error.message).toMatch(/no broker prefix \(\/exchange\)/);
  });

  it('refuses handlers in a request-scoped controller (explicitly or through REQUEST)', async () => {
    const explicit = await startupError({}, { controllers: [RequestScopedController] });
    expect(explicit.message).toContain('RequestScopedController.scoped');
    expect(explicit.message).toMatch(/singleton-scoped/);
    const implicit = await startupError({}, { controllers: [ImplicitlyScopedController] });
    expect(implicit.message).toContain('ImplicitlyScopedController.implicit');
    expect(implicit.message).toMatch(/singleton-scoped/);
  });

  it('refuses a malformed pattern, naming the method', async () => {
    const error = await startupError({}, { controllers: [BadPatternController] });
    expect(error.message).toContain('BadPatternController.broken');
    expect(error.message).toMatch(/Unclosed "\{"/);
  });

  it('starts with a request-scoped HTTP-only controller, and with the same destination for SEND and SUBSCRIBE', async () => {
    await expect(starts([RequestScopedHttpOnlyController, SameDestinationBothKindsController])).resolves.toBeUndefined();
  });
});

@Controller()
class MisspeltPlaceholderController {
  @MessageMapping('/rooms/{room}')
  @SendTo('/topic/rooms/{rooom}')
  say() {
    return 'x';
  }
}

@Controller()
class MisspeltUserPlaceholderController {
  @MessageMapping('/inbox/{box}')
  @SendToUser('/queue/{bx}')
  say() {
    return 'x';
  }
}

@Controller()
class PrefixedMappingController {
  @MessageMapping('/app/hello')
  hello() {
    return 'x';
  }
  @MessageMapping('/rooms/{room}')
  @SendTo('/topic/rooms/{room}')
  room() {
    return 'x';
  }
}

describe('start-up checks a newcomer trips over', () => {
  it('refuses a @SendTo placeholder that the mapping does not define, naming the variables it has', async () => {
    const error = await startupError({}, { controllers: [MisspeltPlaceholderController] });
    expect(error.message).toBe(
      'MisspeltPlaceholderController.say: "/topic/rooms/{rooom}" uses {rooom}, which its mapping "/rooms/{room}" does not define (its variables: {room})',
    );
  });

  it('refuses a @SendToUser placeholder that the mapping does not define', async () => {
    const error = await startupError({}, { controllers: [MisspeltUserPlaceholderController] });
    expect(error.message).toBe(
      'MisspeltUserPlaceholderController.say: "/queue/{bx}" uses {bx}, which its mapping "/inbox/{box}" does not define (its variables: {box})',
    );
  });

  it('logs every mapping, and warns when a pattern repeats the application prefix', async () => {
    const running = await startStompApp({}, { controllers: [PrefixedMappingController] });
    try {
      expect(running.logs.at('log').filter((l) => l.startsWith('Mapped /'))).toEqual([
        'Mapped /app/app/hello (@MessageMapping) to PrefixedMappingController.hello StompMessageHandler',
        'Mapped /app/rooms/{room} (@MessageMapping) to PrefixedMappingController.room StompMessageHandler',
      ]);
      expect(running.logs.at('warn')).toEqual([
        'PrefixedMappingController.hello: @MessageMapping("/app/hello") starts with the application prefix /app, which clients already add: ' +
          'it is mapped at /app/app/hello. Write @MessageMapping("/hello") to map /app/hello StompMessageHandler',
      ]);
    } finally {
      await running.close();
    }
  });
});
