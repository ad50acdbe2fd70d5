import { HttpException, Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import { isObservable, type Observable, type Subscription } from 'rxjs';
import type { ApplicationMessageHandler } from '../messaging/application-message-handler.js';
import { MessageConversionError, MessageConverter } from '../messaging/message-converter.js';
import { ErrorReplies, hasEnded, logValue } from '../messaging/error-replies.js';
import { UnmappedDestinationReporter } from '../messaging/unmapped-destination-reporter.js';
import type { StompFrame } from '../protocol/frame.js';
import { StompProtocolError } from '../protocol/stomp-protocol-error.js';
import { StompCounters } from '../stats/stomp-counters.js';
import { STOMP_OPTIONS } from '../module/stomp.constants.js';
import type { ResolvedStompOptions } from '../module/resolve-options.js';
import type { SessionSubscription } from '../transport/session-subscription.js';
import { messageView, type StompSession } from '../transport/stomp-session.js';
import type { ErrorType } from './decorators/message-exception-handler.decorator.js';
import { HandlerExplorer, type ExceptionHandlerMethod, type HandlerMethod } from './handler-explorer.js';
import { hasPrefix } from '../broker/destination-prefixes.js';
import { HandlerRegistry, type HandlerMatch } from './handler-registry.js';
import { ReturnValueHandler } from './return-value-handler.js';
import { MethodOutcome, StompContextCreator, type FilterOutcome, type FilterProxy, type HandlerProxy } from './stomp-context-creator.js';
import { StompMessageContext } from './stomp-message-context.js';

interface RegisteredHandler {
  method: HandlerMethod;
  invoke: HandlerProxy;
  filters: FilterProxy;
  exceptionHandlers: Array<{ method: ExceptionHandlerMethod; invoke: HandlerProxy }>;
}

/** Handler errors one session may have logged at warn or error level; the rest go to debug. */
const ERROR_LOGS_PER_SESSION = 20;

/** A subscription to an Observable a handler returned, ended with its session. */
interface SessionStream {
  subscription: Subscription;
  /** Lets the session's next frame go, if it still waits for this stream. */
  release(): void;
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
 * A destination no mapping matches is, by default, reported to the sender on its error
 * destination (logged once per destination and session, up to a bound), and the session stays
 * open; `unmappedDestination: 'close'` answers it with an ERROR frame and closes instead.
 *
 * Lifetime: Observables a handler (or exception handler) returned are unsubscribed when their
 * session ends and when the application closes, so their `finalize` runs and nothing keeps
 * ticking for a client that is gone (as gateways do).
 *
 * Ordering: the session waits for each handler's Promise, and for its reply to be sent, before it
 * handles its next frame, so a session's messages are handled one at a time, in order, and their
 * replies leave in that order (interceptors included); sessions run concurrently with each other.
 * An Observable the method returns is subscribed without holding the session back: its emissions
 * are sent in order as they come.
 */
@Injectable()
export class AnnotatedMessageHandler implements ApplicationMessageHandler, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('StompMessageHandler');
  private readonly converter: MessageConverter;
  private readonly messageHandlers = new HandlerRegistry<RegisteredHandler>();
  private readonly subscribeHandlers = new HandlerRegistry<RegisteredHandler>();
  /** Live handler Observables, by session; an entry goes when its stream ends or its session does. */
  private readonly streams = new Map<StompSession, Set<SessionStream>>();
  /** Handler errors logged at warn/error level, per session (bounded by ERROR_LOGS_PER_SESSION). */
  private readonly errorLogs = new WeakMap<StompSession, number>();
  /** Exception filters whose failure on a STOMP message was already logged (one line per filter). */
  private readonly failedFilters = new Set<string>();

  constructor(
    @Inject(STOMP_OPTIONS) private readonly options: ResolvedStompOptions,
    private readonly explorer: HandlerExplorer,
    private readonly contextCreator: StompContextCreator,
    private readonly returnValues: ReturnValueHandler,
    private readonly unmappedDestinations: UnmappedDestinationReporter,
    private readonly errorReplies: ErrorReplies,
    private readonly counters: StompCounters,
  ) {
    this.converter = new MessageConverter({ maxJsonNestingDepth: options.limits.maxJsonNestingDepth });
  }

  onModuleInit(): void {
    for (const method of this.explorer.explore()) {
      this.returnValues.validate(method, method.label);
      this.checkPlaceholders(method);
      this.logMapping(method);
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

  /**
   * Start-up check: every `{var}` of a method's `@SendTo`/`@SendToUser` must be a variable of each
   * of its mapping patterns; otherwise it would be sent literally (`/topic/chat/{rooom}`).
   * @throws Error naming the method, the placeholder and the variables it could use.
   */
  private checkPlaceholders(method: HandlerMethod): void {
    const destinations = [...(method.sendTo ?? []), ...(method.sendToUser?.destinations ?? [])];
    for (const destination of destinations) {
      for (const [, name] of destination.matchAll(/\{([^}:]+)\}/g)) {
        const pattern = method.patterns.find((p) => !p.variableNames.includes(name));
        if (pattern === undefined) continue;
        const known = pattern.variableNames.length > 0 ? pattern.variableNames.map((v) => `{${v}}`).join(', ') : 'none';
        throw new Error(
          `${method.label}: "${destination}" uses {${name}}, which its mapping "${pattern.source}" does not define (its variables: ${known})`,
        );
      }
    }
  }

  /**
   * One log line per mapping, as Nest logs its routes. A pattern that repeats an application
   * prefix (`@MessageMapping('/app/hello')`, mapped at `/app/app/hello`) gets a warning: patterns
   * are matched after the prefix (Spring's rule).
   */
  private logMapping(method: HandlerMethod): void {
    const decorator = method.kind === 'message' ? '@MessageMapping' : '@SubscribeMapping';
    const prefixes = this.options.applicationDestinationPrefixes;
    const separator = this.options.pathSeparator;
    for (const pattern of method.patterns) {
      const relative = separator === '.' ? `/${pattern.source}` : pattern.source;
      this.logger.log(`Mapped ${prefixes[0] ?? ''}${relative} (${decorator}) to ${method.label}`);
      const repeated = prefixes.find((prefix) => hasPrefix(relative, prefix));
      if (repeated !== undefined) {
        this.logger.warn(
          `${method.label}: ${decorator}("${pattern.source}") starts with the application prefix ${repeated}, which clients already add: ` +
            `it is mapped at ${repeated}${relative}. Write ${decorator}("${relative.slice(repeated.length) || '/'}") to map ${repeated}${relative.slice(repeated.length)}`,
        );
      }
    }
  }

  handleMessage(session: StompSession, frame: StompFrame, lookupDestination: string): Promise<void> {
    const match = this.find(this.messageHandlers, lookupDestination);
    if (!match) return this.unmapped(session, frame, '@MessageMapping');
    return this.invoke(match, session, frame, lookupDestination);
  }

  /**
   * A SUBSCRIBE to an application destination. The subscription stays registered even when no
   * `@SubscribeMapping` matches (reported like an unmapped SEND), so the client's UNSUBSCRIBE of
   * it is valid; it receives nothing.
   */
  handleSubscribe(session: StompSession, subscription: SessionSubscription, lookupDestination: string): Promise<void> {
    const frame: StompFrame = { command: 'SUBSCRIBE', headers: subscription.headers, body: Buffer.alloc(0) };
    const match = this.find(this.subscribeHandlers, lookupDestination);
    if (!match) return this.unmapped(session, frame, '@SubscribeMapping');
    return this.invoke(match, session, frame, lookupDestination, subscription);
  }

  /** Ends what the session's handlers started: their Observables are unsubscribed. */
  sessionClosed(session: StompSession): void {
    const streams = this.streams.get(session);
    if (!streams) return;
    this.streams.delete(session);
    for (const stream of streams) {
      try {
        stream.subscription.unsubscribe();
      } catch (err) {
        this.logger.warn(`Ending a handler's Observable of session ${session.id} failed: ${describe(err)}`);
      }
      stream.release();
    }
  }

  /** `app.close()`: every session's handler Observables end. */
  onModuleDestroy(): void {
    for (const session of [...this.streams.keys()]) this.sessionClosed(session);
  }

  private find(registry: HandlerRegistry<RegisteredHandler>, lookupDestination: string): HandlerMatch<RegisteredHandler> | undefined {
    // With "." as separator the lookup has no leading slash: /app/chat.lobby → chat.lobby.
    const lookup = this.options.pathSeparator === '.' ? lookupDestination.replace(/^\//, '') : lookupDestination;
    return registry.match(lookup);
  }

  /** No mapping for the destination: reported, or ERROR and close, as `unmappedDestination` says. */
  private unmapped(session: StompSession, frame: StompFrame, kind: string): Promise<void> {
    const destination = frame.headers['destination'] ?? '';
    return this.unmappedDestinations.report(session, destination, `No ${kind} handler for ${destination}`);
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
    const client = messageView(session);
    let context = new StompMessageContext(session, frame, destination, lookupDestination, match.variables, undefined, subscription, client);
    try {
      payload = this.converter.fromMessage(frame.body, frame.headers['content-type']);
      context = new StompMessageContext(session, frame, destination, lookupDestination, match.variables, payload, subscription, client);
      const outcome = new MethodOutcome();
      // Guards, interceptors, pipes and `@ConnectedSocket()` see the read-only session view, never the session.
      const result = await outcome.run(() => handler.invoke(client, payload, context, destination));
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
    // The session ended while the method ran: its Observable is not started.
    if (hasEnded(context.stompSession)) return Promise.resolve();
    return new Promise<void>((release) => {
      let sent: Promise<void> = Promise.resolve();
      void outcome.stream.then(() => release());
      const subscription = outcome.run(() =>
        result.subscribe({
          next: (value) => {
            sent = this.send(value, handler.method, context);
            void sent.then(() => release());
          },
          error: (error: unknown) => void sent.then(() => this.handleError(error, handler, context)).then(() => release()),
          complete: () => void sent.then(() => release()),
        }),
      );
      this.track(context.stompSession, subscription, release);
    });
  }

  /** Keeps a handler's subscription until it ends, or its session does. */
  private track(session: StompSession, subscription: Subscription, release: () => void = () => undefined): void {
    if (subscription.closed) return;
    let streams = this.streams.get(session);
    if (!streams) this.streams.set(session, (streams = new Set()));
    const stream: SessionStream = { subscription, release };
    streams.add(stream);
    subscription.add(() => {
      const current = this.streams.get(session);
      if (!current?.delete(stream) || current.size > 0) return;
      this.streams.delete(session);
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
          if (hasEnded(context.stompSession)) return;
          const subscription = result.subscribe({ next: (v) => void this.send(v, exceptionHandler.method, context) });
          this.track(context.stompSession, subscription);
        } else {
          await this.returnValues.handle(result, exceptionHandler.method, context);
        }
        return;
      }
    } catch (secondary) {
      // The error handling failed itself: report that error to the client instead.
      this.report(secondary, context, `handling an error of ${handler.method.label}`);
      await this.sendError(context.stompSession, this.errorReply(secondary, context));
      return;
    }
    const emitted: Promise<void>[] = [];
    const filtered = await handler.filters(error, args, (payload) => emitted.push(this.sendError(context.stompSession, payload)));
    await Promise.all(emitted);
    if (filtered.kind === 'answered') {
      if (filtered.result !== undefined) await this.sendError(context.stompSession, filtered.result);
      return;
    }
    if (filtered.kind === 'silent') return;
    if (filtered.kind === 'failed') this.filterFailed(filtered, context);
    const note = filtered.kind === 'unanswered' ? ` (exception filter ${filtered.filter} returned nothing and sent nothing)` : '';
    this.report(error, context, handler.method.label, note);
    await this.sendError(context.stompSession, this.errorReply(error, context));
  }

  /**
   * A filter threw on a STOMP message, typically an HTTP filter (`APP_FILTER`, Nest's
   * catch-everything example calling `httpAdapter.reply(ctx.getResponse(), …)`) that does not
   * expect the `'ws'` context. The error gets the default reply; the filter's failure is logged
   * once per filter (a warning for a global filter, an error with stack for `@UseFilters`), then
   * at debug level.
   */
  private filterFailed(outcome: Extract<FilterOutcome, { kind: 'failed' }>, context: StompMessageContext): void {
    const line = `Exception filter ${outcome.filter} failed on a STOMP message (${logValue(context.destination)}): ${describe(outcome.error)}`;
    if (this.failedFilters.has(outcome.filter)) {
      this.logger.debug(line);
      return;
    }
    this.failedFilters.add(outcome.filter);
    const advice = `; STOMP errors it catches get the default error reply instead (a filter that only serves HTTP can rethrow the exception when host.getType() !== 'http'). Logged once per filter`;
    if (outcome.global) this.logger.warn(line + advice);
    else this.logger.error(line + advice, outcome.error instanceof Error ? outcome.error.stack : undefined);
  }

  /**
   * What the sender's error destination receives for an unhandled error: a `WsException`'s error
   * object unchanged (`{ message, code }`, a `ValidationError[]`), as gateways emit it; otherwise
   * `{ status: 'error', message, destination }`, plus the other fields of an `HttpException`'s
   * response object (`new BadRequestException({ message, code })` keeps its `code`, as an HTTP
   * client would see it) except its `statusCode` and `error`.
   */
  private errorReply(error: unknown, context: StompMessageContext): unknown {
    if (error instanceof WsException) {
      const value = error.getError();
      if (value !== null && typeof value === 'object') return value;
    }
    const reply = { status: 'error', message: clientMessage(error), destination: context.destination };
    const response: unknown = error instanceof HttpException ? error.getResponse() : undefined;
    if (response === null || typeof response !== 'object' || Array.isArray(response)) return reply;
    const { message: _message, statusCode: _statusCode, error: _error, ...extra } = response as Record<string, unknown>;
    return Object.keys(extra).length === 0 ? reply : { ...extra, ...reply };
  }

  private sendError(session: StompSession, payload: unknown): Promise<void> {
    return this.errorReplies.send(session, payload);
  }

  /**
   * Counts (`StompStats.handlerErrors`) and logs an unhandled exception once: one line for
   * expected errors, the stack for the rest. A
   * client can fail as often as it sends, so each session gets at most
   * {@link ERROR_LOGS_PER_SESSION} such lines; later ones go to debug level.
   */
  private report(error: unknown, context: StompMessageContext, where: string, note = ''): void {
    this.counters.handlerErrors++;
    const session = context.stompSession;
    const line = `${where} (${logValue(context.destination)}, session ${session.id}): ${describe(error)}${note}`;
    const logged = this.errorLogs.get(session) ?? 0;
    if (logged >= ERROR_LOGS_PER_SESSION) {
      this.logger.debug(line);
      return;
    }
    this.errorLogs.set(session, logged + 1);
    const more =
      logged + 1 === ERROR_LOGS_PER_SESSION
        ? `; further handler errors of session ${session.id} are logged at debug level`
        : '';
    if (isExpected(error)) this.logger.warn(line + more);
    else this.logger.error(line + more, error instanceof Error ? error.stack : undefined);
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
  if (error instanceof WsException) {
    const value = error.getError();
    if (value !== null && typeof value === 'object') {
      try {
        const text = JSON.stringify(value);
        return text.length > 300 ? `${text.slice(0, 300)}…` : text;
      } catch {
        return error.message;
      }
    }
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
