import { describe, expect, it } from '@jest/globals';
import { createHeaders, type StompHeaders, type StompVersion } from '../../lib/protocol/frame.js';
import {
  FRAME_TERMINATOR,
  isPassThroughHeader,
  messageFramePrefix,
  SHARED_BODY_THRESHOLD,
  OutboundMessage,
  passThroughHeaders,
} from '../../lib/protocol/message-frame.js';
import { decode } from './helpers.js';

function headersOf(entries: Record<string, string>): StompHeaders {
  return Object.assign(createHeaders(), entries);
}

/** The header lines of a frame (or of a shared part, which has no command line). */
function headerLines(bytes: Buffer): string[] {
  const text = bytes.toString('utf8');
  const lines = text.slice(0, text.indexOf('\n\n')).split('\n');
  return lines[0] === 'MESSAGE' ? lines.slice(1) : lines;
}

describe('MESSAGE frames: the server writes its own headers first (issue 7, item 11)', () => {
  it('writes destination, message-id, redelivered, content-length and content-type before any sender header', () => {
    const msg = new OutboundMessage('/topic/a', 'm-1', headersOf({ x: '1', 'content-type': 'text/plain', y: '2' }), Buffer.from('hi'), true);
    const lines = headerLines(msg.frameFor(messageFramePrefix('s', '1.2'), '1.2', 'k'));
    expect(lines).toEqual([
      'subscription:s',
      'ack:k',
      'destination:/topic/a',
      'message-id:m-1',
      'redelivered:true',
      'content-length:2',
      'content-type:text/plain',
      'x:1',
      'y:2',
    ]);
  });

  it.each<StompVersion>(['1.0', '1.1', '1.2'])(
    'a sender header named "content-length:1" cannot change the body a %s subscriber reads',
    (version) => {
      const body = Buffer.from('hello\n\nSEND\ndestination:/x\n\n\0tail');
      // The name a 1.2 sender writes as `content-length\c1`, as the decoder hands it over.
      const msg = new OutboundMessage('/topic/a', 'm-1', headersOf({ 'content-length:1': 'x', 'a:b': 'c' }), body);
      const result = decode([msg.frameFor(messageFramePrefix('sub-1', version), version)], { version });
      expect(result.error).toBeUndefined();
      expect(result.frames).toHaveLength(1);
      const [frame] = result.frames;
      expect(frame.headers['content-length']).toBe(String(body.length));
      expect(frame.body.equals(body)).toBe(true);
      // ':' cannot be escaped in 1.0 and no peer of this server reads it back in 1.1/1.2 either.
      expect(Object.keys(frame.headers).sort()).toEqual(['content-length', 'destination', 'message-id', 'subscription']);
    },
  );

  it('never writes an empty header name or a name with a line break or NUL', () => {
    const msg = new OutboundMessage('/a', 'm', headersOf({ '': 'v', 'x\ny': 'v', 'p\rq': 'v', 'n\0': 'v', ok: 'v' }), Buffer.alloc(0));
    for (const version of ['1.0', '1.1', '1.2'] as const) {
      expect(headerLines(msg.sharedPart(version))).toEqual(['destination:/a', 'message-id:m', 'content-length:0', 'ok:v']);
    }
  });
});

describe('sender headers that pass through (issue 7, item 12)', () => {
  it.each([
    'destination', 'DESTINATION', 'Message-Id', 'subscription', 'Subscription', 'ack', 'ACK', 'content-length',
    'Content-Length', 'receipt', 'transaction', 'redelivered', 'Redelivered', 'user-name', 'User-Name', 'Content-Type', 'CONTENT-TYPE', '',
  ])('drops %j', (name) => {
    expect(isPassThroughHeader(name)).toBe(false);
  });

  it.each(['content-type', 'x-custom', 'X-Custom', 'Priority', 'priority', 'persistent', 'expires', 'reply-to', 'correlation-id'])('keeps %j', (name) => {
    expect(isPassThroughHeader(name)).toBe(true);
  });

  it('passThroughHeaders keeps order and values of the rest', () => {
    const out = passThroughHeaders(headersOf({ priority: '9', 'Message-Id': 'forged', 'content-type': 'text/plain', 'user-name': 'admin', z: 'last' }));
    expect(Object.entries(out)).toEqual([['priority', '9'], ['content-type', 'text/plain'], ['z', 'last']]);
  });

  it('an OutboundMessage built by server code still never writes a reserved name', () => {
    const msg = new OutboundMessage('/a', 'm', headersOf({ Redelivered: 'true', 'USER-NAME': 'admin', k: 'v' }), Buffer.alloc(0));
    expect(headerLines(msg.sharedPart('1.2'))).toEqual(['destination:/a', 'message-id:m', 'content-length:0', 'k:v']);
  });
});

