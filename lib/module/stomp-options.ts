import type { IncomingMessage } from 'node:http';
import type { Type } from '@nestjs/common';
import type { StompChannelInterceptor } from '../messaging/channel-interceptor.js';
import type { StompAccess, StompAuthorizedType } from '../messaging/authorization.js';
import type { StompHeaders } from '../protocol/frame.js';
import type { StompPrincipal } from '../user/stomp-principal.js';
import type { StompAuthenticator } from '../auth/stomp-authenticator.js';
import type { SimpUserRegistry } from '../user/simp-user-registry.js';

/** One WebSocket endpoint on the Nest app's HTTP server. */
export interface StompEndpointOptions {
  /** URL path of the handshake, e.g. `/ws`. Matched exactly, query string ignored. */
  path: string;
  /**
   * Browser origins allowed to connect besides the same origin (the `Origin` host equals the
   * `Host` header), which is always allowed, as in Spring. Default: the same origin only.
   * `['*']` allows any origin; entries may use `*` as a wildcard (`https://*.example.com`).
   * Clients that send no `Origin` (non-browser) are accepted. For SockJS, it also decides who
   * may use the iframe page (see `sockjs`).
   */
  allowedOrigins?: string[];
  /**
   * Also serve the SockJS protocol under {@link path}, for clients written for Spring's
   * `registry.addEndpoint(path).withSockJS()`: `new SockJS('/ws')` asks `GET /ws/info`, then opens
   * `/ws/<server>/<session>/<transport>`. A plain WebSocket client still connects to `path`
   * itself. Served by the `sockjs` package; every SockJS session is a STOMP session like any
   * other (limits, authentication, heart-beats, interceptors, events, stats), its transport named
   * `sockjs/<transport>` (e.g. `sockjs/xhr-streaming`). `true` takes every {@link SockJsOptions}
   * default. `allowedOrigins` applies to every SockJS request (HTTP 403 otherwise), and CORS
   * answers (credentials included) are only given to origins it allows. Default `false`.
   */
  sockjs?: boolean | SockJsOptions;
}

/**
 * A SockJS transport, named as `sockjs-client`'s `transports` option names it. The
 * `iframe-*` transports of old browsers use `eventsource`, `htmlfile` and `xhr-polling` inside an
 * iframe, so they follow those.
 */
export type SockJsTransport = 'websocket' | 'xhr-streaming' | 'xhr-polling' | 'eventsource' | 'htmlfile' | 'jsonp-polling';

/** SockJS settings of one endpoint. The names and defaults are Spring's (`SockJsServiceRegistration`). */
export interface SockJsOptions {
  /**
   * Milliseconds without a frame to a client after which the server sends a SockJS heart-beat
   * (`h`), which keeps proxies from closing an idle streaming response. Independent of STOMP
   * heart-beats. Default 25000 (Spring's `heartbeatTime`).
   */
  heartbeatTime?: number;
  /**
   * Milliseconds a SockJS session lives on without a receiving request (between two polls, or
   * after a streaming response ended) before it is closed as `socket-closed`. Default 5000
   * (Spring's `disconnectDelay`).
   */
  disconnectDelay?: number;
  /**
   * Characters one streaming response (`xhr-streaming`, `eventsource`, `htmlfile`) carries before
   * the server ends it and the client opens the next one, so that the browser can free what it
   * kept of the response. Default 131072 (128 Ki, Spring's `streamBytesLimit`).
   */
  streamBytesLimit?: number;
  /**
   * The transports served; requests for the others get 404 and the client falls back to the
   * next one it knows. Default every transport but `jsonp-polling` (Spring 6 removed JSONP: it
   * accepts form posts from any page).
   */
  transports?: SockJsTransport[];
  /**
   * URL of the `sockjs-client` script that the iframe page of the iframe transports loads.
   * Default `<path>/sockjs.min.js`, served by this endpoint from the `sockjs-client` package
   * when it is installed (never from a CDN, unlike Spring's default); without it, that URL gets
   * 404 and browsers that need an iframe transport fall back to the others.
   */
  clientLibraryUrl?: string;
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
  /**
   * Longest interval in ms the server agrees to, in either direction. A client asking for a
   * longer one (e.g. `heart-beat:1073741824,0`) gets `0` for that direction in CONNECTED: no
   * heart-beats that way, rather than timers Node cannot honour (it fires any delay above
   * 2^31 − 1 ms after 1 ms). Default 3600000 (one hour); `ceiling × tolerance` must not exceed
   * 2^31 − 1.
   */
  ceiling?: number;
}

