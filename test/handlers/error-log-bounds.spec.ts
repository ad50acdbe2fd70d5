import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import { MessageMapping } from '../../lib/index.js';
import { connectAs, inboxOf, sendAndWait } from '../support/handler-fixtures.js';
import { startStompApp, type RunningApp } from '../support/stomp-app.js';

@Controller()
class LockedController {
  @MessageMapping('/locked')
  locked(): never {
    throw new WsException('widget is locked');
  }

  @MessageMapping('/broken')
  broken(): never {
    throw new TypeError('a bug');
  }
}

describe('handler errors a client provokes cannot flood the log', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startStompApp({}, { controllers: [LockedController] });
  });
  afterAll(() => running.close());

  it('logs at most 20 handler errors per session at warn/error level, every reply still sent', async () => {
    const client = await connectAs(running.url, 'flooder');
    try {
      const errors = await inboxOf(client, '/user/queue/errors');
      for (let i = 0; i < 30; i++) await sendAndWait(client, i % 2 === 0 ? '/app/locked' : '/app/broken', { i });
      // Every failure is still reported to the client.
      expect(await errors.waitFor(30)).toHaveLength(30);
      const session = running.logs.at('warn', 'error').filter((l) => l.includes('/app/locked') || l.includes('/app/broken'));
      expect(session).toHaveLength(20);
      expect(session[19]).toContain('further handler errors of session');
      expect(running.logs.at('debug').filter((l) => l.includes('/app/locked') || l.includes('/app/broken'))).toHaveLength(10);
      // The ten unexpected errors among the twenty are logged with their stack, as before.
      expect(running.logs.expect('error', 'TypeError: a bug')).toHaveLength(10);
    } finally {
      await client.disconnect();
    }
  });
});
