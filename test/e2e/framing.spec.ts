// Byte-level framing over WebSocket with a raw `ws` client: split frames, batched frames, CRLF,
// heart-beat EOLs between frames, repeated headers and header escaping.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { frame, RawStompClient, rawConnected } from '../support/raw-client.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { connectClient, Inbox, subscribeConfirmed } from '../support/stomp-client.js';

/** Deterministic pseudo-random chunk sizes (no Math.random, so a failure reproduces). */
function* chunkSizes(seed: number, max: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    yield 1 + (x % max);
  }
}

function split(bytes: Buffer, sizes: Generator<number>): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const n = sizes.next().value as number;
    out.push(bytes.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

describe('framing', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({});
  });
  afterAll(() => running.close());

  it('decodes CONNECT, SUBSCRIBE and SEND sent one byte per WebSocket message', async () => {
    const raw = await RawStompClient.open(running.url);
    const dest = `/topic/${unique()}`;
    const bytes = Buffer.concat([
      frame('CONNECT', { 'accept-version': '1.2', host: 'localhost' }),
      frame('SUBSCRIBE', { id: 'sub-1', destination: dest, receipt: 'r-sub' }),
      frame('SEND', { destination: dest, 'content-type': 'text/plain', 'x-h': 'v' }, 'byte by byte'),
    ]);
    for (const byte of bytes) raw.send(Buffer.from([byte]));
    expect((await raw.expect('CONNECTED')).headers['version']).toBe('1.2');
    expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe('r-sub');
    const m = await raw.expect('MESSAGE');
    expect(m.body.toString()).toBe('byte by byte');
    expect(m.headers['x-h']).toBe('v');
    expect(m.headers['subscription']).toBe('sub-1');
    expect(raw.messages.length).toBeGreaterThanOrEqual(3);
    await raw.close();
  });

  it('decodes a 300 KB frame sent in 1000-byte chunks, with and without content-length', async () => {
    const { raw } = await rawConnected(running.url);
    const dest = `/topic/${unique()}`;
    raw.sendFrame('SUBSCRIBE', { id: 's', destination: dest });
    const body = Buffer.alloc(300 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = 0x41 + (i % 26);
    const variants: Array<Record<string, string>> = [{ destination: dest, 'content-length': String(body.length) }, { destination: dest }];
    for (const headers of variants) {
      const bytes = frame('SEND', headers, body);
      for (let pos = 0; pos < bytes.length; pos += 1000) raw.send(bytes.subarray(pos, pos + 1000));
      const m = await raw.expect('MESSAGE');
      expect(m.body.equals(body)).toBe(true);
      expect(m.headers['content-length']).toBe(String(body.length));
    }
    await raw.close();
  });

  it('decodes many frames cut at arbitrary points across WebSocket messages', async () => {
    const raw = await RawStompClient.open(running.url);
    const dest = `/topic/${unique()}`;
    const frames = [
      frame('CONNECT', { 'accept-version': '1.2', host: 'localhost', 'heart-beat': '0,0' }),
      frame('SUBSCRIBE', { id: 's', destination: dest }),
    ];
    const expected: string[] = [];
    for (let i = 0; i < 40; i++) {
      const body = `message ${i} ${'.'.repeat(i * 7)}`;
      expected.push(body);
      const withLength = i % 2 === 0;
      frames.push(
        frame('SEND', withLength ? { destination: dest, 'content-length': String(Buffer.byteLength(body)) } : { destination: dest }, body),
      );
      if (i % 5 === 0) frames.push(Buffer.from('\n\r\n'));
    }
    for (const chunk of split(Buffer.concat(frames), chunkSizes(42, 37))) raw.send(chunk);
    await raw.expect('CONNECTED');
    const bodies: string[] = [];
    for (let i = 0; i < expected.length; i++) bodies.push((await raw.expect('MESSAGE')).body.toString());
    expect(bodies).toEqual(expected);
    await raw.close();
  });

  it('handles CONNECT, SUBSCRIBE and SEND batched in one WebSocket message', async () => {
    const raw = await RawStompClient.open(running.url);
    const dest = `/topic/${unique()}`;
    raw.send(
      Buffer.concat([
        frame('CONNECT', { 'accept-version': '1.2', host: 'localhost' }),
        frame('SUBSCRIBE', { id: 'batched', destination: dest }),
        frame('SEND', { destination: dest }, 'in one message'),
      ]),
    );
    await raw.expect('CONNECTED');
    const m = await raw.expect('MESSAGE');
    expect(m.body.toString()).toBe('in one message');
    expect(m.headers['subscription']).toBe('batched');
    expect(raw.messages).toHaveLength(2);
    await raw.close();
  });

  it('handles 100 SENDs batched in one WebSocket message, in order', async () => {
    const { raw } = await rawConnected(running.url);
    const dest = `/queue/${unique()}`;
    raw.sendFrame('SUBSCRIBE', { id: 's', destination: dest });
    raw.send(Buffer.concat(Array.from({ length: 100 }, (_, i) => frame('SEND', { destination: dest }, `n${i}`))));
    const bodies: string[] = [];
    for (let i = 0; i < 100; i++) bodies.push((await raw.expect('MESSAGE')).body.toString());
    expect(bodies).toEqual(Array.from({ length: 100 }, (_, i) => `n${i}`));
    await raw.close();
  });

  it('accepts CRLF line endings', async () => {
    const raw = await RawStompClient.open(running.url);
    const dest = `/topic/${unique()}`;
    raw.send('CONNECT\r\naccept-version:1.2\r\nhost:localhost\r\n\r\n\0');
    expect((await raw.expect('CONNECTED')).headers['version']).toBe('1.2');
    raw.send(`SUBSCRIBE\r\nid:crlf\r\ndestination:${dest}\r\nreceipt:r\r\n\r\n\0`);
    expect((await raw.expect('RECEIPT')).headers['receipt-id']).toBe('r');
    raw.send(`SEND\r\ndestination:${dest}\r\nx-h:value\r\ncontent-type:text/plain\r\n\r\nline one\r\nline two\0`);
    const m = await raw.expect('MESSAGE');
    expect(m.headers['destination']).toBe(dest);
    expect(m.headers['x-h']).toBe('value');
    expect(m.headers['content-type']).toBe('text/plain');
    // CRLF only ends header lines; inside the body it is content.
    expect(m.body.toString()).toBe('line one\r\nline two');
    await raw.close();
  });

  it('mixes LF and CRLF line endings, split byte by byte', async () => {
    const raw = await RawStompClient.open(running.url);
    const dest = `/topic/${unique()}`;
    const bytes = Buffer.from(
      `CONNECT\r\naccept-version:1.2\nhost:h\r\n\n\0SUBSCRIBE\nid:m\r\ndestination:${dest}\n\r\n\0SEND\r\ndestination:${dest}\nx:1\r\n\r\nmixed\0`,
    );
    for (const b of bytes) raw.send(Buffer.from([b]));
    await raw.expect('CONNECTED');
    const m = await raw.expect('MESSAGE');
    expect(m.body.toString()).toBe('mixed');
    expect(m.headers['x']).toBe('1');
    await raw.close();
  });

  it('skips heart-beat EOLs before, between and after frames', async () => {
    const raw = await RawStompClient.open(running.url);
    const dest = `/topic/${unique()}`;
    raw.send('\n\r\n');
    raw.send(Buffer.concat([frame('CONNECT', { 'accept-version': '1.2', host: 'h' }), Buffer.from('\n\n')]));
    raw.send('\n');
    raw.send(Buffer.concat([frame('SUBSCRIBE', { id: 's', destination: dest }), Buffer.from('\r\n\n\r\n')]));
    raw.send('\r\n');
    raw.send(Buffer.concat([frame('SEND', { destination: dest }, 'one'), Buffer.from('\n'), frame('SEND', { destination: dest }, 'two')]));
    await raw.expect('CONNECTED');
    expect((await raw.expect('MESSAGE')).body.toString()).toBe('one');
    expect((await raw.expect('MESSAGE')).body.toString()).toBe('two');
    await raw.close();
  });

  it('uses the first occurrence of a repeated header', async () => {
    const { raw } = await rawConnected(running.url);
    const dest = `/topic/${unique()}`;
    raw.sendFrame('SUBSCRIBE', { id: 's', destination: dest });
    raw.send(`SEND\ndestination:${dest}\nx-rep:first\nx-rep:second\ndestination:/topic/elsewhere\n\nrepeated\0`);
    const m = await raw.expect('MESSAGE');
    expect(m.headers['x-rep']).toBe('first');
    expect(m.headers['destination']).toBe(dest);
    expect(m.body.toString()).toBe('repeated');
    await raw.close();
  });

  it('keeps header values untrimmed and splits on the first colon', async () => {
    const { raw } = await rawConnected(running.url);
    const dest = `/topic/${unique()}`;
    raw.sendFrame('SUBSCRIBE', { id: 's', destination: dest });
    raw.send(`SEND\ndestination:${dest}\nx-space: padded \nx-empty:\n\nbody\0`);
    const m = await raw.expect('MESSAGE');
    expect(m.headers['x-space']).toBe(' padded ');
    expect(m.headers['x-empty']).toBe('');
    await raw.close();
  });

  it('unescapes and re-escapes header values in STOMP 1.2', async () => {
    const { raw } = await rawConnected(running.url);
    const dest = `/topic/${unique()}`;
    raw.sendFrame('SUBSCRIBE', { id: 's', destination: dest });
    // x-esc is "a:b", newline, "c\d", carriage return; its escaped form travels both ways.
    raw.sendFrame('SEND', { destination: dest, 'x-esc': 'a\\cb\\nc\\\\d\\r' }, 'escaped');
    const m = await raw.expect('MESSAGE');
    expect(m.headers['x-esc']).toBe('a\\cb\\nc\\\\d\\r');
    await raw.close();
  });

  it('delivers unescaped header values to a stompjs 1.2 client', async () => {
    const c = await connectClient(running.url);
    const dest = `/topic/${unique()}`;
    const inbox = new Inbox();
    await subscribeConfirmed(c.client, dest, inbox);
    c.client.publish({ destination: dest, body: 'x', headers: { 'x-esc': 'a:b\nc\\d' } });
    expect((await inbox.waitFor(1))[0].headers['x-esc']).toBe('a:b\nc\\d');
    await c.disconnect();
  });

  it('does not escape CONNECT headers: a backslash in a passcode reaches the server as sent', async () => {
    let seen: string | undefined;
    const app = await startStompApp({
      authenticate: (r) => {
        seen = r.passcode;
        return {};
      },
    });
    try {
      const { raw } = await rawConnected(app.url, { 'accept-version': '1.2', host: 'h', login: 'u', passcode: 'p\\tq:r' });
      expect(seen).toBe('p\\tq:r');
      await raw.close();
    } finally {
      await app.close();
    }
  });

  it('works with stompjs splitting large frames into 1 KB WebSocket messages', async () => {
    const sender = await connectClient(running.url, { splitLargeFrames: true, maxWebSocketChunkSize: 1024 });
    const receiver = await connectClient(running.url);
    const dest = `/topic/${unique()}`;
    const inbox = new Inbox();
    await subscribeConfirmed(receiver.client, dest, inbox);
    const body = 'chunked-'.repeat(20_000);
    sender.client.publish({ destination: dest, body });
    const [m] = await inbox.waitFor(1);
    expect(m.body).toBe(body);
    await sender.disconnect();
    await receiver.disconnect();
  });
});
