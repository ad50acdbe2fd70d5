/**
 * A violation of the STOMP protocol or of a configured limit. The server answers it with an
 * ERROR frame whose `message` header is this error's message, then closes that connection.
 * `code` is stable and meant for programs; `message` is meant for people.
 */
export type StompErrorCode =
  | 'FRAME_TOO_LARGE'
  | 'TOO_MANY_HEADERS'
  | 'HEADER_LINE_TOO_LONG'
  | 'BODY_TOO_LARGE'
  | 'INVALID_HEADER'
  | 'INVALID_ESCAPE'
  | 'INVALID_CONTENT_LENGTH'
  | 'MISSING_NULL_TERMINATOR'
  | 'INVALID_UTF8'
  | 'UNKNOWN_COMMAND'
  | 'BODY_NOT_ALLOWED'
  | 'MISSING_HEADER'
  | 'NOT_CONNECTED'
  | 'ALREADY_CONNECTED'
  | 'UNSUPPORTED_VERSION'
  | 'INVALID_HEARTBEAT'
  | 'CONNECT_REJECTED'
  | 'INVALID_USER_NAME'
  | 'UNKNOWN_DESTINATION'
  | 'DUPLICATE_SUBSCRIPTION'
  | 'UNKNOWN_SUBSCRIPTION'
  | 'UNKNOWN_ACK'
  | 'DUPLICATE_TRANSACTION'
  | 'UNKNOWN_TRANSACTION'
  | 'NO_HANDLER'
  | 'BROKER_UNAVAILABLE'
  | 'BROKER_ERROR'
  | 'BROKER_PROTOCOL_ERROR'
  | 'RECEIPT_TIMEOUT'
  | 'TOO_MANY_PENDING_RECEIPTS'
  | 'HEARTBEAT_TIMEOUT'
  | 'CONNECT_TIMEOUT'
  | 'INTERNAL_ERROR'
  | 'TOO_MANY_SUBSCRIPTIONS'
  | 'TRANSACTION_TOO_LARGE'
  | 'TOO_MANY_TRANSACTIONS'
  | 'DESTINATION_TOO_LONG'
  | 'PATTERN_TOO_COMPLEX'
  | 'TOO_MANY_DESTINATIONS'
  | 'TOO_MANY_UNACKED'
  | 'FORBIDDEN_DESTINATION'
  | 'MESSAGE_REFUSED'
  | 'QUEUE_FULL'
  | 'INVALID_SOCKJS_MESSAGE'
  | 'INBOUND_QUEUE_FULL'
  | 'CREDENTIALS_EXPIRED'
  | 'SESSION_LIMIT'
  | 'ACCESS_DENIED';

export class StompProtocolError extends Error {
  constructor(
    readonly code: StompErrorCode,
    message: string,
    /** Extra headers for the ERROR frame, e.g. `version` when negotiation fails. */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'StompProtocolError';
  }
}
