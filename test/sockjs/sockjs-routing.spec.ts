// What a SockJS endpoint answers for URLs and origins a client library would never send, and
// the rules that decide which requests it takes at all.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { expectRefused } from '../support/raw-client.js';
import { http, RawSockJsSession } from '../support/sockjs-raw.js';
import { startStompApp, type RunningApp } from '../support/stomp-app.js';
import { withTimeout } from '../support/stomp-client.js';

/** Sends `text` as is on a new TCP connection; resolves with everything the server answered. */
function rawRequest(port: number, text: string): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const socket = connect(port, '127.0.0.1', () => socket.write(text));
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.on('error', reject);
    }),
    'the raw answer',
  );
}

describe('SockJS routing', () => {
  let running: RunningApp;
  const base = (path: string) => `http://127.0.0.1:${running.port}${path}`;

  beforeAll(async () => {
    running = await startStompApp({
      endpoints: [
        { path: '/ws', sockjs: true, allowedOrigins: ['https://frontend.example'] },
        // Nested under /ws: requests under /ws/admin are its own.
        { path: '/ws/admin', sockjs: { transports: ['xhr-polling'] }, allowedOrigins: ['*'] },
        { path: '/plain' },
      ],
    });
  });
  afterAll(() => running.close());

  it('answers a URL with a query string on the endpoint path itself (sockjs alone would never answer)', async () => {
    for (const method of ['GET', 'POST']) {
      const reply = await http(`${base('/ws')}?x=1`, { method });
      expect(reply.status).toBe(404);
    }
    expect((await http(base('/ws'))).body).toBe('Welcome to SockJS!\n');
  });

  it('refuses session ids named after Object.prototype properties with 404, without a log line', async () => {
    const logged = running.logs.entries.length;
    for (const id of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      for (const [method, name] of [['POST', 'xhr'], ['POST', 'xhr_send'], ['POST', 'xhr_streaming'], ['GET', 'eventsource'], ['GET', 'htmlfile']]) {
        const reply = await http(`${base('/ws')}/000/${id}/${name}?c=cb`, { method, body: method === 'POST' ? '["x"]' : undefined });
        expect([id, name, reply.status]).toEqual([id, name, 404]);
      }
    }
    expect(running.logs.entries.slice(logged)).toEqual([]);
  });

  it('refuses every spelling sockjs would read as another URL (trailing /, \\ for /, loose iframe names) before sockjs sees it', async () => {
    const logged = running.logs.entries.length;
    const spellings: Array<[string, string]> = [
      ['GET', '/ws/iframe.html/'],
      ['GET', '/ws/iframeXhtml'],
      ['GET', '/ws/iframe-1.0html'],
      ['GET', '/ws/info/'],
      ['POST', '/ws/000/constructor/xhr_send/'],
      ['POST', '/ws/000\\constructor\\xhr_send'],
      ['POST', '/ws/000/__proto__/xhr/'],
      ['POST', '/ws/000\\toString\\xhr_streaming'],
      ['GET', '/ws/000\\x\\jsonp?c=cb'],
      ['GET', '/ws/000/x/jsonp/?c=cb'],
      ['POST', '/ws/000/a.b/xhr'],
      ['POST', '/ws/000/a%2Fb/xhr'],
      ['POST', '/ws/000//xhr'],
      ['GET', '/ws/chunking_test'],
    ];
    for (const [method, path] of spellings) {
      const reply = await http(base(path), { method, body: method === 'POST' ? '["x"]' : undefined });
      expect([method, path, reply.status]).toEqual([method, path, 404]);
    }
    expect(running.logs.entries.slice(logged)).toEqual([]);
  });

  it('routes an absolute-form request target by its path, as Express does, so the SockJS endpoint still owns it', async () => {
    for (const target of ['http://x/ws/info', `http://127.0.0.1:${running.port}/ws/iframe.html`, 'HTTP://X/ws/000/constructor/xhr']) {
      const reply = await rawRequest(running.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      expect([target, reply.split('\r\n', 1)[0]]).toEqual([target, 'HTTP/1.1 404 Not Found']);
    }
  });

  it('refuses a websocket-transport upgrade of the 2010 drafts (no Sec-WebSocket-Key, no version 13)', async () => {
    const reply = await rawRequest(
      running.port,
      'GET /ws/000/draft1/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nSec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n^n:ds[4U',
    );
    expect(reply.split('\r\n', 1)[0]).toBe('HTTP/1.1 400 Bad Request');
  });

  it('refuses a request without Origin that a browser marked cross-site (an <img> starting a GET transport)', async () => {
    const reply = await http(`${base('/ws')}/000/img${process.pid}/eventsource`, { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(reply.status).toBe(403);
    running.logs.expect('warn', /Refused SockJS request to \/ws from origin ""/);
  });

  it('takes the same origin whatever allowedOrigins lists, as Spring does', async () => {
    const self = `http://127.0.0.1:${running.port}`;
    expect((await http(`${base('/ws')}/info`, { headers: { origin: self } })).status).toBe(200);
    expect((await http(`${base('/ws')}/info`, { headers: { origin: 'https://frontend.example' } })).status).toBe(200);
    const refused = await http(`${base('/ws')}/info`, { headers: { origin: 'https://other.example' } });
    expect(refused.status).toBe(403);
    running.logs.expect('warn', /Refused SockJS request to \/ws from origin "https:\/\/other\.example"/);
    // The plain WebSocket endpoint follows the same rule.
    const ws = new WebSocket(`ws://127.0.0.1:${running.port}/plain`, ['v12.stomp'], { headers: { origin: self } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.close();
  });

  it("serves the iframe page by Spring's rule: not when allowedOrigins lists origins, to anyone with ['*'], same-origin framing by default", async () => {
    expect((await http(`${base('/ws')}/iframe.html`)).status).toBe(404);
    expect((await http(`${base('/ws')}/iframe-1.6.1.html`)).status).toBe(404);
    const open = await http(`${base('/ws/admin')}/iframe.html`);
    expect(open.status).toBe(200);
    expect(open.headers['x-frame-options']).toBeUndefined();
    const other = await startStompApp({ endpoints: [{ path: '/ws', sockjs: true }] });
    try {
      const page = await http(`http://127.0.0.1:${other.port}/ws/iframe.html`);
      expect(page.status).toBe(200);
      expect(page.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(page.body).toContain('<script src="/ws/sockjs.min.js"></script>');
    } finally {
      await other.close();
    }
  });

  it('sends a request under a nested SockJS endpoint to the longest path it is under', async () => {
    const info = JSON.parse((await http(`${base('/ws/admin')}/info`)).body) as { websocket: boolean };
    expect(info.websocket).toBe(false);
    const session = await new RawSockJsSession(base('/ws/admin')).opened();
    const connected = await session.connect();
    expect(connected.command).toBe('CONNECTED');
    await session.disconnect();
    expect((JSON.parse((await http(`${base('/ws')}/info`)).body) as { websocket: boolean }).websocket).toBe(true);
  });

  it("serves Spring's raw WebSocket URL <path>/websocket only when the websocket transport is on", async () => {
    const raw = new WebSocket(`ws://127.0.0.1:${running.port}/ws/websocket`, ['v12.stomp']);
    await new Promise<void>((resolve, reject) => {
      raw.once('open', () => resolve());
      raw.once('error', reject);
    });
    raw.close();
    expect(await expectRefused(`ws://127.0.0.1:${running.port}/ws/admin/websocket`)).toBe(404);
  });

  it('answers a post that is not a JSON array of strings with 400 and sockjs\'s reason, never 500', async () => {
    const session = await new RawSockJsSession(base('/ws/admin')).opened();
    const cases: Array<[string | undefined, string]> = [
      ['not json', 'Broken JSON encoding.'],
      ['{"a":1}', 'Payload expected.'],
      ['', 'Payload expected.'],
    ];
    for (const [body, reason] of cases) {
      const reply = await http(session.url('xhr_send'), { method: 'POST', body });
      expect([body, reply.status, reply.body]).toEqual([body, 400, reason]);
    }
    // The session is still there and works.
    await session.connect();
    await session.disconnect();
  });

  it('bounds and reads correctly a body posted in many 1-byte HTTP chunks', async () => {
    const session = await new RawSockJsSession(base('/ws/admin')).opened();
    await session.connect();
    const body = JSON.stringify([`SUBSCRIBE\nid:s\ndestination:/topic/chunks\nreceipt:r\n\n\0`]);
    const reply = await http(session.url('xhr_send'), { method: 'POST', body, chunked: true, chunkSize: 1 });
    expect(reply.status).toBe(204);
    const receipt = await session.expect('RECEIPT');
    expect(receipt.headers['receipt-id']).toBe('r');
    await session.disconnect();
  });
});
