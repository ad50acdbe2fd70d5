/**
 * A SockJS endpoint in an app that has more than STOMP: on Fastify, next to a
 * `@nestjs/platform-ws` gateway and the app's own HTTP routes. SockJS takes only what is under
 * its path; the gateway, the routes (even one whose path starts with the same letters) and the
 * plain WebSocket endpoint keep working.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Body, Controller, Get, Post } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Client, type IMessage } from '@stomp/stompjs';
import SockJS from 'sockjs-client';
import WebSocket from 'ws';
import { StompEvents, StompStats } from '../../lib/index.js';
import { EventRecorder } from '../support/event-recorder.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, sendConfirmed, subscribeConfirmed, withTimeout } from '../support/stomp-client.js';

@Controller()
class RoutesController {
  /** Starts with the same letters as the SockJS endpoint `/ws`. */
  @Get('wsx')
  wsx(): { route: string } {
    return { route: 'wsx' };
  }

  @Get('wsx/info')
  wsxInfo(): { route: string } {
    return { route: 'wsx/info' };
  }

  @Get('api/health')
  health(): { ok: boolean } {
    return { ok: true };
  }

  /** A body Fastify must still parse (SockJS must not have read the request). */
  @Post('wsecho')
  echo(@Body() body: unknown): { echoed: unknown } {
    return { echoed: body };
  }
}

@WebSocketGateway({ path: '/gateway' })
class EchoGateway {
  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown): { event: string; data: unknown } {
    return { event: 'echo', data };
  }
}

type SockJsTransport = 'websocket' | 'xhr-streaming';

/** A @stomp/stompjs client over sockjs-client restricted to `transport`, connected. */
async function sockJsClient(httpUrl: string, transport: SockJsTransport): Promise<Client> {
  const client = new Client({
    webSocketFactory: () => new SockJS(`${httpUrl}/ws`, null, { transports: [transport] }),
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
  });
  const connected = new Promise<void>((resolve, reject) => {
    client.onConnect = () => resolve();
    client.onStompError = (frame) => reject(new Error(`STOMP ERROR: ${frame.headers.message}`));
    client.onWebSocketClose = () => reject(new Error(`SockJS (${transport}) closed before CONNECTED`));
  });
  client.activate();
  await withTimeout(connected, `a SockJS ${transport} client to connect`);
  return client;
}

/** Subscribes and resolves with the first `count` bodies received on `destination`. */
function bodiesOn(client: Client, destination: string, count: number): Promise<string[]> {
  const bodies: string[] = [];
  return withTimeout(
    new Promise<string[]>((resolve) => {
      client.subscribe(destination, (message: IMessage) => {
        bodies.push(message.body);
        if (bodies.length === count) resolve(bodies);
      });
    }),
    `${count} messages on ${destination}`,
  );
}

/** Waits until the client's session answers a RECEIPT: everything it sent before was handled. */
function receipt(client: Client): Promise<void> {
  const id = unique('r');
  const got = new Promise<void>((resolve) => client.watchForReceipt(id, () => resolve()));
  client.publish({ destination: '/topic/nobody-listens', body: '', headers: { receipt: id } });
  return withTimeout(got, `RECEIPT ${id}`);
}

async function gatewayEcho(baseUrl: string, data: unknown): Promise<unknown> {
  const gateway = new WebSocket(`${baseUrl}/gateway`);
  try {
    await withTimeout(new Promise((resolve, reject) => gateway.once('open', resolve).once('error', reject)), 'gateway open');
    const reply = withTimeout(
      new Promise<string>((resolve) => gateway.once('message', (message: Buffer) => resolve(message.toString()))),
      'gateway reply',
    );
    gateway.send(JSON.stringify({ event: 'echo', data }));
    return JSON.parse(await reply) as unknown;
  } finally {
    gateway.close();
  }
}

