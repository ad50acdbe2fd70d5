import 'reflect-metadata';
import { MESSAGE_MAPPING_METADATA } from '../handler-metadata.constants.js';
import { classOrMethodArrayDecorator } from './append-metadata.js';

/**
 * Maps STOMP SEND frames to a method by destination, after the application prefix (`/app`) is
 * removed. Patterns may be exact (`/hello`), Ant-style (`/news/*`, `/news/**`) or templates
 * (`/chat/{room}`, `/order/{id:\d+}`); several patterns may be given. On a class, the pattern
 * is a prefix shared by all its mappings, including `@SubscribeMapping`.
 *
 * ```ts
 * @Controller()
 * export class GreetingController {
 *   @MessageMapping('/hello')
 *   @SendTo('/topic/greetings')
 *   greet(@Payload() msg: HelloMessage) { return { content: `Hello, ${msg.name}!` }; }
 * }
 * ```
 */
export function MessageMapping(...patterns: string[]): ClassDecorator & MethodDecorator {
  return classOrMethodArrayDecorator(MESSAGE_MAPPING_METADATA, patterns.length ? patterns : ['']);
}
