import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Body, Controller, Param, Post } from '@nestjs/common';
import {
  ConnectedSession,
  MessageMapping,
  Payload,
  SendToUser,
  StompMessagingTemplate,
  type StompSessionInfo,
} from '../../lib/index.js';
import { barrier, connectAs, inboxOf, json, jsonBodies, postJson, sendAndWait } from '../support/handler-fixtures.js';
import { startStompApp, type RunningApp } from '../support/stomp-app.js';
import { type Inbox, type TestClient } from '../support/stomp-client.js';

@Controller()
class UserRepliesController {
  constructor(private readonly template: StompMessagingTemplate) {}

  @MessageMapping('/to-user/all')
  @SendToUser('/queue/replies')
  all(@Payload() payload: { n: number }, @ConnectedSession() session: StompSessionInfo) {
    return { n: payload.n, from: session.id, broadcast: true };
  }

  @MessageMapping('/to-user/me')
  @SendToUser('/queue/replies', { broadcast: false })
  me(@Payload() payload: { n: number }, @ConnectedSession() session: StompSessionInfo) {
    return { n: payload.n, from: session.id, broadcast: false };
  }

  /** HTTP → STOMP: notify every session of a user. */
  @Post('api/notify/:user')
  async notify(@Param('user') user: string, @Body() body: { text: string }) {
    await this.template.convertAndSendToUser(user, '/queue/notifications', { text: body.text });
    return { sent: true };
  }

  /** The user name travels in the body, so any name (`promo%zz`) reaches the template untouched. */
  @Post('api/notify-user')
  async notifyUser(@Body() body: { user: string; text: string }) {
    await this.template.convertAndSendToUser(body.user, '/queue/notifications', { text: body.text });
    return { sent: true };
  }

  @Post('api/send')
  async send(@Body() body: { destination: string; text: string }) {
    await this.template.convertAndSend(body.destination, { text: body.text });
    return { sent: true };
  }
}

interface Peer {
  tc: TestClient;
  replies: Inbox;
  notifications: Inbox;
  direct: Inbox;
  session: string;
}

