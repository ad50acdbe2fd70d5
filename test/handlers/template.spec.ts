import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Body, Controller, Post } from '@nestjs/common';
import { StompMessagingTemplate } from '../../lib/index.js';
import { barrier, connectAs, inboxOf, json, postJson } from '../support/handler-fixtures.js';
import { rawConnected, type RawStompClient } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import type { TestClient } from '../support/stomp-client.js';

interface PublishRequest {
  destination: string;
  kind: 'object' | 'string' | 'buffer' | 'uint8' | 'headers';
  value: unknown;
}

/** An ordinary HTTP controller that publishes through the template. */
@Controller('api/publish')
class PublishController {
  constructor(private readonly template: StompMessagingTemplate) {}

  @Post()
  async publish(@Body() request: PublishRequest) {
    const { destination, kind, value } = request;
    switch (kind) {
      case 'string':
        await this.template.convertAndSend(destination, value as string);
        break;
      case 'buffer':
        await this.template.convertAndSend(destination, Buffer.from(value as number[]));
        break;
      case 'uint8': {
        // A view into a larger buffer: only the viewed bytes must be sent.
        const bytes = value as number[];
        const backing = new Uint8Array([0xaa, 0xaa, ...bytes, 0xaa]);
        await this.template.convertAndSend(destination, backing.subarray(2, 2 + bytes.length));
        break;
      }
      case 'headers':
        await this.template.convertAndSend(destination, value, { priority: '9', 'content-type': 'application/vnd.example+json' });
        break;
      default:
        await this.template.convertAndSend(destination, value);
    }
    return { published: destination };
  }
}

