import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  BadRequestException,
  Catch,
  Controller,
  ForbiddenException,
  Get,
  HttpException,
  HttpStatus,
  Injectable,
  Scope,
  UseFilters,
  UseGuards,
  UsePipes,
  ValidationPipe,
  type ArgumentsHost,
  type CanActivate,
  type ExceptionFilter,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, BaseExceptionFilter, HttpAdapterHost } from '@nestjs/core';
import { BaseWsExceptionFilter, WsException } from '@nestjs/websockets';
import { IsString, Length } from 'class-validator';
import { finalize, interval, take } from 'rxjs';
import { DestinationVariable, MessageMapping, Payload, SubscribeMapping } from '../../lib/index.js';
import { MessageConverter, MessageConversionError } from '../../lib/messaging/message-converter.js';
import { barrier, connectAs, hasStack, inboxOf, json, sendAndWait, startupError } from '../support/handler-fixtures.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import {
  Inbox,
  connectClient,
  subscribeConfirmed,
  unsubscribeConfirmed,
  withTimeout,
  type TestClient,
} from '../support/stomp-client.js';

// ---- fixtures -----------------------------------------------------------------------------

class WidgetDto {
  @IsString()
  @Length(2, 10)
  name!: string;
}

@Injectable()
class DenyGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/** Nest's documented catch-everything HTTP filter (docs.nestjs.com/exception-filters), unchanged. */
@Catch()
class AllExceptionsFilter implements ExceptionFilter {
  constructor(private readonly httpAdapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const { httpAdapter } = this.httpAdapterHost;
    const ctx = host.switchToHttp();
    const httpStatus = exception instanceof HttpException ? exception.getStatus() : HttpStatus.INTERNAL_SERVER_ERROR;
    const responseBody = {
      statusCode: httpStatus,
      timestamp: new Date().toISOString(),
      path: httpAdapter.getRequestUrl(ctx.getRequest()) as unknown,
    };
    httpAdapter.reply(ctx.getResponse(), responseBody, httpStatus);
  }
}

/** Nest's other documented global filter: extend BaseExceptionFilter and call super.catch(). */
@Catch()
class ExtendingBaseFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    super.catch(exception, host);
  }
}

/** An HTTP filter that declines other contexts by rethrowing. */
@Catch()
class HttpOnlyFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    host.switchToHttp().getResponse<{ status(code: number): void }>().status(500);
  }
}

/** A gateway filter that adds to Nest's and then lets it answer. */
const loggedByFilter: string[] = [];
@Catch()
class LoggingWsFilter extends BaseWsExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    loggedByFilter.push(exception instanceof Error ? exception.message : String(exception));
    super.catch(exception, host);
  }
}

/** Resolved by `finalize` of the streams below, one per tag. */
const finalized = new Map<string, { promise: Promise<void>; resolve: () => void }>();
function finalizedOf(tag: string): Promise<void> {
  let entry = finalized.get(tag);
  if (!entry) {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    entry = { promise, resolve };
    finalized.set(tag, entry);
  }
  return entry.promise;
}

@Controller()
@MessageMapping('/h')
class HardeningController {
  @MessageMapping('/echo/{tag}')
  echo(@Payload() payload: unknown) {
    return { got: payload };
  }

  @MessageMapping('/widget/{tag}')
  @UseFilters(new BaseWsExceptionFilter())
  widget() {
    throw new WsException('widget is locked');
  }

  @MessageMapping('/widget-crash/{tag}')
  @UseFilters(new BaseWsExceptionFilter())
  widgetCrash() {
    throw new Error('widget database is down');
  }

  @MessageMapping('/widget-sub/{tag}')
  @UseFilters(LoggingWsFilter)
  widgetSubclass() {
    throw new WsException('widget is locked');
  }

  @MessageMapping('/declined/{tag}')
  @UseFilters(HttpOnlyFilter)
  declined() {
    throw new WsException('declined by the HTTP filter');
  }

  @MessageMapping('/http-coded/{tag}')
  httpCoded() {
    throw new BadRequestException({ message: 'y', code: 'E43' });
  }