describe('a SockJS endpoint on Fastify beside a platform-ws gateway and HTTP routes', () => {
  let running: RunningApp;
  let httpUrl: string;
  let recorder: EventRecorder;

  beforeAll(async () => {
    running = await startStompApp(
      { endpoints: [{ path: '/ws', sockjs: true, allowedOrigins: ['*'] }] },
      {
        adapter: 'fastify',
        controllers: [RoutesController],
        providers: [EchoGateway],
        configure: (app) => app.useWebSocketAdapter(new WsAdapter(app)),
      },
    );
    httpUrl = `http://127.0.0.1:${running.port}`;
    recorder = new EventRecorder(running.app.get(StompEvents));
  });
  afterAll(async () => {
    recorder?.stop();
    await running?.close();
  });

  it('serves SockJS over xhr-streaming and websocket, one STOMP broker for both, each session named by its transport', async () => {
    const streaming = await sockJsClient(httpUrl, 'xhr-streaming');
    const socket = await sockJsClient(httpUrl, 'websocket');
    try {
      const destination = `/topic/${unique('beside')}`;
      const toStreaming = bodiesOn(streaming, destination, 2);
      const toSocket = bodiesOn(socket, destination, 2);
      await receipt(streaming);
      await receipt(socket);
      streaming.publish({ destination, body: 'from xhr-streaming ✓' });
      await receipt(streaming);
      socket.publish({ destination, body: 'from websocket ✓' });
      expect(await toStreaming).toEqual(['from xhr-streaming ✓', 'from websocket ✓']);
      expect(await toSocket).toEqual(['from xhr-streaming ✓', 'from websocket ✓']);

      // The first sessions of this app: one per transport, as the server named them.
      const transports = recorder.events.filter((e) => e.type === 'connected').map((e) => e.session.handshake.transport);
      expect(transports.sort()).toEqual(['sockjs/websocket', 'sockjs/xhr-streaming']);
      const byTransport = running.app.get(StompStats).snapshot().sessions.byTransport;
      expect(byTransport['sockjs/xhr-streaming']?.current).toBe(1);
      expect(byTransport['sockjs/websocket']?.current).toBe(1);
    } finally {
      await streaming.deactivate();
      await socket.deactivate();
    }
  });

  it('serves the SockJS info and the client library under its path', async () => {
    const info = await fetch(`${httpUrl}/ws/info`);
    expect(info.status).toBe(200);
    expect((await info.json()) as { websocket: boolean }).toEqual(expect.objectContaining({ websocket: true }));
    const library = await fetch(`${httpUrl}/ws/sockjs.min.js`);
    expect(library.status).toBe(200);
    expect(library.headers.get('content-type')).toContain('javascript');
    expect((await library.text()).length).toBeGreaterThan(10_000);
  });

  it("leaves the app's own routes to Nest, including a path that starts with the endpoint's letters", async () => {
    const wsx = await fetch(`${httpUrl}/wsx`);
    expect(wsx.status).toBe(200);
    expect(await wsx.json()).toEqual({ route: 'wsx' });
    // Not SockJS's /info, though it ends the same.
    const wsxInfo = await fetch(`${httpUrl}/wsx/info`);
    expect(wsxInfo.status).toBe(200);
    expect(await wsxInfo.json()).toEqual({ route: 'wsx/info' });
    expect(await (await fetch(`${httpUrl}/api/health`)).json()).toEqual({ ok: true });
    // A POST body is still Fastify's to parse.
    const echo = await fetch(`${httpUrl}/wsecho`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ a: [1, 'two'] }),
    });
    expect(echo.status).toBe(201);
    expect(await echo.json()).toEqual({ echoed: { a: [1, 'two'] } });
    // A path nobody serves gets Fastify's own 404, not SockJS's.
    const missing = await fetch(`${httpUrl}/wsy/000/abc/xhr`, { method: 'POST' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual(expect.objectContaining({ statusCode: 404 }));
  });

  it('the gateway answers while SockJS sessions are open, and the plain WebSocket endpoint still works', async () => {
    const streaming = await sockJsClient(httpUrl, 'xhr-streaming');
    try {
      expect(await gatewayEcho(running.baseUrl, 'hello gateway')).toEqual({ event: 'echo', data: 'hello gateway' });

      // A plain STOMP-over-WebSocket client on /ws itself and the SockJS client share the broker.
      const plain = await connectClient(running.url);
      const destination = `/topic/${unique('plain')}`;
      const inbox = new Inbox();
      await subscribeConfirmed(plain.client, destination, inbox);
      await receipt(streaming);
      streaming.publish({ destination, body: 'over sockjs to plain' });
      expect((await inbox.waitFor(1))[0].body).toBe('over sockjs to plain');
      const back = bodiesOn(streaming, `${destination}-back`, 1);
      await receipt(streaming);
      await sendConfirmed(plain.client, `${destination}-back`, 'plain to sockjs');
      expect(await back).toEqual(['plain to sockjs']);
      await plain.disconnect();

      expect(await gatewayEcho(running.baseUrl, { n: 2 })).toEqual({ event: 'echo', data: { n: 2 } });
    } finally {
      await streaming.deactivate();
    }
  });
});
