import { describe, it, expect } from '@jest/globals';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import type { StompFrame } from '../../lib/protocol/frame.js';
import { StompProtocolError } from '../../lib/protocol/stomp-protocol-error.js';
import {
  GENEROUS_LIMITS,
  bytewise,
  decode,
  expectProtocolError,
  plain,
  splitAt,
  type DecodeOptions,
} from './helpers.js';

/** Decodes input that must hold exactly one frame and nothing else. */
function decodeOne(input: Buffer | string, options?: DecodeOptions): StompFrame {
  const result = decode([input], options);
  expect(result.error).toBeUndefined();
  expect(result.frames).toHaveLength(1);
  return result.frames[0];
}

/** Decodes input that must fail, and returns the error. */
function decodeError(chunks: ReadonlyArray<Buffer | string>, options?: DecodeOptions): unknown {
  const result = decode(chunks, options);
  expect(result.error).toBeDefined();
  return result.error;
}

const bytes = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

describe('FrameDecoder', () => {
  describe('basic frames', () => {
    it('decodes a frame with no headers and no body', () => {
      const frame = decodeOne('DISCONNECT\n\n\0');
      expect(frame.command).toBe('DISCONNECT');
      expect(Object.keys(frame.headers)).toEqual([]);
      expect(frame.body.length).toBe(0);
    });

    it('decodes a frame with headers and no body', () => {
      const frame = decodeOne('SUBSCRIBE\nid:sub-0\ndestination:/topic/a\n\n\0');
      expect(frame.command).toBe('SUBSCRIBE');
      expect(frame.headers).toEqual({ id: 'sub-0', destination: '/topic/a' });
      expect(frame.body.length).toBe(0);
    });

    it('decodes a NUL-terminated body without content-length', () => {
      const frame = decodeOne('SEND\ndestination:/queue/a\n\nThe body of the message\0');
      expect(frame.command).toBe('SEND');
      expect(frame.headers).toEqual({ destination: '/queue/a' });
      expect(frame.body.toString('utf8')).toBe('The body of the message');
    });

    it('accepts CRLF end-of-lines everywhere', () => {
      const frame = decodeOne('SEND\r\ndestination:/queue/a\r\nfoo:bar\r\n\r\nbody\0');
      expect(frame.command).toBe('SEND');
      expect(frame.headers).toEqual({ destination: '/queue/a', foo: 'bar' });
      expect(frame.body.toString()).toBe('body');
    });

    it('accepts CRLF on a frame without headers', () => {
      const frame = decodeOne('DISCONNECT\r\n\r\n\0');
      expect(frame.command).toBe('DISCONNECT');
      expect(Object.keys(frame.headers)).toEqual([]);
    });

    it('accepts mixed LF and CRLF end-of-lines', () => {
      const frame = decodeOne('SEND\r\na:1\nb:2\r\n\nx\0');
      expect(frame.headers).toEqual({ a: '1', b: '2' });
      expect(frame.body.toString()).toBe('x');
    });

    it('keeps a CR that is not directly before the LF', () => {
      const frame = decodeOne('SEND\na:x\ry\n\n\0');
      expect(frame.headers.a).toBe('x\ry');
    });

    it('does not trim whitespace around header names and values', () => {
      const frame = decodeOne('SEND\n name : value \n\n\0');
      expect(frame.headers).toEqual({ ' name ': ' value ' });
    });

    it('passes an unknown command through unchanged (validation is not the codec’s job)', () => {
      const frame = decodeOne('FOO\n\n\0');
      expect(frame.command).toBe('FOO');
    });
  });

  describe('content-length', () => {
    it('reads exactly content-length bytes of body', () => {
      const frame = decodeOne('SEND\ncontent-length:23\n\nThe body of the message\0');
      expect(frame.body.toString()).toBe('The body of the message');
      expect(frame.headers['content-length']).toBe('23');
    });

    it('reads a body containing NUL octets when content-length is given', () => {
      const frame = decodeOne('SEND\ncontent-length:23\n\nThe b\0dy \0f the message\0');
      expect(frame.body).toEqual(Buffer.from('The b\0dy \0f the message'));
    });

    it('reads a body of NUL octets only', () => {
      const frame = decodeOne(bytes('MESSAGE\ncontent-length:3\n\n', [0, 0, 0, 0]));
      expect([...frame.body]).toEqual([0, 0, 0]);
    });

    it('counts content-length in bytes, not characters', () => {
      const frame = decodeOne(bytes('SEND\ncontent-length:6\n\n', 'héllo', [0]));
      expect(frame.body.toString('utf8')).toBe('héllo');
    });

    it('accepts a zero content-length', () => {
      const frame = decodeOne('SEND\ncontent-length:0\n\n\0');
      expect(frame.body.length).toBe(0);
      expect(frame.headers['content-length']).toBe('0');
    });

    it('uses the first content-length when it is repeated', () => {
      const frame = decodeOne('SEND\ncontent-length:2\ncontent-length:5\n\nab\0');
      expect(frame.body.toString()).toBe('ab');
    });

    it.each([
      ['non-numeric', 'abc'],
      ['negative', '-1'],
      ['fractional', '1.5'],
      ['empty', ''],
      ['with a sign', '+3'],
      ['with spaces', ' 3'],
      ['hexadecimal', '0x3'],
    ])('rejects a %s content-length with INVALID_CONTENT_LENGTH', (_label, value) => {
      const err = decodeError([`SEND\ncontent-length:${value}\n\nabc\0`]);
      expectProtocolError(err, 'INVALID_CONTENT_LENGTH');
    });

    it('rejects an invalid content-length as soon as the headers end', () => {
      // No body bytes have arrived yet: the error must not wait for them.
      const err = decodeError(['SEND\ncontent-length:x\n\n']);
      expectProtocolError(err, 'INVALID_CONTENT_LENGTH');
    });

    it('fails with MISSING_NULL_TERMINATOR when the body is longer than content-length', () => {
      const err = decodeError(['SEND\ncontent-length:23\n\nThe body of the message*']);
      expectProtocolError(err, 'MISSING_NULL_TERMINATOR');
    });

    it('fails with MISSING_NULL_TERMINATOR when the wrong byte arrives in a later chunk', () => {
      const result = decode(['SEND\ncontent-length:3\n\nabc', 'd\0']);
      expectProtocolError(result.error, 'MISSING_NULL_TERMINATOR');
      expect(result.frames).toEqual([]);
    });

    it('fails with MISSING_NULL_TERMINATOR after a zero content-length followed by a body', () => {
      const err = decodeError(['SEND\ncontent-length:0\n\nx\0']);
      expectProtocolError(err, 'MISSING_NULL_TERMINATOR');
    });
  });

  describe('bodies on frames that must not have one', () => {
    it('rejects a NUL-terminated body on SUBSCRIBE with BODY_NOT_ALLOWED', () => {
      const err = decodeError(['SUBSCRIBE\nid:1\ndestination:/topic/a\n\nThe body\0']);
      expectProtocolError(err, 'BODY_NOT_ALLOWED');
    });

    it('rejects a content-length body on SUBSCRIBE with BODY_NOT_ALLOWED', () => {
      const err = decodeError(['SUBSCRIBE\nid:1\ncontent-length:3\n\nabc\0']);
      expectProtocolError(err, 'BODY_NOT_ALLOWED');
    });

    it('rejects a body on CONNECT with BODY_NOT_ALLOWED', () => {
      const err = decodeError(['CONNECT\naccept-version:1.2\n\nThe body of the message\0']);
      expectProtocolError(err, 'BODY_NOT_ALLOWED');
    });

    it('accepts SUBSCRIBE with content-length 0', () => {
      const frame = decodeOne('SUBSCRIBE\nid:1\ncontent-length:0\n\n\0');
      expect(frame.command).toBe('SUBSCRIBE');
    });

    it.each(['SEND', 'MESSAGE', 'ERROR'])('allows a body on %s', (command) => {
      const frame = decodeOne(`${command}\n\nabc\0`);
      expect(frame.body.toString()).toBe('abc');
    });
  });

  describe('headers', () => {
    it('allows an empty header value', () => {
      const frame = decodeOne('CONNECT\naccept-version:1.2\nhost:github.org\nkey:\n\n\0');
      expect(frame.headers).toEqual({ 'accept-version': '1.2', host: 'github.org', key: '' });
    });

    it('splits a header line on the first colon only', () => {
      const frame = decodeOne('SEND\nurl:http://example.org:8080/a:b\n\n\0');
      expect(frame.headers).toEqual({ url: 'http://example.org:8080/a:b' });
    });

    it('keeps the first value of a repeated header', () => {
      const frame = decodeOne('MESSAGE\nfoo:World\nfoo:Hello\nfoo:again\n\n\0');
      expect(frame.headers).toEqual({ foo: 'World' });
    });

    it('compares repeated header names after unescaping', () => {
      const frame = decodeOne('SEND\na\\\\b:1\na\\\\b:2\n\n\0');
      // Both names unescape to "a\\b": the first wins.
      expect(frame.headers).toEqual({ 'a\\b': '1' });
    });

    it('rejects a header line without a colon with INVALID_HEADER', () => {
      expectProtocolError(decodeError(['SEND\nnocolon\n\n\0']), 'INVALID_HEADER');
    });

    it('rejects a header with an empty name with INVALID_HEADER', () => {
      expectProtocolError(decodeError(['SEND\n:value\n\n\0']), 'INVALID_HEADER');
    });

    it('treats a header named __proto__ as an ordinary header', () => {
      const frame = decodeOne('SEND\n__proto__:polluted\nconstructor:c\nhasOwnProperty:h\n\n\0');
      expect(Object.getPrototypeOf(frame.headers)).toBeNull();
      expect(Object.keys(frame.headers)).toEqual(['__proto__', 'constructor', 'hasOwnProperty']);
      expect(frame.headers['__proto__']).toBe('polluted');
      expect(frame.headers['constructor']).toBe('c');
      expect(frame.headers['hasOwnProperty']).toBe('h');
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
    });

    it('does not see inherited Object.prototype members as headers', () => {
      const frame = decodeOne('SEND\ntoString:x\n\n\0');
      // First-wins must not be fooled by "toString" being inherited on a plain object.
      expect(frame.headers['toString']).toBe('x');
      expect('valueOf' in frame.headers).toBe(false);
    });

    it('applies first-wins to __proto__ too', () => {
      const frame = decodeOne('SEND\n__proto__:first\n__proto__:second\n\n\0');
      expect(frame.headers['__proto__']).toBe('first');
    });
  });

  describe('header escaping', () => {
    it('unescapes \\r \\n \\c \\\\ in values (and \\\\ in names) in STOMP 1.2', () => {
      const frame = decodeOne('DISCONNECT\na\\\\b:alpha\\cbravo\\r\\n\\\\\n\n\0', { version: '1.2' });
      expect(frame.headers).toEqual({ 'a\\b': 'alpha:bravo\r\n\\' });
    });

    it('unescapes \\n \\c \\\\ in STOMP 1.1', () => {
      const frame = decodeOne('SEND\nk\\\\ey:a\\nb\\cc\\\\d\n\n\0', { version: '1.1' });
      expect(frame.headers).toEqual({ 'k\\ey': 'a\nb:c\\d' });
    });

    it('rejects \\r in STOMP 1.1 with INVALID_ESCAPE', () => {
      const err = decodeError(['SEND\nfoo:a\\rb\n\n\0'], { version: '1.1' });
      expectProtocolError(err, 'INVALID_ESCAPE');
    });

    it('does not unescape anything in STOMP 1.0', () => {
      const frame = decodeOne('SEND\na\\cb:x\\ny\\r\\c\\\\\\t\\\n\n\0', { version: '1.0' });
      expect(frame.headers).toEqual({ 'a\\cb': 'x\\ny\\r\\c\\\\\\t\\' });
    });

    it('decodes \\\\n as a backslash followed by n (single pass)', () => {
      const frame = decodeOne('SEND\nfoo:\\\\n\\\\c\\\\\\\\\n\n\0');
      expect(frame.headers.foo).toBe('\\n\\c\\\\');
    });

    it('rejects an undefined escape \\t with INVALID_ESCAPE', () => {
      expectProtocolError(decodeError(['SEND\nfoo:a\\tb\n\n\0']), 'INVALID_ESCAPE');
    });

    it('rejects an undefined escape in a header name', () => {
      expectProtocolError(decodeError(['SEND\nf\\oo:a\n\n\0']), 'INVALID_ESCAPE');
    });

    it('rejects a backslash at the end of a value with INVALID_ESCAPE', () => {
      expectProtocolError(decodeError(['SEND\nfoo:abc\\\n\n\0']), 'INVALID_ESCAPE');
    });

    it('rejects a backslash at the end of a value before CRLF', () => {
      // The CR belongs to the EOL, so the backslash is the last character of the value.
      expectProtocolError(decodeError(['SEND\nfoo:abc\\\r\n\r\n\0']), 'INVALID_ESCAPE');
    });

    it('rejects a backslash followed by a real colon (\\: is not an escape)', () => {
      expectProtocolError(decodeError(['SEND\nfoo:a\\:b\n\n\0']), 'INVALID_ESCAPE');
    });

    it.each(['CONNECT', 'STOMP'])('does not unescape %s headers even in STOMP 1.2', (command) => {
      const frame = decodeOne(`${command}\nlogin:a\\cb\npasscode:p\\as\\\\s\\n\nhost:x\\\n\n\0`, {
        version: '1.2',
      });
      expect(frame.headers).toEqual({ login: 'a\\cb', passcode: 'p\\as\\\\s\\n', host: 'x\\' });
    });

    it('does not unescape CONNECTED headers either', () => {
      const frame = decodeOne('CONNECTED\nserver:a\\cb\\t\n\n\0', { version: '1.2' });
      expect(frame.headers.server).toBe('a\\cb\\t');
    });
  });

  describe('chunking', () => {
    const twoFrames =
      'SEND\ndestination:/queue/a\ncontent-length:5\n\nhe\0lo\0' +
      'MESSAGE\nsubscription:1\nmessage-id:m\ndestination:/queue/a\n\nsecond body\0';

    it('decodes multiple frames from one chunk', () => {
      const result = decode([twoFrames]);
      expect(result.error).toBeUndefined();
      expect(result.frames.map(plain)).toEqual([
        {
          command: 'SEND',
          headers: { destination: '/queue/a', 'content-length': '5' },
          body: Buffer.from('he\0lo').toString('hex'),
        },
        {
          command: 'MESSAGE',
          headers: { subscription: '1', 'message-id': 'm', destination: '/queue/a' },
          body: Buffer.from('second body').toString('hex'),
        },
      ]);
    });

    it('decodes the same frames when fed one byte at a time', () => {
      const whole = decode([twoFrames]).frames.map(plain);
      const result = decode(bytewise(twoFrames));
      expect(result.error).toBeUndefined();
      expect(result.frames.map(plain)).toEqual(whole);
    });

    it('decodes the same frames for every single split point', () => {
      const input = Buffer.from('\r\n' + twoFrames + '\n' + 'SEND\r\nx:a\\cb\r\n\r\nz\0\r\n');
      const whole = decode([input]);
      expect(whole.error).toBeUndefined();
      expect(whole.frames).toHaveLength(3);
      for (let cut = 0; cut <= input.length; cut++) {
        const result = decode(splitAt(input, [cut]));
        expect(result.error).toBeUndefined();
        expect(result.frames.map(plain)).toEqual(whole.frames.map(plain));
        expect(result.heartbeats).toBe(whole.heartbeats);
      }
    });

    it('decodes multi-byte UTF-8 headers split inside a character', () => {
      const input = 'SEND\nnäme:välue€😀\n\n\0';
      const result = decode(bytewise(input));
      expect(result.error).toBeUndefined();
      expect(result.frames[0].headers).toEqual({ näme: 'välue€😀' });
    });

    it('produces nothing for an incomplete frame until it is completed', () => {
      const frames: StompFrame[] = [];
      const decoder = new FrameDecoder(GENEROUS_LIMITS, { onFrame: (f) => frames.push(f) });
      decoder.push(Buffer.from('SEN'));
      expect(frames).toHaveLength(0);
      decoder.push(Buffer.from('D\ndestination:/a\n'));
      expect(frames).toHaveLength(0);
      decoder.push(Buffer.from('\nhel'));
      expect(frames).toHaveLength(0);
      decoder.push(Buffer.from('lo'));
      expect(frames).toHaveLength(0);
      decoder.push(Buffer.from('\0'));
      expect(frames).toHaveLength(1);
      expect(frames[0].body.toString()).toBe('hello');
    });

    it('produces nothing for an incomplete content-length frame until its NUL arrives', () => {
      const frames: StompFrame[] = [];
      const decoder = new FrameDecoder(GENEROUS_LIMITS, { onFrame: (f) => frames.push(f) });
      decoder.push(Buffer.from('SEND\ncontent-length:23\n\nThe body'));
      expect(frames).toHaveLength(0);
      decoder.push(Buffer.from(' of the message'));
      expect(frames).toHaveLength(0);
      decoder.push(Buffer.from('\0'));
      expect(frames).toHaveLength(1);
      expect(frames[0].body.toString()).toBe('The body of the message');
    });

    it('keeps its own copy of partial lines and bodies, so callers may reuse a chunk after push()', () => {
      const frames: StompFrame[] = [];
      const decoder = new FrameDecoder(GENEROUS_LIMITS, { onFrame: (f) => frames.push(f) });
      const scratch = Buffer.alloc(64);
      const pushVia = (s: string): void => {
        const n = scratch.write(s);
        decoder.push(scratch.subarray(0, n));
        scratch.fill(0x58); // the caller recycles its buffer
      };
      pushVia('SEND\ndesti');
      pushVia('nation:/a\n\nhel');
      pushVia('lo wor');
      pushVia('ld\0');
      expect(frames).toHaveLength(1);
      expect(frames[0].headers).toEqual({ destination: '/a' });
      expect(frames[0].body.toString()).toBe('hello world');
    });

    it('does not let later input alter an already delivered body', () => {
      const frames: StompFrame[] = [];
      const decoder = new FrameDecoder(GENEROUS_LIMITS, { onFrame: (f) => frames.push(f) });
      decoder.push(Buffer.from('SEND\n\nab'));
      decoder.push(Buffer.from('c\0SEND\ncontent-length:2\n\nx'));
      decoder.push(Buffer.from('y\0SEND\n\nzzzzz\0'));
      expect(frames.map((f) => f.body.toString())).toEqual(['abc', 'xy', 'zzzzz']);
    });
  });

  describe('heart-beats', () => {
    it('reports a lone LF as a heart-beat and produces no frame', () => {
      const result = decode(['\n']);
      expect(result.error).toBeUndefined();
      expect(result.frames).toEqual([]);
      expect(result.heartbeats).toBe(1);
    });

    it('reports a lone CRLF as a single heart-beat', () => {
      const result = decode(['\r\n']);
      expect(result.frames).toEqual([]);
      expect(result.heartbeats).toBe(1);
    });

    it('reports a CRLF split across chunks as a single heart-beat', () => {
      const result = decode(['\r', '\n']);
      expect(result.frames).toEqual([]);
      expect(result.heartbeats).toBe(1);
    });

    it('reports EOLs between and after frames as heart-beats', () => {
      const result = decode(['\nSEND\n\na\0\n\r\n\nSEND\n\nb\0\r\n']);
      expect(result.error).toBeUndefined();
      expect(result.frames.map((f) => f.body.toString())).toEqual(['a', 'b']);
      expect(result.heartbeats).toBe(5);
    });

    it('does not call onHeartbeat for the EOLs inside a frame', () => {
      const result = decode(['SEND\r\na:b\r\n\r\nbody\0']);
      expect(result.frames).toHaveLength(1);
      expect(result.heartbeats).toBe(0);
    });

    it('works without an onHeartbeat handler', () => {
      const frames: StompFrame[] = [];
      const decoder = new FrameDecoder(GENEROUS_LIMITS, { onFrame: (f) => frames.push(f) });
      decoder.push(Buffer.from('\n\r\nSEND\n\nx\0\n'));
      expect(frames).toHaveLength(1);
    });
  });

  describe('limits', () => {
    // "SEND\n" (5) + "destination:/a\n" (15) + "\n" (1) + "hello" (5) = 26 bytes; the NUL is not counted.
    const frame26 = 'SEND\ndestination:/a\n\nhello\0';
    // "SEND\n" (5) + "content-length:5\n" (17) + "\n" (1) + "hello" (5) = 28 bytes.
    const fixedFrame28 = 'SEND\ncontent-length:5\n\nhello\0';

    describe('maxFrameSize', () => {
      it('accepts a frame of exactly maxFrameSize bytes', () => {
        const result = decode([frame26], { limits: { maxFrameSize: 26 } });
        expect(result.error).toBeUndefined();
        expect(result.frames).toHaveLength(1);
      });

      it('rejects a NUL-terminated frame one byte over with FRAME_TOO_LARGE', () => {
        const result = decode([frame26], { limits: { maxFrameSize: 25 } });
        expectProtocolError(result.error, 'FRAME_TOO_LARGE');
        expect(result.frames).toEqual([]);
      });

      it('accepts a content-length frame of exactly maxFrameSize bytes', () => {
        const result = decode([fixedFrame28], { limits: { maxFrameSize: 28 } });
        expect(result.error).toBeUndefined();
        expect(result.frames).toHaveLength(1);
      });

      it('rejects a content-length frame that would exceed it before its body arrives', () => {
        const result = decode(['SEND\ncontent-length:5\n\n'], { limits: { maxFrameSize: 27 } });
        expectProtocolError(result.error, 'FRAME_TOO_LARGE');
      });

      it('rejects an oversized frame split into one-byte chunks, before it ends', () => {
        const input = 'SEND\n\n' + 'x'.repeat(100); // no NUL: the frame never ends
        const result = decode(bytewise(input), { limits: { maxFrameSize: 50 } });
        expectProtocolError(result.error, 'FRAME_TOO_LARGE');
        expect(result.frames).toEqual([]);
      });

      it('counts header bytes split across chunks', () => {
        const input = 'SEND\n' + 'a:b\n'.repeat(20) + '\n\0';
        const result = decode(bytewise(input), { limits: { maxFrameSize: 40 } });
        expectProtocolError(result.error, 'FRAME_TOO_LARGE');
      });

      it('counts each frame separately', () => {
        const result = decode([frame26 + frame26 + frame26], { limits: { maxFrameSize: 26 } });
        expect(result.error).toBeUndefined();
        expect(result.frames).toHaveLength(3);
      });

      it('does not count heart-beat EOLs towards the next frame', () => {
        const input = '\n'.repeat(100) + '\r\n'.repeat(100) + frame26;
        const result = decode([input], { limits: { maxFrameSize: 26 } });
        expect(result.error).toBeUndefined();
        expect(result.frames).toHaveLength(1);
        expect(result.heartbeats).toBe(200);
      });
    });

    describe('maxHeaders', () => {
      it('accepts exactly maxHeaders headers', () => {
        const result = decode(['SEND\na:1\nb:2\nc:3\n\n\0'], { limits: { maxHeaders: 3 } });
        expect(result.error).toBeUndefined();
        expect(result.frames[0].headers).toEqual({ a: '1', b: '2', c: '3' });
      });

      it('rejects one header too many with TOO_MANY_HEADERS', () => {
        const result = decode(['SEND\na:1\nb:2\nc:3\nd:4\n\n\0'], { limits: { maxHeaders: 3 } });
        expectProtocolError(result.error, 'TOO_MANY_HEADERS');
        expect(result.frames).toEqual([]);
      });

      it('counts repeated header lines too', () => {
        const result = decode(['SEND\na:1\na:2\na:3\na:4\n\n\0'], { limits: { maxHeaders: 3 } });
        expectProtocolError(result.error, 'TOO_MANY_HEADERS');
      });

      it('rejects too many headers arriving one byte at a time, before the frame ends', () => {
        const input = 'SEND\n' + 'h:v\n'.repeat(50); // headers never end
        const result = decode(bytewise(input), { limits: { maxHeaders: 10 } });
        expectProtocolError(result.error, 'TOO_MANY_HEADERS');
      });

      it('resets the count for every frame', () => {
        const frame = 'SEND\na:1\nb:2\n\n\0';
        const result = decode([frame + frame + frame], { limits: { maxHeaders: 2 } });
        expect(result.error).toBeUndefined();
        expect(result.frames).toHaveLength(3);
      });
    });

    describe('maxHeaderLineLength', () => {
      // "destination:/abc" is 16 bytes.
      it('accepts a header line of exactly the limit with LF', () => {
        const result = decode(['SEND\ndestination:/abc\n\n\0'], { limits: { maxHeaderLineLength: 16 } });
        expect(result.error).toBeUndefined();
        expect(result.frames[0].headers.destination).toBe('/abc');
      });

      it('accepts a header line of exactly the limit with CRLF (the CR is not counted)', () => {
        const result = decode(['SEND\r\ndestination:/abc\r\n\r\n\0'], {
          limits: { maxHeaderLineLength: 16 },
        });
        expect(result.error).toBeUndefined();
        expect(result.frames[0].headers.destination).toBe('/abc');
      });

      it('rejects a header line one byte over the limit followed by CRLF', () => {
        const result = decode(['SEND\r\ndestination:/abcd\r\n\r\n\0'], {
          limits: { maxHeaderLineLength: 16 },
        });
        expectProtocolError(result.error, 'HEADER_LINE_TOO_LONG');
      });

      it('rejects a header line one byte over the limit followed by a bare LF', () => {
        const result = decode(['SEND\ndestination:/abcd\n\n\0'], { limits: { maxHeaderLineLength: 16 } });
        expectProtocolError(result.error, 'HEADER_LINE_TOO_LONG');
      });

      it('rejects a header line two bytes over the limit with HEADER_LINE_TOO_LONG', () => {
        const result = decode(['SEND\ndestination:/abcde\n\n\0'], { limits: { maxHeaderLineLength: 16 } });
        expectProtocolError(result.error, 'HEADER_LINE_TOO_LONG');
        expect(result.frames).toEqual([]);
      });

      it('rejects an overlong command line', () => {
        const result = decode(['SUBSCRIBE\n\n\0'], { limits: { maxHeaderLineLength: 4 } });
        expectProtocolError(result.error, 'HEADER_LINE_TOO_LONG');
      });

      it('rejects an endless header line fed one byte at a time, without waiting for its EOL', () => {
        const input = 'SEND\nx:' + 'y'.repeat(100);
        const result = decode(bytewise(input), { limits: { maxHeaderLineLength: 16 } });
        expectProtocolError(result.error, 'HEADER_LINE_TOO_LONG');
      });

      it('rejects an endless command line split across chunks', () => {
        const result = decode(['SENDSEND', 'SENDSEND', 'SENDSEND'], { limits: { maxHeaderLineLength: 16 } });
        expectProtocolError(result.error, 'HEADER_LINE_TOO_LONG');
      });

      it('rejects an endless run of CRs (not a heart-beat until the LF)', () => {
        const result = decode(bytewise('\r'.repeat(40)), { limits: { maxHeaderLineLength: 16 } });
        expectProtocolError(result.error, 'HEADER_LINE_TOO_LONG');
      });

      it('measures each line separately', () => {
        const line = 'destination:/abc\n';
        const result = decode(['SEND\n' + line + line + line + '\n\0'], {
          limits: { maxHeaderLineLength: 16 },
        });
        expect(result.error).toBeUndefined();
      });
    });

    describe('maxBodyLength', () => {
      it('accepts a NUL-terminated body of exactly the limit', () => {
        const result = decode(['SEND\n\nhello\0'], { limits: { maxBodyLength: 5 } });
        expect(result.error).toBeUndefined();
        expect(result.frames[0].body.toString()).toBe('hello');
      });

      it('rejects a NUL-terminated body one byte over with BODY_TOO_LARGE', () => {
        const result = decode(['SEND\n\nhello!\0'], { limits: { maxBodyLength: 5 } });
        expectProtocolError(result.error, 'BODY_TOO_LARGE');
        expect(result.frames).toEqual([]);
      });

      it('rejects a NUL-terminated body fed one byte at a time, before its NUL arrives', () => {
        const result = decode(bytewise('SEND\n\nhello!'), { limits: { maxBodyLength: 5 } });
        expectProtocolError(result.error, 'BODY_TOO_LARGE');
      });

      it('rejects a NUL-terminated body split over two chunks', () => {
        const result = decode(['SEND\n\nhel', 'lo!\0'], { limits: { maxBodyLength: 5 } });
        expectProtocolError(result.error, 'BODY_TOO_LARGE');
      });

      it('accepts a content-length body of exactly the limit', () => {
        const result = decode(['SEND\ncontent-length:5\n\nhello\0'], { limits: { maxBodyLength: 5 } });
        expect(result.error).toBeUndefined();
        expect(result.frames[0].body.toString()).toBe('hello');
      });

      it('rejects a content-length over the limit before any body byte arrives', () => {
        const result = decode(['SEND\ncontent-length:6\n\n'], { limits: { maxBodyLength: 5 } });
        expectProtocolError(result.error, 'BODY_TOO_LARGE');
      });

      it('rejects a huge content-length without allocating it', () => {
        const result = decode(['SEND\ncontent-length:999999999999999\n\n'], { limits: { maxBodyLength: 5 } });
        expectProtocolError(result.error, 'BODY_TOO_LARGE');
      });

      it('rejects a content-length over the limit fed one byte at a time', () => {
        const result = decode(bytewise('SEND\ncontent-length:6\n\nhello!\0'), {
          limits: { maxBodyLength: 5 },
        });
        expectProtocolError(result.error, 'BODY_TOO_LARGE');
        expect(result.frames).toEqual([]);
      });

      it('resets the body count for every frame', () => {
        const result = decode(['SEND\n\nhel', 'lo\0SEND\n\nhello\0'], { limits: { maxBodyLength: 5 } });
        expect(result.error).toBeUndefined();
        expect(result.frames).toHaveLength(2);
      });
    });
  });

  describe('invalid UTF-8', () => {
    it('rejects an invalid UTF-8 header value with INVALID_UTF8', () => {
      const err = decodeError([bytes('SEND\nx:', [0xff, 0xfe], '\n\n\0')]);
      expectProtocolError(err, 'INVALID_UTF8');
    });

    it('rejects an invalid UTF-8 header name with INVALID_UTF8', () => {
      const err = decodeError([bytes('SEND\n', [0xc3, 0x28], ':x\n\n\0')]);
      expectProtocolError(err, 'INVALID_UTF8');
    });

    it('rejects a truncated multi-byte sequence split across chunks', () => {
      // 0xe2 0x82 starts "€" but the line ends before the third byte.
      const err = decodeError([bytes('SEND\nx:', [0xe2]), bytes([0x82], '\n\n\0')]);
      expectProtocolError(err, 'INVALID_UTF8');
    });

    it('rejects an invalid UTF-8 command with INVALID_UTF8', () => {
      const err = decodeError([bytes([0x80], 'SEND\n\n\0')]);
      expectProtocolError(err, 'INVALID_UTF8');
    });

    it('rejects an invalid UTF-8 header in CONNECT too', () => {
      const err = decodeError([bytes('CONNECT\nlogin:', [0xed, 0xa0, 0x80], '\n\n\0')]);
      expectProtocolError(err, 'INVALID_UTF8');
    });

    it('accepts any bytes in the body', () => {
      const frame = decodeOne(bytes('SEND\ncontent-length:3\n\n', [0xff, 0x00, 0xfe], [0]));
      expect([...frame.body]).toEqual([0xff, 0x00, 0xfe]);
    });
  });

  describe('after an error', () => {
    it('marks the decoder stopped and ignores all further input', () => {
      const frames: StompFrame[] = [];
      let heartbeats = 0;
      const decoder = new FrameDecoder(GENEROUS_LIMITS, {
        onFrame: (f) => frames.push(f),
        onHeartbeat: () => heartbeats++,
      });
      expect(() => decoder.push(Buffer.from('SEND\nfoo:a\\tb\n\n\0'))).toThrow(StompProtocolError);
      expect(decoder.isStopped).toBe(true);
      expect(() => decoder.push(Buffer.from('\nSEND\n\nok\0'))).not.toThrow();
      expect(() => decoder.push(Buffer.from('garbage\\t:\n\n\0'))).not.toThrow();
      expect(frames).toEqual([]);
      expect(heartbeats).toBe(0);
    });

    it('does not deliver frames that follow the bad one in the same chunk', () => {
      const result = decode(['SEND\n\nok\0SEND\nbad\n\n\0SEND\n\nlater\0']);
      expectProtocolError(result.error, 'INVALID_HEADER');
      expect(result.frames.map((f) => f.body.toString())).toEqual(['ok']);
    });

    it('stops when onFrame throws, and rethrows that error', () => {
      const seen: string[] = [];
      const boom = new Error('handler failed');
      const decoder = new FrameDecoder(GENEROUS_LIMITS, {
        onFrame: (f) => {
          seen.push(f.body.toString());
          throw boom;
        },
      });
      expect(() => decoder.push(Buffer.from('SEND\n\na\0SEND\n\nb\0'))).toThrow(boom);
      expect(decoder.isStopped).toBe(true);
      decoder.push(Buffer.from('SEND\n\nc\0'));
      expect(seen).toEqual(['a']);
    });
  });

  describe('stop()', () => {
    it('called inside onFrame, stops the rest of the chunk being decoded', () => {
      const frames: StompFrame[] = [];
      let heartbeats = 0;
      const decoder: FrameDecoder = new FrameDecoder(GENEROUS_LIMITS, {
        onFrame: (f) => {
          frames.push(f);
          decoder.stop();
        },
        onHeartbeat: () => heartbeats++,
      });
      // The second "frame" is malformed: had decoding continued, push would throw.
      decoder.push(Buffer.from('DISCONNECT\nreceipt:1\n\n\0\nSEND\nbad\n\n\0'));
      expect(frames).toHaveLength(1);
      expect(frames[0].command).toBe('DISCONNECT');
      expect(heartbeats).toBe(0);
      expect(decoder.isStopped).toBe(true);
      decoder.push(Buffer.from('SEND\n\nmore\0'));
      expect(frames).toHaveLength(1);
    });

    it('called before any input, ignores everything', () => {
      const frames: StompFrame[] = [];
      const decoder = new FrameDecoder(GENEROUS_LIMITS, { onFrame: (f) => frames.push(f) });
      expect(decoder.isStopped).toBe(false);
      decoder.stop();
      decoder.push(Buffer.from('SEND\n\nx\0'));
      expect(frames).toEqual([]);
    });
  });

  describe('version changes', () => {
    it('defaults to STOMP 1.2 rules', () => {
      const decoder = new FrameDecoder(GENEROUS_LIMITS, { onFrame: () => undefined });
      expect(decoder.version).toBe('1.2');
    });

    it('applies a version set inside onFrame to the next frame of the same chunk', () => {
      const frames: StompFrame[] = [];
      const decoder: FrameDecoder = new FrameDecoder(GENEROUS_LIMITS, {
        onFrame: (f) => {
          frames.push(f);
          if (f.command === 'CONNECT') decoder.version = '1.0';
        },
      });
      decoder.push(Buffer.from('CONNECT\naccept-version:1.0\n\n\0SEND\nx:a\\cb\\t\n\n\0'));
      expect(frames).toHaveLength(2);
      // Under 1.2 this header would be an INVALID_ESCAPE; under 1.0 it is taken verbatim.
      expect(frames[1].headers.x).toBe('a\\cb\\t');
    });

    it('applies a downgrade to 1.1 immediately: \\r becomes an error in the next frame', () => {
      const frames: StompFrame[] = [];
      const decoder: FrameDecoder = new FrameDecoder(GENEROUS_LIMITS, {
        onFrame: (f) => {
          frames.push(f);
          if (f.command === 'CONNECT') decoder.version = '1.1';
        },
      });
      let error: unknown;
      try {
        decoder.push(Buffer.from('CONNECT\naccept-version:1.1\n\n\0SEND\nx:a\\rb\n\n\0'));
      } catch (err) {
        error = err;
      }
      expectProtocolError(error, 'INVALID_ESCAPE');
      expect(frames).toHaveLength(1);
    });

    it('applies an upgrade from 1.0 to 1.2 to the next frame of the same chunk', () => {
      const frames: StompFrame[] = [];
      const decoder: FrameDecoder = new FrameDecoder(GENEROUS_LIMITS, {
        onFrame: (f) => {
          frames.push(f);
          if (f.command === 'CONNECT') decoder.version = '1.2';
        },
      });
      decoder.version = '1.0';
      decoder.push(Buffer.from('SEND\nx:a\\cb\n\n\0CONNECT\n\n\0SEND\nx:a\\cb\n\n\0'));
      expect(frames.map((f) => f.headers.x)).toEqual(['a\\cb', undefined, 'a:b']);
    });
  });
});

describe('unknown commands with a body', () => {
  it('are passed on (the session rejects the command), not reported as a body error', () => {
    const result = decode(['PUBLISH\ndestination:/x\n\nbody\0']);
    expect(result.error).toBeUndefined();
    expect(result.frames[0].command).toBe('PUBLISH');
    expect(result.frames[0].body.toString()).toBe('body');
  });
});
