import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { ChatPage, chromiumAvailable, CHROMIUM_PATH, launchChromium } from '../support/browser.js';
import { startSample, type RunningSample } from '../support/sample-app.js';

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
});
