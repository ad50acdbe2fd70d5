import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { GUARD_MS } from './stomp-client.js';

/** Debian's `chromium` package (installed by CI); the browser tests skip without it. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** Headless Chromium, with nothing that phones home. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The values of the chat page's `<select id="transport">`. */
export type ChatTransport = 'websocket' | 'sockjs';

/**
 * The sample's chat page, driven the way a person would: type a name, connect, join a room, say
 * something. Every wait is on the page's own state, with GUARD_MS only as a failure guard.
 */
export class ChatPage {
  /**
   * Uncaught page errors, console errors and failed HTTP requests, for the test to assert there
   * are none. (The browser's own request for /favicon.ico, which the sample does not serve, is
   * not the page's doing and is left out.)
   */
  readonly problems: string[] = [];

  private constructor(readonly page: Page) {
    page.on('pageerror', (err) => this.problems.push(`pageerror: ${err.message}`));
    page.on('response', (response) => {
      if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) {
        this.problems.push(`HTTP ${response.status()}: ${response.url()}`);
      }
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) this.problems.push(`console: ${msg.text()}`);
    });
  }

  /**
   * Opens the page with `transport` selected in its `#transport` list (the page's default,
   * `websocket`, unless told). `init` runs in the page before its own scripts (Playwright's
   * `addInitScript`), e.g. to take a browser feature away.
   */
  static async open(
    browser: Browser,
    baseUrl: string,
    options: { transport?: ChatTransport; init?: () => void } = {},
  ): Promise<ChatPage> {
    const page = await browser.newPage();
    page.setDefaultTimeout(GUARD_MS);
    const chat = new ChatPage(page);
    if (options.init) await page.addInitScript(options.init);
    await page.goto(`${baseUrl}/`);
    if (options.transport) await page.selectOption('#transport', options.transport);
    return chat;
  }

  /** Connects over the transport selected in the page. */
  async connect(name: string, passcode = ''): Promise<void> {
    await this.page.fill('#login', name);
    await this.page.fill('#passcode', passcode);
    await this.page.click('#connect');
    await this.page.locator('#status', { hasText: /^connected$/ }).waitFor();
  }

  /** The transport the page says it connected with (`#status`'s `data-transport`), e.g. `sockjs`. */
  async connectedTransport(): Promise<string | null> {
    return this.page.locator('#status').getAttribute('data-transport');
  }

  async join(room: string): Promise<void> {
    await this.page.fill('#room', room);
    await this.page.click('#join');
    await this.page.locator('#current-room', { hasText: `in ${room}` }).waitFor();
    await this.page.locator('#text:enabled').waitFor();
  }

  async say(text: string): Promise<void> {
    await this.page.fill('#text', text);
    await this.page.click('#send');
  }

  /** Waits until the message list shows `text` from `from`. */
  async waitForMessage(from: string, text: string): Promise<void> {
    await this.page.locator('#messages li', { has: this.page.locator('.from', { hasText: from }) }).filter({ hasText: text }).first().waitFor();
  }

  /** The messages shown, as `from: text`. */
  messages(): Promise<string[]> {
    return this.page.$$eval('#messages li', (items) =>
      items.map((li) => `${li.querySelector('.from')?.textContent ?? ''}: ${li.querySelector('.text')?.textContent ?? ''}`),
    );
  }

  /** Waits until the page's "Online" list shows exactly `names`, in that order. */
  async waitForOnline(names: string[]): Promise<void> {
    // A page-side expression (this project's TypeScript has no DOM types), polled by Playwright.
    const expected = JSON.stringify(JSON.stringify(names));
    await this.page.waitForFunction(
      `JSON.stringify([...document.querySelectorAll('#online li')].map((li) => li.textContent)) === ${expected}`,
    );
  }

  errorsText(): Promise<string> {
    return this.page.locator('#errors').innerText();
  }
}
