import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Catch,
  Controller,
  Injectable,
  SetMetadata,
  UseFilters,
  UseGuards,
  UseInterceptors,
  ValidationPipe,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { WsException } from '@nestjs/websockets';
import { IsInt, IsString, Length, Min } from 'class-validator';
import { concat, map, of, throwError, type Observable } from 'rxjs';
import {
  ConnectedSession,
  MessageException,
  MessageExceptionHandler,
  MessageMapping,
  Payload,
  SendToUser,
  type StompSessionInfo,
} from '../../lib/index.js';
import { barrier, connectAs, hasStack, inboxOf, json, jsonBodies, logLines, sendAndWait } from '../support/handler-fixtures.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { Inbox, type TestClient } from '../support/stomp-client.js';

// ---- guards -------------------------------------------------------------------------------

@Injectable()
class DenyGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

interface GuardObservation {
  type: string;
  sessionId: string;
  data: unknown;
  pattern: string;
  handler: string;
  controller: string;
}
const guardObservations: GuardObservation[] = [];

/** An ordinary Nest WebSocket guard: it knows nothing about STOMP. */
@Injectable()
class WsInspectingGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const ws = context.switchToWs();
    const client = ws.getClient<{ id: string }>();
    const data = ws.getData<{ allow?: boolean }>();
    guardObservations.push({
      type: context.getType(),
      sessionId: client.id,
      data,
      pattern: ws.getPattern(),
      handler: context.getHandler().name,
      controller: context.getClass().name,
    });
    return context.getType() === 'ws' && data.allow === true;
  }
}

@Injectable()
class ThrowingGuard implements CanActivate {
  canActivate(): boolean {
    throw new WsException('Guard says no');
  }
}

/** A guard with dependencies that reads handler metadata through Reflector, as Nest apps do. */
@Injectable()
class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}
  canActivate(context: ExecutionContext): boolean {
    const roles = this.reflector.get<string[] | undefined>('roles', context.getHandler()) ?? [];
    return roles.includes(context.switchToWs().getData<{ role: string }>().role);
  }
}

// ---- pipes, interceptors -----------------------------------------------------------------

class ItemDto {
  @IsString()
  @Length(2, 10)
  name!: string;

  @IsInt()
  @Min(1)
  qty!: number;
}

@Injectable()
class WrapInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((data: unknown) => ({ data, contextType: context.getType() })));
  }
}

@Injectable()
class TimesTenInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((value: number) => value * 10));
  }
}

// ---- errors and filters --------------------------------------------------------------------

class PaymentError extends Error {}
class SilentError extends Error {}
class UnansweredError extends Error {}
class QuotaError extends Error {}
class OutOfStockError extends Error {}

@Catch(PaymentError)
class PaymentFilter implements ExceptionFilter {
  catch(error: PaymentError, host: ArgumentsHost) {
    const ws = host.switchToWs();
    return {
      filteredBy: 'PaymentFilter',
      message: error.message,
      contextType: host.getType(),
      session: ws.getClient<StompSessionInfo>().id,
      data: ws.getData<unknown>(),
    };
  }
}

/** Handles the error on purpose and answers nothing: it returns null. */
@Catch(SilentError)
class SilentFilter implements ExceptionFilter {
  catch(): null {
    return null;
  }
}

/** Returns nothing and emits nothing: that is no answer, so the error counts as unhandled. */
@Catch(UnansweredError)
class UnansweringFilter implements ExceptionFilter {
  catch(): undefined {
    return undefined;
  }
}

@Catch(QuotaError)
class GlobalQuotaFilter implements ExceptionFilter {
  catch(error: QuotaError) {
    return { filteredBy: 'GlobalQuotaFilter', message: error.message };
  }
}

// ---- controllers -------------------------------------------------------------------------

@Controller()
@MessageMapping('/p')
class PipelineController {
  @MessageMapping('/denied/{tag}')
  @UseGuards(DenyGuard)
  denied() {
    return 'never';
  }

  @MessageMapping('/allowed/{tag}')
  allowed(@Payload() payload: unknown) {
    return { ok: payload };
  }