describe('StompMessagingTemplate', () => {
  let running: RunningApp;
  let template: StompMessagingTemplate;
  let raw: RawStompClient;
  let ann: TestClient;

  beforeAll(async () => {
    running = await startStompApp(
      { authenticate: ({ login }) => (login ? { user: login } : {}) },
      { controllers: [PublishController] },
    );
    template = running.app.get(StompMessagingTemplate);
    ({ raw } = await rawConnected(running.url));
    ann = await connectAs(running.url, 'ann');
  });
  afterAll(async () => {
    await raw?.close();
    await ann?.disconnect();
    await running?.close();
  });

  /** Subscribes the raw client (confirmed by a receipt) and returns a function awaiting the next MESSAGE there. */
  async function rawSubscribe(destination: string) {
    const id = unique('sub');
    raw.sendFrame('SUBSCRIBE', { id, destination, receipt: `r-${id}` });
    await raw.nextMatching((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === `r-${id}`, `RECEIPT r-${id}`);
    return () => raw.nextMatching((f) => f.command === 'MESSAGE' && f.headers['subscription'] === id, `MESSAGE on ${destination}`);
  }

  async function publish(request: PublishRequest) {
    const response = await postJson(running, '/api/publish', request);
    expect(response).toEqual({ status: 201, body: { published: request.destination } });
  }

  it('sends an object as JSON with content-type application/json, in a text frame', async () => {
    const destination = `/topic/${unique('obj')}`;
    const next = await rawSubscribe(destination);
    await publish({ destination, kind: 'object', value: { a: 1, nested: { b: [true, null] } } });
    const m = await next();
    expect(m.headers['destination']).toBe(destination);
    expect(m.headers['content-type']).toBe('application/json');
    expect(JSON.parse(m.body.toString('utf8'))).toEqual({ a: 1, nested: { b: [true, null] } });
    expect(m.binaryMessage).toBe(false);
  });

  it('sends a string as text/plain;charset=UTF-8', async () => {
    const destination = `/topic/${unique('str')}`;
    const next = await rawSubscribe(destination);
    await publish({ destination, kind: 'string', value: 'héllo wörld' });
    const m = await next();
    expect(m.headers['content-type']).toBe('text/plain;charset=UTF-8');
    expect(m.body.toString('utf8')).toBe('héllo wörld');
    expect(m.binaryMessage).toBe(false);
  });

  it('sends a Buffer as application/octet-stream in a binary WebSocket frame', async () => {
    const destination = `/topic/${unique('buf')}`;
    const next = await rawSubscribe(destination);
    const bytes = [0x00, 0xff, 0x10, 0x00, 0x80, 0x0a];
    await publish({ destination, kind: 'buffer', value: bytes });
    const m = await next();
    expect(m.headers['content-type']).toBe('application/octet-stream');
    expect(m.headers['content-length']).toBe(String(bytes.length));
    expect([...m.body]).toEqual(bytes);
    expect(m.binaryMessage).toBe(true);
  });

  it('sends exactly the bytes of a Uint8Array view, and stompjs receives them as binaryBody', async () => {
    const destination = `/topic/${unique('u8')}`;
    const inbox = await inboxOf(ann, destination);
    const bytes = [1, 2, 0, 3];
    await publish({ destination, kind: 'uint8', value: bytes });
    const [m] = await inbox.waitFor(1);
    expect(m.headers['content-type']).toBe('application/octet-stream');
    expect([...m.binaryBody]).toEqual(bytes);
  });

  it('passes extra headers, and an explicit content-type wins', async () => {
    const destination = `/topic/${unique('hdr')}`;
    const inbox = await inboxOf(ann, destination);
    await publish({ destination, kind: 'headers', value: { x: 1 } });
    const [m] = await inbox.waitFor(1);
    expect(m.headers['priority']).toBe('9');
    expect(m.headers['content-type']).toBe('application/vnd.example+json');
    expect(json(m)).toEqual({ x: 1 });
  });

  it('routes a written-out user destination (/user/ann/queue/x) to that user', async () => {
    const inbox = await inboxOf(ann, '/user/queue/template');
    await template.convertAndSend('/user/ann/queue/template', { hi: 'ann' });
    const [m] = await inbox.waitFor(1);
    expect(json(m)).toEqual({ hi: 'ann' });
  });

  it('convertAndSendToSession reaches that session only', async () => {
    const other = await connectAs(running.url, 'ann');
    try {
      const mine = await inboxOf(ann, '/user/queue/session-only');
      const theirs = await inboxOf(other, '/user/queue/session-only');
      await template.convertAndSendToSession(other.connected.headers['session'], '/queue/session-only', 'just you');
      await theirs.waitFor(1);
      await barrier(ann);
      expect(theirs.bodies()).toEqual(['just you']);
      expect(mine.messages).toHaveLength(0);
      // An unknown session is silently skipped.
      await expect(template.convertAndSendToSession('no-such-session', '/queue/session-only', 'x')).resolves.toBeUndefined();
    } finally {
      await other.disconnect();
    }
  });

  it('refuses destinations outside the broker', async () => {
    await expect(template.convertAndSend('/app/not-a-broker-destination', { x: 1 })).rejects.toThrow(
      'Cannot send to /app/not-a-broker-destination: it is neither a broker destination nor a user destination',
    );
    await expect(template.convertAndSend('/elsewhere', 'x')).rejects.toThrow(/neither a broker destination/);
    await expect(template.convertAndSend('/user/ann/app/x', 'x')).rejects.toThrow(/does not lead to a broker destination/);
    // Through HTTP, the controller's error becomes a 500.
    const response = await postJson(running, '/api/publish', { destination: '/app/nope', kind: 'object', value: {} });
    expect(response.status).toBe(500);
    // Nest's HTTP exception handler logs the controller's error once; this test provoked it.
    expect(running.logs.expect('error', 'Cannot send to /app/nope')).toHaveLength(1);
  });

  it('refuses a destination beyond the broker bounds with an error naming the option, and sends nothing', async () => {
    const deep = `/topic/${Array.from({ length: 70 }, () => 'a').join('/')}`;
    await expect(template.convertAndSend(deep, 'x')).rejects.toMatchObject({
      code: 'DESTINATION_TOO_LONG',
      message: 'SEND destination has more than 64 segments (broker.maxDestinationSegments)',
    });
    await expect(template.convertAndSend(`/topic/${'t'.repeat(1100)}`, 'x')).rejects.toMatchObject({
      code: 'DESTINATION_TOO_LONG',
      message: expect.stringContaining('broker.maxDestinationLength (1024)'),
    });
  });
});
