import type { IncomingMessage } from 'node:http';
import type { StompHeaders } from '../protocol/frame.js';

/** One WebSocket endpoint on the Nest app's HTTP server. */
export interface StompEndpointOptions {
  /** URL path of the handshake, e.g. `/ws`. Matched exactly, query string ignored. */
  path: string;
  /**
   * Browser origins allowed to connect. Default: same origin only (the `Origin` host must equal
   * the `Host` header), as in Spring. `['*']` allows any origin; entries may use `*` as a
   * wildcard (`https://*.example.com`). Clients that send no `Origin` (non-browser) are accepted.
   */
  allowedOrigins?: string[];
}

/** Heart-beat policy. The server honours what each client asks for, never more often than `floor`. */
export interface HeartbeatOptions {
  /** Shortest interval in ms the server agrees to, in either direction. Default 1000. */
  floor?: number;
  /**
   * How many negotiated intervals may pass without a byte from the client before the server
   * declares it dead and closes the connection. Default 2.
   */
  tolerance?: number;
}

/** The embedded, in-memory broker. */
export interface SimpleBrokerOptions {
  kind: 'simple';
  /** Destination prefixes the broker owns. Default `['/topic', '/queue']`. */
  prefixes?: string[];
  /**
   * Prefixes with queue semantics (competing consumers: each message goes to one subscriber,
   * round-robin, and is held while nobody subscribes). The other prefixes are topic-like (every
   * subscriber gets every message). Default: `['/queue']` if `/queue` is a broker prefix.
   * `[]` makes every prefix topic-like, as Spring's simple broker does.
   */
  queuePrefixes?: string[];
  /** Messages held per queue while it has no subscriber; the oldest is dropped beyond. Default 1000. */
  queueCapacity?: number;
  /** Heart-beat policy, or `false` to answer `heart-beat:0,0` to everyone. */
  heartbeat?: HeartbeatOptions | false;
}

export type BrokerOptions = SimpleBrokerOptions;

/** Protocol limits. A frame that breaks one gets an ERROR frame naming the limit, then the connection closes. */
export interface StompLimits {
  /** Bytes in one STOMP frame (command, headers and body). Default 5 MiB. */
  maxFrameSize?: number;
  /** Bytes in one frame body. Default 4 MiB. */
  maxBodyLength?: number;
  /** Header lines in one frame. Default 100. */
  maxHeaders?: number;
  /** Bytes in one header line (or the command line). Default 8 KiB. */
  maxHeaderLineLength?: number;
  /**
   * Bytes in one WebSocket message. A bigger message is refused by `ws` itself (close code 1009)
   * before the STOMP decoder sees it. Default: twice `maxFrameSize`.
   */
  maxWebSocketMessageSize?: number;
  /**
   * Bytes waiting to be written to one client. A client that lets more pile up is a slow
   * consumer and is disconnected (close code 1008). Default 16 MiB.
   */
  sendBufferSizeLimit?: number;
  /** Milliseconds a new connection has to send CONNECT. Default 10000. */
  connectTimeout?: number;
  /** Subscriptions one session may hold at once. Default 1000. */
  maxSubscriptionsPerSession?: number;
  /** Frames (SEND, ACK, NACK) one session may hold in open transactions, all together. Default 1000. */
  maxTransactionFrames?: number;
}

/** What the `authenticate` hook sees of a CONNECT. */
export interface StompConnectRequest {
  sessionId: string;
  /** CONNECT headers as sent (never unescaped, as the spec wants). */
  headers: Readonly<StompHeaders>;
  login?: string;
  passcode?: string;
  /** The HTTP upgrade request (cookies, query string, remote address). */
  request: IncomingMessage;
}

/**
 * The answer of `authenticate`: `{ user }` accepts and names the principal, `{}` accepts
 * anonymously, `{ reject }` refuses with that message (the client receives it in an ERROR frame).
 * Throwing refuses as well, with the error's message.
 */
export type StompConnectDecision = { user?: string; reject?: undefined } | { reject: string };

export interface StompModuleOptions {
  /** WebSocket endpoints. Default `[{ path: '/ws' }]`. */
  endpoints?: StompEndpointOptions[];
  /** Prefixes routed to `@MessageMapping` handlers. Default `['/app']`. */
  applicationDestinationPrefixes?: string[];
  /** The broker. Default `{ kind: 'simple' }`. */
  broker?: BrokerOptions;
  /**
   * Separator of destination segments, for `@MessageMapping` patterns and for the simple
   * broker's pattern subscriptions (`*` one segment, `**` or `#` any number). Default `/`;
   * `.` gives RabbitMQ-style `/app/chat.lobby` ↔ `@MessageMapping('chat.{room}')`.
   */
  pathSeparator?: '/' | '.';
  /**
   * Prefix of user destinations. A client subscribed to `/user/queue/x` receives what is sent to
   * its user (`convertAndSendToUser(name, '/queue/x', …)`, `@SendToUser('/queue/x')`). Default `/user`.
   */
  userDestinationPrefix?: string;
  /**
   * Where a client receives errors of its messages that no `@MessageExceptionHandler` or
   * exception filter handled: the user destination `/user` + this. Default `/queue/errors`
   * (subscribe to `/user/queue/errors`), or `<first broker prefix>/errors` when `/queue` is not
   * a broker prefix; `false` only logs them.
   */
  errorDestination?: string | false;
  limits?: StompLimits;
  /** Decides on every CONNECT. Default: everybody is accepted anonymously. */
  authenticate?: (
    request: StompConnectRequest,
  ) => StompConnectDecision | Promise<StompConnectDecision>;
  /** The `server` header of CONNECTED. Default `nestjs-stomp/<version>`. */
  serverName?: string;
}