  @MessageMapping('/inspected/{tag}')
  @UseGuards(WsInspectingGuard)
  inspected(@Payload() payload: unknown) {
    return { passed: payload };
  }

  @MessageMapping('/admin/{tag}')
  @SetMetadata('roles', ['admin'])
  @UseGuards(RolesGuard)
  @UseInterceptors(WrapInterceptor)
  admin() {
    return 'admin area';
  }

  @MessageMapping('/guard-throws/{tag}')
  @UseGuards(ThrowingGuard)
  guardThrows() {
    return 'never';
  }

  @MessageMapping('/items/{tag}')
  createItem(@Payload() item: ItemDto) {
    return { created: item };
  }

  @MessageMapping('/wrapped/{tag}')
  @UseInterceptors(WrapInterceptor)
  wrapped(@Payload() payload: { value: number }) {
    return { value: payload.value };
  }

  @MessageMapping('/tens/{tag}')
  @UseInterceptors(TimesTenInterceptor)
  tens() {
    return of(1, 2, 3);
  }

  @MessageMapping('/payment/{tag}')
  @UseFilters(PaymentFilter, SilentFilter, UnansweringFilter)
  payment(@Payload() payload: { silent?: boolean; unanswered?: boolean }) {
    if (payload.silent) throw new SilentError('shh');
    if (payload.unanswered) throw new UnansweredError('nobody answered');
    throw new PaymentError('card declined');
  }

  @MessageMapping('/quota/{tag}')
  quota() {
    throw new QuotaError('quota exceeded');
  }

  @MessageMapping('/ws-error/{tag}')
  wsError(@Payload() payload: { object?: boolean }) {
    throw payload.object ? new WsException({ message: 'object message', code: 7 }) : new WsException('Not allowed here');
  }

  @MessageMapping('/type-error/{tag}')
  typeError() {
    const holder: { inner?: { value: number } } = {};
    return (holder.inner as { value: number }).value;
  }

  @MessageMapping('/broken-stream/{tag}')
  brokenStream() {
    return concat(of('first'), throwError(() => new WsException('stream broke')));
  }
}

@Controller()
@MessageMapping('/shop')
class ShopController {
  @MessageMapping('/buy/{tag}')
  buy(@Payload() order: { item: string; stock: number; fail?: string }) {
    if (order.fail === 'range') throw new RangeError(`bad quantity for ${order.item}`);
    if (order.stock === 0) throw new OutOfStockError(`${order.item} is out of stock`);
    return { bought: order.item };
  }

  /** Declared first on purpose: a catch-all must not shadow a handler for a specific type. */
  @MessageExceptionHandler()
  @SendToUser('/queue/shop-errors', { broadcast: false })
  catchAll(@MessageException() error: Error, @Payload() payload: unknown, @ConnectedSession() session: StompSessionInfo) {
    return { handledBy: 'catchAll', name: error.name, message: error.message, payload, session: session.id };
  }

  /** No parameter decorators: the exception is the first argument. */
  @MessageExceptionHandler(OutOfStockError)
  @SendToUser('/queue/errors', { broadcast: false })
  outOfStock(error: OutOfStockError) {
    return { handledBy: 'outOfStock', isOutOfStock: error instanceof OutOfStockError, message: error.message };
  }
}

// ---- tests --------------------------------------------------------------------------------

interface ErrorBody {
  status: string;
  message: string | string[];
  destination: string;
}

