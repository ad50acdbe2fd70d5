// Issue 9's "Must show" against the real sample (sample/main.ts bootstrap): sockjs-client in Node
// with @stomp/stompjs over the websocket transport and over forced xhr-streaming and xhr-polling
// (greeting, a 1 MB body, heart-beats, a refused login), the legacy Stomp.over() API of Spring's
// getting-started guide against /gs-guide-websocket, the SockJS session in events and stats, and
// plain WebSocket clients on /ws and /ws/websocket beside SockJS clients. Every wait is bounded
// (GUARD_MS, a failure guard only); every client is deactivated in afterEach.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, Stomp, type IFrame, type IMessage, type IStompSocket, type StompConfig } from '@stomp/stompjs';
import SockJS from 'sockjs-client';
import { StompEvents, type StompStatsSnapshot } from '../../lib/index.js';
import { escapeHtml } from '../../sample/greeting/greeting.controller.js';
import { EventRecorder } from '../support/event-recorder.js';
import { connectAs, inboxOf, json } from '../support/handler-fixtures.js';
import { startSample, type RunningSample } from '../support/sample-app.js';
import { unique } from '../support/stomp-app.js';
import { GUARD_MS, Inbox, startClient, subscribeConfirmed, withTimeout, type Attempt, type TestClient } from '../support/stomp-client.js';

type Transport = 'websocket' | 'xhr-streaming' | 'xhr-polling';
const TRANSPORTS: Transport[] = ['websocket', 'xhr-streaming', 'xhr-polling'];

/**
 * How long to wait for the server to end a session the client left. Over xhr-polling the
 * server's session ends only when sockjs's disconnect delay (sockjs.disconnectDelay, 5000 ms by
 * default, as limits.closeTimeout) runs out after the close frame went out with a poll, so the
 * `disconnect` event and `sessions.current` lag by that much there (reported to the lead);
 * elsewhere at once. A failure guard, never an assertion about time.
 */
const SOCKJS_DISCONNECT_DELAY = 5000;
function endBound(transport: Transport): number {
  return transport === 'xhr-polling' ? SOCKJS_DISCONNECT_DELAY + GUARD_MS : GUARD_MS;
}

/** A socket factory for stompjs: sockjs-client at `url`, restricted to `transport` when given. */
function sockJs(url: string, transport?: Transport): () => IStompSocket {
  return () => new SockJS(url, null, transport === undefined ? {} : { transports: [transport] }) as unknown as IStompSocket;
}

/** Clients to deactivate after each test. */
const open: Client[] = [];

/** A @stomp/stompjs client over `factory` (sockjs-client), watched from activation on. */
function watch(factory: () => IStompSocket, config: StompConfig = {}): Attempt {
  const attempt = startClient('(sockjs)', { ...config, webSocketFactory: factory });
  open.push(attempt.client);
  return attempt;
}

/**
 * Connects a stompjs client through sockjs-client and waits for CONNECTED, logged in as
 * `sockjs-user` unless `config.connectHeaders` says otherwise (the sample's /ws needs a login).
 */
async function connectSockJs(url: string, transport?: Transport, config: StompConfig = {}): Promise<Attempt & { frame: IFrame }> {
  const watched = watch(sockJs(url, transport), { connectHeaders: { login: 'sockjs-user' }, ...config });
  const frame = await withTimeout(watched.connected, `CONNECTED over SockJS ${transport ?? ''} from ${url}`);
  return { ...watched, frame };
}

/** Subscribes with a receipt (so the server has the subscription) and returns the inbox. */
async function subscribed(client: Client, destination: string): Promise<Inbox> {
  const inbox = new Inbox();
  await subscribeConfirmed(client, destination, inbox);
  return inbox;
}

/** The sample's greeting for `name` (sample/greeting: HTML-escaped), as the JSON body it sends. */
function greetingBody(name: string): string {
  return JSON.stringify({ content: `Hello, ${escapeHtml(name)}!` });
}

/** Sends `{name}` to /app/hello, as the guide's page does, and resolves with the greeting for that name on `inbox`. */
async function greet(client: Client, inbox: Inbox, name: string): Promise<IMessage> {
  client.publish({ destination: '/app/hello', body: JSON.stringify({ name }) });
  return inbox.waitForBody(greetingBody(name));
}

/**
 * A body of exactly `bytes` UTF-8 bytes mixing 1-, 2-, 3- and 4-byte characters (a 4-byte one is
 * a surrogate pair in JavaScript), so that any bad split of a character or of a pair shows.
 */