  @MessageMapping('/coded/{tag}')
  coded() {
    throw new WsException({ message: 'x', code: 'E42' });
  }

  @MessageMapping('/ws-validated/{tag}')
  @UsePipes(new ValidationPipe({ exceptionFactory: (errors) => new WsException(errors) }))
  wsValidated(@Payload() widget: WidgetDto) {
    return widget;
  }

  @MessageMapping('/validated/{tag}')
  @UsePipes(new ValidationPipe())
  validated(@Payload() widget: WidgetDto) {
    return { created: widget.name };
  }

  @MessageMapping('/denied/{tag}')
  @UseGuards(DenyGuard)
  denied() {
    return 'never';
  }

  @MessageMapping('/ticks/{tag}')
  ticks(@DestinationVariable('tag') tag: string) {
    void finalizedOf(tag);
    // 1000 ticks of 20 ms outlast every test guard: only an unsubscription can finalize it in time.
    return interval(20).pipe(
      take(1000),
      finalize(() => finalized.get(tag)?.resolve()),
    );
  }

  @SubscribeMapping('/mapped')
  mapped() {
    return { mapped: true };
  }
}

@Controller('h-http')
class HardeningHttpController {
  @Get('forbidden')
  forbidden() {
    throw new ForbiddenException();
  }
}

interface ErrorReply {
  status: string;
  message: unknown;
  destination?: string;
}

// ---- the app with Nest's HTTP catch-everything filter as APP_FILTER --------------------------

