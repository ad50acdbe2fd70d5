import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import WebSocket from 'ws';
import { expectRefused, RawStompClient, rawConnected } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, sendConfirmed, subscribeConfirmed, withTimeout } from '../support/stomp-client.js';

@Controller()
class HealthController {
  @Get('health')
  health(): { ok: boolean } {
    return { ok: true };
  }
}

@WebSocketGateway({ path: '/other' })
class EchoGateway {
  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown): { event: string; data: unknown } {
    return { event: 'echo', data };
  }
}

/** Proves a STOMP endpoint works end to end: pub/sub between two real clients. */
async function pubSubWorks(url: string, wsHeaders?: Record<string, string>): Promise<void> {
  const a = await connectClient(url, { wsHeaders });
  const b = await connectClient(url, { wsHeaders });
  const dest = `/topic/${unique()}`;
  const inbox = new Inbox();
  await subscribeConfirmed(b.client, dest, inbox);
  await sendConfirmed(a.client, dest, 'across');
  expect((await inbox.waitFor(1))[0].body).toBe('across');
  await a.disconnect();
  await b.disconnect();
}

describe('allowed origins', () => {
  describe('default: same origin', () => {
    let running: RunningApp;
    beforeAll(async () => {
      running = await startStompApp({});
    });
    afterAll(() => running.close());

    it('refuses a foreign Origin with 403 and logs a warning', async () => {
      expect(await expectRefused(running.url, { headers: { origin: 'http://evil.example' } })).toBe(403);
      expect(running.logs.at('warn').some((w) => w.includes('http://evil.example'))).toBe(true);
    });

    it('refuses the same host on another port, and the opaque origin "null"', async () => {
      expect(await expectRefused(running.url, { headers: { origin: 'http://127.0.0.1:1' } })).toBe(403);
      expect(await expectRefused(running.url, { headers: { origin: 'null' } })).toBe(403);
    });

    it('accepts the matching Origin', async () => {
      await pubSubWorks(running.url, { origin: `http://127.0.0.1:${running.port}` });
    });

    it('accepts a client that sends no Origin', async () => {
      const { raw, connected } = await rawConnected(running.url);
      expect(connected.command).toBe('CONNECTED');
      await raw.close();
    });
  });

  describe("['*']", () => {
    let running: RunningApp;
    beforeAll(async () => {
      running = await startStompApp({ endpoints: [{ path: '/ws', allowedOrigins: ['*'] }] });
    });
    afterAll(() => running.close());

    it('accepts any Origin', async () => {
      await pubSubWorks(running.url, { origin: 'http://evil.example' });
      await pubSubWorks(running.url, { origin: 'https://anything.test:8443' });
    });
  });

  describe('explicit and wildcard patterns, per endpoint', () => {
    let running: RunningApp;
    beforeAll(async () => {
      running = await startStompApp({
        endpoints: [
          { path: '/ws', allowedOrigins: ['https://*.example.com', 'http://localhost:3000'] },
          { path: '/open', allowedOrigins: ['*'] },
        ],
      });
    });
    afterAll(() => running.close());

    it.each(['https://app.example.com', 'https://a-b.example.com', 'http://localhost:3000'])('accepts %s', async (origin) => {
      const { raw, connected } = await rawConnected(running.url, undefined, { headers: { origin } });
      expect(connected.command).toBe('CONNECTED');
      await raw.close();
    });

    it.each([
      'https://example.com',
      'http://app.example.com',
      'https://app.example.com.attacker.net',
      'https://attacker.net/.example.com',
      'http://localhost:3001',
      'http://localhost',
    ])('refuses %s', async (origin) => {
      expect(await expectRefused(running.url, { headers: { origin } })).toBe(403);
    });

    it('applies each endpoint its own list', async () => {
      const origin = 'http://elsewhere.test';
      expect(await expectRefused(running.url, { headers: { origin } })).toBe(403);
      const { raw, connected } = await rawConnected(`${running.baseUrl}/open`, undefined, { headers: { origin } });
      expect(connected.command).toBe('CONNECTED');
      await raw.close();
    });
  });
});

