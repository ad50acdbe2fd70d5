import { StompProtocolError } from './stomp-protocol-error.js';

/** What each side agreed to, in milliseconds; 0 means off. */
export interface NegotiatedHeartbeat {
  /** How often the client must send something; the server checks it. */
  clientToServer: number;
  /** How often the server sends something; the client checks it. */
  serverToClient: number;
}

export const NO_HEARTBEAT: NegotiatedHeartbeat = { clientToServer: 0, serverToClient: 0 };

const HEART_BEAT = /^\s*([0-9]{1,10})\s*,\s*([0-9]{1,10})\s*$/;

/** Parses a `heart-beat` header (`cx,cy`); a missing header means `0,0`. */
export function parseHeartbeat(value: string | undefined): [number, number] {
  if (value === undefined || value === '') return [0, 0];
  const match = HEART_BEAT.exec(value);
  if (!match) {
    throw new StompProtocolError(
      'INVALID_HEARTBEAT',
      `Invalid heart-beat header ${JSON.stringify(value.slice(0, 32))}: expected "<cx>,<cy>"`,
    );
  }
  return [Number(match[1]), Number(match[2])];
}

/**
 * Honours the client's request, as RabbitMQ does, but never more often than `floor` ms.
 * A direction the client turns off (0) stays off. `floor === false` turns heart-beats off.
 *
 * The CONNECTED header is then `serverToClient,clientToServer`: applying the spec's
 * `max(cx, sy)` / `max(cy, sx)` on the client side gives the same two numbers back.
 */
export function negotiateHeartbeat(
  [clientSends, clientWants]: [number, number],
  floor: number | false,
): NegotiatedHeartbeat {
  if (floor === false) return NO_HEARTBEAT;
  return {
    clientToServer: clientSends === 0 ? 0 : Math.max(clientSends, floor),
    serverToClient: clientWants === 0 ? 0 : Math.max(clientWants, floor),
  };
}

export function formatHeartbeat(negotiated: NegotiatedHeartbeat): string {
  return `${negotiated.serverToClient},${negotiated.clientToServer}`;
}
