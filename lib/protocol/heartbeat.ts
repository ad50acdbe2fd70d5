import { StompProtocolError } from './stomp-protocol-error.js';

/** What each side agreed to, in milliseconds; 0 means off. */
export interface NegotiatedHeartbeat {
  /** How often the client must send something; the server checks it. */
  clientToServer: number;
  /** How often the server sends something; the client checks it. */
  serverToClient: number;
}

export const NO_HEARTBEAT: NegotiatedHeartbeat = { clientToServer: 0, serverToClient: 0 };

const HEART_BEAT = /^\s*([0-9]{1,64})\s*,\s*([0-9]{1,64})\s*$/;

/**
 * The largest delay Node's timers honour (2^31 − 1 ms, about 24.8 days); a longer one fires
 * after 1 ms. Every heart-beat timer, including `ceiling × tolerance`, must stay within it.
 */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * Parses a `heart-beat` header (`cx,cy`, milliseconds); a missing header means `0,0`. Numbers of
 * any size parse (a value beyond 2^53 is not exact, which does not matter: it is above any
 * ceiling); the negotiation decides what to do with them.
 */
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
 * A direction whose requested interval is above `ceiling` ms is turned off (0) rather than
 * shortened: the client asked for no more than one beat per interval, and an interval that long
 * is in practice "none". Answering 0 keeps CONNECTED honest about what the server will do, and no
 * timer is ever armed with a delay Node cannot honour ({@link MAX_TIMER_DELAY}).
 *
 * The CONNECTED header is then `serverToClient,clientToServer`: applying the spec's
 * `max(cx, sy)` / `max(cy, sx)` on the client side gives the same two numbers back.
 */
export function negotiateHeartbeat(
  [clientSends, clientWants]: [number, number],
  floor: number | false,
  ceiling: number = MAX_TIMER_DELAY,
): NegotiatedHeartbeat {
  if (floor === false) return NO_HEARTBEAT;
  const direction = (requested: number): number =>
    requested === 0 || requested > ceiling ? 0 : Math.max(requested, floor);
  return { clientToServer: direction(clientSends), serverToClient: direction(clientWants) };
}

export function formatHeartbeat(negotiated: NegotiatedHeartbeat): string {
  return `${negotiated.serverToClient},${negotiated.clientToServer}`;
}
