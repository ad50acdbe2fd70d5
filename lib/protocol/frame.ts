/**
 * STOMP frames as plain data. Nothing here knows about sockets or Nest.
 */

export type StompVersion = '1.0' | '1.1' | '1.2';

/** Versions this server speaks, lowest first. */
export const SUPPORTED_VERSIONS: readonly StompVersion[] = ['1.0', '1.1', '1.2'];

export type ClientCommand =
  | 'CONNECT'
  | 'STOMP'
  | 'SEND'
  | 'SUBSCRIBE'
  | 'UNSUBSCRIBE'
  | 'ACK'
  | 'NACK'
  | 'BEGIN'
  | 'COMMIT'
  | 'ABORT'
  | 'DISCONNECT';

export type ServerCommand = 'CONNECTED' | 'MESSAGE' | 'RECEIPT' | 'ERROR';

export type StompCommand = ClientCommand | ServerCommand;

/** Every client command, in the spec's order. */
export const CLIENT_COMMANDS: readonly ClientCommand[] = [
  'CONNECT',
  'STOMP',
  'SEND',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'ACK',
  'NACK',
  'BEGIN',
  'COMMIT',
  'ABORT',
  'DISCONNECT',
];

/** Every server command. */
export const SERVER_COMMANDS: readonly ServerCommand[] = ['CONNECTED', 'MESSAGE', 'RECEIPT', 'ERROR'];

const CLIENT_COMMAND_SET: ReadonlySet<string> = new Set(CLIENT_COMMANDS);
const SERVER_COMMAND_SET: ReadonlySet<string> = new Set(SERVER_COMMANDS);

export function isClientCommand(command: string): command is ClientCommand {
  return CLIENT_COMMAND_SET.has(command);
}

export function isKnownCommand(command: string): boolean {
  return CLIENT_COMMAND_SET.has(command) || SERVER_COMMAND_SET.has(command);
}

/** Only these frames may carry a body (STOMP 1.2, "Frame Body"). */
export function mayHaveBody(command: string): boolean {
  return command === 'SEND' || command === 'MESSAGE' || command === 'ERROR';
}

/** CONNECT, STOMP and CONNECTED headers are never escaped (STOMP 1.2, "Value Encoding"). */
export function isEscapeExempt(command: string): boolean {
  return command === 'CONNECT' || command === 'STOMP' || command === 'CONNECTED';
}

/**
 * Header names to values. When a header repeats in a frame, the first occurrence wins and
 * later ones are dropped (STOMP 1.2, "Repeated Header Entries"). The object has no prototype,
 * so a header called `__proto__` or `constructor` is an ordinary entry.
 */
export type StompHeaders = Record<string, string>;

export function createHeaders(): StompHeaders {
  return Object.create(null) as StompHeaders;
}

export interface StompFrame {
  command: string;
  headers: StompHeaders;
  body: Buffer;
}

export const EMPTY_BODY: Buffer = Buffer.alloc(0);

/** The sub-protocol names STOMP clients offer on the WebSocket handshake. */
export const SUBPROTOCOL_VERSIONS: Readonly<Record<string, StompVersion>> = {
  'v12.stomp': '1.2',
  'v11.stomp': '1.1',
  'v10.stomp': '1.0',
};