/** The embedded, in-memory broker. */
export interface SimpleBrokerOptions {
  /** The broker kind. Default `'simple'`, so `broker: { prefixes }` is enough; `'relay'`: see {@link RelayBrokerOptions}. */
  kind?: 'simple';
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
  /**
   * Characters in a broker destination, for SUBSCRIBE and for every message published (client
   * SEND, `StompMessagingTemplate`, `@SendTo`). Beyond it: an ERROR `DESTINATION_TOO_LONG` naming
   * this option (to a client; a `StompProtocolError` thrown to server code). Default 1024.
   */
  maxDestinationLength?: number;
  /**
   * Segments (separated by `pathSeparator`; `/topic/a/b` has 4) in a broker destination. Bounds
   * the work of matching a message against pattern subscriptions and the memory of one pattern.
   * Beyond it: an ERROR `DESTINATION_TOO_LONG` naming this option. Default 64.
   */
  maxDestinationSegments?: number;
  /**
   * Wildcard segments (`*`, `**`, `#`) in one pattern SUBSCRIBE on a topic-like prefix. Beyond
   * it: an ERROR `PATTERN_TOO_COMPLEX` naming this option. Default 8.
   */
  maxPatternWildcards?: number;
  /**
   * Queue destinations the broker holds at once: a queue exists while it has subscribers or
   * held messages, so a SEND to a fresh `/queue/<name>` creates one. At the bound, a new queue
   * makes room the way `maxHeldBytes` does: the messages held longest are dropped (with a warning)
   * until a queue is left empty and goes, so one client creating queues by the thousand never gets
   * another client's new queue refused. Only when every queue has subscribers does a SEND or
   * SUBSCRIBE that needs one more get an ERROR `TOO_MANY_DESTINATIONS` naming this option.
   * Together with `queueCapacity` this bounds the messages held for nobody. Default 10000.
   */
  maxQueues?: number;
  /**
   * Messages one session may hold delivered but not yet acknowledged, over all its `client` and
   * `client-individual` subscriptions (ActiveMQ's default prefetch is 1000 per consumer). The
   * delivery after it ends the session with an ERROR `TOO_MANY_UNACKED` naming this option; its
   * unacknowledged queue messages go back to their queues. Default 1000.
   */
  maxUnackedMessages?: number;
  /**
   * Bytes all queues together may hold for subscribers to come (`queueCapacity` bounds each
   * queue's count, this their total size), requeued messages (NACKed, or unacknowledged when
   * their session ended) included. A message to be held beyond it makes room as `queueCapacity`
   * does: the oldest held messages are dropped, those of its own queue first, then the ones held
   * longest in any queue, and a warning is logged (once, until the queues hold less than half of
   * it again). So one client filling the room never gets another client's SEND refused. Only a
   * single message larger than this whole bound is refused, with an ERROR `QUEUE_FULL` naming
   * this option. Messages delivered at once are not affected. A message counts as its body plus
   * the UTF-8 bytes of its destination and of each header name and value it keeps, plus 256
   * bytes of fixed overhead, so header-heavy or empty messages are counted too (the same count
   * for `maxUnackedBytes` and `limits.maxTransactionBytes`). Default 64 MiB.
   */
  maxHeldBytes?: number;
  /**
   * Bytes one session may hold delivered but not yet acknowledged, over all its `client`
   * and `client-individual` subscriptions (the byte counterpart of `maxUnackedMessages`; the
   * broker keeps each such message for redelivery). The delivery that passes it ends the session
   * with an ERROR `TOO_MANY_UNACKED` naming this option; its unacknowledged queue messages go back
   * to their queues (where `maxHeldBytes` applies). Messages are counted as for `maxHeldBytes`
   * (body, destination, headers, plus 256 bytes each). Default 32 MiB (eight bodies of the
   * default `limits.maxBodyLength`).
   */
  maxUnackedBytes?: number;
  /** Heart-beat policy, or `false` to answer `heart-beat:0,0` to everyone. */
  heartbeat?: HeartbeatOptions | false;
}