function multiByteBody(bytes: number): string {
  const pattern = 'a-é-€-😀-ß-中-\u2028-z\n';
  let text = pattern.repeat(Math.ceil(bytes / Buffer.byteLength(pattern)));
  while (Buffer.byteLength(text) > bytes) text = text.slice(0, -1);
  // Stripping code units may leave a lone high surrogate at the end; pad with ASCII instead.
  if (/[\ud800-\udbff]$/.test(text)) text = text.slice(0, -1);
  return text + 'x'.repeat(bytes - Buffer.byteLength(text));
}

afterEach(async () => {
  for (const client of open.splice(0)) await withTimeout(client.deactivate(), 'client deactivation');
});

describe('the sample over SockJS (sockjs-client in Node, @stomp/stompjs)', () => {
  let sample: RunningSample;
  let recorder: EventRecorder;

  beforeAll(async () => {
    sample = await startSample('alice:secret');
    recorder = new EventRecorder(sample.app.get(StompEvents));
  });
  afterAll(async () => {
    recorder?.stop();
    await sample?.close();
  });

  describe.each(TRANSPORTS)('over the %s transport', (transport) => {
    it('connects, subscribes to /topic/greetings, sends to /app/hello and receives the greeting', async () => {
      const tag = unique(transport);
      const { client, frame } = await connectSockJs(`${sample.httpUrl}/ws?t=${tag}`, transport);
      expect(frame.headers['version']).toBe('1.2');
      const inbox = await subscribed(client, '/topic/greetings');
      const greeting = await greet(client, inbox, `Ada <${transport}>`);
      expect(json(greeting)).toEqual({ content: `Hello, Ada &lt;${transport}&gt;!` });
      expect(greeting.headers['destination']).toBe('/topic/greetings');
      // The session really went over that SockJS transport.
      expect((await recorder.waitFor(tag, 'connected')).session.handshake.transport).toBe(`sockjs/${transport}`);
    });

    it('carries a 1 MB body of multi-byte UTF-8 byte-exact from one SockJS client to another', async () => {
      const destination = `/topic/${unique('big')}`;
      // Over xhr-streaming the message is larger than sockjs.streamBytesLimit (128 KiB): the server
      // ends the streaming response after it and the client opens the next one.
      const body = multiByteBody(1024 * 1024);
      expect(Buffer.byteLength(body)).toBe(1024 * 1024);
      const receiver = await connectSockJs(`${sample.httpUrl}/ws`, transport);
      const sender = await connectSockJs(`${sample.httpUrl}/ws`, transport);
      const inbox = await subscribed(receiver.client, destination);
      sender.client.publish({ destination, body, headers: { 'content-type': 'text/plain;charset=utf-8' } });
      const [message] = await inbox.waitFor(1, 2 * GUARD_MS);
      expect(message.headers['content-length']).toBe(String(1024 * 1024));
      expect(message.body.length).toBe(body.length);
      expect(message.body === body).toBe(true);
      expect(Buffer.from(message.binaryBody).equals(Buffer.from(body, 'utf8'))).toBe(true);
    });

    it('negotiates STOMP heart-beats, and the server heart-beats arrive over SockJS', async () => {
      const heartbeats = await connectSockJs(`${sample.httpUrl}/ws`, transport, { heartbeatIncoming: 1000, heartbeatOutgoing: 1000 });
      // The server's floor is 1000 ms (broker.heartbeat default): it sends and expects one every second.
      expect(heartbeats.frame.headers['heart-beat']).toBe('1000,1000');
      // Three of them span more than the server's 2000 ms read window (tolerance 2 × 1000 ms): only
      // the client's heart-beats, over the same SockJS transport, keep the session open meanwhile.
      await heartbeats.waitForHeartbeats(3, 2 * GUARD_MS);
      expect(heartbeats.client.connected).toBe(true);
      // And it still works.
      const inbox = await subscribed(heartbeats.client, '/topic/greetings');
      expect(json(await greet(heartbeats.client, inbox, `beat-${transport}`))).toEqual({ content: `Hello, beat-${transport}!` });
    });

    it('refuses a listed user with the wrong passcode with an ERROR saying why, and accepts the right one', async () => {
      const tag = unique(`refused-${transport}`);
      const refused = watch(sockJs(`${sample.httpUrl}/ws?t=${tag}`, transport), { connectHeaders: { login: 'alice', passcode: 'wrong' } });
      const error = await refused.nextError();
      expect(error.headers['message']).toBe('Wrong passcode for user alice');
      await expect(refused.connected).rejects.toThrow('ERROR frame: Wrong passcode for user alice');
      // The SockJS close frame carries the close code of a refused CONNECT (policy violation).
      expect(await withTimeout(refused.closed, 'the refused SockJS session to close')).toBe(1008);
      const gone = await recorder.waitFor(tag, 'disconnect', endBound(transport));
      expect(gone).toMatchObject({ reason: 'error', errorCode: 'CONNECT_REJECTED', closeCode: 1008 });
      expect(gone.session.handshake.transport).toBe(`sockjs/${transport}`);
      expect(recorder.types(tag)).toEqual(['disconnect']);
      // The server logs why, as one warning line without a stack.
      expect(sample.logs.expect('warn', `Session ${gone.session.id} (`)).toEqual([
        `Session ${gone.session.id} (anonymous, 127.0.0.1): CONNECT_REJECTED: "Wrong passcode for user alice" StompSession`,
      ]);

      const alice = await connectSockJs(`${sample.httpUrl}/ws`, transport, { connectHeaders: { login: 'alice', passcode: 'secret' } });
      expect(alice.frame.headers['user-name']).toBe('alice');
    });

    it('shows the session in the events with its transport named, through to the disconnect', async () => {
      const tag = unique(`events-${transport}`);
      const { client } = await connectSockJs(`${sample.httpUrl}/ws?t=${tag}`, transport);
      await subscribed(client, '/topic/greetings');
      const connect = await recorder.waitFor(tag, 'connect');
      expect(connect.session.handshake).toMatchObject({ endpoint: '/ws', transport: `sockjs/${transport}`, remoteAddress: '127.0.0.1' });
      // The URL of the request that opened the SockJS session: /ws/<server>/<session>/<transport>.
      const urlName = { websocket: 'websocket', 'xhr-streaming': 'xhr_streaming', 'xhr-polling': 'xhr' }[transport];
      expect(connect.session.handshake.url).toMatch(new RegExp(`^/ws/[^/.]+/[^/.]+/${urlName}\\?t=${tag}$`));
      await withTimeout(client.deactivate(), 'client deactivation');
      const disconnect = await recorder.waitFor(tag, 'disconnect', endBound(transport));
      expect(disconnect).toMatchObject({ reason: 'client-disconnect', closeCode: 1000 });
      expect(disconnect.session.handshake.transport).toBe(`sockjs/${transport}`);
      expect(recorder.types(tag)).toEqual(['connect', 'connected', 'subscribe', 'disconnect']);
    });
  });

  describe("Spring's getting-started guide front end against /gs-guide-websocket", () => {
    it('works with the legacy Stomp.over(socketFactory) API as app.js uses it', async () => {
      const tag = unique('guide');
      // As the guide's app.js does, but with a factory (Stomp.over warns about a bare socket).
      const stompClient = Stomp.over(() => new SockJS(`${sample.httpUrl}/gs-guide-websocket?t=${tag}`) as unknown as IStompSocket);
      stompClient.debug = () => undefined;
      stompClient.reconnect_delay = 0;
      open.push(stompClient);
      const greetings: string[] = [];
      let greeted: () => void = () => undefined;
      const done = new Promise<void>((resolve) => (greeted = resolve));
      const connected = new Promise<IFrame>((resolve, reject) =>
        stompClient.connect(
          {},
          (frame: IFrame) => {
            stompClient.subscribe('/topic/greetings', (greeting) => {
              greetings.push((JSON.parse(greeting.body) as { content: string }).content);
              if (greetings.includes('Hello, Guide!')) greeted();
            });
            resolve(frame);
          },
          (frame: IFrame) => reject(new Error(`ERROR frame: ${frame.headers['message']}`)),
        ),
      );
      const frame = await withTimeout(connected, 'the guide client to connect');
      expect(frame.headers['version']).toBe('1.2');
      stompClient.send('/app/hello', {}, JSON.stringify({ name: 'Guide' }));
      await withTimeout(done, 'the greeting');
      expect(greetings).toContain('Hello, Guide!');
      const session = (await recorder.waitFor(tag, 'connect')).session.handshake;
      expect(session).toMatchObject({ endpoint: '/gs-guide-websocket', transport: 'sockjs/websocket' });
    });

    it('also serves a plain WebSocket client (the guide\'s current app.js, brokerURL ws://…/gs-guide-websocket)', async () => {
      const tag = unique('guide-ws');
      const guide: TestClient = await connectAs(`ws://127.0.0.1:${sample.port}/gs-guide-websocket?t=${tag}`);
      try {
        const inbox = await inboxOf(guide, '/topic/greetings');
        expect(json(await greet(guide.client, inbox, 'Plain'))).toEqual({ content: 'Hello, Plain!' });
        expect((await recorder.waitFor(tag, 'connect')).session.handshake).toMatchObject({
          endpoint: '/gs-guide-websocket',
          transport: 'websocket',
          url: `/gs-guide-websocket?t=${tag}`,
        });
      } finally {
        await guide.disconnect();
      }
    });
  });

  it('serves plain WebSocket clients on /ws and /ws/websocket side by side with SockJS clients', async () => {
    const plainTag = unique('plain');
    const rawTag = unique('raw');
    const plain = await connectAs(`${sample.url}?t=${plainTag}`, 'plain');
    const raw = await connectAs(`ws://127.0.0.1:${sample.port}/ws/websocket?t=${rawTag}`, 'raw');
    try {
      const streaming = await connectSockJs(`${sample.httpUrl}/ws`, 'xhr-streaming');
      const overWebSocket = await connectSockJs(`${sample.httpUrl}/ws`, 'websocket');
      const inboxes = [
        await inboxOf(plain, '/topic/greetings'),
        await inboxOf(raw, '/topic/greetings'),
        await subscribed(streaming.client, '/topic/greetings'),
        await subscribed(overWebSocket.client, '/topic/greetings'),
      ];
      // Each client greets once; every client receives every greeting.
      const senders: Array<[Client, string]> = [
        [plain.client, 'plain'],
        [raw.client, 'raw'],
        [streaming.client, 'streaming'],
        [overWebSocket.client, 'sockjs-websocket'],
      ];
      for (const [client, name] of senders) client.publish({ destination: '/app/hello', body: JSON.stringify({ name }) });
      for (const inbox of inboxes) {
        for (const [, name] of senders) expect((await inbox.waitForBody(greetingBody(name))).headers['destination']).toBe('/topic/greetings');
      }
      expect((await recorder.waitFor(plainTag, 'connect')).session.handshake).toMatchObject({ endpoint: '/ws', transport: 'websocket', url: `/ws?t=${plainTag}` });
      expect((await recorder.waitFor(rawTag, 'connect')).session.handshake).toMatchObject({
        endpoint: '/ws',
        transport: 'websocket',
        url: `/ws/websocket?t=${rawTag}`,
      });
    } finally {
      await plain.disconnect();
      await raw.disconnect();
    }
  });
});

