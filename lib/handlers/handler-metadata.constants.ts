/** Reflect-metadata keys written by the decorators and read once by the explorer at bootstrap. */
export const MESSAGE_MAPPING_METADATA = 'nestjs-stomp:message-mapping';
export const SUBSCRIBE_MAPPING_METADATA = 'nestjs-stomp:subscribe-mapping';
export const SEND_TO_METADATA = 'nestjs-stomp:send-to';
export const SEND_TO_USER_METADATA = 'nestjs-stomp:send-to-user';
export const MESSAGE_EXCEPTION_HANDLER_METADATA = 'nestjs-stomp:message-exception-handler';
