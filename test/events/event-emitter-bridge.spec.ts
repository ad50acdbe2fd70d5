import { afterEach, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { STOMP_EVENT_NAMES, StompEvents, type StompSessionEvent } from '../../lib/index.js';
import type { StompSessionInfo } from '../../lib/transport/stomp-session-info.js';
import { startStompApp, type RunningApp } from '../support/stomp-app.js';

// The bridge on its own, fed through StompEvents' internal `emit` (the session's emission points
// are covered with real clients in lifecycle-events.spec.ts).

const session: StompSessionInfo = {
  id: 's-1',
  user: 'ann',
  principal: { name: 'ann' },
  attributes: new Map(),
  version: '1.2',
  state: 'connected',
  handshake: { url: '/ws', remoteAddress: '127.0.0.1', endpoint: '/ws', transport: 'websocket' },
  subscriptions: new Map(),
};

const sample: StompSessionEvent[] = [
  { type: 'connect', session, timestamp: 1, headers: { 'accept-version': '1.2' } },
  { type: 'connected', session, timestamp: 2 },
  { type: 'subscribe', session, timestamp: 3, subscriptionId: 'sub-0', destination: '/topic/a', headers: {} },
  { type: 'unsubscribe', session, timestamp: 4, subscriptionId: 'sub-0', destination: '/topic/a' },
  { type: 'disconnect', session, timestamp: 5, reason: 'client-disconnect', closeCode: 1000 },
];

@Injectable()
class Listener {
  readonly seen: Array<{ name: string; event: StompSessionEvent }> = [];

  @OnEvent('stomp.session.*')
  any(event: StompSessionEvent): void {
    this.seen.push({ name: STOMP_EVENT_NAMES[event.type], event });
  }
}

describe('the @nestjs/event-emitter bridge', () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('re-emits every event under STOMP_EVENT_NAMES[type], the event object as payload, in order', async () => {
    running = await startStompApp({}, { imports: [EventEmitterModule.forRoot({ wildcard: true })], providers: [Listener] });
    const events = running.app.get(StompEvents);
    const emitter = running.app.get(EventEmitter2);
    const names: string[] = [];
    for (const name of Object.values(STOMP_EVENT_NAMES)) emitter.on(name, () => names.push(name));
    for (const event of sample) events.emit(event);
    expect(names).toEqual([
      'stomp.session.connect',
      'stomp.session.connected',
      'stomp.session.subscribe',
      'stomp.session.unsubscribe',
      'stomp.session.disconnect',
    ]);
    const listener = running.app.get(Listener);
    expect(listener.seen.map((s) => s.name)).toEqual(names);
    expect(listener.seen.map((s) => s.event)).toEqual(sample);
  });

  it('logs a throwing or rejecting listener as one error line; the emitter of the event never sees it', async () => {
    running = await startStompApp({}, { imports: [EventEmitterModule.forRoot()] });
    const events = running.app.get(StompEvents);
    const emitter = running.app.get(EventEmitter2);
    emitter.on('stomp.session.connected', () => {
      throw new Error('sync listener broke\nsecond line');
    });
    emitter.on('stomp.session.disconnect', () => Promise.reject(new Error('async listener broke')));
    expect(() => events.emit(sample[1])).not.toThrow();
    expect(() => events.emit(sample[4])).not.toThrow();
    // The rejection is seen a few microtask turns later.
    for (let turn = 0; turn < 100 && running.logs.at('error').length < 2; turn++) await new Promise((r) => setImmediate(r));
    const lines = running.logs.expect('error', 'A listener of stomp.session.');
    expect(lines).toEqual([
      expect.stringContaining('A listener of stomp.session.connected failed: sync listener broke'),
      expect.stringContaining('A listener of stomp.session.disconnect failed: async listener broke'),
    ]);
    // One line each: no stack, no second line of the message.
    expect(lines.filter((line) => line.includes('\n') || line.includes('second line'))).toEqual([]);
  });

  it('does nothing, and logs nothing, when the app did not import EventEmitterModule', async () => {
    running = await startStompApp();
    const events = running.app.get(StompEvents);
    // The package is installed here; only the module is missing, so there is no EventEmitter2.
    expect(() => running?.app.get(EventEmitter2, { strict: false })).toThrow();
    for (const event of sample) events.emit(event);
    expect(running.logs.at('error', 'warn')).toEqual([]);
  });
});