describe("Nest's pipeline around message handlers", () => {
  let running: RunningApp;
  let tc: TestClient;
  let errors: Inbox;
  let sessionId: string;

  beforeAll(async () => {
    running = await startStompApp(
      {},
      {
        controllers: [PipelineController, ShopController],
        configure: (app) => {
          app.useGlobalPipes(new ValidationPipe());
          app.useGlobalFilters(new GlobalQuotaFilter());
        },
      },
    );
    tc = await connectAs(running.url);
    sessionId = tc.connected.headers['session'];
    errors = await inboxOf(tc, '/user/queue/errors');
  });
  afterAll(async () => {
    await tc?.disconnect();
    await running?.close();
  });

  /** Sends, waits for the handler to finish, and returns the error messages it produced. */
  async function sendExpectingErrors(destination: string, body: string | object, headers = {}): Promise<ErrorBody[]> {
    const before = errors.messages.length;
    await sendAndWait(tc, destination, body, headers);
    await barrier(tc);
    return errors.messages.slice(before).map((m) => json<ErrorBody>(m));
  }

  /** The session still works: an allowed message gets its reply. */
  async function expectSessionOpen(): Promise<void> {
    const tag = unique('alive');
    const inbox = await inboxOf(tc, `/topic/p/allowed/${tag}`);
    await sendAndWait(tc, `/app/p/allowed/${tag}`, { ping: tag });
    expect(jsonBodies(inbox)).toEqual([{ ok: { ping: tag } }]);
    expect(tc.errors).toHaveLength(0);
    expect(tc.client.connected).toBe(true);
  }

  describe('guards', () => {
    it('a rejecting guard: the client sees "Forbidden resource", the session stays open, one log line without stack', async () => {
      const tag = unique('deny');
      const destination = `/app/p/denied/${tag}`;
      const replies = await inboxOf(tc, `/topic/p/denied/${tag}`);
      const loggedBefore = running.logs.at('warn', 'error').length;
      expect(await sendExpectingErrors(destination, {})).toEqual([
        { status: 'error', message: 'Forbidden resource', destination },
      ]);
      expect(replies.messages).toHaveLength(0);
      // One line in the whole log, and it names the destination.
      expect(running.logs.at('warn', 'error')).toHaveLength(loggedBefore + 1);
      const lines = logLines(running.logs, destination);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^warn: .*Forbidden resource/);
      expect(hasStack(lines[0])).toBe(false);
      await expectSessionOpen();
    });

    it('a WebSocket guard sees the ws context: client = session, data = payload, pattern = destination', async () => {
      const tag = unique('inspect');
      const destination = `/app/p/inspected/${tag}`;
      const replies = await inboxOf(tc, `/topic/p/inspected/${tag}`);
      const seenBefore = guardObservations.length;
      expect(await sendExpectingErrors(destination, { allow: false, n: 1 })).toEqual([
        { status: 'error', message: 'Forbidden resource', destination },
      ]);
      expect(await sendExpectingErrors(destination, { allow: true, n: 2 })).toEqual([]);
      expect(jsonBodies(replies)).toEqual([{ passed: { allow: true, n: 2 } }]);
      expect(guardObservations.slice(seenBefore)).toEqual([
        { type: 'ws', sessionId, data: { allow: false, n: 1 }, pattern: destination, handler: 'inspected', controller: 'PipelineController' },
        { type: 'ws', sessionId, data: { allow: true, n: 2 }, pattern: destination, handler: 'inspected', controller: 'PipelineController' },
      ]);
    });

    it('a guard referenced by class gets its dependencies and reads handler metadata through Reflector', async () => {
      const tag = unique('admin');
      const destination = `/app/p/admin/${tag}`;
      const replies = await inboxOf(tc, `/topic/p/admin/${tag}`);
      expect(await sendExpectingErrors(destination, { role: 'guest' })).toEqual([
        { status: 'error', message: 'Forbidden resource', destination },
      ]);
      expect(await sendExpectingErrors(destination, { role: 'admin' })).toEqual([]);
      expect(jsonBodies(replies)).toEqual([{ data: 'admin area', contextType: 'ws' }]);
    });

    it("a guard's own WsException reaches the client", async () => {
      const destination = `/app/p/guard-throws/${unique('gt')}`;
      expect(await sendExpectingErrors(destination, {})).toEqual([{ status: 'error', message: 'Guard says no', destination }]);
      expect(logLines(running.logs, destination)).toHaveLength(1);
    });
  });

  describe('pipes', () => {
    it('a global ValidationPipe rejecting a bad DTO: the client sees the failures, the session stays open', async () => {
      const tag = unique('items');
      const destination = `/app/p/items/${tag}`;
      const replies = await inboxOf(tc, `/topic/p/items/${tag}`);
      const [error, ...more] = await sendExpectingErrors(destination, { name: 'x', qty: 0 });
      expect(more).toEqual([]);
      expect(error.status).toBe('error');
      expect(error.destination).toBe(destination);
      expect([...error.message].sort()).toEqual([
        'name must be longer than or equal to 2 characters',
        'qty must not be less than 1',
      ]);
      expect(replies.messages).toHaveLength(0);
      const lines = logLines(running.logs, destination);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^warn: .*name must be longer than or equal to 2 characters/);
      expect(hasStack(lines[0])).toBe(false);

      // A valid DTO right after, on the same session.
      expect(await sendExpectingErrors(destination, { name: 'apple', qty: 3 })).toEqual([]);
      expect(jsonBodies(replies)).toEqual([{ created: { name: 'apple', qty: 3 } }]);
      await expectSessionOpen();
    });
  });

  describe('interceptors', () => {
    it('an interceptor transforms the result', async () => {
      const tag = unique('wrap');
      const replies = await inboxOf(tc, `/topic/p/wrapped/${tag}`);
      await sendAndWait(tc, `/app/p/wrapped/${tag}`, { value: 7 });
      await replies.waitFor(1);
      await barrier(tc);
      expect(jsonBodies(replies)).toEqual([{ data: { value: 7 }, contextType: 'ws' }]);
    });

    it('an interceptor maps each emission of an Observable', async () => {
      const tag = unique('tens');
      const replies = await inboxOf(tc, `/topic/p/tens/${tag}`);
      await sendAndWait(tc, `/app/p/tens/${tag}`, {});
      await replies.waitFor(3);
      await barrier(tc);
      expect(replies.bodies()).toEqual(['10', '20', '30']);
    });
  });

  describe('@MessageExceptionHandler', () => {
    let shopErrors: Inbox;
    beforeAll(async () => {
      shopErrors = await inboxOf(tc, '/user/queue/shop-errors');
    });

    it('picks the handler for the error type, which gets the exception as first argument', async () => {
      const tag = unique('buy');
      const destination = `/app/shop/buy/${tag}`;
      const bought = await inboxOf(tc, `/topic/shop/buy/${tag}`);
      const produced = await sendExpectingErrors(destination, { item: 'pear', stock: 0 });
      expect(produced).toEqual([{ handledBy: 'outOfStock', isOutOfStock: true, message: 'pear is out of stock' }]);
      expect(shopErrors.messages).toHaveLength(0);
      expect(bought.messages).toHaveLength(0);
      expect(logLines(running.logs, destination)).toEqual([]);
      // Same handler, no error: the ordinary reply.
      await sendAndWait(tc, destination, { item: 'fig', stock: 2 });
      expect(jsonBodies(bought)).toEqual([{ bought: 'fig' }]);
    });

    it('falls back to the catch-all, which gets the exception through @MessageException()', async () => {
      const destination = `/app/shop/buy/${unique('buy')}`;
      const order = { item: 'kiwi', stock: 1, fail: 'range' };
      expect(await sendExpectingErrors(destination, order)).toEqual([]);
      await barrier(tc);
      expect(jsonBodies(shopErrors)).toEqual([
        { handledBy: 'catchAll', name: 'RangeError', message: 'bad quantity for kiwi', payload: order, session: sessionId },
      ]);
      expect(logLines(running.logs, destination)).toEqual([]);
    });
  });

  describe('exception filters', () => {
    it("a @UseFilters filter's return value reaches /user/queue/errors; the filter sees the ws context", async () => {
      const destination = `/app/p/payment/${unique('pay')}`;
      expect(await sendExpectingErrors(destination, { amount: 5 })).toEqual([
        { filteredBy: 'PaymentFilter', message: 'card declined', contextType: 'ws', session: sessionId, data: { amount: 5 } },
      ]);
      expect(logLines(running.logs, destination)).toEqual([]);
    });

    it('a filter returning null handles the error on purpose: it answers nothing and logs nothing', async () => {
      const destination = `/app/p/payment/${unique('pay')}`;
      expect(await sendExpectingErrors(destination, { silent: true })).toEqual([]);
      expect(logLines(running.logs, destination)).toEqual([]);
    });

    it('a filter that returns undefined and emits nothing has not handled it: the default reply goes out and is logged', async () => {
      const destination = `/app/p/payment/${unique('pay')}`;
      expect(await sendExpectingErrors(destination, { unanswered: true })).toEqual([
        { status: 'error', message: 'Internal server error', destination },
      ]);
      const lines = running.logs.expect('error', destination);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('Error: nobody answered (exception filter UnansweringFilter returned nothing and sent nothing)');
    });

    it('a global filter (app.useGlobalFilters) applies', async () => {
      const destination = `/app/p/quota/${unique('quota')}`;
      expect(await sendExpectingErrors(destination, {})).toEqual([
        { filteredBy: 'GlobalQuotaFilter', message: 'quota exceeded' },
      ]);
      expect(logLines(running.logs, destination)).toEqual([]);
    });
  });

  describe('unhandled errors', () => {
    it("a WsException reaches the client: a string as { status, message, destination }, an object whole (as gateways send it); logged once without stack", async () => {
      const destination = `/app/p/ws-error/${unique('ws')}`;
      expect(await sendExpectingErrors(destination, {})).toEqual([{ status: 'error', message: 'Not allowed here', destination }]);
      expect(await sendExpectingErrors(destination, { object: true })).toEqual([{ message: 'object message', code: 7 }]);
      const lines = logLines(running.logs, destination);
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^warn: .*Not allowed here/);
      expect(lines.some(hasStack)).toBe(false);
    });

    it('an unexpected TypeError: the client gets "Internal server error", the log has it once, with its stack', async () => {
      const destination = `/app/p/type-error/${unique('te')}`;
      expect(await sendExpectingErrors(destination, {})).toEqual([
        { status: 'error', message: 'Internal server error', destination },
      ]);
      const lines = logLines(running.logs, destination);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: PipelineController\.typeError .*TypeError|^error: .*Internal server error/);
      expect(hasStack(lines[0])).toBe(true);
      running.logs.expect('error', destination);
      expect(lines[0]).toContain('TypeError');
      // The error is only in the log: nothing internal reached the client.
      expect(JSON.stringify(jsonBodies(errors))).not.toContain('TypeError');
      await expectSessionOpen();
    });

    it('an Observable that fails after emitting: the emission is sent, then the error', async () => {
      const tag = unique('stream');
      const destination = `/app/p/broken-stream/${tag}`;
      const replies = await inboxOf(tc, `/topic/p/broken-stream/${tag}`);
      const before = errors.messages.length;
      await sendAndWait(tc, destination, {});
      await replies.waitFor(1);
      await errors.waitFor(before + 1);
      await barrier(tc);
      expect(replies.bodies()).toEqual(['first']);
      expect(errors.messages.slice(before).map((m) => json(m))).toEqual([
        { status: 'error', message: 'stream broke', destination },
      ]);
    });
  });

  it('after all of these, the first session is open and other clients are served', async () => {
    await expectSessionOpen();
    const other = await connectAs(running.url);
    try {
      const tag = unique('other');
      const inbox = await inboxOf(other, `/topic/p/allowed/${tag}`);
      await sendAndWait(other, `/app/p/allowed/${tag}`, { from: 'other' });
      expect(jsonBodies(inbox)).toEqual([{ ok: { from: 'other' } }]);
    } finally {
      await other.disconnect();
    }
    // Nothing was logged by anyone else (e.g. Nest's own exception handler) at error level
    // except the one TypeError and the unanswered filter's error above.
    expect(running.logs.at('error')).toHaveLength(2);
    expect(running.logs.expect('error', 'TypeError')).toEqual([
      expect.stringContaining("TypeError: Cannot read properties of undefined (reading 'value')"),
    ]);
    expect(running.logs.expect('error', 'nobody answered')).toHaveLength(1);
  });
});
