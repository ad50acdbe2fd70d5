import { describe, it, expect } from '@jest/globals';
import {
  formatHeartbeat,
  negotiateHeartbeat,
  MAX_TIMER_DELAY,
  NO_HEARTBEAT,
  parseHeartbeat,
} from '../../lib/protocol/heartbeat.js';
import { negotiateVersion } from '../../lib/protocol/version.js';
import { SUBPROTOCOL_VERSIONS, SUPPORTED_VERSIONS, type StompVersion } from '../../lib/protocol/frame.js';
import { StompProtocolError } from '../../lib/protocol/stomp-protocol-error.js';
import { expectProtocolError } from './helpers.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}

describe('parseHeartbeat', () => {
  it('treats a missing header as 0,0', () => {
    expect(parseHeartbeat(undefined)).toEqual([0, 0]);
  });

  it('treats an empty header as 0,0', () => {
    expect(parseHeartbeat('')).toEqual([0, 0]);
  });

  it.each([
    ['0,0', [0, 0]],
    ['10000,10000', [10000, 10000]],
    ['1000,0', [1000, 0]],
    ['0,250', [0, 250]],
    [' 10 , 20 ', [10, 20]],
    ['007,08', [7, 8]],
    ['4294967295,1', [4294967295, 1]],
    ['12345678901,0', [12345678901, 0]],
  ])('parses %j', (value, expected) => {
    expect(parseHeartbeat(value)).toEqual(expected);
  });

  it.each(['10', '10,', ',10', 'a,b', '-1,0', '0,-1', '1.5,0', '10;10', '10,10,10', '1 0,0'])(
    'rejects %j with INVALID_HEARTBEAT',
    (value) => {
      expectProtocolError(
        thrown(() => parseHeartbeat(value)),
        'INVALID_HEARTBEAT',
      );
    },
  );
});

describe('negotiateHeartbeat', () => {
  it('grants what the client asks when it is at the floor', () => {
    expect(negotiateHeartbeat([1000, 1000], 1000)).toEqual({ clientToServer: 1000, serverToClient: 1000 });
  });

  it('raises requests below the floor to the floor', () => {
    expect(negotiateHeartbeat([500, 500], 1000)).toEqual({ clientToServer: 1000, serverToClient: 1000 });
  });

  it('keeps both directions off when the client turns them off', () => {
    expect(negotiateHeartbeat([0, 0], 1000)).toEqual({ clientToServer: 0, serverToClient: 0 });
  });

  it('honours a slower client request in one direction and keeps the other off', () => {
    expect(negotiateHeartbeat([10000, 0], 1000)).toEqual({ clientToServer: 10000, serverToClient: 0 });
  });

  it('treats each direction independently', () => {
    expect(negotiateHeartbeat([0, 300], 1000)).toEqual({ clientToServer: 0, serverToClient: 1000 });
    expect(negotiateHeartbeat([5000, 20000], 1000)).toEqual({ clientToServer: 5000, serverToClient: 20000 });
  });

  it('turns off a direction whose interval is above the ceiling, and grants one at it', () => {
    expect(negotiateHeartbeat([1073741824, 0], 1000, 3_600_000)).toEqual({ clientToServer: 0, serverToClient: 0 });
    expect(negotiateHeartbeat([0, 4294967296], 1000, 3_600_000)).toEqual({ clientToServer: 0, serverToClient: 0 });
    expect(negotiateHeartbeat([3_600_000, 3_600_001], 1000, 3_600_000)).toEqual({
      clientToServer: 3_600_000,
      serverToClient: 0,
    });
  });

  it('without a ceiling, never grants an interval Node timers cannot honour', () => {
    expect(negotiateHeartbeat([MAX_TIMER_DELAY + 1, MAX_TIMER_DELAY], 1000)).toEqual({
      clientToServer: 0,
      serverToClient: MAX_TIMER_DELAY,
    });
  });

  it('turns heart-beats off when the floor is false', () => {
    expect(negotiateHeartbeat([1000, 1000], false)).toEqual({ clientToServer: 0, serverToClient: 0 });
    expect(negotiateHeartbeat([1000, 1000], false)).toEqual(NO_HEARTBEAT);
  });
});

