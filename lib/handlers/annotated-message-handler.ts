import { HttpException, Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import { isObservable } from 'rxjs';
import type { ApplicationMessageHandler } from '../messaging/application-message-handler.js';
import { MessageConversionError, MessageConverter } from '../messaging/message-converter.js';
import type { StompFrame } from '../protocol/frame.js';
import { StompProtocolError } from '../protocol/stomp-protocol-error.js';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import type { SessionSubscription } from '../transport/session-subscription.js';
import type { StompSession } from '../transport/stomp-session.js';
import { StompMessagingTemplate } from '../template/stomp-messaging-template.js';
import { HandlerExplorer, type ExceptionHandlerMethod, type HandlerMethod } from './handler-explorer.js';
import { HandlerRegistry, type HandlerMatch } from './handler-registry.js';
import { ReturnValueHandler } from './return-value-handler.js';
import { StompContextCreator, type FilterProxy, type HandlerProxy } from './stomp-context-creator.js';
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
 * Ordering: the session waits for each handler's Promise before it handles its next frame, so a
 * session's messages are handled one at a time, in order; sessions run concurrently with each
 * other. An Observable result is subscribed without holding the session back: its emissions are
 * sent in order as they come.
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
      const result = await handler.invoke(session, payload, context, destination);
      if (isObservable(result)) {
        result.subscribe({
          next: (value) => this.send(value, handler.method, context),
          error: (error: unknown) => void this.handleError(error, handler, context),
        });
        return;
      }
      await this.returnValues.handle(result, handler.method, context);
    } catch (error) {
      await this.handleError(error, handler, context);
    }
  }

  private send(value: unknown, target: HandlerMethod | ExceptionHandlerMethod, context: StompMessageContext): void {
    this.returnValues.handle(value, target, context).catch((err: unknown) => this.report(err, context, 'sending the result of'));
  }

  private async handleError(error: unknown, handler: RegisteredHandler, context: StompMessageContext): Promise<void> {
    context.exception = error;
    const args = [context.session, context.payload, context, context.destination];
    try {
      const exceptionHandler = handler.exceptionHandlers.find(
        ({ method }) => method.errorTypes.length === 0 || method.errorTypes.some((t) => error instanceof t),
      );
      if (exceptionHandler) {
        const result = await exceptionHandler.invoke(error, context, context.destination);
        if (isObservable(result)) {
          result.subscribe({ next: (v) => this.send(v, exceptionHandler.method, context) });
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
      this.report(secondary, context, 'handling an error of');
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

function isExpected(error: unknown): boolean {
  return (
    (error instanceof HttpException && error.getStatus() < 500) ||
    error instanceof WsException ||
    error instanceof MessageConversionError ||
    error instanceof StompProtocolError
  );
}

function describe(error: unknown): string {
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