describe('user destinations', () => {
  let running: RunningApp;
  let ann1: Peer;
  let ann2: Peer;
  let bob: Peer;
  let anon1: Peer;
  let anon2: Peer;
  let devops: Peer;

  async function peer(login?: string): Promise<Peer> {
    const client = await connectAs(running.url, login);
    return {
      tc: client,
      session: client.connected.headers['session'],
      replies: await inboxOf(client, '/user/queue/replies'),
      notifications: await inboxOf(client, '/user/queue/notifications'),
      direct: await inboxOf(client, '/user/queue/direct'),
    };
  }

  /** Proves that everything sent so far reached every peer (or never will). */
  async function settle(): Promise<void> {
    for (const p of [ann1, ann2, bob, anon1, anon2, devops]) await barrier(p.tc);
  }

  beforeAll(async () => {
    running = await startStompApp(
      { authenticate: ({ login }) => (login ? { user: login } : {}) },
      { controllers: [UserRepliesController] },
    );
    ann1 = await peer('ann');
    ann2 = await peer('ann');
    bob = await peer('bob');
    anon1 = await peer();
    anon2 = await peer();
    devops = await peer('dev/ops');
  });
  afterAll(async () => {
    for (const p of [ann1, ann2, bob, anon1, anon2, devops]) await p?.tc.disconnect();
    await running?.close();
  });

  it('names the principal in CONNECTED', () => {
    expect(ann1.tc.connected.headers['user-name']).toBe('ann');
    expect(ann2.tc.connected.headers['user-name']).toBe('ann');
    expect(anon1.tc.connected.headers['user-name']).toBeUndefined();
    expect(ann1.session).not.toBe(ann2.session);
  });

  it('@SendToUser (broadcast) reaches every session of the user and no one else', async () => {
    await sendAndWait(ann1.tc, '/app/to-user/all', { n: 1 });
    await ann2.replies.waitFor(1);
    await settle();
    const expected = [{ n: 1, from: ann1.session, broadcast: true }];
    expect(jsonBodies(ann1.replies)).toEqual(expected);
    expect(jsonBodies(ann2.replies)).toEqual(expected);
    // Spring shows the client the destination it subscribed to, not the per-session broker queue.
    expect(ann1.replies.messages[0].headers['destination']).toMatch(/^\/user\/queue\//);
    expect(ann1.replies.messages[0].headers['destination']).not.toContain('-user');
    expect(bob.replies.messages).toHaveLength(0);
    expect(anon1.replies.messages).toHaveLength(0);
    expect(anon2.replies.messages).toHaveLength(0);
  });

  it('@SendToUser with broadcast: false reaches only the sending session', async () => {
    await sendAndWait(ann2.tc, '/app/to-user/me', { n: 2 });
    await settle();
    expect(jsonBodies(ann2.replies).slice(-1)).toEqual([{ n: 2, from: ann2.session, broadcast: false }]);
    expect(ann2.replies.messages).toHaveLength(2);
    expect(ann1.replies.messages).toHaveLength(1);
    expect(bob.replies.messages).toHaveLength(0);
  });

  it('an anonymous session gets its own reply, other anonymous sessions do not', async () => {
    await sendAndWait(anon1.tc, '/app/to-user/all', { n: 3 });
    await sendAndWait(anon2.tc, '/app/to-user/me', { n: 4 });
    await settle();
    expect(jsonBodies(anon1.replies)).toEqual([{ n: 3, from: anon1.session, broadcast: true }]);
    expect(jsonBodies(anon2.replies)).toEqual([{ n: 4, from: anon2.session, broadcast: false }]);
    expect(ann1.replies.messages).toHaveLength(1);
    expect(bob.replies.messages).toHaveLength(0);
  });

  it('template.convertAndSendToUser from an HTTP controller reaches every session of the user', async () => {
    const response = await postJson(running, '/api/notify/ann', { text: 'from http' });
    expect(response).toEqual({ status: 201, body: { sent: true } });
    // The HTTP response is written after the messages were handed to the sessions.
    await ann1.notifications.waitFor(1);
    await ann2.notifications.waitFor(1);
    await settle();
    expect(jsonBodies(ann1.notifications)).toEqual([{ text: 'from http' }]);
    expect(jsonBodies(ann2.notifications)).toEqual([{ text: 'from http' }]);
    expect(ann1.notifications.messages[0].headers['content-type']).toBe('application/json');
    expect(bob.notifications.messages).toHaveLength(0);
    expect(anon1.notifications.messages).toHaveLength(0);

    // A user with no session: nothing to deliver, no error.
    expect(await postJson(running, '/api/notify/nobody', { text: 'x' })).toEqual({ status: 201, body: { sent: true } });
  });

  it('a client SEND to /user/{name}/queue/x reaches that user only', async () => {
    bob.tc.client.publish({ destination: '/user/ann/queue/direct', body: 'hi ann', headers: { 'content-type': 'text/plain' } });
    await ann1.direct.waitFor(1);
    await ann2.direct.waitFor(1);
    await settle();
    expect(ann1.direct.bodies()).toEqual(['hi ann']);
    expect(ann2.direct.bodies()).toEqual(['hi ann']);
    expect(bob.direct.messages).toHaveLength(0);
    expect(anon1.direct.messages).toHaveLength(0);
    expect(ann1.direct.messages[0].headers['content-type']).toBe('text/plain');
  });

  it('decodes a URL-encoded user name in /user/{name}/...', async () => {
    anon1.tc.client.publish({ destination: '/user/dev%2Fops/queue/direct', body: '{"ping":1}', headers: { 'content-type': 'application/json' } });
    const [m] = await devops.direct.waitFor(1);
    expect(json(m)).toEqual({ ping: 1 });
    await settle();
    expect(ann1.direct.messages).toHaveLength(1);
  });

  describe('user names are taken literally, only %2F means /', () => {
    it('a client SEND to /user/promo%zz/queue/x reaches the user promo%zz; the sender stays connected', async () => {
      const promo = await peer('promo%zz');
      try {
        bob.tc.client.publish({ destination: '/user/promo%zz/queue/direct', body: 'deal', headers: { 'content-type': 'text/plain' } });
        const [m] = await promo.direct.waitFor(1);
        expect(m.body).toBe('deal');
        // The sender's connection is still open: a barrier round trip succeeds.
        await barrier(bob.tc);
        await settle();
        expect(ann1.direct.messages).toHaveLength(1);
        expect(running.logs.at('error').filter((l) => l.includes('URI'))).toEqual([]);
      } finally {
        await promo.tc.disconnect();
      }
    });

    it.each([
      ['/user/dev%2fops/queue/direct', 'lower-case %2f'],
      ['/user/dev%2Fops/queue/direct', 'upper-case %2F'],
    ])('%s reaches the user dev/ops (%s)', async (destination) => {
      const before = devops.direct.messages.length;
      bob.tc.client.publish({ destination, body: destination, headers: { 'content-type': 'text/plain' } });
      await devops.direct.waitFor(before + 1);
      expect(devops.direct.bodies().at(-1)).toBe(destination);
    });

    it('does not decode other escapes: /user/dev%2Bops is not the user dev+ops', async () => {
      const plus = await peer('dev+ops');
      const literal = await peer('dev%2Bops');
      try {
        bob.tc.client.publish({ destination: '/user/dev%2Bops/queue/direct', body: 'literal', headers: { 'content-type': 'text/plain' } });
        const [m] = await literal.direct.waitFor(1);
        expect(m.body).toBe('literal');
        await barrier(plus.tc);
        await barrier(bob.tc);
        expect(plus.direct.messages).toHaveLength(0);
      } finally {
        await plus.tc.disconnect();
        await literal.tc.disconnect();
      }
    });

    it('template.convertAndSendToUser and convertAndSend(/user/promo%zz/...) reach promo%zz', async () => {
      const promo = await peer('promo%zz');
      try {
        expect(await postJson(running, '/api/notify-user', { user: 'promo%zz', text: 'by name' })).toEqual({ status: 201, body: { sent: true } });
        expect(await postJson(running, '/api/send', { destination: '/user/promo%zz/queue/notifications', text: 'by destination' })).toEqual({ status: 201, body: { sent: true } });
        await promo.notifications.waitFor(2);
        expect(jsonBodies(promo.notifications)).toEqual([{ text: 'by name' }, { text: 'by destination' }]);
      } finally {
        await promo.tc.disconnect();
      }
    });
  });
});