describe('formatHeartbeat', () => {
  it('writes the CONNECTED header as serverToClient,clientToServer', () => {
    expect(formatHeartbeat({ clientToServer: 10000, serverToClient: 0 })).toBe('0,10000');
    expect(formatHeartbeat({ clientToServer: 1000, serverToClient: 2000 })).toBe('2000,1000');
    expect(formatHeartbeat(NO_HEARTBEAT)).toBe('0,0');
  });

  it('gives the client back the negotiated periods when it applies the spec’s max() rule', () => {
    const client: [number, number] = [3000, 7000];
    const negotiated = negotiateHeartbeat(client, 5000);
    const [sx, sy] = parseHeartbeat(formatHeartbeat(negotiated));
    const [cx, cy] = client;
    // STOMP 1.2: client sends every max(cx, sy), expects to receive every max(cy, sx).
    expect(Math.max(cx, sy)).toBe(negotiated.clientToServer);
    expect(Math.max(cy, sx)).toBe(negotiated.serverToClient);
  });
});

describe('negotiateVersion', () => {
  it.each<[string, StompVersion]>([
    ['1.0,1.1,1.2', '1.2'],
    ['1.2', '1.2'],
    ['1.1', '1.1'],
    ['1.0', '1.0'],
    ['1.0,1.1', '1.1'],
    ['1.2,1.0', '1.2'],
    ['1.0, 1.1, 1.2', '1.2'],
    [' 1.1 ,1.0 ', '1.1'],
    ['1.1,2.0', '1.1'],
  ])('picks the highest common version for accept-version %j', (acceptVersion, expected) => {
    expect(negotiateVersion(acceptVersion, undefined)).toBe(expected);
  });

  it('prefers the sub-protocol version when the client also lists it', () => {
    expect(negotiateVersion('1.0,1.1,1.2', '1.1')).toBe('1.1');
    expect(negotiateVersion('1.0, 1.1, 1.2', '1.0')).toBe('1.0');
    expect(negotiateVersion('1.2', '1.2')).toBe('1.2');
  });

  it('ignores a sub-protocol version the client does not list', () => {
    expect(negotiateVersion('1.0,1.1', '1.2')).toBe('1.1');
  });

  it('uses the sub-protocol version when accept-version is missing', () => {
    expect(negotiateVersion(undefined, '1.2')).toBe('1.2');
    expect(negotiateVersion(undefined, '1.1')).toBe('1.1');
  });

  it('falls back to 1.0 when both are missing', () => {
    expect(negotiateVersion(undefined, undefined)).toBe('1.0');
  });

  it.each(['2.0', '1.3', '1.2.0', 'v12.stomp'])(
    'rejects accept-version %j with UNSUPPORTED_VERSION and lists the supported versions',
    (acceptVersion) => {
      const err = expectProtocolError(
        thrown(() => negotiateVersion(acceptVersion, '1.2')),
        'UNSUPPORTED_VERSION',
      );
      expect(err.headers).toEqual({ version: '1.0,1.1,1.2' });
      expect(err.message).toContain('1.0');
    },
  );

  it('maps the WebSocket sub-protocols to versions', () => {
    expect(SUBPROTOCOL_VERSIONS).toEqual({ 'v10.stomp': '1.0', 'v11.stomp': '1.1', 'v12.stomp': '1.2' });
    expect(SUPPORTED_VERSIONS).toEqual(['1.0', '1.1', '1.2']);
  });
});

describe('StompProtocolError', () => {
  it('carries a code, a message and optional headers', () => {
    const err = new StompProtocolError('NO_HANDLER', 'nobody home', { a: 'b' });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('StompProtocolError');
    expect(err.code).toBe('NO_HANDLER');
    expect(err.message).toBe('nobody home');
    expect(err.headers).toEqual({ a: 'b' });
    expect(new StompProtocolError('NOT_CONNECTED', 'x').headers).toBeUndefined();
  });
});
