import { describe, it, expect } from '@jest/globals';
import { encodeFrame, HEARTBEAT_EOL } from '../../lib/protocol/frame-encoder.js';
import type { StompVersion } from '../../lib/protocol/frame.js';
import {
  isTextBody,
  messageFramePrefix,
  OutboundMessage,
  RESERVED_MESSAGE_HEADERS,
} from '../../lib/protocol/message-frame.js';
import { createHeaders, type StompFrame, type StompHeaders } from '../../lib/protocol/frame.js';
import { decode } from './helpers.js';

const text = (buf: Buffer): string => buf.toString('utf8');

function headersOf(entries: Record<string, string>): StompHeaders {
  return Object.assign(createHeaders(), entries);
}

/** Decodes a buffer that must hold exactly one frame. */
function decodeOne(buf: Buffer, version: StompVersion): StompFrame {
  const result = decode([buf], { version });
  expect(result.error).toBeUndefined();
  expect(result.frames).toHaveLength(1);
  return result.frames[0];
}

describe('encodeFrame', () => {
  it('serializes command, headers, blank line, body and NUL', () => {
    const out = encodeFrame('SUBSCRIBE', { id: 'sub-0', destination: '/topic/a' });
    expect(text(out)).toBe('SUBSCRIBE\nid:sub-0\ndestination:/topic/a\n\n\0');
  });

  it('escapes CR, LF, colon and backslash in values (backslash in names) for 1.2', () => {
    const out = encodeFrame('SEND', { 'ab\\': 'x:y\nz\\w\rv' }, 'hi', '1.2');
    expect(text(out)).toBe('SEND\nab\\\\:x\\cy\\nz\\\\w\\rv\ncontent-length:2\n\nhi\0');
  });

  it('defaults to 1.2 escaping', () => {
    const out = encodeFrame('MESSAGE', { k: 'a\rb' });
    expect(text(out)).toBe('MESSAGE\nk:a\\rb\ncontent-length:0\n\n\0');
  });

  it('escapes LF, colon and backslash for 1.1 but leaves CR as is', () => {
    const out = encodeFrame('SEND', { 'a\\b': 'x:y\nz\\w\rv' }, '', '1.1');
    expect(text(out)).toBe('SEND\na\\\\b:x\\cy\\nz\\\\w\rv\ncontent-length:0\n\n\0');
  });

  it.each(['1.0', '1.1', '1.2'] as const)(
    'never writes a header name a %s peer cannot read back (empty, or with colon, CR, LF, NUL)',
    (version) => {
      const headers = { '': 'e', 'content-length\\c1': 'ok', 'a:b': 'c', 'a\rb': 'r', 'a\nb': 'n', 'a\0b': 'z', k: 'v' };
      const out = encodeFrame('ERROR', headers, '', version);
      expect(text(out)).toBe('ERROR\ncontent-length\\c1:ok\nk:v\ncontent-length:0\n\n\0'.replace('\\c1', version === '1.0' ? '\\c1' : '\\\\c1'));
    },
  );

  it.each(['1.0', '1.1', '1.2'] as const)('writes line breaks in CONNECTED values as spaces (%s)', (version) => {
    const out = encodeFrame('CONNECTED', { server: 'x\r\ninjected:1', version: '1.2' }, undefined, version);
    expect(text(out)).toBe('CONNECTED\nserver:x  injected:1\nversion:1.2\n\n\0');
  });

  it('escapes nothing for 1.0', () => {
    const out = encodeFrame('SEND', { k: 'x:y\\n\\c' }, '', '1.0');
    expect(text(out)).toBe('SEND\nk:x:y\\n\\c\ncontent-length:0\n\n\0');
  });

  it.each(['1.0', '1.1', '1.2'] as const)('does not escape CONNECTED headers (%s)', (version) => {
    const out = encodeFrame('CONNECTED', { version: '1.2', server: 'nest:1.0\\x', 'heart-beat': '0,0' }, undefined, version);
    expect(text(out)).toBe('CONNECTED\nversion:1.2\nserver:nest:1.0\\x\nheart-beat:0,0\n\n\0');
  });

  it('does not escape CONNECT or STOMP headers', () => {
    expect(text(encodeFrame('CONNECT', { login: 'a:b\\c' }))).toBe('CONNECT\nlogin:a:b\\c\n\n\0');
    expect(text(encodeFrame('STOMP', { login: 'a:b\\c' }))).toBe('STOMP\nlogin:a:b\\c\n\n\0');
  });

  it.each(['SEND', 'MESSAGE', 'ERROR'])('adds content-length to %s', (command) => {
    const out = encodeFrame(command, { destination: '/a' }, 'héllo');
    expect(text(out)).toBe(`${command}\ndestination:/a\ncontent-length:6\n\nhéllo\0`);
  });

  it('adds content-length 0 for an empty body', () => {
    expect(text(encodeFrame('ERROR', { message: 'x' }))).toBe('ERROR\nmessage:x\ncontent-length:0\n\n\0');
  });

  it('replaces a caller-provided content-length with the real one, in its place', () => {
    const out = encodeFrame('SEND', { 'content-length': '999', destination: '/a' }, 'abc');
    expect(text(out)).toBe('SEND\ncontent-length:3\ndestination:/a\n\nabc\0');
    expect(text(out).match(/content-length/g)).toHaveLength(1);
  });

  it('appends content-length after the other headers when the caller gave none', () => {
    const out = encodeFrame('SEND', { destination: '/a', 'x-b': 'b' }, 'abc');
    expect(text(out)).toBe('SEND\ndestination:/a\nx-b:b\ncontent-length:3\n\nabc\0');
  });

  it.each(['SUBSCRIBE', 'RECEIPT', 'CONNECTED', 'DISCONNECT', 'ACK'])(
    'adds no content-length to %s, and drops a caller-provided one',
    (command) => {
      const out = encodeFrame(command, { 'content-length': '0', id: '1' });
      expect(text(out)).toBe(`${command}\nid:1\n\n\0`);
    },
  );

  it('skips headers whose value is undefined but keeps empty strings', () => {
    const out = encodeFrame('RECEIPT', { 'receipt-id': '7', missing: undefined, empty: '' });
    expect(text(out)).toBe('RECEIPT\nreceipt-id:7\nempty:\n\n\0');
  });

  it('copies a binary body with NUL bytes verbatim', () => {
    const body = Buffer.from([0, 1, 0xff, 0, 0x0a]);
    const out = encodeFrame('MESSAGE', { destination: '/a' }, body);
    const head = Buffer.from('MESSAGE\ndestination:/a\ncontent-length:5\n\n');
    expect(out).toEqual(Buffer.concat([head, body, Buffer.from([0])]));
  });

  it('treats a string body as UTF-8', () => {
    const out = encodeFrame('SEND', {}, '€');
    expect(out).toEqual(Buffer.from('SEND\ncontent-length:3\n\n€\0'));
  });

  it('writes multi-byte header text correctly', () => {
    const out = encodeFrame('SEND', { 'nâme': 'välue😀' }, 'b');
    expect(out).toEqual(Buffer.from('SEND\nnâme:välue😀\ncontent-length:1\n\nb\0'));
  });

  it.each(['1.0', '1.1', '1.2'] as const)('produces frames the decoder reads back (%s)', (version) => {
    const headers: Record<string, string> = { destination: '/queue/a', 'x-colon': 'a:b', 'x-back': 'c\\d' };
    if (version !== '1.0') headers['x-nl'] = 'line1\nline2';
    if (version === '1.2') headers['x-cr'] = 'a\rb';
    const body = Buffer.from([1, 0, 2]);
    const frame = decodeOne(encodeFrame('SEND', headers, body, version), version);
    expect(frame.command).toBe('SEND');
    expect(frame.headers).toEqual({ ...headers, 'content-length': '3' });
    expect([...frame.body]).toEqual([1, 0, 2]);
  });

  it('HEARTBEAT_EOL is a single LF that the decoder reports as a heart-beat', () => {
    expect(HEARTBEAT_EOL).toEqual(Buffer.from('\n'));
    const result = decode([HEARTBEAT_EOL, encodeFrame('RECEIPT', { 'receipt-id': '1' }), HEARTBEAT_EOL]);
    expect(result.frames).toHaveLength(1);
    expect(result.heartbeats).toBe(2);
  });
});