/**
 * A relay to an external STOMP broker (RabbitMQ's STOMP plugin, ActiveMQ, Artemis) over TCP:
 * Spring's `enableStompBrokerRelay`. Each client session gets its own broker connection (its
 * SUBSCRIBE, SEND, ACK, NACK, transactions and receipts pass through, so the broker's
 * destinations, durability, ack modes and `prefetch-count` work as the broker documents them);
 * what the application sends (`@SendTo`, `@SendToUser`, `StompMessagingTemplate`) goes over one
 * shared "system" connection, which reconnects with back-off. See the README section "Broker
 * relay".
 */
export interface RelayBrokerOptions {
  kind: 'relay';
  /**
   * Destination prefixes relayed to the broker. Default `['/topic', '/queue']`. Add RabbitMQ's
   * `/exchange`, `/amq/queue` and `/temp-queue` to reach those.
   */
  prefixes?: string[];
  /** The broker's host. Default `'127.0.0.1'` (Spring: `relayHost` `127.0.0.1`). */
  host?: string;
  /** The broker's STOMP TCP port. Default 61613 (Spring's `relayPort`). */
  port?: number;
  /** Login of the client sessions' broker connections. Default `'guest'` (Spring's `clientLogin`). */
  clientLogin?: string;
  /** Passcode of the client sessions' broker connections. Default `'guest'`. */
  clientPasscode?: string;
  /** Login of the shared system connection. Default `'guest'` (Spring's `systemLogin`). */
  systemLogin?: string;
  /** Passcode of the shared system connection. Default `'guest'`. */
  systemPasscode?: string;
  /** The CONNECT `host` header, RabbitMQ's virtual host. Default `'/'` (RabbitMQ's default virtual host; RabbitMQ refuses a `host` naming no virtual host, such as the broker's address). */
  virtualHost?: string;
  /** ms between heart-beats the system connection offers to send. Default 10000 (Spring's). 0: none. */
  systemHeartbeatSendInterval?: number;
  /** ms between heart-beats the system connection wants to receive. Default 10000 (Spring's). 0: none. */
  systemHeartbeatReceiveInterval?: number;
  /**
   * ms between heart-beats each client session's broker connection offers to send and wants to
   * receive, negotiated with the broker independently of the client's own heart-beats. Default
   * 10000. 0: none.
   */
  clientHeartbeatInterval?: number;
  /** ms to wait for the broker's CONNECTED on a new broker connection. Default 10000. */
  connectTimeout?: number;
  /** ms before the system connection's first reconnect attempt, doubled after each failure. Default 1000. */
  reconnectDelay?: number;
  /** ms the reconnect delay grows to at most. Default 30000. */
  maxReconnectDelay?: number;
  /**
   * Where a message for a user this instance knows nothing of is broadcast, so the instance
   * holding the user's sessions delivers it (Spring's `userDestinationBroadcast`). Default
   * `'/topic/unresolved-user-destination'`; `false`: not broadcast (one instance).
   */
  userDestinationBroadcast?: string | false;
  /**
   * Where each instance broadcasts its users, sessions and subscriptions, so that the
   * `SimpUserRegistry` lists every instance's users (Spring's `userRegistryBroadcast`). Default
   * `'/topic/simp-user-registry'`; `false`: the registry lists this instance's users only.
   */
  userRegistryBroadcast?: string | false;
  /**
   * ms between two registry broadcasts; another instance's users are forgotten after twice this
   * without news from it (Spring's `registryExpirationPeriod` is 20 s). Default 10000.
   */
  userRegistryBroadcastInterval?: number;
  /** Client heart-beat policy (the client leg, as for the simple broker), or `false`. */
  heartbeat?: HeartbeatOptions | false;
}