describe('Nest pipeline hardening (issue 7)', () => {
  let running: RunningApp;
  let tc: TestClient;
  let errors: Inbox;

  beforeAll(async () => {
    running = await startStompApp(
      {},
      {
        controllers: [HardeningController, HardeningHttpController],
        providers: [{ provide: APP_FILTER, useClass: AllExceptionsFilter }],
      },
    );
    tc = await connectAs(running.url);
    errors = await inboxOf(tc, '/user/queue/errors');
  });
  afterAll(async () => {
    await tc?.disconnect();
    await running?.close();
  });

  async function errorsOf(destination: string, body: string | object, headers = {}): Promise<unknown[]> {
    const before = errors.messages.length;
    await sendAndWait(tc, destination, body, headers);
    await barrier(tc);
    return errors.messages.slice(before).map((m) => json(m));
  }

  async function expectSessionOpen(client = tc): Promise<void> {
    const tag = unique('open');
    const replies = await inboxOf(client, `/topic/h/echo/${tag}`);
    await sendAndWait(client, `/app/h/echo/${tag}`, { alive: true });
    await replies.waitFor(1);
    expect(json(replies.messages[0])).toEqual({ got: { alive: true } });
  }

  describe('item 4: a JSON body with a UTF-8 byte-order mark', () => {
    const bom = '\uFEFF';

    it('is parsed, with content-type application/json and without a content-type', async () => {
      const tag = unique('bom');
      const replies = await inboxOf(tc, `/topic/h/echo/${tag}`);
      expect(await errorsOf(`/app/h/echo/${tag}`, `${bom}{"a":[1,2]}`, { 'content-type': 'application/json' })).toEqual([]);
      expect(await errorsOf(`/app/h/echo/${tag}`, `${bom}{"b":true}`)).toEqual([]);
      await replies.waitFor(2);
      expect(replies.messages.map((m) => json(m))).toEqual([{ got: { a: [1, 2] } }, { got: { b: true } }]);
    });

    it('MessageConverter skips the mark before JSON only; text keeps it, and a mark alone is not JSON', () => {
      const converter = new MessageConverter();
      const withBom = (text: string) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
      expect(converter.fromMessage(withBom('{"a":1}'), 'application/json')).toEqual({ a: 1 });
      expect(converter.fromMessage(withBom('{"a":1}'), 'application/vnd.api+json;charset=UTF-8')).toEqual({ a: 1 });
      expect(converter.fromMessage(withBom('[1]'), undefined)).toEqual([1]);
      expect(converter.fromMessage(withBom('plain'), undefined)).toBe(`${bom}plain`);
      expect(converter.fromMessage(withBom('plain'), 'text/plain')).toBe(`${bom}plain`);
      expect(() => converter.fromMessage(withBom(''), 'application/json')).toThrow(MessageConversionError);
      expect(() => converter.fromMessage(Buffer.from(`${bom}${bom}{}`, 'utf8'), 'application/json')).toThrow(/Body is not valid JSON/);
    });

    it('MessageConverter refuses JSON nested deeper than maxJsonNestingDepth, counting brackets outside strings only', () => {
      const converter = new MessageConverter({ maxJsonNestingDepth: 3 });
      const body = (text: string) => Buffer.from(text, 'utf8');
      expect(converter.fromMessage(body('[[[1]]]'), 'application/json')).toEqual([[[1]]]);
      expect(converter.fromMessage(body('{"a":"[[[[[[[[\\"[["}'), 'application/json')).toEqual({ a: '[[[[[[[["[[' });
      expect(() => converter.fromMessage(body('[[[[1]]]]'), 'application/json')).toThrow(
        'Body is not valid JSON: nested deeper than 3 levels',
      );
      expect(converter.fromMessage(body('[[[[1]]]]'), undefined)).toBe('[[[[1]]]]');
    });
  });

  describe('item 6: an unmapped /app destination keeps the session', () => {
    it('SEND: the sender is told on its error destination (with the receipt), logged once per destination', async () => {
      const destination = `/app/h/orders/${unique('abc')}/cancel`;
      const expected = { status: 'error', message: `No @MessageMapping handler for ${destination}`, destination };
      expect(await errorsOf(destination, { why: 'typo' })).toEqual([expected]);
      expect(await errorsOf(destination, { why: 'again' })).toEqual([expected]);
      const lines = running.logs.entries.filter((e) => e.message.includes(destination));
      expect(lines.map((e) => e.level)).toEqual(['warn', 'debug']);
      expect(lines[0].message).toContain(`No @MessageMapping handler for "${destination}"`);
      await expectSessionOpen();
    });

    it('SUBSCRIBE: receipt, error reply, the subscription stays registered (UNSUBSCRIBE works) and gets nothing', async () => {
      const destination = `/app/h/${unique('nothing-here')}`;
      const before = errors.messages.length;
      const inbox = new Inbox();
      const subscription = await subscribeConfirmed(tc.client, destination, inbox);
      await barrier(tc);
      expect(errors.messages.slice(before).map((m) => json(m))).toEqual([
        { status: 'error', message: `No @SubscribeMapping handler for ${destination}`, destination },
      ]);
      await unsubscribeConfirmed(tc.client, subscription);
      expect(inbox.messages).toEqual([]);
      await expectSessionOpen();
    });

    it('logs at most 8 distinct unmapped destinations per session at warn level, the rest at debug', async () => {
      const other = await connectAs(running.url);
      try {
        const session = other.connected.headers['session'];
        const tag = unique('flood');
        for (let i = 0; i < 12; i++) await sendAndWait(other, `/app/h/${tag}/${i}`, {});
        const mine = running.logs.entries.filter((e) => e.message.includes(tag) && e.message.includes(session));
        expect(mine.filter((e) => e.level === 'warn')).toHaveLength(8);
        expect(mine.filter((e) => e.level === 'debug')).toHaveLength(4);
        expect(mine.filter((e) => e.level === 'warn')[7].message).toContain('further unmapped destinations of this session are logged at debug level');
      } finally {
        await other.disconnect();
      }
    });
  });

  describe("item 15: Nest's own WebSocket exception filters", () => {
    it('@UseFilters(new BaseWsExceptionFilter()): the WsException reaches the error destination as a gateway client gets it', async () => {
      const destination = `/app/h/widget/${unique('w')}`;
      expect(await errorsOf(destination, { id: 1 })).toEqual([
        { status: 'error', message: 'widget is locked', cause: { pattern: destination, data: { id: 1 } } },
      ]);
      expect(running.logs.entries.filter((e) => e.message.includes(destination))).toEqual([]);
    });

    it('a subclass calling super.catch() works unchanged', async () => {
      const destination = `/app/h/widget-sub/${unique('w')}`;
      expect(await errorsOf(destination, { id: 2 })).toEqual([
        { status: 'error', message: 'widget is locked', cause: { pattern: destination, data: { id: 2 } } },
      ]);
      expect(loggedByFilter).toContain('widget is locked');
    });

    it('an unknown error: "Internal server error" to the client, logged by Nest\'s filter itself', async () => {
      const destination = `/app/h/widget-crash/${unique('w')}`;
      expect(await errorsOf(destination, { id: 3 })).toEqual([
        { status: 'error', message: 'Internal server error', cause: { pattern: destination, data: { id: 3 } } },
      ]);
      expect(running.logs.expect('error', 'widget database is down')).toHaveLength(1);
    });
  });

  describe('item 16: WsException payloads arrive whole', () => {
    it("throw new WsException({ message: 'x', code: 'E42' }) reaches the client as exactly that object", async () => {
      expect(await errorsOf(`/app/h/coded/${unique('c')}`, {})).toEqual([{ message: 'x', code: 'E42' }]);
    });

    it('an HttpException with an object response keeps its other fields next to status, message and destination', async () => {
      const destination = `/app/h/http-coded/${unique('c')}`;
      expect(await errorsOf(destination, {})).toEqual([{ status: 'error', message: 'y', destination, code: 'E43' }]);
    });

    it('ValidationPipe({ exceptionFactory: (e) => new WsException(e) }) sends the ValidationError list, as a gateway does', async () => {
      const body = { name: 'x' };
      // What a gateway's client gets: the error the same pipe throws, as JSON.
      const pipe = new ValidationPipe({ exceptionFactory: (e) => new WsException(e) });
      const thrown = await pipe.transform(body, { type: 'body', metatype: WidgetDto }).catch((e: WsException) => e.getError());
      const expected = JSON.parse(JSON.stringify(thrown)) as unknown;
      expect(expected).toEqual([
        { property: 'name', value: 'x', children: [], constraints: { isLength: 'name must be longer than or equal to 2 characters' } },
      ]);
      expect(await errorsOf(`/app/h/ws-validated/${unique('v')}`, body)).toEqual([expected]);
    });
  });

  describe("item 17: the Nest docs' HTTP catch-everything APP_FILTER", () => {
    it('leaves STOMP errors their own replies: guard, validation, WsException; one warning, no error, no stack', async () => {
      const denied = `/app/h/denied/${unique('d')}`;
      const validated = `/app/h/validated/${unique('v')}`;
      expect(await errorsOf(denied, {})).toEqual([{ status: 'error', message: 'Forbidden resource', destination: denied }]);
      expect(await errorsOf(validated, { name: 1 })).toEqual([
        {
          status: 'error',
          message: ['name must be longer than or equal to 2 and shorter than or equal to 10 characters', 'name must be a string'],
          destination: validated,
        },
      ]);
      expect(await errorsOf(denied, {})).toEqual([{ status: 'error', message: 'Forbidden resource', destination: denied }]);
      const filterLines = running.logs.entries.filter((e) => e.message.includes('AllExceptionsFilter'));
      expect(filterLines.filter((e) => e.level === 'warn')).toHaveLength(1);
      expect(filterLines[0].message).toContain("rethrow the exception when host.getType() !== 'http'");
      expect(running.logs.at('error').filter((l) => l.includes('response.status') || l.includes('is not a function'))).toEqual([]);
      expect(running.logs.entries.some((e) => e.level !== 'debug' && hasStack(e.message) && e.message.includes(denied))).toBe(false);
    });

    it('a filter that rethrows the exception declines it: the default reply, and nothing logged about the filter', async () => {
      const destination = `/app/h/declined/${unique('d')}`;
      expect(await errorsOf(destination, {})).toEqual([{ status: 'error', message: 'declined by the HTTP filter', destination }]);
      expect(running.logs.entries.filter((e) => e.message.includes('HttpOnlyFilter'))).toEqual([]);
    });

    it('still answers HTTP requests as before', async () => {
      const response = await withTimeout(fetch(`http://127.0.0.1:${running.port}/h-http/forbidden`), 'GET /h-http/forbidden');
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ statusCode: 403, timestamp: expect.any(String), path: '/h-http/forbidden' });
    });
  });

  describe('item 18: Observables end with their session', () => {
    it("a handler's interval is unsubscribed (finalize runs) when the client disconnects", async () => {
      const client = await connectAs(running.url);
      const tag = unique('ticks');
      const ticks = await inboxOf(client, `/topic/h/ticks/${tag}`);
      await sendAndWait(client, `/app/h/ticks/${tag}`, {});
      await ticks.waitFor(2);
      await client.disconnect();
      await withTimeout(finalizedOf(tag), 'finalize after the client disconnected');
    });
  });

  describe('audit: client input never becomes "Internal server error"', () => {
    it.each([
      ['binary (application/octet-stream)', 'application/octet-stream', '\u0000\u00ff{"name":"ok"}'],
      ['text/plain', 'text/plain', '{"name":"ok"}'],
      ['JSON without a content-type, nested too deep', '', `${'['.repeat(3000)}${']'.repeat(3000)}`],
    ])('%s for a validated DTO is answered with what is wrong', async (_what, contentType, body) => {
      const destination = `/app/h/validated/${unique('in')}`;
      const headers = contentType === '' ? {} : { 'content-type': contentType };
      const replies = (await errorsOf(destination, body, headers)) as ErrorReply[];
      expect(replies).toHaveLength(1);
      expect(replies[0]).toEqual(expect.objectContaining({ status: 'error', destination }));
      expect(JSON.stringify(replies[0].message)).not.toContain('Internal server error');
    });

    it.each([
      ['null', 'null'],
      ['a string', '"widget"'],
      ['a number', '42'],
      ['an array', '[{"name":"ok"}]'],
      ['broken JSON', '{"name":'],
      ['a byte-order mark alone', '\uFEFF'],
      ['an object nested 1000 levels deep', `${'{"name":'.repeat(1000)}"x"${'}'.repeat(1000)}`],
      ['an object nested 5000 levels deep', `${'{"name":'.repeat(5000)}"x"${'}'.repeat(5000)}`],
      ['an array nested 100000 levels deep', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ])('%s for a validated DTO is answered with what is wrong', async (_what, body) => {
      const destination = `/app/h/validated/${unique('in')}`;
      const replies = (await errorsOf(destination, body, { 'content-type': 'application/json' })) as ErrorReply[];
      expect(replies).toHaveLength(1);
      expect(replies[0]).toEqual(expect.objectContaining({ status: 'error', destination }));
      expect(JSON.stringify(replies[0].message)).not.toContain('Internal server error');
      expect(running.logs.entries.filter((e) => e.level === 'error' && e.message.includes(destination))).toEqual([]);
    });
  });
});