describe('OutboundMessage and messageFramePrefix', () => {
  it('messageFramePrefix is the command line and an escaped subscription header', () => {
    expect(text(messageFramePrefix('sub-0', '1.2'))).toBe('MESSAGE\nsubscription:sub-0\n');
    expect(text(messageFramePrefix('a:b\\', '1.2'))).toBe('MESSAGE\nsubscription:a\\cb\\\\\n');
    expect(text(messageFramePrefix('a:b', '1.0'))).toBe('MESSAGE\nsubscription:a:b\n');
  });

  it('frameFor() decodes to a MESSAGE with all headers and the body', () => {
    const body = Buffer.from('{"hello":"world"}');
    const msg = new OutboundMessage(
      '/topic/greetings',
      'msg-42',
      headersOf({ 'content-type': 'application/json', 'x-custom': 'value', priority: '5' }),
      body,
    );
    const frame = decodeOne(msg.frameFor(messageFramePrefix('sub-7', '1.2'), '1.2', 'ack-99'), '1.2');
    expect(frame.command).toBe('MESSAGE');
    expect(frame.headers).toEqual({
      subscription: 'sub-7',
      ack: 'ack-99',
      destination: '/topic/greetings',
      'message-id': 'msg-42',
      'content-type': 'application/json',
      'x-custom': 'value',
      priority: '5',
      'content-length': String(body.length),
    });
    expect(frame.body.toString()).toBe('{"hello":"world"}');
  });

  it('frameFor() without an ack id has no ack header', () => {
    const msg = new OutboundMessage('/topic/a', 'm-1', createHeaders(), Buffer.from('x'));
    const frame = decodeOne(msg.frameFor(messageFramePrefix('s', '1.2'), '1.2'), '1.2');
    expect(frame.headers).toEqual({
      subscription: 's',
      destination: '/topic/a',
      'message-id': 'm-1',
      'content-length': '1',
    });
  });

  it('puts subscription and ack before the shared headers', () => {
    const msg = new OutboundMessage('/a', 'm', createHeaders(), Buffer.alloc(0));
    const out = text(msg.frameFor(messageFramePrefix('s', '1.2'), '1.2', 'k'));
    expect(out).toBe('MESSAGE\nsubscription:s\nack:k\ndestination:/a\nmessage-id:m\ncontent-length:0\n\n\0');
  });

  it('escapes every header value for 1.2 and the decoder restores them', () => {
    const tricky = 'a:b\nc\\d\re';
    const msg = new OutboundMessage(tricky + '/dest', tricky + '/id', headersOf({ 'x-tricky': tricky }), Buffer.from('z'));
    const frame = decodeOne(msg.frameFor(messageFramePrefix(tricky + '/sub', '1.2'), '1.2', tricky + '/ack'), '1.2');
    expect(frame.headers).toEqual({
      subscription: tricky + '/sub',
      ack: tricky + '/ack',
      destination: tricky + '/dest',
      'message-id': tricky + '/id',
      'x-tricky': tricky,
      'content-length': '1',
    });
  });

  it('escapes for 1.1 and the 1.1 decoder restores the values', () => {
    const tricky = 'a:b\nc\\d';
    const msg = new OutboundMessage('/d' + tricky, 'id' + tricky, headersOf({ 'x-tricky': tricky }), Buffer.alloc(0));
    const frame = decodeOne(msg.frameFor(messageFramePrefix('s' + tricky, '1.1'), '1.1', 'k' + tricky), '1.1');
    expect(frame.headers).toEqual({
      subscription: 's' + tricky,
      ack: 'k' + tricky,
      destination: '/d' + tricky,
      'message-id': 'id' + tricky,
      'x-tricky': tricky,
      'content-length': '0',
    });
  });

  it('does not escape for 1.0 and the 1.0 decoder reads values verbatim', () => {
    const msg = new OutboundMessage('/d\\c', 'm:1', headersOf({ x: 'a:b\\n' }), Buffer.from('body'));
    const out = msg.frameFor(messageFramePrefix('s:1', '1.0'), '1.0', 'k\\1');
    expect(text(out)).toBe(
      'MESSAGE\nsubscription:s:1\nack:k\\1\ndestination:/d\\c\nmessage-id:m:1\ncontent-length:4\nx:a:b\\n\n\nbody\0',
    );
    const frame = decodeOne(out, '1.0');
    expect(frame.headers).toEqual({
      subscription: 's:1',
      ack: 'k\\1',
      destination: '/d\\c',
      'message-id': 'm:1',
      x: 'a:b\\n',
      'content-length': '4',
    });
  });

  it('carries a binary body with NUL bytes intact', () => {
    const body = Buffer.from([0, 0xff, 0, 0x0a, 0x0d, 0]);
    const msg = new OutboundMessage('/a', 'm', createHeaders(), body);
    const frame = decodeOne(msg.frameFor(messageFramePrefix('s', '1.2'), '1.2'), '1.2');
    expect([...frame.body]).toEqual([...body]);
    expect(msg.binary).toBe(true);
  });

  it('serves many subscriptions from one shared part without corrupting it', () => {
    const msg = new OutboundMessage('/topic/a', 'm-1', headersOf({ k: 'v' }), Buffer.from('payload'));
    const frames = ['s1', 's2', 's3'].map((id, i) =>
      msg.frameFor(messageFramePrefix(id, '1.2'), '1.2', i === 1 ? 'ack-1' : undefined),
    );
    const result = decode([Buffer.concat(frames)], { version: '1.2' });
    expect(result.error).toBeUndefined();
    expect(result.frames.map((f) => [f.headers.subscription, f.headers.ack, f.body.toString()])).toEqual([
      ['s1', undefined, 'payload'],
      ['s2', 'ack-1', 'payload'],
      ['s3', undefined, 'payload'],
    ]);
  });

  it('caches the shared part per version', () => {
    const msg = new OutboundMessage('/a:b', 'm', createHeaders(), Buffer.from('x'));
    const v12 = msg.sharedPart('1.2');
    expect(msg.sharedPart('1.2')).toBe(v12);
    const v10 = msg.sharedPart('1.0');
    expect(v10).not.toBe(v12);
    expect(text(v12)).toBe('destination:/a\\cb\nmessage-id:m\ncontent-length:1\n\nx\0');
    expect(text(v10)).toBe('destination:/a:b\nmessage-id:m\ncontent-length:1\n\nx\0');
    expect(msg.sharedPart('1.0')).toBe(v10);
  });

  it.each([
    ['text without content-type', undefined, Buffer.from('hello'), false],
    ['invalid UTF-8 without content-type', undefined, Buffer.from([0xff, 0xfe]), true],
    ['application/octet-stream', 'application/octet-stream', Buffer.from('hello'), true],
    ['application/json', 'application/json', Buffer.from('{}'), false],
    ['text/plain;charset=utf-8', 'text/plain;charset=utf-8', Buffer.from('héllo'), false],
  ])('sets binary for %s', (_label, contentType, body, binary) => {
    const headers = contentType === undefined ? createHeaders() : headersOf({ 'content-type': contentType });
    expect(new OutboundMessage('/a', 'm', headers, body).binary).toBe(binary);
  });

  it('RESERVED_MESSAGE_HEADERS lists the headers the broker owns', () => {
    for (const name of ['destination', 'message-id', 'subscription', 'ack', 'content-length']) {
      expect(RESERVED_MESSAGE_HEADERS.has(name)).toBe(true);
    }
    expect(RESERVED_MESSAGE_HEADERS.has('content-type')).toBe(false);
  });
});

