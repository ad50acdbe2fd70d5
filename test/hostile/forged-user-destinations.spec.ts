// Issue 10, must show: no client can read (SUBSCRIBE) or forge (SEND) another session's user
// destination, however it spells it. The victim's session S subscribed to /user/queue/reply and
// /user/topic/news, i.e. the broker destinations /queue/reply-user<S> and /topic/news-user<S>.
// Every spelling below gets an ERROR naming the destination and closes the attacker; the victim
// then receives its next private message (the barrier), so nothing was taken from it, and the
// attacker holds no MESSAGE. Also: /user/<other>/… as a SUBSCRIBE, wildcard subscriptions, and
// ACK/NACK of another session's message ids.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rawConnected, unescapeValue, type RawStompClient } from '../support/raw-client.js';
import { unique, type RunningApp } from '../support/stomp-app.js';
import { Bystander, CONNECT_12, expectNoInternalErrors, request, startWithBystander, stopWithBystander } from './hostile-support.js';

const CONNECT_11 = { 'accept-version': '1.1', host: 'localhost' };

/** Spellings of another session's resolved destination `base-user<S>` (`base` like `/queue/reply`). */
function spellings(base: string, s: string): Array<[string, string]> {
  const [, prefix, name] = /^(\/[^/]+)\/(.*)$/.exec(base) as RegExpExecArray;
  return [
    ['the resolved form', `${base}-user${s}`],
    ['an upper-case session id', `${base}-user${s.toUpperCase()}`],
    ['-USER in capitals', `${base}-USER${s}`],
    ['mixed case', `${base}-User${s.slice(0, 9).toUpperCase()}${s.slice(9)}`],
    ['a trailing /', `${base}-user${s}/`],
    ['a trailing .', `${base}-user${s}.`],
    ['trailing whitespace', `${base}-user${s} `],
    ['a doubled //', `${prefix}//${name}-user${s}`],
    ['a ./ segment', `${prefix}/./${name}-user${s}`],
    ['a ../ segment', `${prefix}/x/../${name}-user${s}`],
    ['a trailing /..', `${base}-user${s}/..`],
    ['. as separator', `${prefix}.${name}-user${s}`],
    ['%2D for -', `${base}%2Duser${s}`],
    ['percent-escaped id', `${base}-user${s.replace(/-/g, '%2d')}`],
    ['percent-escaped letters', `${base}-%75%73%65%72${s}`],
    ['double percent-escape', `${base}%252Duser${s}`],
    ['%2F for /', `${prefix}%2F${name}-user${s}`],
    ['a fullwidth hyphen (NFKC)', `${base}\uFF0Duser${s}`],
    ['a user-destination wrapper', `/user${base}-user${s}`],
  ];
}