describe('transport on Express', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({ endpoints: [{ path: '/ws' }, { path: '/stomp' }] }, { controllers: [HealthController] });
  });
  afterAll(() => running.close());

  it('serves HTTP routes and STOMP on the same port', async () => {
    const res = await fetch(`http://127.0.0.1:${running.port}/health`);
    expect(await res.json()).toEqual({ ok: true });
    await pubSubWorks(running.url);
  });

  it('serves every configured endpoint, sharing one broker', async () => {
    const a = await connectClient(`${running.baseUrl}/ws`);
    const b = await connectClient(`${running.baseUrl}/stomp`);
    const dest = `/topic/${unique()}`;
    const inbox = new Inbox();
    await subscribeConfirmed(b.client, dest, inbox);
    await sendConfirmed(a.client, dest, 'between endpoints');
    expect((await inbox.waitFor(1))[0].body).toBe('between endpoints');
    await a.disconnect();
    await b.disconnect();
  });

  it('ignores the query string when matching the path', async () => {
    const { raw, connected } = await rawConnected(`${running.url}?token=abc&x=1`);
    expect(connected.command).toBe('CONNECTED');
    await raw.close();
  });

  it('refuses an upgrade for an unknown path with 404', async () => {
    expect(await expectRefused(`${running.baseUrl}/nope`)).toBe(404);
    expect(await expectRefused(`${running.baseUrl}/ws/deeper`)).toBe(404);
  });
});

describe('transport on Fastify', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({}, { adapter: 'fastify', controllers: [HealthController] });
  });
  afterAll(() => running.close());

  it('serves STOMP on the Fastify HTTP server', async () => {
    const res = await fetch(`http://127.0.0.1:${running.port}/health`);
    expect(await res.json()).toEqual({ ok: true });
    await pubSubWorks(running.url);
  });

  it('checks origins and refuses unknown paths there too', async () => {
    expect(await expectRefused(running.url, { headers: { origin: 'http://evil.example' } })).toBe(403);
    expect(await expectRefused(`${running.baseUrl}/nope`)).toBe(404);
  });
});

describe('next to a @nestjs/platform-ws gateway', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp(
      {},
      { providers: [EchoGateway], configure: (app) => app.useWebSocketAdapter(new WsAdapter(app)) },
    );
  });
  afterAll(() => running.close());

  it('serves both the gateway and the STOMP endpoint in one app', async () => {
    const gateway = new WebSocket(`${running.baseUrl}/other`);
    await withTimeout(new Promise((resolve, reject) => gateway.once('open', resolve).once('error', reject)), 'gateway open');
    const reply = withTimeout(
      new Promise<string>((resolve) => gateway.once('message', (data: Buffer) => resolve(data.toString()))),
      'gateway reply',
    );
    gateway.send(JSON.stringify({ event: 'echo', data: 'hello gateway' }));
    expect(JSON.parse(await reply)).toEqual({ event: 'echo', data: 'hello gateway' });

    await pubSubWorks(running.url);

    // The gateway still answers while STOMP clients are connected.
    const stomp = await connectClient(running.url);
    const second = withTimeout(
      new Promise<string>((resolve) => gateway.once('message', (data: Buffer) => resolve(data.toString()))),
      'second gateway reply',
    );
    gateway.send(JSON.stringify({ event: 'echo', data: 2 }));
    expect(JSON.parse(await second)).toEqual({ event: 'echo', data: 2 });
    await stomp.disconnect();
    gateway.close();
  });

  it('lets the gateway adapter refuse upgrades nobody owns', async () => {
    // WsAdapter destroys the socket of an unknown path (no HTTP status).
    expect(await expectRefused(`${running.baseUrl}/nope`)).toBe(0);
    // The STOMP endpoint still works afterwards.
    const raw = await RawStompClient.open(running.url);
    expect((await raw.connect()).command).toBe('CONNECTED');
    await raw.close();
  });
});
