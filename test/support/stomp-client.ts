import {
  Client,
  type IFrame,
  type IMessage,
  type StompConfig,
  type StompHeaders,
  type StompSubscription,
  Versions,
} from '@stomp/stompjs';
import WebSocket from 'ws';

/** Failure guard for every wait in the tests; never an assertion about time. */
export const GUARD_MS = 5000;

/** Rejects with `what` when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, what: string, ms = GUARD_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/** A real @stomp/stompjs client over `ws`, already connected. */
export interface TestClient {
  client: Client;
  connected: IFrame;
  /** Every ERROR frame received so far. */
  readonly errors: IFrame[];
  /** Resolves with the next ERROR frame the client receives. */
  nextError(): Promise<IFrame>;
  /** Resolves when the WebSocket closes, with its close code. */
  closed: Promise<number>;
  /** Heart-beats (lone EOLs) received from the server so far. */
  readonly heartbeats: number;
  /** Resolves once `count` heart-beats arrived in total. */
  waitForHeartbeats(count: number, timeoutMs?: number): Promise<void>;
  /** Sends something with a fresh `receipt` header and resolves with the RECEIPT. */
  receipt(send: (receipt: string) => void): Promise<IFrame>;
  disconnect(): Promise<void>;
}

export type ClientConfig = StompConfig & {
  /** WebSocket sub-protocols. Default: those of `versions`. */
  protocols?: string[];
  /** STOMP versions offered in `accept-version` (and, by default, as sub-protocols). */
  versions?: string[];
  /** Extra WebSocket handshake headers (e.g. Origin). */
  wsHeaders?: Record<string, string>;
};