describe('the sample: a SockJS session in GET /stats with its transport named', () => {
  let sample: RunningSample | undefined;
  afterEach(async () => {
    for (const client of open.splice(0)) await withTimeout(client.deactivate(), 'client deactivation');
    await sample?.close();
    sample = undefined;
  });

  async function stats(): Promise<StompStatsSnapshot> {
    const response = await withTimeout(fetch(`${(sample as RunningSample).httpUrl}/stats`), 'GET /stats');
    expect(response.status).toBe(200);
    return (await response.json()) as StompStatsSnapshot;
  }

  /** GETs /stats until `sessions.current` is `expected` (bounded: `bound` ms and 2000 tries, every 10 ms). */
  async function statsWhenCurrent(expected: number, bound = GUARD_MS): Promise<StompStatsSnapshot> {
    const deadline = Date.now() + bound;
    let last: StompStatsSnapshot | undefined;
    for (let i = 0; i < 2000 && Date.now() <= deadline; i++) {
      last = await stats();
      if (last.sessions.current === expected) return last;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`GET /stats never showed sessions.current ${expected}; last: ${JSON.stringify(last?.sessions)}`);
  }

  it('counts sessions by endpoint and by transport (sockjs/<transport>), and ends them on disconnect', async () => {
    sample = await startSample(undefined);
    expect((await stats()).sessions).toMatchObject({ current: 0, total: 0 });
    const clients = [];
    for (const transport of TRANSPORTS) clients.push(await connectSockJs(`${sample.httpUrl}/ws`, transport));
    clients.push(await connectSockJs(`${sample.httpUrl}/gs-guide-websocket`, 'websocket'));
    const plain = await connectAs(sample.url, 'plain');
    try {
      const five = await statsWhenCurrent(5);
      expect(five.sessions).toEqual({
        current: 5,
        total: 5,
        byEndpoint: { '/ws': { current: 4, total: 4 }, '/gs-guide-websocket': { current: 1, total: 1 } },
        byTransport: {
          'sockjs/websocket': { current: 2, total: 2 },
          'sockjs/xhr-streaming': { current: 1, total: 1 },
          'sockjs/xhr-polling': { current: 1, total: 1 },
          websocket: { current: 1, total: 1 },
        },
      });

      // The xhr-polling client leaves: its session ends with its DISCONNECT.
      await withTimeout(clients[2].client.deactivate(), 'client deactivation');
      const four = await statsWhenCurrent(4, endBound('xhr-polling'));
      expect(four.sessions.byTransport['sockjs/xhr-polling']).toEqual({ current: 0, total: 1 });
      expect(four.disconnects['client-disconnect']).toBe(1);
    } finally {
      await plain.disconnect();
    }
  });
});
