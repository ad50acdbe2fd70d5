// Issue 7: what a hostile peer can make the decoder hold or do, and what its errors must carry.
import { describe, it, expect } from '@jest/globals';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import type { StompFrame } from '../../lib/protocol/frame.js';
import { messageSize } from '../../lib/broker/message-size.js';
import { GENEROUS_LIMITS, bytewise, decode, expectProtocolError } from './helpers.js';

describe('FrameDecoder errors keep the receipt of the frame that caused them', () => {
  it('a body that runs past its content-length', () => {
    const err = decode(['SEND\ndestination:/queue/a\nreceipt:r-a\ncontent-length:2\n\nabcdef\0']).error;
    expect(expectProtocolError(err, 'MISSING_NULL_TERMINATOR').headers?.['receipt-id']).toBe('r-a');
  });

  it('a SUBSCRIBE with a body', () => {
    const err = decode(['SUBSCRIBE\nid:0\ndestination:/topic/a\nreceipt:r-b\n\nbody\0']).error;
    expect(expectProtocolError(err, 'BODY_NOT_ALLOWED').headers?.['receipt-id']).toBe('r-b');
  });

  it('an undefined escape on a line before the receipt header (look-ahead in the same chunk)', () => {
    const err = decode(['SEND\ndestination:/queue/a\nx:a\\tb\nreceipt:r-c\n\nhi\0']).error;
    expect(expectProtocolError(err, 'INVALID_ESCAPE').headers?.['receipt-id']).toBe('r-c');
  });

  it('an undefined escape, the receipt header already decoded, frame cut into one-byte chunks', () => {
    const err = decode(bytewise('SEND\nreceipt:r-d\nx:a\\tb\n\nhi\0')).error;
    expect(expectProtocolError(err, 'INVALID_ESCAPE').headers?.['receipt-id']).toBe('r-d');
  });

  it('unescapes the look-ahead receipt value by the session version', () => {
    const err = decode(['SEND\nx:\\t\nreceipt:r\\c1\n\n\0']).error;
    expect(expectProtocolError(err, 'INVALID_ESCAPE').headers?.['receipt-id']).toBe('r:1');
  });

  it('an invalid content-length', () => {
    const err = decode(['SEND\ncontent-length:0x10\nreceipt:r-e\n\n\0']).error;
    expect(expectProtocolError(err, 'INVALID_CONTENT_LENGTH').headers?.['receipt-id']).toBe('r-e');
  });

  it('too many headers, receipt among the first ones', () => {
    const err = decode(['SEND\nreceipt:r-f\na:1\nb:2\nc:3\n\n\0'], { limits: { maxHeaders: 2 } }).error;
    expect(expectProtocolError(err, 'TOO_MANY_HEADERS').headers?.['receipt-id']).toBe('r-f');
  });

  it('never takes a receipt from the body or from the next frame', () => {
    const fromBody = decode(['SEND\ncontent-length:x\n\nreceipt:no\n\0']).error;
    expect(expectProtocolError(fromBody, 'INVALID_CONTENT_LENGTH').headers?.['receipt-id']).toBeUndefined();
    const nextFrame = decode(['SUBSCRIBE\nid:0\n\nbody\0SEND\nreceipt:no\n\n\0']).error;
    expect(expectProtocolError(nextFrame, 'BODY_NOT_ALLOWED').headers?.['receipt-id']).toBeUndefined();
  });
});

describe('FrameDecoder refuses header names no peer can read back', () => {
  it.each([
    ['an escaped colon (1.2)', 'SEND\ncontent-length\\c1:x\n\n\0', '1.2', 'content-length:1'],
    ['an escaped LF (1.1)', 'SEND\na\\nb:x\n\n\0', '1.1', 'a\nb'],
    ['an escaped CR (1.2)', 'SEND\na\\rb:x\n\n\0', '1.2', 'a\rb'],
    ['a NUL byte', 'SEND\na\0b:x\n\n\0', '1.2', 'a\0b'],
    ['a NUL byte in CONNECT (never unescaped)', 'CONNECT\na\0b:x\n\n\0', '1.2', 'a\0b'],
  ] as const)('%s: INVALID_HEADER naming the header', (_what, input, version, name) => {
    const err = expectProtocolError(decode([input], { version }).error, 'INVALID_HEADER');
    expect(err.message).toContain(JSON.stringify(name));
  });

  it('still accepts a backslash in a name and a colon in a value', () => {
    const { frames, error } = decode(['SEND\na\\\\b:x\\cyz\n\n\0']);
    expect(error).toBeUndefined();
    expect(Object.entries(frames[0].headers)).toEqual([['a\\b', 'x:yz']]);
  });
});