describe('item 18: Observables end when the app closes', () => {
  it('finalize runs on app.close()', async () => {
    const running = await startStompApp({}, { controllers: [HardeningController] });
    const client = await connectAs(running.url);
    const tag = unique('ticks-close');
    const ticks = await inboxOf(client, `/topic/h/ticks/${tag}`);
    await sendAndWait(client, `/app/h/ticks/${tag}`, {});
    await ticks.waitFor(2);
    await running.close();
    await withTimeout(finalizedOf(tag), 'finalize after app.close()');
    await client.disconnect();
  });
});

describe('item 17: an APP_FILTER extending BaseExceptionFilter (super.catch) is harmless too', () => {
  it('a guard rejection and a WsException keep their replies; one warning names the filter', async () => {
    const running = await startStompApp(
      {},
      { controllers: [HardeningController], providers: [{ provide: APP_FILTER, useClass: ExtendingBaseFilter }] },
    );
    const client = await connectAs(running.url);
    try {
      const errors = await inboxOf(client, '/user/queue/errors');
      const denied = `/app/h/denied/${unique('d')}`;
      await sendAndWait(client, denied, {});
      await sendAndWait(client, `/app/h/coded/${unique('c')}`, {});
      await errors.waitFor(2);
      expect(errors.messages.map((m) => json(m))).toEqual([
        { status: 'error', message: 'Forbidden resource', destination: denied },
        { message: 'x', code: 'E42' },
      ]);
      const lines = running.logs.entries.filter((e) => e.message.includes('ExtendingBaseFilter'));
      expect(lines.map((e) => e.level)).toEqual(['warn', 'debug']);
      expect(running.logs.at('error')).toEqual([]);
    } finally {
      await client.disconnect();
      await running.close();
    }
  });
});

