import 'reflect-metadata';
import { SEND_TO_METADATA, SEND_TO_USER_METADATA } from '../handler-metadata.constants.js';

/**
 * Sends the handler's return value to these broker destinations instead of the default
 * (`/topic` + the mapped destination). `{var}` placeholders take the values of the mapping's
 * template variables. On a class it applies to every handler without its own `@SendTo`.
 */
export function SendTo(...destinations: string[]): ClassDecorator & MethodDecorator {
  return (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor): void => {
    Reflect.defineMetadata(SEND_TO_METADATA, destinations, descriptor ? (descriptor.value as object) : target);
  };
}

export interface SendToUserOptions {
  /**
   * `true` (default): every session of the user receives the message. `false`: only the session
   * that sent the handled frame.
   */
  broadcast?: boolean;
}

export interface SendToUserMetadata {
  destinations: string[];
  broadcast: boolean;
}

/**
 * Sends the return value to the user who sent the handled frame, on user destinations: a client
 * subscribed to `/user/queue/errors` receives what `@SendToUser('/queue/errors')` sends.
 * Sessions without a user (anonymous) are treated as `broadcast: false`.
 */
export function SendToUser(
  ...args: [...destinations: string[]] | [...destinations: string[], options: SendToUserOptions]
): ClassDecorator & MethodDecorator {
  const list: ReadonlyArray<string | SendToUserOptions> = args;
  const last = list[list.length - 1];
  const options: SendToUserOptions = typeof last === 'object' && last !== null ? last : {};
  const destinations = list.filter((a): a is string => typeof a === 'string');
  const metadata: SendToUserMetadata = { destinations, broadcast: options.broadcast ?? true };
  return (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor): void => {
    Reflect.defineMetadata(SEND_TO_USER_METADATA, metadata, descriptor ? (descriptor.value as object) : target);
  };
}