describe('a NUL never reaches a header on the wire (issue 7 security, item 3)', () => {
  it.each<StompVersion>(['1.0', '1.1', '1.2'])('STOMP %s: NUL in any header value (sender, destination, id, ack) is written as U+FFFD', (version) => {
    const msg = new OutboundMessage('/topic/a\0b', 'm\0', headersOf({ 'x-a': '\0ERROR', 'content-type': 'text/plain\0' }), Buffer.from('hi'));
    const out = msg.frameFor(messageFramePrefix('s\0', version), version, 'k\0');
    // Exactly one NUL: the frame's terminator.
    expect(out.indexOf(0)).toBe(out.length - 1);
    const frame = decode([out], { version }).frames[0];
    expect(frame.headers['x-a']).toBe('\uFFFDERROR');
    expect(frame.headers['destination']).toBe('/topic/a\uFFFDb');
    expect(frame.headers['subscription']).toBe('s\uFFFD');
    expect(frame.headers['ack']).toBe('k\uFFFD');
    expect(frame.body.toString()).toBe('hi');
  });
});

describe('large bodies are shared between subscribers, never copied per delivery (issue 7 security, item 1)', () => {
  const body = Buffer.alloc(SHARED_BODY_THRESHOLD + 1, 'a');

  it('a body over the threshold is delivered as head + the same body Buffer + NUL', () => {
    const msg = new OutboundMessage('/topic/amp', 'm-1', headersOf({ 'content-type': 'text/plain' }), body);
    expect(msg.sharesBody).toBe(true);
    const heads = ['s1', 's2', 's3'].map((id, i) => msg.headFor(messageFramePrefix(id, '1.2'), '1.2', i === 2 ? 'ack-9' : undefined));
    // The body itself is what every delivery sends: the very same Buffer object.
    expect(msg.body).toBe(body);
    for (const [i, head] of heads.entries()) {
      expect(head.length).toBeLessThan(200);
      const whole = Buffer.concat([head, msg.body, FRAME_TERMINATOR]);
      const frame = decode([whole]).frames[0];
      expect(frame.command).toBe('MESSAGE');
      expect(frame.headers['subscription']).toBe(`s${i + 1}`);
      expect(frame.headers['content-length']).toBe(String(body.length));
      expect(frame.body.equals(body)).toBe(true);
    }
    expect(decode([Buffer.concat([heads[2], body, FRAME_TERMINATOR])]).frames[0].headers['ack']).toBe('ack-9');
    // The cached per-version part holds headers only, not a second copy of the body.
    expect(msg.sharedPart('1.2').length).toBeLessThan(200);
  });

  it('frameFor() still gives the complete frame for a shared-body message', () => {
    const msg = new OutboundMessage('/topic/amp', 'm-2', createHeaders(), body);
    const frame = decode([msg.frameFor(messageFramePrefix('s', '1.1'), '1.1')], { version: '1.1' }).frames[0];
    expect(frame.body.equals(body)).toBe(true);
  });

  it('a body at the threshold stays on the single-buffer path, and headFor() agrees with frameFor()', () => {
    const small = Buffer.alloc(SHARED_BODY_THRESHOLD, 'b');
    const msg = new OutboundMessage('/topic/a', 'm-3', createHeaders(), small);
    expect(msg.sharesBody).toBe(false);
    const prefix = messageFramePrefix('s', '1.2');
    const whole = msg.frameFor(prefix, '1.2', 'k');
    expect(Buffer.concat([msg.headFor(prefix, '1.2', 'k'), small, FRAME_TERMINATOR]).equals(whole)).toBe(true);
  });
});