export type BrokerOptions = SimpleBrokerOptions | RelayBrokerOptions;

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
   * consumer and is disconnected: the close frame (code 1008) queues behind the unsent bytes, so
   * the client sees 1008 if it reads again within {@link closeTimeout}, else the TCP connection
   * is dropped (the client sees 1006). Default 16 MiB.
   *
   * Counted are bytes that had a chance to leave: the frames written during the current
   * event-loop tick are corked and do not count, so a healthy client receiving a burst (one SEND
   * fanned out to many of its subscriptions, several messages read in one chunk) is not cut off
   * before it could read. Once a tick's bytes to one client reach the limit, they are flushed to
   * the socket at once, and what the socket cannot take then counts. So one SEND cannot queue
   * more than about twice the limit (plus one frame) to a client that stopped reading, however
   * many of its subscriptions match.
   */
  sendBufferSizeLimit?: number;
  /**
   * Milliseconds a new connection has until CONNECTED is sent: to send CONNECT, and for an
   * asynchronous `authenticate` to decide. Default 10000.
   */
  connectTimeout?: number;
  /** Subscriptions one session may hold at once. Default 1000. */
  maxSubscriptionsPerSession?: number;
  /** Frames (SEND, ACK, NACK) one session may hold in open transactions, all together. Default 1000. */
  maxTransactionFrames?: number;
  /**
   * Bytes one session may hold in open transactions, all together: each SEND/ACK/NACK counts its
   * body plus the UTF-8 bytes of each header name and value plus 256 bytes of fixed overhead (as
   * `broker.maxHeldBytes` counts messages). The frame that would pass it gets an ERROR
   * `TRANSACTION_TOO_LARGE` naming this option, then the connection closes; COMMIT or ABORT
   * frees what a transaction held. Default 32 MiB (eight bodies of the default `maxBodyLength`).
   */
  maxTransactionBytes?: number;
  /**
   * Transactions one session may have open at once (BEGIN without COMMIT or ABORT yet). Each
   * holds its id (up to `maxHeaderLineLength` bytes) and its frames until it ends. The BEGIN
   * beyond it gets an ERROR `TOO_MANY_TRANSACTIONS` naming this option, then the connection
   * closes. Clients such as @stomp/stompjs use one at a time. Default 16.
   */
  maxTransactionsPerSession?: number;
  /**
   * Levels of nesting (objects and arrays) in a JSON body converted for a `@Payload()`. A deeper
   * body is not a protocol violation: the session stays open and the sender gets
   * `Body is not valid JSON: nested deeper than <n> levels` on its error destination (deep bodies
   * would otherwise overflow the stack of `class-transformer`/`class-validator`). Default 1000,
   * Jackson's `StreamReadConstraints.maxNestingDepth`.
   */
  maxJsonNestingDepth?: number;
  /**
   * Frames one session may have decoded but not yet handled (while a handler's Promise is
   * pending, or beyond the per-turn budget). At this mark the session stops decoding, even in
   * the middle of a WebSocket message, and stops reading its socket until the queue is half
   * empty. Default 256.
   */
  inboundHighWaterMark?: number;
  /**
   * Frames one session may handle in one turn of the event loop before it yields to other
   * connections and timers (the rest of a large pipelined message waits for the next turn).
   * Default 128.
   */
  inboundFramesPerTurn?: number;
  /**
   * Milliseconds the server waits, after it closes a connection (ERROR, slow consumer,
   * shutdown excepted), for the close handshake to complete before it drops the TCP connection.
   * The close frame is queued behind what is still unsent, so a slow consumer that reads again
   * within this time sees close code 1008; one that does not sees the connection drop (1006).
   * Default 5000.
   */
  closeTimeout?: number;
  /**
   * Milliseconds a client may take nothing while bytes wait for it (Spring's `sendTimeLimit`,
   * same default): when bytes have been unsent (in the socket's write buffer, or SockJS's queue)
   * and none of them left for this long, the client is a slow consumer and is closed as for
   * {@link sendBufferSizeLimit} (close 1008, no ERROR, disconnect reason `slow-consumer` with
   * `limit: 'sendTimeLimit'`), however few bytes wait. A client that reads, however slowly, is
   * not closed by this rule (the buffer limit still bounds what it may fall behind). Progress is
   * the kernel taking more of the waiting bytes, which it does in steps (when about a third of
   * its send buffer is free), or a SockJS poll that took the queue. Checked by one timer per
   * connection, armed only while bytes wait, every quarter of the limit: a stall is noticed 1 to
   * 1.25 limits after the last progress. `0` turns the rule off. Default 10000.
   */
  sendTimeLimit?: number;
  /**
   * Sessions the server holds at once, over all endpoints and transports. A session counts from
   * its WebSocket handshake (or SockJS session open) until its connection is closed, CONNECTED
   * or not, so a flood of idle sockets cannot pass it. At the limit a WebSocket handshake is
   * refused with HTTP 503; a SockJS session opened beyond it gets, at CONNECT, an ERROR
   * `SESSION_LIMIT` naming this option, then close 1008. `0` (default): no limit, as in Spring
   * (the process's open-file limit, `ulimit -n`, is then the bound; set this below it).
   */
  maxSessions?: number;
  /**
   * Sessions one user (the principal named at CONNECT) may hold at once. The CONNECT beyond it
   * gets an ERROR `SESSION_LIMIT` naming this option, then close 1008; the user's other sessions
   * are not affected. Anonymous sessions are not counted. `0` (default): no limit.
   */
  maxSessionsPerUser?: number;
}

