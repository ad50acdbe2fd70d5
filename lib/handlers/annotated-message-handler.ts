import { HttpException, Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import { isObservable, type Observable } from 'rxjs';
import type { ApplicationMessageHandler } from '../messaging/application-message-handler.js';
import { MessageConversionError, MessageConverter } from '../messaging/message-converter.js';
import type { StompFrame } from '../protocol/frame.js';
import { StompProtocolError } from '../protocol/stomp-protocol-error.js';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import type { SessionSubscription } from '../transport/session-subscription.js';
import type { StompSession } from '../transport/stomp-session.js';
import { StompMessagingTemplate } from '../template/stomp-messaging-template.js';
import type { ErrorType } from './decorators/message-exception-handler.decorator.js';
import { HandlerExplorer, type ExceptionHandlerMethod, type HandlerMethod } from './handler-explorer.js';
import { HandlerRegistry, type HandlerMatch } from './handler-registry.js';
import { ReturnValueHandler } from './return-value-handler.js';
import { MethodOutcome, StompContextCreator, type FilterProxy, type HandlerProxy } from './stomp-context-creator.js';
import { StompMessageContext } from './stomp-message-context.js';

interface RegisteredHandler {
  method: HandlerMethod;
  invoke: HandlerProxy;
  filters: FilterProxy;
  exceptionHandlers: Array<{ method: ExceptionHandlerMethod; invoke: HandlerProxy }>;
}

/**
 * Spring's `SimpAnnotationMethodMessageHandler`: receives frames for application destinations
 * (`/app/...`), finds the `@MessageMapping` / `@SubscribeMapping` method, invokes it through
 * Nest's pipeline and sends its return value on.
 *
 * A failing handler never closes the session: the exception goes to the controller's
 * `@MessageExceptionHandler`, else to Nest exception filters, else it is logged once (stack
 * trace only for unexpected errors) and reported to the client on `/user/queue/errors`.
 *
 * Ordering: the session waits for each handler's Promise, and for its reply to be sent, before it
 * handles its next frame, so a session's messages are handled one at a time, in order, and their
 * replies leave in that order (interceptors included); sessions run concurrently with each other.
 * An Observable the method returns is subscribed without holding the session back: its emissions
 * are sent in order as they come.
 */
@Injectable()
export class AnnotatedMessageHandler implements ApplicationMessageHandler, OnModuleInit {
  private readonly logger = new Logger('StompMessageHandler');
  private readonly converter = new MessageConverter();
  private readonly messageHandlers = new HandlerRegistry<RegisteredHandler>();
  private readonly subscribeHandlers = new HandlerRegistry<RegisteredHandler>();

  constructor(
    @Inject(STOMP_OPTIONS) private readonly options: ResolvedStompOptions,
    private readonly explorer: HandlerExplorer,
    private readonly contextCreator: StompContextCreator,
    private readonly returnValues: ReturnValueHandler,
    private readonly template: StompMessagingTemplate,
  ) {}

  onModuleInit(): void {
    for (const method of this.explorer.explore()) {
      this.returnValues.validate(method, method.label);
      for (const eh of method.exceptionHandlers) this.returnValues.validate(eh, eh.label);
      const registered: RegisteredHandler = {
        method,
        invoke: this.contextCreator.createHandler(method.instance, method.methodName),
        filters: this.contextCreator.createFilters(method.instance, method.methodName),
        exceptionHandlers: method.exceptionHandlers.map((eh) => ({
          method: eh,
          invoke: this.contextCreator.createExceptionHandler(eh.instance, eh.methodName),
        })),
      };
      const registry = method.kind === 'message' ? this.messageHandlers : this.subscribeHandlers;
      for (const pattern of method.patterns) registry.register(pattern, registered, method.label);
    }
    const total = this.messageHandlers.size + this.subscribeHandlers.size;
    if (total > 0) this.logger.log(`Mapped ${total} STOMP destination pattern(s)`);
  }

  handleMessage(session: StompSession, frame: StompFrame, lookupDestination: string): Promise<void> {
    const match = this.find(this.messageHandlers, lookupDestination, frame, '@MessageMapping');
    return this.invoke(match, session, frame, lookupDestination);
  }

  handleSubscribe(session: StompSession, subscription: SessionSubscription, lookupDestination: string): Promise<void> {
    const frame: StompFrame = { command: 'SUBSCRIBE', headers: subscription.headers, body: Buffer.alloc(0) };
    const match = this.find(this.subscribeHandlers, lookupDestination, frame, '@SubscribeMapping');
    return this.invoke(match, session, frame, lookupDestination, subscription);
  }

  private find(
    registry: HandlerRegistry<RegisteredHandler>,
    lookupDestination: string,
    frame: StompFrame,
    kind: string,
  ): HandlerMatch<RegisteredHandler> {
    // With "." as separator the lookup has no leading slash: /app/chat.lobby → chat.lobby.
    const lookup = this.options.pathSeparator === '.' ? lookupDestination.replace(/^\//, '') : lookupDestination;
    const match = registry.match(lookup);
    if (!match) {
      throw new StompProtocolError('NO_HANDLER', `No ${kind} handler for ${frame.headers['destination']}`);
    }
    return match;
  }

  private async invoke(
    match: HandlerMatch<RegisteredHandler>,
    session: StompSession,
    frame: StompFrame,
    lookupDestination: string,
    subscription?: SessionSubscription,
  ): Promise<void> {
    const destination = frame.headers['destination'] ?? '';
    const handler = match.handler;
    let payload: unknown;
    let context = new StompMessageContext(session, frame, destination, lookupDestination, match.variables, undefined, subscription);
    try {
      payload = this.converter.fromMessage(frame.body, frame.headers['content-type']);
      context = new StompMessageContext(session, frame, destination, lookupDestination, match.variables, payload, subscription);
      const outcome = new MethodOutcome();
      const result = await outcome.run(() => handler.invoke(session, payload, context, destination));
      if (isObservable(result)) return await this.stream(result, handler, context, outcome);
      await this.returnValues.handle(result, handler.method, context);
    } catch (error) {
      await this.handleError(error, handler, context);
    }
  }

  /**
   * Sends each emission as one message. The session's next frame waits until the first emission
   * is sent or the Observable ends, unless the method itself returned an Observable: a stream,
   * which must not hold the session back. (Interceptors make every result an Observable; a plain
   * or Promise result behind an interceptor thus keeps its place in the session's order.)
   */
  private stream(
    result: Observable<unknown>,
    handler: RegisteredHandler,
    context: StompMessageContext,
    outcome: MethodOutcome,
  ): Promise<void> {
    return new Promise<void>((release) => {
      let sent: Promise<void> = Promise.resolve();
      void outcome.stream.then(() => release());
      outcome.run(() =>
        result.subscribe({
          next: (value) => {
            sent = this.send(value, handler.method, context);
            void sent.then(() => release());
          },
          error: (error: unknown) => void sent.then(() => this.handleError(error, handler, context)).then(() => release()),
          complete: () => void sent.then(() => release()),
        }),
      );
    });
  }

  private send(value: unknown, target: HandlerMethod | ExceptionHandlerMethod, context: StompMessageContext): Promise<void> {
    return this.returnValues
      .handle(value, target, context)
      .catch((err: unknown) => this.report(err, context, 'sending the result of'));
  }

  private async handleError(error: unknown, handler: RegisteredHandler, context: StompMessageContext): Promise<void> {
    context.exception = error;
    const args = [context.session, context.payload, context, context.destination];
    try {
      const exceptionHandler = closestExceptionHandler(handler.exceptionHandlers, error);
      if (exceptionHandler) {
        const result = await exceptionHandler.invoke(error, context, context.destination);
        if (isObservable(result)) {
          result.subscribe({ next: (v) => void this.send(v, exceptionHandler.method, context) });
        } else {
          await this.returnValues.handle(result, exceptionHandler.method, context);
        }
        return;
      }
      const filtered = handler.filters(error, args);
      if (filtered.handled) {
        const result = await filtered.result;
        if (result !== undefined) await this.sendError(context, result);
        return;
      }
    } catch (secondary) {
      // The error handling failed itself: report that error to the client instead.
      this.report(secondary, context, `handling an error of ${handler.method.label}`);
      await this.sendError(context, { status: 'error', message: clientMessage(secondary), destination: context.destination });
      return;
    }
    this.report(error, context, handler.method.label);
    await this.sendError(context, { status: 'error', message: clientMessage(error), destination: context.destination });
  }

  private async sendError(context: StompMessageContext, payload: unknown): Promise<void> {
    const destination = this.options.errorDestination;
    if (destination === false) return;
    await this.template.convertAndSendToSession(context.session.id, destination, payload).catch(() => undefined);
  }

  /** Logs an unhandled exception once: one line for expected errors, the stack for the rest. */
  private report(error: unknown, context: StompMessageContext, where: string): void {
    const line = `${where} (${context.destination}, session ${context.session.id}): ${describe(error)}`;
    if (isExpected(error)) this.logger.warn(line);
    else this.logger.error(line, error instanceof Error ? error.stack : undefined);
  }
}

/** A catch-all `@MessageExceptionHandler()` ranks after every handler that names a matching type. */
const CATCH_ALL_DEPTH = Number.MAX_SAFE_INTEGER;

/**
 * Spring's rule: the handler naming the closest superclass of the error wins, whatever the
 * declaration order; a catch-all is the last resort.
 */
function closestExceptionHandler<H extends { method: ExceptionHandlerMethod }>(handlers: readonly H[], error: unknown): H | undefined {
  let best: H | undefined;
  let bestDepth = Infinity;
  for (const candidate of handlers) {
    const types = candidate.method.errorTypes;
    const depth = types.length === 0 ? CATCH_ALL_DEPTH : Math.min(...types.map((type) => inheritanceDepth(error, type)));
    if (depth < bestDepth) {
      best = candidate;
      bestDepth = depth;
    }
  }
  return best;
}

/** How many prototype steps lead from `error` to `type` (0: its own class); `Infinity` if none. */
function inheritanceDepth(error: unknown, type: ErrorType): number {
  if (!(error instanceof type)) return Infinity;
  let depth = 0;
  for (let proto: unknown = Object.getPrototypeOf(error); proto && proto !== type.prototype; depth++) {
    proto = Object.getPrototypeOf(proto);
  }
  return depth;
}

function isExpected(error: unknown): boolean {
  return (
    (error instanceof HttpException && error.getStatus() < 500) ||
    error instanceof WsException ||
    error instanceof MessageConversionError ||
    error instanceof StompProtocolError
  );
}

/** The log line's account of an error: the client's message, or the real one when it is hidden from the client. */
function describe(error: unknown): string {
  if (!isExpected(error) && !(error instanceof HttpException) && !(error instanceof WsException)) {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  const message = clientMessage(error);
  return Array.isArray(message) ? message.join('; ') : message;
}

/** What the client is told: the message of expected errors, nothing internal otherwise. */
function clientMessage(error: unknown): string | string[] {
  if (error instanceof HttpException) {
    const response = error.getResponse();
    if (typeof response === 'string') return response;
    const message = (response as { message?: unknown }).message;
    if (typeof message === 'string' || Array.isArray(message)) return message as string | string[];
    return error.message;
  }
  if (error instanceof WsException) {
    const value = error.getError();
    if (typeof value === 'string') return value;
    const message = (value as { message?: unknown }).message;
    return typeof message === 'string' ? message : error.message;
  }
  if (error instanceof MessageConversionError || error instanceof StompProtocolError) return error.message;
  return 'Internal server error';
}