let receiptCounter = 0;
export function receiptId(prefix = 'r'): string {
  return `${prefix}-${++receiptCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A client activated and watched from the start: what {@link startClient} gives. */
export interface Attempt {
  client: Client;
  connected: Promise<IFrame>;
  errors: IFrame[];
  closed: Promise<number>;
  nextError(): Promise<IFrame>;
  heartbeats(): number;
  waitForHeartbeats(count: number, timeoutMs?: number): Promise<void>;
}

/**
 * Activates a @stomp/stompjs client and watches it from the start (CONNECTED, ERROR frames, the
 * close, heart-beats). It talks over `ws` to `url`, or over `config.webSocketFactory` when given
 * (a SockJS client, say).
 */
export function startClient(url: string, config: ClientConfig): Attempt {
  const { protocols: protocolsOption, versions, wsHeaders, ...stompConfig } = config;
  const stompVersions = versions ? new Versions(versions) : Versions.default;
  const protocols = protocolsOption ?? stompVersions.protocolVersions();
  let closeCode: (code: number) => void = () => undefined;
  const closed = new Promise<number>((resolve) => (closeCode = resolve));
  const errors: IFrame[] = [];
  let errorsTaken = 0;
  const errorWaiters: Array<(f: IFrame) => void> = [];
  let heartbeats = 0;
  let heartbeatWaiters: Array<{ count: number; resolve: () => void }> = [];
  let onConnected: (frame: IFrame) => void = () => undefined;
  let onFailed: (err: Error) => void = () => undefined;
  const connected = new Promise<IFrame>((resolve, reject) => {
    onConnected = resolve;
    onFailed = reject;
  });
  connected.catch(() => undefined);
  const client = new Client({
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    debug: () => undefined,
    ...stompConfig,
    stompVersions,
    webSocketFactory: stompConfig.webSocketFactory ?? (() => new WebSocket(url, protocols, { headers: wsHeaders })),
    onConnect: (frame) => onConnected(frame),
    onStompError: (frame) => {
      errors.push(frame);
      const waiter = errorWaiters.shift();
      if (waiter) {
        errorsTaken++;
        waiter(frame);
      }
      onFailed(new Error(`ERROR frame: ${frame.headers['message']}`));
    },
    onHeartbeatReceived: () => {
      heartbeats++;
      heartbeatWaiters = heartbeatWaiters.filter((w) => {
        if (heartbeats >= w.count) w.resolve();
        return heartbeats < w.count;
      });
    },
    onWebSocketClose: (event: { code: number }) => {
      closeCode(event.code);
      onFailed(new Error(`WebSocket closed with ${event.code} before CONNECTED`));
    },
    onWebSocketError: () => undefined,
  });
  client.activate();
  return {
    client,
    connected,
    errors,
    closed,
    nextError: () =>
      withTimeout(
        errorsTaken < errors.length
          ? Promise.resolve(errors[errorsTaken++])
          : new Promise<IFrame>((r) => errorWaiters.push(r)),
        'an ERROR frame',
      ),
    heartbeats: () => heartbeats,
    waitForHeartbeats: (count, timeoutMs = GUARD_MS) =>
      heartbeats >= count
        ? Promise.resolve()
        : withTimeout(
            new Promise<void>((resolve) => heartbeatWaiters.push({ count, resolve })),
            `${count} heart-beats (got ${heartbeats})`,
            timeoutMs,
          ),
  };
}

export async function connectClient(url: string, config: ClientConfig = {}): Promise<TestClient> {
  const attempt = startClient(url, config);
  const frame = await withTimeout(attempt.connected, `CONNECTED from ${url}`);
  const client = attempt.client;
  return {
    client,
    connected: frame,
    errors: attempt.errors,
    closed: attempt.closed,
    nextError: attempt.nextError,
    get heartbeats() {
      return attempt.heartbeats();
    },
    waitForHeartbeats: attempt.waitForHeartbeats,
    receipt: (send) => {
      const id = receiptId();
      const got = new Promise<IFrame>((resolve) => client.watchForReceipt(id, resolve));
      send(id);
      return withTimeout(got, `RECEIPT ${id}`);
    },
    disconnect: () => withTimeout(client.deactivate(), 'client deactivation'),
  };
}

/** Connects a client that is expected to be refused: resolves with the ERROR and the close code. */
export async function connectExpectingError(
  url: string,
  config: ClientConfig = {},
): Promise<{ error: IFrame | undefined; closeCode: number; connected: boolean }> {
  const attempt = startClient(url, config);
  const outcome = await withTimeout(
    attempt.connected.then(
      () => true,
      () => false,
    ),
    'the connection attempt to end',
  );
  const closeCode = await withTimeout(attempt.closed, 'the WebSocket to close');
  await attempt.client.deactivate();
  return { error: attempt.errors[0], closeCode, connected: outcome };
}

/** Collects the messages of one subscription and lets a test wait for a count. */
export class Inbox {
  readonly messages: IMessage[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  readonly push = (message: IMessage): void => {
    this.messages.push(message);
    this.waiters = this.waiters.filter((w) => {
      if (this.messages.length >= w.count) w.resolve();
      return this.messages.length < w.count;
    });
  };

  /** Resolves once `count` messages arrived in total; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs = GUARD_MS): Promise<IMessage[]> {
    if (this.messages.length >= count) return Promise.resolve(this.messages);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`expected ${count} messages, got ${this.messages.length}: ${JSON.stringify(this.bodies().map((b) => b.slice(0, 40)))}`),
          ),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.messages);
        },
      });
    });
  }

  /** Resolves with the first message whose body is `body`, waiting for it if needed. */
  async waitForBody(body: string, timeoutMs = GUARD_MS): Promise<IMessage> {
    for (let n = 1; n <= 10_000; n++) {
      await this.waitFor(n, timeoutMs);
      const found = this.messages.find((m) => m.body === body);
      if (found) return found;
    }
    throw new Error(`no message with body ${body}`);
  }

  bodies(): string[] {
    return this.messages.map((m) => m.body);
  }
}

/** Subscribes with a receipt and resolves once the server confirmed the subscription. */
export async function subscribeConfirmed(
  client: Client,
  destination: string,
  inbox: Inbox,
  headers: StompHeaders = {},
): Promise<StompSubscription> {
  const receipt = receiptId('sub');
  const confirmed = new Promise<void>((resolve) => client.watchForReceipt(receipt, () => resolve()));
  const subscription = client.subscribe(destination, inbox.push, { ...headers, receipt });
  await withTimeout(confirmed, `RECEIPT for SUBSCRIBE ${destination}`);
  return subscription;
}

/** Unsubscribes and resolves once the server confirmed it. */
export async function unsubscribeConfirmed(client: Client, subscription: StompSubscription): Promise<void> {
  const receipt = receiptId('unsub');
  const confirmed = new Promise<void>((resolve) => client.watchForReceipt(receipt, () => resolve()));
  subscription.unsubscribe({ receipt });
  await withTimeout(confirmed, `RECEIPT for UNSUBSCRIBE ${subscription.id}`);
}

export async function sendConfirmed(
  client: Client,
  destination: string,
  body: string,
  headers: StompHeaders = {},
): Promise<void> {
  const receipt = receiptId('send');
  const confirmed = new Promise<void>((resolve) => client.watchForReceipt(receipt, () => resolve()));
  client.publish({ destination, body, headers: { ...headers, receipt } });
  await withTimeout(confirmed, `RECEIPT for SEND to ${destination}`);
}
