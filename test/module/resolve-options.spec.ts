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
    expect(() => resolveStompOptions({ broker: { kind: 'relay' } as never })).toThrow('broker.kind must be "simple", got "relay"');
  });
});
