import 'reflect-metadata';
import { MESSAGE_EXCEPTION_HANDLER_METADATA } from '../handler-metadata.constants.js';

/** An error class, e.g. `BadRequestException` or your own. */
export type ErrorType = abstract new (...args: never[]) => unknown;

/**
 * Marks a controller method as the handler of exceptions thrown by that controller's
 * `@MessageMapping` and `@SubscribeMapping` methods (of the given types, or of any type when none
 * is given; the handler naming the closest type wins, whatever the declaration order, and a
 * catch-all comes last). The method receives the exception as its first argument when it has no
 * parameter decorators, or through `@MessageException()`. Its return value is sent like a handler's:
 * to `@SendTo` / `@SendToUser` destinations, or by default to `/topic` + the destination.
 *
 * ```ts
 * @MessageExceptionHandler(BadRequestException)
 * @SendToUser('/queue/errors', { broadcast: false })
 * onBadRequest(error: BadRequestException) { return { error: error.message }; }
 * ```
 */
export function MessageExceptionHandler(...errorTypes: ErrorType[]): MethodDecorator {
  return (_target: object, _key: string | symbol, descriptor: PropertyDescriptor): void => {
    Reflect.defineMetadata(MESSAGE_EXCEPTION_HANDLER_METADATA, errorTypes, descriptor.value as object);
  };
}