describe('isTextBody', () => {
  const utf8 = Buffer.from('héllo wörld');
  const invalid = Buffer.from([0x68, 0xc3, 0x28]);

  it.each([
    ['UTF-8 text without content-type', undefined, utf8, true],
    ['UTF-8 text with an empty content-type', '', utf8, true],
    ['an empty body without content-type', undefined, Buffer.alloc(0), true],
    ['invalid UTF-8 without content-type', undefined, invalid, false],
    ['application/octet-stream', 'application/octet-stream', utf8, false],
    ['image/png', 'image/png', utf8, false],
    ['application/json', 'application/json', Buffer.from('{"a":1}'), true],
    ['application/json with invalid UTF-8', 'application/json', invalid, false],
    ['text/plain;charset=utf-8', 'text/plain;charset=utf-8', utf8, true],
    ['text/plain with invalid UTF-8', 'text/plain', invalid, false],
    ['TEXT/HTML (case-insensitive)', 'TEXT/HTML', utf8, true],
    ['application/xml', 'application/xml', utf8, true],
    ['application/vnd.api+json', 'application/vnd.api+json', utf8, true],
    ['application/atom+xml', 'application/atom+xml', utf8, true],
    ['application/x-custom; charset=UTF-8', 'application/x-custom; charset=UTF-8', utf8, true],
    ['image/svg+xml', 'image/svg+xml', utf8, true],
    ['application/jsonfoo (no word boundary)', 'application/jsonfoo', utf8, false],
  ])('%s', (_label, contentType, body, expected) => {
    expect(isTextBody(contentType, body)).toBe(expected);
  });
});

