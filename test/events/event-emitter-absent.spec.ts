import { describe, expect, it, jest } from '@jest/globals';

// An app without @nestjs/event-emitter installed: importing it fails the way Node fails for a
// missing package. The bridge stays silent and the sessions work.
jest.unstable_mockModule('@nestjs/event-emitter', () => {
  throw Object.assign(new Error("Cannot find package '@nestjs/event-emitter'"), { code: 'ERR_MODULE_NOT_FOUND' });
});

const { StompEvents } = await import('../../lib/index.js');
const { startStompApp } = await import('../support/stomp-app.js');
const { rawConnected } = await import('../support/raw-client.js');
const { withTimeout } = await import('../support/stomp-client.js');
const { firstValueFrom } = await import('rxjs');

describe('the @nestjs/event-emitter bridge without the package', () => {
  it('starts, serves sessions and emits on the RxJS stream, logging nothing', async () => {
    await expect(import('@nestjs/event-emitter')).rejects.toThrow('Cannot find package');
    const running = await startStompApp();
    const seen: string[] = [];
    const events = running.app.get(StompEvents);
    events.events$.subscribe((e) => seen.push(e.type));
    const disconnected = withTimeout(firstValueFrom(events.ofType('disconnect')), 'the disconnect event');
    const { raw } = await rawConnected(running.url);
    await raw.close();
    await disconnected;
    expect(seen).toEqual(['connect', 'connected', 'disconnect']);
    expect(running.logs.at('error', 'warn')).toEqual([]);
    await running.close();
  });
});
