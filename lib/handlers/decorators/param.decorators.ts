import 'reflect-metadata';
import { assignMetadata, createParamDecorator, type ExecutionContext, type PipeTransform, type Type } from '@nestjs/common';
import type { StompHeaders } from '../../protocol/frame.js';
import { ROUTE_ARGS_METADATA } from '../nest-compat.js';
import { StompMessageContext } from '../stomp-message-context.js';
import { StompParamtype } from '../stomp-params-factory.js';
import type { StompPrincipal } from '../../user/stomp-principal.js';

type PipeLike = PipeTransform | Type<PipeTransform>;

/**
 * The exported decorators carry these declared types rather than what `createParamDecorator`
 * infers: Nest 12's inferred type names `ParameterDecoratorOptions`, which Nest 11 lacks, so an
 * app on Nest 11 that type-checks libraries (`skipLibCheck: false`) would not compile.
 */
type NamedParamDecorator = (name: string, ...pipes: PipeLike[]) => ParameterDecorator;
type OptionalNameParamDecorator = (name?: string, ...pipes: PipeLike[]) => ParameterDecorator;
type PlainParamDecorator = (...pipes: PipeLike[]) => ParameterDecorator;

function context(ctx: ExecutionContext): StompMessageContext {
  const found = StompMessageContext.from(ctx.getArgs());
  if (!found) throw new Error('STOMP parameter decorators work only on @MessageMapping/@SubscribeMapping handlers');
  return found;
}

/**
 * The message body, converted by its `content-type` (JSON → object, `text/*` → string, other →
 * `Buffer`; no content-type: JSON if it parses, else text), then passed through Nest pipes, so a
 * global `ValidationPipe` validates DTOs. `@Payload('name')` picks one property.
 */
export function Payload(property?: string | PipeLike, ...pipes: PipeLike[]): ParameterDecorator {
  const data = typeof property === 'string' ? property : undefined;
  const allPipes = typeof property === 'string' || property === undefined ? pipes : [property, ...pipes];
  return (target, key, index) => {
    const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, target.constructor, key as string) ?? {}) as Record<string, unknown>;
    Reflect.defineMetadata(
      ROUTE_ARGS_METADATA,
      assignMetadata(args, StompParamtype.PAYLOAD as number, index, data, ...allPipes),
      target.constructor,
      key as string,
    );
  };
}

/** One header of the frame (first occurrence), or `undefined`. */
export const Header: NamedParamDecorator = createParamDecorator((name: string, ctx: ExecutionContext): string | undefined =>
  context(ctx).headers[name],
);

/** All headers of the frame as a plain object. */
export const Headers: PlainParamDecorator = createParamDecorator((_: unknown, ctx: ExecutionContext): StompHeaders => ({
  ...context(ctx).headers,
}));

/**
 * A template variable of the matched destination: `@DestinationVariable('room')` for
 * `@MessageMapping('/chat/{room}')`. Values are strings; add a pipe to convert,
 * e.g. `@DestinationVariable('id', ParseIntPipe)`.
 */
export const DestinationVariable: OptionalNameParamDecorator = createParamDecorator(
  (name: string | undefined, ctx: ExecutionContext): string | Readonly<Record<string, string>> | undefined => {
    const variables = context(ctx).variables;
    return name === undefined ? variables : variables[name];
  },
);

/** The session that sent the frame, read-only (`StompSessionInfo`: id, user, version, state, subscriptions, handshake). */
export const ConnectedSession: PlainParamDecorator = createParamDecorator((_: unknown, ctx: ExecutionContext) => context(ctx).session);

/**
 * The session's principal as the authenticator named it: `{ name, ...claims }` (a name alone is
 * `{ name }`), or `undefined` for an anonymous session. Spring's `Principal` argument.
 */
export const Principal: PlainParamDecorator = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): StompPrincipal | undefined => context(ctx).session.principal,
);

/**
 * The session's attributes (Spring's `simpSessionAttributes`, `SimpAttributes`): the live
 * `Map<string, unknown>` of the session, so a handler may also store values for later frames.
 */
export const SessionAttributes: PlainParamDecorator = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Map<string, unknown> => context(ctx).session.attributes,
);

/** One session attribute (`@SessionAttribute('tenant')`), or `undefined` when unset. */
export const SessionAttribute: NamedParamDecorator = createParamDecorator(
  (name: string, ctx: ExecutionContext): unknown => context(ctx).session.attributes.get(name),
);

/** In a `@MessageExceptionHandler`: the exception being handled. */
export const MessageException: PlainParamDecorator = createParamDecorator((_: unknown, ctx: ExecutionContext): unknown => context(ctx).exception);