/** `StompStats` (the injectable stats snapshot, Spring's `WebSocketMessageBrokerStats`). */
export interface StompStatsOptions {
  /**
   * Every this many ms, the stats line (`StompStats.toString()`) is logged at `log` level under
   * the Logger context `StompStats`, as Spring logs `WebSocketMessageBrokerStats`. Default
   * 1800000 (30 min, Spring's default); `0` turns the line off. At most 2147483647 (Node's
   * longest timer). The timer does not keep the process alive and stops on `app.close()`.
   */
  logInterval?: number;
}

/** What the `authenticate` hook sees of a CONNECT. */
export interface StompConnectRequest {
  sessionId: string;
  /** The endpoint path the client connected to (`/ws`), also for SockJS transports. */
  endpoint: string;
  /** CONNECT headers as sent (never unescaped, as the spec wants). */
  headers: Readonly<StompHeaders>;
  login?: string;
  passcode?: string;
  /**
   * The HTTP request behind the CONNECT (cookies, query string, remote address): the WebSocket
   * upgrade (also for SockJS's websocket transport), or for SockJS's HTTP transports the post
   * (`xhr_send`) that carried the CONNECT frame. Not the request that opened a SockJS session
   * over HTTP: another site's page can open one with the user's cookies (an `<img>` tag sends
   * no `Origin`), but cannot post to it with them.
   */
  request: IncomingMessage;
  /**
   * The principal the handshake named (`StompAuthenticator.authenticateHandshake`), if any. A
   * decision without `user` keeps it.
   */
  principal?: StompPrincipal;
}

/**
 * The answer of `authenticate`: `{ user }` accepts and names the principal (a name, or
 * `{ name, ...claims }`: see {@link StompPrincipal}), `{}` accepts anonymously (or as the
 * handshake's principal), `{ reject }` refuses with that message (the client receives it in an
 * ERROR frame). Throwing refuses as well, with the error's message. `attributes` are copied into
 * the session's attributes.
 *
 * `expiresAt` (ms since the epoch, e.g. a JWT's `exp * 1000`) is when the credentials run out:
 * from then on the session's next frame is answered with an ERROR `CREDENTIALS_EXPIRED` and the
 * connection closes (1008), and an idle session is closed the same way at that moment, so a
 * client must reconnect with fresh credentials (STOMP has no re-authentication). The earlier of
 * the handshake's and the CONNECT's `expiresAt` applies.
 */
