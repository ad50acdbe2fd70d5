import { describe, expect, it } from '@jest/globals';
import { resolveStompOptions } from '../../lib/module/resolve-options.js';

describe('resolveStompOptions: errorDestination default', () => {
  it('is /queue/errors when /queue is a broker prefix', () => {
    expect(resolveStompOptions({}).errorDestination).toBe('/queue/errors');
  });

  it('follows the first queue-like prefix, or the first broker prefix, when /queue is not one', () => {
    expect(
      resolveStompOptions({ broker: { kind: 'simple', prefixes: ['/topic', '/jobs'], queuePrefixes: ['/jobs'] } })
        .errorDestination,
    ).toBe('/jobs/errors');
    expect(resolveStompOptions({ broker: { kind: 'simple', prefixes: ['/exchange'] } }).errorDestination).toBe(
      '/exchange/errors',
    );
  });

  it('rejects an explicit errorDestination outside the broker prefixes', () => {
    expect(() => resolveStompOptions({ errorDestination: '/nowhere/errors' })).toThrow(
      /errorDestination must be false or a destination under a broker prefix/,
    );
  });
});

describe('resolveStompOptions: what a newcomer writes first', () => {
  it('suggests the default error destination when errorDestination is outside the broker', () => {
    expect(() => resolveStompOptions({ errorDestination: '/errors' })).toThrow(
      'errorDestination must be false or a destination under a broker prefix (/topic, /queue), got "/errors": e.g. "/queue/errors"',
    );
  });

  it('takes broker options without kind as the simple broker', () => {
    const resolved = resolveStompOptions({ broker: { prefixes: ['/topic', '/queue'] } });
    expect(resolved.broker.kind).toBe('simple');
    expect(resolved.broker.prefixes).toEqual(['/topic', '/queue']);
  });

  it('still refuses a kind it does not know', () => {
    expect(() => resolveStompOptions({ broker: { kind: 'rabbit' } as never })).toThrow('broker.kind must be "simple" or "relay", got "rabbit"');
  });
});

describe('resolveStompOptions: endpoints[].sockjs', () => {
  it('is off by default and takes Spring\'s defaults with true', () => {
    expect(resolveStompOptions({}).endpoints[0].sockjs).toBeUndefined();
    expect(resolveStompOptions({ endpoints: [{ path: '/ws', sockjs: false }] }).endpoints[0].sockjs).toBeUndefined();
    expect(resolveStompOptions({ endpoints: [{ path: '/ws', sockjs: true }] }).endpoints[0].sockjs).toEqual({
      heartbeatTime: 25000,
      disconnectDelay: 5000,
      streamBytesLimit: 131072,
      transports: ['websocket', 'xhr-streaming', 'xhr-polling', 'eventsource', 'htmlfile'],
      clientLibraryUrl: '/ws/sockjs.min.js',
    });
  });

  it('keeps what is given, transports without repeats', () => {
    const sockjs = resolveStompOptions({
      endpoints: [
        {
          path: '/stomp',
          sockjs: {
            heartbeatTime: 1000,
            disconnectDelay: 2000,
            streamBytesLimit: 4096,
            transports: ['xhr-polling', 'jsonp-polling', 'xhr-polling'],
            clientLibraryUrl: 'https://static.example.com/sockjs.min.js',
          },
        },
      ],
    }).endpoints[0].sockjs;
    expect(sockjs).toEqual({
      heartbeatTime: 1000,
      disconnectDelay: 2000,
      streamBytesLimit: 4096,
      transports: ['xhr-polling', 'jsonp-polling'],
      clientLibraryUrl: 'https://static.example.com/sockjs.min.js',
    });
  });

  it('lists every problem at once', () => {
    let message = '';
    try {
      resolveStompOptions({
        endpoints: [
          { path: '/a', sockjs: 'yes' as never },
          {
            path: '/b',
            sockjs: {
              heartbeatTime: 0,
              disconnectDelay: 2 ** 31,
              streamBytesLimit: 1.5,
              transports: ['xhr-polling', 'iframe-eventsource' as never],
              clientLibraryUrl: '"><script>',
            },
          },
          { path: '/c/', sockjs: { transports: [] } },
          { path: '/', sockjs: true },
        ],
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n').slice(1)).toEqual([
      '  - endpoints[0].sockjs must be true, false or an object of SockJS options, got "yes"',
      '  - endpoints[1].sockjs.heartbeatTime must be a whole number of milliseconds from 1 to 2147483647, got 0',
      '  - endpoints[1].sockjs.disconnectDelay must be a whole number of milliseconds from 1 to 2147483647, got 2147483648',
      '  - endpoints[1].sockjs.streamBytesLimit must be a positive integer, got 1.5',
      '  - endpoints[1].sockjs.transports: unknown "iframe-eventsource"; the transports are "websocket", "xhr-streaming", "xhr-polling", "eventsource", "htmlfile", "jsonp-polling"',
      '  - endpoints[1].sockjs.clientLibraryUrl must be a URL (no quotes, angle brackets or spaces), got "\\"><script>"',
      '  - endpoints[2].sockjs needs a path below "/" without a trailing "/" (SockJS serves every request under it), got "/c/": use "/c"',
      '  - endpoints[2].sockjs.transports must be a non-empty array of transport names ("websocket", "xhr-streaming", "xhr-polling", "eventsource", "htmlfile", "jsonp-polling"), got []',
      '  - endpoints[3].sockjs needs a path below "/" without a trailing "/" (SockJS serves every request under it), got "/"',
    ]);
  });
});