describe('STOMP 1.0 recipients cannot be fed injected headers or frames', () => {
  it('turns line breaks in header values into spaces for 1.0', () => {
    const smuggled = 'v\n\n\0MESSAGE\nsubscription:sub-1\ndestination:/topic/secret\nmessage-id:forged\nx:';
    const headers = createHeaders();
    headers['x'] = smuggled;
    headers['y'] = 'v\r\ncontent-length:0';
    const bytes = new OutboundMessage('/topic/a', 'm-1', headers, Buffer.from('hello')).frameFor(
      messageFramePrefix('sub-1', '1.0'),
      '1.0',
    );
    const result = decode([bytes], { version: '1.0' });
    expect(result.error).toBeUndefined();
    expect(result.frames).toHaveLength(1);
    expect(result.frames[0].headers['destination']).toBe('/topic/a');
    expect(result.frames[0].headers['content-length']).toBe('5');
    expect(result.frames[0].body.toString()).toBe('hello');
  });

  it('keeps escaping (not replacing) line breaks for 1.1 and 1.2', () => {
    const bytes = encodeFrame('MESSAGE', { x: 'a\nb' }, '', '1.2');
    expect(decode([bytes]).frames[0].headers['x']).toBe('a\nb');
  });
});

describe('encodeFrame never writes a NUL in a header value (issue 7 security, item 3)', () => {
  it.each(['CONNECTED', 'ERROR', 'RECEIPT', 'MESSAGE'])('%s: every version', (command) => {
    for (const version of ['1.0', '1.1', '1.2'] as const) {
      const out = encodeFrame(command, { message: 'bad\0value', 'x-y': '\0' }, undefined, version);
      expect(out.indexOf(0)).toBe(out.length - 1);
      expect(out.toString('utf8')).toContain('bad\uFFFDvalue');
    }
  });
});