describe("another session's user destinations, in every spelling", () => {
  let running: RunningApp;
  let bystander: Bystander;
  let victim: RawStompClient;
  let sender: RawStompClient;
  let victimId = '';
  let victimName = '';
  let n = 0;

  beforeAll(async () => {
    ({ running, bystander } = await startWithBystander({ authenticate: ({ login }) => (login ? { user: login } : {}) }));
    victimName = unique('victim');
    const connected = await rawConnected(running.url, { ...CONNECT_12, login: victimName });
    victim = connected.raw;
    victimId = connected.connected.headers['session'] ?? '';
    expect(victimId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await request(victim, 'SUBSCRIBE', { id: 'q', destination: '/user/queue/reply' }))?.command).toBe('RECEIPT');
    expect((await request(victim, 'SUBSCRIBE', { id: 't', destination: '/user/topic/news' }))?.command).toBe('RECEIPT');
    ({ raw: sender } = await rawConnected(running.url, CONNECT_12));
  });
  afterAll(async () => {
    await Promise.all([victim.close(), sender.close()]);
    await stopWithBystander(running, bystander);
  });

  /** ERROR FORBIDDEN_DESTINATION-like refusal naming `destination`; the attacker is closed. */
  async function expectRefused(attacker: RawStompClient, reply: Awaited<ReturnType<typeof request>>, destination: string): Promise<void> {
    expect(reply?.command).toBe('ERROR');
    const message = unescapeValue(reply?.headers['message'] ?? '');
    expect(message).toContain(destination);
    expect(message).toMatch(/another (session|user)/);
    expect(reply?.headers['receipt-id']).toMatch(/^r-/);
    await attacker.waitClosed();
    expect(attacker.frames.filter((f) => f.command === 'MESSAGE')).toEqual([]);
  }

  /** The barrier: the victim receives its next private message on `userDestination`. */
  async function victimStillReceives(userDestination: string, frames: RawStompClient['frames'] = []): Promise<void> {
    const body = `private-${++n}`;
    expect((await request(sender, 'SEND', { destination: `/user/${victimName}${userDestination}` }, body))?.command).toBe('RECEIPT');
    const got = await victim.nextMatching((f) => f.command === 'MESSAGE' && f.body.toString() === body, body);
    expect(got.headers['destination']).toBe(`/user${userDestination}`);
    expect(frames.filter((f) => f.body.toString() === body)).toEqual([]);
  }

  describe.each([
    ['/queue/reply', '/queue/reply'],
    ['/topic/news', '/topic/news'],
  ])('%s-user<S>', (base, userDestination) => {
    it.each(spellings(base, '<S>').map(([what]) => what))('SUBSCRIBE with %s: ERROR naming it, nothing delivered', async (what) => {
      const destination = spellings(base, victimId).find(([w]) => w === what)![1];
      const { raw: attacker } = await rawConnected(running.url, CONNECT_12);
      const reply = await request(attacker, 'SUBSCRIBE', { id: 'steal', destination: destination.replace(/\\/g, '\\\\') });
      await expectRefused(attacker, reply, destination);
      await victimStillReceives(`/${userDestination.split('/')[1]}/${userDestination.split('/')[2]}`, attacker.frames);
    });

    it.each(spellings(base, '<S>').map(([what]) => what))('SEND with %s: ERROR naming it, the victim never gets it', async (what) => {
      const destination = spellings(base, victimId).find(([w]) => w === what)![1];
      const { raw: attacker } = await rawConnected(running.url, CONNECT_12);
      const reply = await request(attacker, 'SEND', { destination }, 'forged');
      await expectRefused(attacker, reply, destination);
      // The next message the victim gets on that destination is the genuine one.
      const from = victim.frames.length;
      await victimStillReceives(userDestination);
      expect(victim.frames.slice(from).map((f) => f.body.toString())).not.toContain('forged');
    });
  });

  it.each([
    ['\\\\ (a backslash)', '/queue\\\\reply-user<S>', '/queue\\reply-user<S>'],
    ['\\c (a colon)', '/queue/reply\\c-user<S>', '/queue/reply:-user<S>'],
  ])('SUBSCRIBE with the STOMP header escape %s: decoded, then refused', async (_what, sent, decoded) => {
    const { raw: attacker } = await rawConnected(running.url, CONNECT_12);
    const reply = await request(attacker, 'SUBSCRIBE', { id: 'steal', destination: sent.replace('<S>', victimId) });
    await expectRefused(attacker, reply, decoded.replace('<S>', victimId));
    await victimStillReceives('/queue/reply', attacker.frames);
  });

  it("SUBSCRIBE /user/<victim>/queue/reply (Spring's user-name form): refused, never another user's queue", async () => {
    const { raw: attacker } = await rawConnected(running.url, { ...CONNECT_12, login: unique('mallory') });
    const destination = `/user/${victimName}/queue/reply`;
    const reply = await request(attacker, 'SUBSCRIBE', { id: 'steal', destination });
    await expectRefused(attacker, reply, destination);
    expect(unescapeValue(reply?.headers['message'] ?? '')).toContain('/user/queue/reply');
    await victimStillReceives('/queue/reply', attacker.frames);
  });

  it('wildcard subscriptions never match a resolved user destination', async () => {
    const { raw: attacker } = await rawConnected(running.url, CONNECT_12);
    const patterns = ['/queue/*', '/queue/**', '/topic/**', '/topic/#', '/topic/*', '/topic/news-user*', '/queue/reply-user*'];
    for (const [i, destination] of patterns.entries()) {
      expect((await request(attacker, 'SUBSCRIBE', { id: `p${i}`, destination }))?.command).toBe('RECEIPT');
    }
    const marker = `/topic/${unique('marker')}`;
    expect((await request(attacker, 'SUBSCRIBE', { id: 'marker', destination: marker }))?.command).toBe('RECEIPT');
    await victimStillReceives('/queue/reply', attacker.frames);
    await victimStillReceives('/topic/news', attacker.frames);
    // The marker went out after the private messages: once it is in, everything else would be.
    sender.sendFrame('SEND', { destination: marker }, 'marker');
    await attacker.nextMatching((f) => f.command === 'MESSAGE' && f.body.toString() === 'marker', 'the marker');
    const leaked = attacker.frames.filter((f) => f.command === 'MESSAGE' && (f.body.toString().startsWith('private-') || JSON.stringify(f.headers).includes(victimId)));
    expect(leaked.map((f) => f.headers)).toEqual([]);
    await attacker.close();
  });

  it("ACK and NACK of another session's message ids: ERROR UNKNOWN_ACK, the victim's delivery untouched", async () => {
    const queue = `/queue/${unique('acks')}`;
    const { raw: owner } = await rawConnected(running.url, CONNECT_12);
    expect((await request(owner, 'SUBSCRIBE', { id: 'mine', destination: queue, ack: 'client-individual' }))?.command).toBe('RECEIPT');
    expect((await request(sender, 'SEND', { destination: queue }, 'held'))?.command).toBe('RECEIPT');
    const held = await owner.nextMatching((f) => f.command === 'MESSAGE', 'the held message');
    const ackId = held.headers['ack'] ?? '';
    const messageId = held.headers['message-id'] ?? '';
    expect(ackId).not.toBe('');
    const attempts: Array<[Record<string, string>, string, Record<string, string>]> = [
      [CONNECT_12, 'ACK', { id: ackId }],
      [CONNECT_12, 'NACK', { id: ackId }],
      [CONNECT_11, 'ACK', { 'message-id': messageId, subscription: 'mine' }],
      [CONNECT_11, 'NACK', { 'message-id': messageId, subscription: 'mine' }],
    ];
    for (const [connect, command, headers] of attempts) {
      const { raw: attacker } = await rawConnected(running.url, connect);
      const reply = await request(attacker, command, headers);
      expect(reply?.command).toBe('ERROR');
      expect(unescapeValue(reply?.headers['message'] ?? '')).toContain(`${command} for unknown or already acknowledged message`);
      await attacker.waitClosed();
    }
    // Still the owner's to settle (a NACK that went through would have redelivered it first).
    expect((await request(owner, 'ACK', { id: ackId }))?.command).toBe('RECEIPT');
    expect((await request(sender, 'SEND', { destination: queue }, 'next'))?.command).toBe('RECEIPT');
    const next = await owner.nextMatching((f) => f.command === 'MESSAGE' && f.headers['ack'] !== ackId, 'the next message');
    expect(next.body.toString()).toBe('next');
    expect(owner.frames.filter((f) => f.command === 'MESSAGE').map((f) => f.body.toString())).toEqual(['held', 'next']);
    await owner.close();
    await bystander.roundTrip();
    expectNoInternalErrors(running.logs);
  });

  it('the session itself may still use its own resolved destination, in any spelling', async () => {
    const { raw: self, connected } = await rawConnected(running.url, CONNECT_12);
    const own = connected.headers['session'] ?? '';
    expect((await request(self, 'SUBSCRIBE', { id: 'own', destination: `/queue/reply-user${own}` }))?.command).toBe('RECEIPT');
    expect((await request(self, 'SEND', { destination: `/queue/reply-user${own.toUpperCase()}` }, 'x'))?.command).toBe('RECEIPT');
    await self.close();
  });
});

describe("another session's user destinations with pathSeparator '.'", () => {
  it.each(['/queue/chat.reply-user<S>', '/queue/chat..reply-user<S>', '/queue/chat.reply-user<S>.', '/queue/chat.reply-USER<S>'])(
    'SUBSCRIBE %s: refused',
    async (spelling) => {
      const { running, bystander } = await startWithBystander({ pathSeparator: '.' });
      try {
        const { raw: victim, connected } = await rawConnected(running.url, CONNECT_12);
        expect((await request(victim, 'SUBSCRIBE', { id: 'q', destination: '/user/queue/chat.reply' }))?.command).toBe('RECEIPT');
        const destination = spelling.replace('<S>', connected.headers['session'] ?? '');
        const { raw: attacker } = await rawConnected(running.url, CONNECT_12);
        const reply = await request(attacker, 'SUBSCRIBE', { id: 'steal', destination });
        expect(reply?.command).toBe('ERROR');
        expect(unescapeValue(reply?.headers['message'] ?? '')).toContain(destination);
        await attacker.waitClosed();
        await bystander.roundTrip();
        await victim.close();
      } finally {
        await stopWithBystander(running, bystander);
      }
    },
  );
});