describe('FrameDecoder refuses NUL in header values (a NUL ends a frame for every reader)', () => {
  it.each([
    ['SEND, 1.2 (the reported x-a:\\0ERROR)', 'SEND\ndestination:/topic/a\nx-a:\0ERROR\n\nhi\0', '1.2', 'x-a'],
    ['SEND, 1.1', 'SEND\ndestination:/topic/a\nx-b:a\0b\n\n\0', '1.1', 'x-b'],
    ['SEND, 1.0', 'SEND\ndestination:/topic/a\nx-c:\0\n\n\0', '1.0', 'x-c'],
    ['SUBSCRIBE', 'SUBSCRIBE\nid:0\ndestination:/topic/a\0MESSAGE\n\n\0', '1.2', 'destination'],
    ['CONNECT (never unescaped)', 'CONNECT\naccept-version:1.2\nlogin:a\0b\n\n\0', '1.2', 'login'],
    ['STOMP', 'STOMP\nhost:h\0\n\n\0', '1.2', 'host'],
  ] as const)('%s: INVALID_HEADER naming the header', (_what, input, version, name) => {
    const { frames, error } = decode([input], { version });
    const err = expectProtocolError(error, 'INVALID_HEADER');
    expect(err.message).toBe(
      `Header ${JSON.stringify(name)} has a NUL in its value: a NUL ends a STOMP frame, so no peer can read it back`,
    );
    expect(frames).toEqual([]);
  });

  it('keeps the receipt of the refused frame, even when it comes after the NUL', () => {
    const err = decode(['SEND\ndestination:/topic/a\nx-a:\0\nreceipt:r-nul\n\n\0']).error;
    expect(expectProtocolError(err, 'INVALID_HEADER').headers?.['receipt-id']).toBe('r-nul');
  });
});

