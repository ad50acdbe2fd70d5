/** DI token of the validated options ({@link ResolvedStompOptions}). */
export const STOMP_OPTIONS = Symbol('nestjs-stomp:STOMP_OPTIONS');
