import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ChatMessage } from '../../sample/chat/chat-message.js';
import { ChatRoomsService, MAX_ROOMS } from '../../sample/chat/chat-rooms.service.js';
import { barrier, connectAs, inboxOf, json, jsonBodies, postJson, sendAndWait } from '../support/handler-fixtures.js';
import { startSample, type RunningSample } from '../support/sample-app.js';
import { unique } from '../support/stomp-app.js';
import { connectExpectingError, Inbox, subscribeConfirmed, type TestClient } from '../support/stomp-client.js';

describe('the sample app (sample/main.ts bootstrap)', () => {
  let sample: RunningSample;
  let ann: TestClient;
  let bob: TestClient;

  beforeAll(async () => {
    sample = await startSample('ann:secret,bob:hunter2');
    ann = await connectAs(sample.url, 'ann', 'secret');
    bob = await connectAs(sample.url, 'bob', 'hunter2');
  });
  afterAll(async () => {
    await ann?.disconnect();
    await bob?.disconnect();
    await sample?.close();
  });

  describe('whoami', () => {
    it('answers /app/whoami on the sender\'s /user/queue/whoami with its principal name, to no one else', async () => {
      const annWho = await inboxOf(ann, '/user/queue/whoami');
      const bobWho = await inboxOf(bob, '/user/queue/whoami');
      await sendAndWait(ann, '/app/whoami', {});
      await sendAndWait(bob, '/app/whoami', {});
      expect(jsonBodies(await annWho.waitFor(1).then(() => annWho))).toEqual([{ name: 'ann' }]);
      expect(jsonBodies(await bobWho.waitFor(1).then(() => bobWho))).toEqual([{ name: 'bob' }]);
      // On the guide's endpoint an anonymous session has no principal.
      const anon = await connectAs(sample.anonymousUrl);
      try {
        const anonWho = await inboxOf(anon, '/user/queue/whoami');
        await sendAndWait(anon, '/app/whoami', {});
        expect(jsonBodies(await anonWho.waitFor(1).then(() => anonWho))).toEqual([{ name: null }]);
      } finally {
        await anon.disconnect();
      }
      await barrier(ann);
      expect(annWho.messages).toHaveLength(1);
    });
  });

  describe('greeting (the Spring guide, ported)', () => {
    it('answers /app/hello on /topic/greetings with the name HTML-escaped', async () => {
      const greetings = await inboxOf(bob, '/topic/greetings');
      await sendAndWait(ann, '/app/hello', { name: '<b>x</b>' });
      const [m] = await greetings.waitFor(1);
      expect(m.body).toBe('{"content":"Hello, &lt;b&gt;x&lt;/b&gt;!"}');
      expect(m.headers['content-type']).toBe('application/json');
    });

    it("validates the payload with main.ts's global ValidationPipe; the client sees why", async () => {
      const errors = await inboxOf(ann, '/user/queue/errors');
      const greetings = await inboxOf(ann, '/topic/greetings');
      await sendAndWait(ann, '/app/hello', { name: 42 });
      const [error] = await errors.waitFor(1);
      expect(json(error)).toEqual({ status: 'error', message: expect.arrayContaining(['name must be a string']), destination: '/app/hello' });
      await barrier(ann);
      expect(greetings.messages).toHaveLength(0);
      // Still connected and served.
      await sendAndWait(ann, '/app/hello', { name: 'again' });
      expect(jsonBodies(greetings)).toEqual([{ content: 'Hello, again!' }]);
    });
  });

  describe('chat', () => {
    it('broadcasts to /topic/chat/{room} with `from` = the login name, text escaped', async () => {
      const room = unique('room');
      const annInbox = await inboxOf(ann, `/topic/chat/${room}`);
      const bobInbox = await inboxOf(bob, `/topic/chat/${room}`);
      await sendAndWait(ann, `/app/chat/${room}`, { text: 'hi <bob>' });
      await sendAndWait(bob, `/app/chat/${room}`, { text: 'hello ann' });
      await annInbox.waitFor(2);
      await bobInbox.waitFor(2);
      for (const inbox of [annInbox, bobInbox]) {
        const messages = jsonBodies<ChatMessage>(inbox);
        expect(messages.map(({ room: r, from, text }) => ({ room: r, from, text }))).toEqual([
          { room, from: 'ann', text: 'hi &lt;bob&gt;' },
          { room, from: 'bob', text: 'hello ann' },
        ]);
        expect(Number.isNaN(Date.parse(messages[0].sentAt))).toBe(false);
      }
    });

    it('answers a subscription to /app/chat/{room}/history once, to that subscriber only', async () => {
      const room = unique('hist');
      await sendAndWait(ann, `/app/chat/${room}`, { text: 'first' });
      await sendAndWait(bob, `/app/chat/${room}`, { text: 'second' });

      const newcomer = await connectAs(sample.url, 'carol', 'anything');
      try {
        const watcher = await inboxOf(bob, `/topic/chat/${room}/history`);
        const history = new Inbox();
        const sub = await subscribeConfirmed(newcomer.client, `/app/chat/${room}/history`, history);
        expect(history.messages).toHaveLength(1);
        const [m] = history.messages;
        expect(m.headers['subscription']).toBe(sub.id);
        expect(m.headers['destination']).toBe(`/app/chat/${room}/history`);
        expect(json<ChatMessage[]>(m).map(({ from, text }) => ({ from, text }))).toEqual([
          { from: 'ann', text: 'first' },
          { from: 'bob', text: 'second' },
        ]);
        await barrier(newcomer);
        await barrier(bob);
        expect(history.messages).toHaveLength(1);
        expect(watcher.messages).toHaveLength(0);
      } finally {
        await newcomer.disconnect();
      }
    });

    it('refuses a CONNECT without login on /ws; on the guide endpoint an anonymous client chats as "anonymous"', async () => {
      const refused = await connectExpectingError(sample.url);
      expect(refused.error?.headers['message']).toBe('Log in with a name (send a login header in CONNECT)');
      expect(refused.closeCode).toBe(1008);
      expect(refused.connected).toBe(false);
      const room = unique('anon');
      const anon = await connectAs(sample.anonymousUrl);
      try {
        const inbox = await inboxOf(bob, `/topic/chat/${room}`);
        await sendAndWait(anon, `/app/chat/${room}`, { text: 'who am I' });
        const [m] = await inbox.waitFor(1);
        expect(json<ChatMessage>(m)).toMatchObject({ room, from: 'anonymous', text: 'who am I' });
      } finally {
        await anon.disconnect();
      }
    });

    it('refuses an empty chat message with a validation error the client can see', async () => {
      const room = unique('empty');
      const errors = await inboxOf(bob, '/user/queue/errors');
      await sendAndWait(bob, `/app/chat/${room}`, { text: '' });
      const [error] = await errors.waitFor(1);
      expect(json(error)).toEqual({
        status: 'error',
        message: ['text must be longer than or equal to 1 characters'],
        destination: `/app/chat/${room}`,
      });
    });

    it('HTTP POST /api/rooms/:room/messages reaches the room subscribers through the template', async () => {
      const room = unique('http');
      const inbox = await inboxOf(ann, `/topic/chat/${room}`);
      const response = await postJson(sample, `/api/rooms/${room}/messages`, { text: 'via <http>' });
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ room, from: 'http', text: 'via &lt;http&gt;' });
      const [m] = await inbox.waitFor(1);
      expect(json(m)).toEqual(response.body);

      const bad = await postJson(sample, `/api/rooms/${room}/messages`, { text: 7 });
      expect(bad.status).toBe(400);
      await barrier(ann);
      expect(inbox.messages).toHaveLength(1);
    });
  });

  describe('room names a client chooses are bounded', () => {
    it('reports a SEND to a room name outside the rule on the error destination, and keeps the session', async () => {
      const carol = await connectAs(sample.url, 'carol');
      try {
        const errors = await inboxOf(carol, '/user/queue/errors');
        const room = 'r'.repeat(65);
        await sendAndWait(carol, `/app/chat/${room}`, { text: 'hi' });
        const [error] = await errors.waitFor(1);
        expect(json(error)).toEqual({
          status: 'error',
          message: `No @MessageMapping handler for /app/chat/${room}`,
          destination: `/app/chat/${room}`,
        });
        expect(sample.app.get(ChatRoomsService).roomNames()).not.toContain(room);
        // The session is still open: a valid room works.
        const lobby = await inboxOf(carol, '/topic/chat/lobby-carol');
        await sendAndWait(carol, '/app/chat/lobby-carol', { text: 'still here' });
        expect(json<ChatMessage>((await lobby.waitFor(1))[0]).text).toBe('still here');
      } finally {
        await carol.disconnect();
      }
    });

    it('answers HTTP 400, not 500, for a room name outside the rule', async () => {
      for (const room of ['r'.repeat(9000), 'a%2Fb%2Fc', 'caf%C3%A9']) {
        const response = await postJson(sample, `/api/rooms/${room}/messages`, { text: 'hi' });
        expect(response.status).toBe(400);
        expect(response.body).toMatchObject({ message: 'room must be 1 to 64 letters, digits, "_" or "-"' });
      }
    });
  });

  describe('SAMPLE_USERS log-in rule', () => {
    it('refuses a listed user with the wrong passcode', async () => {
      const { error, connected } = await connectExpectingError(sample.url, { connectHeaders: { login: 'ann', passcode: 'wrong' } });
      expect(connected).toBe(false);
      expect(error?.headers['message']).toBe('Wrong passcode for user ann');
    });

    it('accepts a listed user with the right passcode, and any unlisted name', async () => {
      expect(ann.connected.headers['user-name']).toBe('ann');
      const dave = await connectAs(sample.url, 'dave', 'whatever');
      try {
        expect(dave.connected.headers['user-name']).toBe('dave');
      } finally {
        await dave.disconnect();
      }
    });
  });

  describe('the page', () => {
    it('serves the chat page at /', async () => {
      const response = await fetch(`${sample.httpUrl}/`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await response.text();
      expect(html).toContain('<title>nestjs-stomp chat</title>');
      expect(html).toContain('<script src="/vendor/stomp.umd.min.js"></script>');
      expect(html).toContain('<script src="/chat.js"></script>');
    });

    it('serves @stomp/stompjs from node_modules and the page script', async () => {
      const vendor = await fetch(`${sample.httpUrl}/vendor/stomp.umd.min.js`);
      expect(vendor.status).toBe(200);
      expect(vendor.headers.get('content-type')).toMatch(/^text\/javascript/);
      const js = await vendor.text();
      expect(js).toContain('StompJs');
      expect(js.length).toBeGreaterThan(10_000);

      const chat = await fetch(`${sample.httpUrl}/chat.js`);
      expect(chat.status).toBe(200);
      expect(chat.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(await chat.text()).toContain("client.subscribe('/user/queue/errors'");
    });
  });
});

describe('the sample app without SAMPLE_USERS', () => {
  it('lists guest:guest by default', async () => {
    const sample = await startSample(undefined);
    try {
      const refused = await connectExpectingError(sample.url, { connectHeaders: { login: 'guest', passcode: 'nope' } });
      expect(refused.error?.headers['message']).toBe('Wrong passcode for user guest');
      const guest = await connectAs(sample.url, 'guest', 'guest');
      expect(guest.connected.headers['user-name']).toBe('guest');
      await guest.disconnect();
    } finally {
      await sample.close();
    }
  });
});

describe('ChatRoomsService', () => {
  it(`keeps at most ${MAX_ROOMS} rooms, dropping the least recently used`, () => {
    const rooms = new ChatRoomsService();
    const message = (room: string) => ({ room, from: 'a', text: 't', sentAt: '' });
    for (let i = 0; i < MAX_ROOMS; i++) rooms.record(message(`r${i}`));
    rooms.record(message('r0')); // r0 is now the most recently used
    rooms.record(message('new'));
    const names = rooms.roomNames();
    expect(names).toHaveLength(MAX_ROOMS);
    expect(names).not.toContain('r1');
    expect(names).toContain('r0');
    expect(rooms.history('r0')).toHaveLength(2);
  });
});