describe('FrameDecoder bodies own their memory (what is held is what is counted)', () => {
  /**
   * A small body lives in a 512-byte slab shared with other small bodies: what it keeps alive is
   * at most twice what the byte bounds count for its message (messageSize: 256 bytes of overhead
   * plus body and headers), and never Node's 8 KiB pool slab.
   */
  const expectHeldAtMostTwiceCounted = (frame: StompFrame) => {
    expect(frame.body.buffer.byteLength).toBeLessThanOrEqual(512);
    expect(frame.body.buffer.byteLength).toBeLessThanOrEqual(2 * messageSize(frame.headers, frame.body));
  };

  const big = (body: string, extra = 4 * 1024 * 1024): Buffer =>
    Buffer.concat([Buffer.from(`SEND\ndestination:/queue/a\n\n${body}\0`), Buffer.alloc(extra, '\n')]);

  it('a 1-byte unsized body decoded from a 4 MiB chunk does not keep the chunk alive', () => {
    const chunk = big('x');
    const { frames, error } = decode([chunk]);
    expect(error).toBeUndefined();
    const body = frames[0].body;
    expect(body.toString()).toBe('x');
    expect(body.buffer).not.toBe(chunk.buffer);
    expectHeldAtMostTwiceCounted(frames[0]);
  });

  it('the reported shape: two ~4 MiB SENDs then a 1-byte SEND in one 8 MiB message', () => {
    const filler = Buffer.alloc(4 * 1024 * 1024 - 64, 'f');
    const chunk = Buffer.concat([
      Buffer.from('SEND\ndestination:/topic/nobody\n\n'), filler, Buffer.from([0]),
      Buffer.from('SEND\ndestination:/topic/nobody\n\n'), filler, Buffer.from([0]),
      Buffer.from('SEND\ndestination:/queue/held1\n\nx\0'),
    ]);
    const { frames, error } = decode([chunk]);
    expect(error).toBeUndefined();
    expect(frames).toHaveLength(3);
    expectHeldAtMostTwiceCounted(frames[2]);
    // Each 4 MiB body owns at least half of what it keeps alive (here it is a copy of its own).
    for (const frame of frames.slice(0, 2)) {
      expect(frame.body.buffer.byteLength).toBeLessThanOrEqual(2 * frame.body.length);
    }
  });

  it('a small sized body does not hold a slab of the shared Buffer pool', () => {
    const { frames } = decode(['SEND\ndestination:/queue/a\ncontent-length:1\n\ny\0']);
    expect(frames[0].body.toString()).toBe('y');
    expect(frames[0].body.buffer.byteLength).toBeLessThan(Buffer.poolSize);
    expectHeldAtMostTwiceCounted(frames[0]);
  });

  it('small bodies never share bytes: each is a region of its own, whole frame or trickled', () => {
    const chunk = Buffer.from('SEND\ndestination:/q\ncontent-length:3\n\nabc\0SEND\ndestination:/q\n\nxyz\0'.repeat(100));
    const frames = [...decode([chunk]).frames, ...decode(bytewise('SEND\ndestination:/q\ncontent-length:2\n\nhi\0')).frames];
    expect(frames).toHaveLength(201);
    for (const f of frames) expectHeldAtMostTwiceCounted(f);
    // Each body still holds its own bytes once all are decoded.
    expect(frames.map((f) => f.body.toString())).toEqual([...Array.from({ length: 100 }, () => ['abc', 'xyz']).flat(), 'hi']);
    const regions = frames.map((f) => [f.body.buffer, f.body.byteOffset, f.body.byteOffset + f.body.length] as const);
    for (let i = 0; i < regions.length; i++) {
      for (let j = i + 1; j < regions.length; j++) {
        const [a, b] = [regions[i], regions[j]];
        if (a[0] === b[0]) expect(a[2] <= b[1] || b[2] <= a[1]).toBe(true);
      }
    }
  });

  it('a small body split across chunks (held in a growable buffer) is copied out to its size', () => {
    const { frames } = decode(bytewise('SEND\ndestination:/queue/a\n\nabc\0'));
    expect(frames[0].body.toString()).toBe('abc');
    expectHeldAtMostTwiceCounted(frames[0]);
  });

  it('a large unsized body that is most of its chunk is handed on without a copy', () => {
    const body = Buffer.alloc(1024 * 1024, 'b');
    const chunk = Buffer.concat([Buffer.from('SEND\ndestination:/queue/a\n\n'), body, Buffer.from([0])]);
    const { frames } = decode([chunk]);
    expect(frames[0].body.length).toBe(body.length);
    expect(frames[0].body.buffer).toBe(chunk.buffer);
  });

  it('a large sized body is decoded into a buffer of exactly its size', () => {
    const size = 300 * 1024;
    const chunk = Buffer.concat([
      Buffer.from(`SEND\ndestination:/queue/a\ncontent-length:${size}\n\n`), Buffer.alloc(size, 'c'), Buffer.from([0]),
    ]);
    const { frames } = decode([chunk.subarray(0, 1000), chunk.subarray(1000)]);
    expect(frames[0].body.length).toBe(size);
    expect(frames[0].body.buffer.byteLength).toBe(size);
  });
});

describe('FrameDecoder content-length', () => {
  it('reads leading zeros as decimal', () => {
    const { frames, error } = decode(['SEND\ncontent-length:0003\n\nabc\0']);
    expect(error).toBeUndefined();
    expect(frames[0].body.toString()).toBe('abc');
  });

  it.each(['18446744073709551616', '9'.repeat(400), '1e3', '-1', ' 3', '3 '])(
    'answers %s without a huge allocation or a silent truncation',
    (declared) => {
      const err = decode([`SEND\ncontent-length:${declared}\n\n\0`], { limits: { maxBodyLength: 1024 } }).error;
      const code = /^[0-9]+$/.test(declared) ? 'BODY_TOO_LARGE' : 'INVALID_CONTENT_LENGTH';
      expectProtocolError(err, code);
    },
  );
});

