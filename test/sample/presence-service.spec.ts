import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { StompEvents } from '../../lib/events/stomp-events.service.js';
import type { StompSessionEvent } from '../../lib/events/stomp-events.js';
import type { StompMessagingTemplate } from '../../lib/index.js';
import type { StompSessionInfo } from '../../lib/transport/stomp-session-info.js';
import { MAX_PRESENCE_NAMES, PRESENCE_INTERVAL_MS, PresenceService } from '../../sample/presence/presence.service.js';

/** The presence service with its events fed by the test and its publishes recorded. */
function setup() {
  const events = new StompEvents();
  const published: string[][] = [];
  const template = {
    convertAndSend: (_destination: string, payload: unknown) => {
      published.push(payload as string[]);
      return Promise.resolve();
    },
  } as unknown as StompMessagingTemplate;
  const presence = new PresenceService(events, template);
  presence.onModuleInit();
  let n = 0;
  const session = (user: string | undefined): StompSessionInfo =>
    ({ id: `s${++n}`, user, principal: user === undefined ? undefined : { name: user }, attributes: new Map(), version: '1.2', state: 'connected', handshake: { url: '/ws', remoteAddress: undefined, endpoint: '/ws', transport: 'websocket' }, subscriptions: new Map() }) as StompSessionInfo;
  const connected = (s: StompSessionInfo): void => events.emit({ type: 'connected', session: s, timestamp: 0 } as StompSessionEvent);
  const disconnected = (s: StompSessionInfo): void =>
    events.emit({ type: 'disconnect', session: s, timestamp: 0, reason: 'socket-closed', closeCode: 1006 } as StompSessionEvent);
  return { presence, published, session, connected, disconnected };
}

describe('sample PresenceService (bounded publishing)', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('a burst of joins costs one publish now and one at the end of the interval, not one per join', () => {
    jest.useFakeTimers();
    const { presence, published, session, connected } = setup();
    for (let i = 0; i < 100; i++) connected(session(`user-${String(i).padStart(3, '0')}`));
    expect(published).toEqual([['user-000']]);
    jest.advanceTimersByTime(PRESENCE_INTERVAL_MS);
    expect(published).toHaveLength(2);
    expect(published[1]).toHaveLength(100);
    presence.onApplicationShutdown();
  });

  it('sessions that do not change the list (anonymous, a second tab) publish nothing', () => {
    jest.useFakeTimers();
    const { presence, published, session, connected, disconnected } = setup();
    const first = session('ann');
    connected(first);
    expect(published).toEqual([['ann']]);
    jest.advanceTimersByTime(PRESENCE_INTERVAL_MS);
    const tab = session('ann');
    const anonymous = session(undefined);
    connected(tab);
    connected(anonymous);
    disconnected(tab);
    disconnected(anonymous);
    jest.advanceTimersByTime(10 * PRESENCE_INTERVAL_MS);
    expect(published).toEqual([['ann']]);
    disconnected(first);
    expect(published).toEqual([['ann'], []]);
    presence.onApplicationShutdown();
  });

  it(`lists at most ${MAX_PRESENCE_NAMES} names, the first in sort order`, () => {
    jest.useFakeTimers();
    const { presence, session, connected } = setup();
    for (let i = 0; i < MAX_PRESENCE_NAMES + 50; i++) connected(session(`u${String(i).padStart(4, '0')}`));
    const online = presence.online();
    expect(online).toHaveLength(MAX_PRESENCE_NAMES);
    expect(online[0]).toBe('u0000');
    expect(online.at(-1)).toBe(`u${String(MAX_PRESENCE_NAMES - 1).padStart(4, '0')}`);
    presence.onApplicationShutdown();
  });
});