describe("item 6: unmappedDestination: 'close' (the STOMP spec's way)", () => {
  it('answers an unmapped SEND with ERROR and closes (1002)', async () => {
    const running = await startStompApp({ unmappedDestination: 'close' }, { controllers: [HardeningController] });
    try {
      const client = await connectClient(running.url);
      const error = client.nextError();
      client.client.publish({ destination: '/app/h/typo', body: '' });
      expect((await error).headers['message']).toBe('No @MessageMapping handler for /app/h/typo');
      expect(await withTimeout(client.closed, 'the close')).toBe(1002);
      await client.disconnect();
    } finally {
      await running.close();
    }
  });
});

// ---- item 19: scopes -----------------------------------------------------------------------

@Injectable({ scope: Scope.REQUEST })
class DenyEverythingGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

@Injectable()
class OrdersHandler {
  @MessageMapping('/orders')
  order() {
    return 'ran';
  }
}

@Controller()
class OrdersController {
  @MessageMapping('/orders-controller')
  order() {
    return 'ran';
  }
}

@Injectable()
class GuardedOrdersHandler {
  @MessageMapping('/guarded-orders')
  @UseGuards(DenyEverythingGuard)
  order() {
    return 'ran';
  }
}

@Injectable()
class Clock {
  now(): number {
    return 1;
  }
}