describe('FrameDecoder memory per frame in progress', () => {
  /** The decoder's capacity for an unfinished line and body: one buffer each, nothing per chunk. */
  function heldBytes(decoder: FrameDecoder): number {
    const d = decoder as unknown as { lineBuffer: Buffer; bodyBuffer: Buffer; fixedBody: Buffer };
    return d.lineBuffer.length + d.bodyBuffer.length + d.fixedBody.length;
  }

  it('holds an unsized body pushed one byte at a time in at most twice its size', () => {
    const frames: StompFrame[] = [];
    const decoder = new FrameDecoder(GENEROUS_LIMITS, { onFrame: (f) => frames.push(f) });
    decoder.push(Buffer.from('SEND\ndestination:/queue/a\n\n'));
    const bodySize = 100_000;
    const one = Buffer.from('x');
    for (let i = 0; i < bodySize; i++) decoder.push(one);
    expect(heldBytes(decoder)).toBeLessThanOrEqual(2 * bodySize);
    decoder.push(Buffer.from([0]));
    expect(frames).toHaveLength(1);
    expect(frames[0].body.length).toBe(bodySize);
    expect(frames[0].body.every((b) => b === 0x78)).toBe(true);
    expect(heldBytes(decoder)).toBe(0);
  });

  it('does not allocate a declared content-length before the bytes arrive', () => {
    const frames: StompFrame[] = [];
    const decoder = new FrameDecoder(GENEROUS_LIMITS, { onFrame: (f) => frames.push(f) });
    const size = 4 * 1024 * 1024;
    decoder.push(Buffer.from(`SEND\ncontent-length:${size}\n\nabc`));
    expect(heldBytes(decoder)).toBeLessThanOrEqual(64 * 1024);
    const body = Buffer.alloc(size, 'z');
    body.write('abc');
    for (let at = 3; at < size; at += 100_000) {
      decoder.push(body.subarray(at, Math.min(size, at + 100_000)));
      expect(heldBytes(decoder)).toBeLessThanOrEqual(Math.max(64 * 1024, 2 * Math.min(size, at + 100_000)));
    }
    decoder.push(Buffer.from([0]));
    expect(frames).toHaveLength(1);
    expect(frames[0].body.equals(body)).toBe(true);
  });

  it('holds a header line pushed one byte at a time in at most twice its size', () => {
    const frames: StompFrame[] = [];
    const decoder = new FrameDecoder(GENEROUS_LIMITS, { onFrame: (f) => frames.push(f) });
    const value = 'v'.repeat(10_000);
    for (const chunk of bytewise(`SEND\nh:${value}`)) decoder.push(chunk);
    expect(heldBytes(decoder)).toBeLessThanOrEqual(2 * (value.length + 2));
    decoder.push(Buffer.from('\n\n\0'));
    expect(frames[0].headers['h']).toBe(value);
  });
});

describe('FrameDecoder pause and resume', () => {
  it('stops after the frame that asked it to, reports the bytes consumed, and resumes with the rest', () => {
    const seen: string[] = [];
    const decoder: FrameDecoder = new FrameDecoder(GENEROUS_LIMITS, {
      onFrame: (f) => {
        seen.push(f.headers['n']);
        decoder.pause();
      },
    });
    const frames = ['SEND\nn:1\n\none\0', 'SEND\nn:2\ncontent-length:3\n\ntwo\0', 'SEND\nn:3\n\n\0'];
    const input = Buffer.from(frames.join(''));
    let rest = input;
    const consumedEachTime: number[] = [];
    for (let guard = 0; guard < 10 && rest.length > 0; guard++) {
      const consumed = decoder.push(rest);
      consumedEachTime.push(consumed);
      rest = rest.subarray(consumed);
    }
    expect(seen).toEqual(['1', '2', '3']);
    expect(consumedEachTime).toEqual(frames.map((f) => Buffer.byteLength(f)));
  });
});
