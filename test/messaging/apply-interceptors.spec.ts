import { describe, expect, it } from '@jest/globals';
import {
  applyInterceptors,
  type ChannelInterceptorContext,
  type ChannelInterceptorResult,
  type StompChannelInterceptor,
} from '../../lib/messaging/channel-interceptor.js';
import { createHeaders, type StompFrame } from '../../lib/protocol/frame.js';

const context: ChannelInterceptorContext = { channel: 'broker', session: undefined };

function send(destination: string): StompFrame {
  const headers = createHeaders();
  headers['destination'] = destination;
  return { command: 'SEND', headers, body: Buffer.from('x') };
}

/** An interceptor that records its name in `calls` and answers with `answer(frame)`. */
function recording(
  name: string,
  calls: string[],
  answer: (frame: StompFrame) => ChannelInterceptorResult | Promise<ChannelInterceptorResult> = () => undefined,
): StompChannelInterceptor {
  return {
    preSend(frame) {
      calls.push(`${name}:${frame.headers['destination']}`);
      return answer(frame);
    },
  };
}

describe('applyInterceptors (the preSend chain of one channel)', () => {
  it('stays synchronous while every interceptor is, passing each one what the one before left', () => {
    const calls: string[] = [];
    const chain = [
      recording('a', calls, (f) => {
        f.headers['x-a'] = '1'; // changed in place, returned as is
        return f;
      }),
      recording('b', calls), // undefined: unchanged
      recording('c', calls, (f) => ({ ...f, headers: { ...f.headers, destination: '/topic/c' } })), // a new frame
      recording('d', calls),
    ];
    const result = applyInterceptors(chain, send('/topic/x'), context);
    expect(result).not.toBeInstanceOf(Promise);
    expect(calls).toEqual(['a:/topic/x', 'b:/topic/x', 'c:/topic/x', 'd:/topic/c']);
    expect((result as StompFrame).headers['destination']).toBe('/topic/c');
    expect((result as StompFrame).headers['x-a']).toBe('1');
  });

  it('null drops the frame: no later interceptor runs', () => {
    const calls: string[] = [];
    const result = applyInterceptors([recording('a', calls, () => null), recording('b', calls)], send('/topic/x'), context);
    expect(result).toBeNull();
    expect(calls).toEqual(['a:/topic/x']);
  });

  it('after the first Promise the rest wait for it, in order, and see its frame', async () => {
    const calls: string[] = [];
    let release: () => void = () => undefined;
    const chain = [
      recording('a', calls),
      recording('b', calls, (f) => new Promise<StompFrame>((resolve) => (release = () => resolve({ ...f, headers: { ...f.headers, destination: '/topic/b' } })))),
      recording('c', calls),
      recording('d', calls, async () => undefined),
      recording('e', calls),
    ];
    const result = applyInterceptors(chain, send('/topic/x'), context);
    expect(result).toBeInstanceOf(Promise);
    expect(calls).toEqual(['a:/topic/x', 'b:/topic/x']);
    release();
    const frame = await result;
    expect(calls).toEqual(['a:/topic/x', 'b:/topic/x', 'c:/topic/b', 'd:/topic/b', 'e:/topic/b']);
    expect(frame?.headers['destination']).toBe('/topic/b');
  });

  it('an asynchronous null drops the frame too', async () => {
    const calls: string[] = [];
    const result = applyInterceptors([recording('a', calls, async () => null), recording('b', calls)], send('/topic/x'), context);
    await expect(result).resolves.toBeNull();
    expect(calls).toEqual(['a:/topic/x']);
  });

  it('a throw propagates synchronously and a rejection as a rejected Promise; later interceptors do not run', async () => {
    const calls: string[] = [];
    const refuse = recording('a', calls, () => {
      throw new Error('refused');
    });
    expect(() => applyInterceptors([refuse, recording('b', calls)], send('/topic/x'), context)).toThrow('refused');
    const rejecting = recording('c', calls, () => Promise.reject(new Error('refused later')));
    await expect(applyInterceptors([rejecting, recording('d', calls)], send('/topic/y'), context)).rejects.toThrow('refused later');
    expect(calls).toEqual(['a:/topic/x', 'c:/topic/y']);
  });

  it('an empty list returns the frame itself', () => {
    const frame = send('/topic/x');
    expect(applyInterceptors([], frame, context)).toBe(frame);
  });
});
