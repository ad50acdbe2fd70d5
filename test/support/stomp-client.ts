import { Client, type IFrame, type IMessage, type StompConfig, Versions } from '@stomp/stompjs';
import WebSocket from 'ws';

/** A real @stomp/stompjs client over `ws`, already connected. */
export interface TestClient {
  client: Client;
  connected: IFrame;
  /** Resolves with the next ERROR frame the client receives. */
  nextError(): Promise<IFrame>;
  /** Resolves when the WebSocket closes, with its close code. */
  closed: Promise<number>;
  disconnect(): Promise<void>;
}

export function connectClient(
  url: string,
  config: StompConfig & { protocols?: string[] } = {},
): Promise<TestClient> {
  const protocols = config.protocols ?? Versions.default.protocolVersions();
  let closeCode: (code: number) => void = () => undefined;
  const closed = new Promise<number>((resolve) => (closeCode = resolve));
  const errors: IFrame[] = [];
  const errorWaiters: Array<(f: IFrame) => void> = [];
  return new Promise<TestClient>((resolve, reject) => {
    const client = new Client({
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      ...config,
      webSocketFactory: () => new WebSocket(url, protocols),
      onConnect: (frame) => {
        resolve({
          client,
          connected: frame,
          closed,
          nextError: () =>
            errors.length > 0
              ? Promise.resolve(errors.shift() as IFrame)
              : new Promise((r) => errorWaiters.push(r)),
          disconnect: () => client.deactivate(),
        });
      },
      onStompError: (frame) => {
        const waiter = errorWaiters.shift();
        if (waiter) waiter(frame);
        else errors.push(frame);
        reject(new Error(`ERROR frame: ${frame.headers['message']}`));
      },
      onWebSocketClose: (event: { code: number }) => {
        closeCode(event.code);
        reject(new Error(`WebSocket closed with ${event.code} before CONNECTED`));
      },
      onWebSocketError: () => undefined,
    });
    client.activate();
  });
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
  waitFor(count: number, timeoutMs = 5000): Promise<IMessage[]> {
    if (this.messages.length >= count) return Promise.resolve(this.messages);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`expected ${count} messages, got ${this.messages.length}`)),
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
}

/** Subscribes with a receipt and resolves once the server confirmed the subscription. */
export function subscribeConfirmed(
  client: Client,
  destination: string,
  inbox: Inbox,
  headers: Record<string, string> = {},
): Promise<void> {
  const receipt = `sub-${Math.random().toString(36).slice(2)}`;
  return new Promise((resolve) => {
    client.watchForReceipt(receipt, () => resolve());
    client.subscribe(destination, inbox.push, { ...headers, receipt });
  });
}

export function sendConfirmed(
  client: Client,
  destination: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<void> {
  const receipt = `send-${Math.random().toString(36).slice(2)}`;
  return new Promise((resolve) => {
    client.watchForReceipt(receipt, () => resolve());
    client.publish({ destination, body, headers: { ...headers, receipt } });
  });
}