export type StompConnectDecision =
  | { user?: string | StompPrincipal; attributes?: Readonly<Record<string, unknown>>; expiresAt?: number; reject?: undefined }
  | { reject: string };

/**
 * One channel interceptor in `StompModule` options: a class, or an object used as is. A class is
 * taken from Nest's container when it is a provider of some module (then it is that singleton);
 * otherwise it is instantiated once at start-up with its constructor dependencies injected as
 * `ModuleRef.create` does: those must then be visible to `StompModule` (global providers, or
 * modules given in `forRootAsync({ imports })`).
 */
export type InterceptorRef = Type<StompChannelInterceptor> | StompChannelInterceptor;

/**
 * Interceptors per channel (Spring's `configureClientInboundChannel`,
 * `configureClientOutboundChannel`, `configureMessageBroker(...).configureBrokerChannel()`).
 * Each runs in the order listed, before the providers decorated with
 * `@StompChannelInterceptor(channel)`.
 */
export interface ChannelInterceptorOptions {
  /**
   * Every frame a client sends (CONNECT/STOMP, SUBSCRIBE, UNSUBSCRIBE, SEND, ACK, NACK, BEGIN,
   * COMMIT, ABORT, DISCONNECT), before it is routed. A throw answers the frame with an ERROR
   * carrying the error's message (and `receipt-id` when asked), then the connection closes with
   * 1008 (`CONNECT_REJECTED` for a CONNECT, `MESSAGE_REFUSED` otherwise). When `authenticate` is
   * set, it runs first, as a CONNECT interceptor.
   */
  clientInbound?: InterceptorRef[];
  /**
   * Every frame to a client (CONNECTED, MESSAGE, RECEIPT, ERROR), before it is encoded. A throw
   * drops that frame and logs a warning.
   */
  clientOutbound?: InterceptorRef[];
  /**
   * Every message server code sends (`StompMessagingTemplate`, `@SendTo`, `@SendToUser`), as a
   * SEND frame whose `destination` is as the caller wrote it (`convertAndSendToUser('ann',
   * '/queue/x')` is `/user/ann/queue/x`), before user destinations are resolved. A throw rejects
   * the sender's Promise. Client SENDs do not pass here (they passed `clientInbound`), as in Spring.
   */
  broker?: InterceptorRef[];
}