@Injectable({ scope: Scope.TRANSIENT })
class TransientHandler {
  constructor(private readonly clock: Clock) {}

  @MessageMapping('/transient')
  tick() {
    return this.clock.now();
  }
}

@Injectable({ scope: Scope.REQUEST })
class RequestContextService {}

@Injectable()
class AuditService {
  constructor(readonly context: RequestContextService) {}
}

@Controller()
class AuditedController {
  constructor(private readonly audit: AuditService) {}

  @MessageMapping('/audited')
  audited() {
    return this.audit.context !== undefined;
  }
}

describe('item 19: scopes that would misbehave are start-up errors naming the cause', () => {
  it('a request-scoped APP_GUARD with handlers on a provider: refused, naming the guard (never skipped)', async () => {
    const error = await startupError(
      {},
      { providers: [OrdersHandler, { provide: APP_GUARD, useClass: DenyEverythingGuard, scope: Scope.REQUEST }] },
    );
    expect(error.message).toContain('request- or transient-scoped global enhancers: guard DenyEverythingGuard');
    expect(error.message).toContain('OrdersHandler.order');
  });

  it('a request-scoped APP_GUARD with handlers on a controller: refused, naming the guard', async () => {
    const error = await startupError(
      {},
      { controllers: [OrdersController], providers: [{ provide: APP_GUARD, useClass: DenyEverythingGuard, scope: Scope.REQUEST }] },
    );
    expect(error.message).toContain('request- or transient-scoped global enhancers: guard DenyEverythingGuard');
  });

  it('a request-scoped @UseGuards guard on a provider handler: refused, naming the guard', async () => {
    const error = await startupError({}, { providers: [GuardedOrdersHandler] });
    expect(error.message).toContain('GuardedOrdersHandler is request-scoped through its dependency DenyEverythingGuard');
  });

  it('handlers in a TRANSIENT provider: refused, naming it', async () => {
    const error = await startupError({}, { providers: [Clock, TransientHandler] });
    expect(error.message).toContain('TransientHandler.tick: STOMP handlers must live in singleton-scoped classes');
    expect(error.message).toContain('TransientHandler is transient-scoped');
  });

  it('a controller made request-scoped by a dependency: the error names the dependency chain', async () => {
    const error = await startupError({}, { controllers: [AuditedController], providers: [AuditService, RequestContextService] });
    expect(error.message).toContain(
      'AuditedController is request-scoped through its dependency AuditService → RequestContextService (RequestContextService is request-scoped)',
    );
  });
});
