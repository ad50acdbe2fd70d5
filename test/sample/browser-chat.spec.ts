import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { filter, firstValueFrom } from 'rxjs';
import { StompEvents, type StompSessionEvent, type StompStatsSnapshot } from '../../lib/index.js';
import { ChatPage, chromiumAvailable, CHROMIUM_PATH, launchChromium } from '../support/browser.js';
import { EventRecorder } from '../support/event-recorder.js';
import { startSample, type RunningSample } from '../support/sample-app.js';
import { withTimeout } from '../support/stomp-client.js';

const available = chromiumAvailable();
// In CI (`npm run test:setup` installs Chromium) a missing browser is a failure, not a skip.
if (!available && process.env.CI) {
  throw new Error(`${CHROMIUM_PATH} not found in CI: run 'npm run test:setup' before 'npm test'`);
}
if (!available) {
  console.warn(
    `browser-chat.spec.ts SKIPPED: ${CHROMIUM_PATH} not found. Install Debian's chromium (apt-get install -y chromium) to run the sample page in headless Chromium.`,
  );
}

/** Launching a browser is slower than anything else in the suite. */
const BROWSER_TIMEOUT = 60_000;

(available ? describe : describe.skip)('the sample chat page in headless Chromium', () => {
  let sample: RunningSample;
  let browser: Browser;

  beforeAll(async () => {
    sample = await startSample(undefined);
    browser = await launchChromium();
  }, BROWSER_TIMEOUT);
  afterAll(async () => {
    await browser?.close();
    await sample?.close();
  }, BROWSER_TIMEOUT);

  it(
    'lets two pages chat with each other in one room',
    async () => {
      const room = `room-${process.pid}`;
      const alice = await ChatPage.open(browser, sample.httpUrl);
      const bruno = await ChatPage.open(browser, sample.httpUrl);

      await alice.connect('alice');
      await bruno.connect('bruno');
      // Presence: each page lists both (the one that connected first learnt of the other live).
      await alice.waitForOnline(['alice', 'bruno']);
      await bruno.waitForOnline(['alice', 'bruno']);
      await alice.join(room);
      await bruno.join(room);

      // Each page sees its own first message: its room subscription is in place.
      await alice.say('alice is here');
      await alice.waitForMessage('alice', 'alice is here');
      await bruno.say('bruno is here');
      await bruno.waitForMessage('bruno', 'bruno is here');

      // A → B, with markup that must be shown as text, not interpreted.
      await alice.say('hello <i>bruno</i> & co');
      await bruno.waitForMessage('alice', 'hello <i>bruno</i> & co');
      // B → A.
      await bruno.say('hi alice');
      await alice.waitForMessage('bruno', 'hi alice');

      expect(await bruno.messages()).toEqual(
        expect.arrayContaining(['bruno: bruno is here', 'alice: hello <i>bruno</i> & co', 'bruno: hi alice']),
      );
      expect(await alice.messages()).toEqual(
        expect.arrayContaining(['alice: alice is here', 'alice: hello <i>bruno</i> & co', 'bruno: hi alice']),
      );
      // The markup stayed text: no <i> element was created in either page.
      expect(await bruno.page.locator('#messages i').count()).toBe(0);
      expect(await alice.page.locator('#messages i').count()).toBe(0);

      expect(await alice.errorsText()).toBe('');
      expect(await bruno.errorsText()).toBe('');
      expect(alice.problems).toEqual([]);
      expect(bruno.problems).toEqual([]);

      await bruno.page.screenshot({ path: '/tmp/chat.png', fullPage: true });

      // Bruno leaves: Alice's page drops him from the list; his own page shows nobody.
      await bruno.page.click('#disconnect');
      await alice.waitForOnline(['alice']);
      await bruno.waitForOnline([]);
    },
    BROWSER_TIMEOUT,
  );

  it(
    'shows the room history to a page that joins later, and the server-side error of a refused log-in',
    async () => {
      const room = `later-${process.pid}`;
      const first = await ChatPage.open(browser, sample.httpUrl);
      await first.connect('carla');
      await first.join(room);
      await first.say('said before you came');
      await first.waitForMessage('carla', 'said before you came');

      const late = await ChatPage.open(browser, sample.httpUrl);
      await late.connect('dora');
      await late.join(room);
      // Straight from the @SubscribeMapping history handler.
      await late.waitForMessage('carla', 'said before you came');

      const refused = await ChatPage.open(browser, sample.httpUrl);
      await refused.page.fill('#login', 'guest');
      await refused.page.fill('#passcode', 'not-guest');
      await refused.page.click('#connect');
      await refused.page.locator('#errors', { hasText: 'Wrong passcode for user guest' }).waitFor();
      expect(await refused.page.locator('#status').innerText()).toBe('disconnected');
    },
    BROWSER_TIMEOUT,
  );
  it(
    'chats over SockJS when the page selects it: sockjs/websocket in Chromium, sockjs/xhr-streaming when the page has no WebSocket',
    async () => {
      const events = sample.app.get(StompEvents);
      const recorder = new EventRecorder(events);
      /** The transport of `user`'s session from its `type` event, as the server named it. */
      const transportOf = async (user: string, type: 'connected' | 'disconnect'): Promise<string> => {
        const match = (e: StompSessionEvent): boolean => e.type === type && e.session.user === user;
        const event = recorder.events.find(match) ?? (await withTimeout(firstValueFrom(events.events$.pipe(filter(match))), `the ${type} event of ${user}`));
        return event.session.handshake.transport;
      };
      try {
        const room = `sockjs-${process.pid}`;
        const erin = await ChatPage.open(browser, sample.httpUrl, { transport: 'sockjs' });
        const femi = await ChatPage.open(browser, sample.httpUrl, { transport: 'sockjs' });
        // A page whose browser has no WebSocket: sockjs-client falls back to an HTTP transport.
        const gus = await ChatPage.open(browser, sample.httpUrl, {
          transport: 'sockjs',
          init: () => {
            delete (globalThis as { WebSocket?: unknown }).WebSocket;
          },
        });
        expect(await gus.page.evaluate('typeof WebSocket')).toBe('undefined');

        await erin.connect('erin');
        await femi.connect('femi');
        await gus.connect('gus');
        for (const chat of [erin, femi, gus]) expect(await chat.connectedTransport()).toBe('sockjs');

        await erin.join(room);
        await femi.join(room);
        await gus.join(room);
        await erin.say('erin over sockjs');
        await femi.waitForMessage('erin', 'erin over sockjs');
        await gus.waitForMessage('erin', 'erin over sockjs');
        await femi.say('femi über SockJS ✓');
        await erin.waitForMessage('femi', 'femi über SockJS ✓');
        await gus.say('gus over xhr <b>streaming</b>');
        await erin.waitForMessage('gus', 'gus over xhr <b>streaming</b>');
        await femi.waitForMessage('gus', 'gus over xhr <b>streaming</b>');
        expect(await erin.messages()).toEqual(['erin: erin over sockjs', 'femi: femi über SockJS ✓', 'gus: gus over xhr <b>streaming</b>']);

        // The server named each session's transport. Chromium has WebSocket, but sockjs-client
        // falls back to xhr-streaming when its WebSocket does not open within a timeout it derives
        // from the /info round trip, which a loaded CI machine can exceed: either is right there.
        const erinTransport = await transportOf('erin', 'connected');
        const femiTransport = await transportOf('femi', 'connected');
        expect([erinTransport, femiTransport]).toEqual([expect.stringMatching(/^sockjs\/(websocket|xhr-streaming)$/), expect.stringMatching(/^sockjs\/(websocket|xhr-streaming)$/)]);
        // The page without WebSocket can only use an HTTP transport.
        expect(await transportOf('gus', 'connected')).toBe('sockjs/xhr-streaming');
        // And the sample's GET /stats counts them by transport (no other test here uses SockJS).
        const response = await fetch(`${sample.httpUrl}/stats`);
        expect(response.status).toBe(200);
        const stats = (await response.json()) as StompStatsSnapshot;
        const expected: Record<string, { current: number; total: number }> = {};
        for (const t of [erinTransport, femiTransport, 'sockjs/xhr-streaming']) {
          const entry = (expected[t] ??= { current: 0, total: 0 });
          entry.current++;
          entry.total++;
        }
        for (const [transport, count] of Object.entries(expected)) expect([transport, stats.sessions.byTransport[transport]]).toEqual([transport, count]);

        for (const chat of [erin, femi, gus]) {
          expect(await chat.errorsText()).toBe('');
          expect(chat.problems).toEqual([]);
        }

        // Leaving over SockJS ends the server session too (the disconnect event), and the others' lists drop him.
        await erin.page.locator('#online li', { hasText: /^gus$/ }).waitFor();
        await gus.page.click('#disconnect');
        await gus.waitForOnline([]);
        // (Pages of the other tests may still be online here: only gus's going is asserted.)
        await erin.page.waitForFunction(`![...document.querySelectorAll('#online li')].some((li) => li.textContent === 'gus')`);
        expect(await erin.page.locator('#online li', { hasText: /^femi$/ }).count()).toBe(1);
        expect(await transportOf('gus', 'disconnect')).toBe('sockjs/xhr-streaming');
      } finally {
        recorder.stop();
      }
    },
    BROWSER_TIMEOUT,
  );
});