export interface StompModuleOptions {
  /** WebSocket endpoints. Default `[{ path: '/ws' }]`. */
  endpoints?: StompEndpointOptions[];
  /** Prefixes routed to `@MessageMapping` handlers. Default `['/app']`. */
  applicationDestinationPrefixes?: string[];
  /** The broker: the embedded simple broker or a relay to RabbitMQ & co. Default `{ kind: 'simple' }`. */
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
  /**
   * What happens to a SEND or SUBSCRIBE to an application destination (`/app/...`) that no
   * `@MessageMapping` / `@SubscribeMapping` matches (a typo):
   * - `'report'` (default): the session stays open; the sender receives
   *   `{ status: 'error', message: 'No @MessageMapping handler for <destination>', destination }`
   *   on its error destination, and a warning is logged once per destination and session (at most
   *   8 per session, then debug). A SUBSCRIBE stays registered (it receives nothing; UNSUBSCRIBE
   *   works) and its receipt is sent. Spring drops such frames with a debug log line only.
   * - `'close'`: an ERROR frame (code `NO_HANDLER`), then the connection closes (1002), as the
   *   STOMP 1.2 spec prescribes for a frame the server cannot process.
   */
  unmappedDestination?: 'report' | 'close';
  limits?: StompLimits;
  /**
   * Decides on every CONNECT. Default: everybody is accepted anonymously. It runs as the first
   * `clientInbound` interceptor (Spring authenticates in a CONNECT `ChannelInterceptor`): a
   * `{ reject }` answer or a throw refuses the CONNECT with an ERROR (`CONNECT_REJECTED`, close
   * 1008); a user name with CR, LF or NUL refuses it too (`INVALID_USER_NAME`, a warning logged).
   */
  authenticate?: (
    request: StompConnectRequest,
  ) => StompConnectDecision | Promise<StompConnectDecision>;
  /**
   * An injectable authenticator: the HTTP handshake (HTTP 401/403 before the upgrade) and/or the
   * CONNECT frame, see {@link StompAuthenticator}. A class is the provider of that class when a
   * module provides it, else one instance created with its dependencies; an object is used as is.
   * Not together with `authenticate` (a start-up error): `authenticate: fn` is short for
   * `authenticator: { authenticateConnect: fn }`. Default: none (everybody anonymous).
   */
  authenticator?: Type<StompAuthenticator> | StompAuthenticator;
  /** The `server` header of CONNECTED. Default `nestjs-stomp/<version>`. */
  serverName?: string;
  /** Stats: the periodic log line. Default `{ logInterval: 1800000 }`. */
  stats?: StompStatsOptions;
  /**
   * Channel interceptors, per channel: classes (Nest providers, or instantiated with their
   * dependencies) or objects with a `preSend(frame, context)` method. Default: none, and then a
   * channel costs nothing. See {@link ChannelInterceptorOptions}.
   */
  interceptors?: ChannelInterceptorOptions;
  /**
   * The user registry the application injects as `SimpUserRegistry` and user destinations are
   * resolved through: a class extending (or implementing) `SimpUserRegistry`, created once in
   * `StompModule`'s scope with its constructor dependencies injected (it may inject
   * `DefaultSimpUserRegistry`, this server's registry, which the server keeps up to date either
   * way; a subclass of `DefaultSimpUserRegistry` is kept up to date itself). Nest calls its
   * lifecycle hooks (`onModuleInit`, `onApplicationShutdown`). Default: `DefaultSimpUserRegistry`.
   */
  userRegistry?: Type<SimpUserRegistry>;
  /**
   * Declarative rules for SUBSCRIBE and SEND (Spring Security's `simpDestMatchers`), checked in
   * order, first match wins. Default: none, and then authorization costs nothing. See
   * {@link StompAuthorizationOptions}.
   */
  authorization?: StompAuthorizationOptions;
}

/**
 * `authorization`: who may SUBSCRIBE and SEND where. Checked as the last `clientInbound` step, on
 * the destination as the client wrote it (`/user/queue/x`, `/app/orders`, `/topic/news`); a
 * refused frame gets an ERROR `ACCESS_DENIED` naming its type and destination (with `receipt-id`
 * when asked), then the connection closes with 1008, and one warning is logged.
 */
export interface StompAuthorizationOptions {
  /** The rules, tried in order; the first whose `type` and `destination` match decides. */
  rules: StompAuthorizationRule[];
  /**
   * What a SUBSCRIBE or SEND no rule matches gets. Default `'permitAll'` (so adding a rule never
   * locks out what it does not name); end the rules with `{ access: 'denyAll' }` to deny the rest,
   * as Spring Security's `anyMessage().denyAll()`.
   */
  default?: 'permitAll' | 'denyAll' | 'authenticated';
  /**
   * Milliseconds a predicate's Promise may take. One that has not settled by then denies the
   * frame (ERROR `ACCESS_DENIED`, the warning says the predicate did not answer), so a predicate
   * that hangs cannot hold its session's frames forever. Default 10000.
   */
  timeout?: number;
}

/** One authorization rule. */
export interface StompAuthorizationRule {
  /** `'SUBSCRIBE'`, `'SEND'` or both (an array); default both. */
  type?: StompAuthorizedType | StompAuthorizedType[];
  /**
   * A destination pattern in `@MessageMapping` syntax (Spring's `AntPathMatcher`, split by
   * `pathSeparator`): `*` within one segment, `**` as a whole segment for any number of segments,
   * `{name}` captures a segment (given to predicates as `variables`). Default: every destination.
   */
  destination?: string;
  /** `'permitAll'`, `'denyAll'`, `'authenticated'`, or a predicate (function, class, object). */
  access: StompAccess;
}
