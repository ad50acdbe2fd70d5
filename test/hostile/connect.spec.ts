// Issue 7, time and names before CONNECTED:
// - `limits.connectTimeout` bounds the time to CONNECTED, also while an async `authenticate` has
//   not settled (it never did count then: a hanging authenticate held the socket forever), and a
//   decision that comes after the timeout does not revive the closed session;
// - a user name from `authenticate` with CR/LF must not inject header lines into CONNECTED.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RawStompClient } from '../support/raw-client.js';
import type { RunningApp } from '../support/stomp-app.js';
import { SessionRegistry } from '../../lib/index.js';
import { Bystander,
  startWithBystander,
  stopWithBystander, CONNECT_12, expectErrorNaming, expectNoInternalErrors, headerLines } from './hostile-support.js';

const CONNECT_TIMEOUT = 300;
const CONNECTED_HEADERS = new Set(['version', 'heart-beat', 'server', 'session', 'user-name']);

describe('hostile CONNECT', () => {
  let running: RunningApp;
  let bystander: Bystander;
  let lateDecisions = 0;

  beforeAll(async () => {
    ({ running, bystander } = await startWithBystander({
      limits: { connectTimeout: CONNECT_TIMEOUT },
      authenticate: ({ login }) => {
        if (login === 'stuck') return new Promise(() => undefined);
        if (login === 'late') {
          // Decides only after the connect timeout has passed.
          return new Promise((resolve) =>
            setTimeout(() => {
              lateDecisions++;
              resolve({ user: 'late' });
            }, CONNECT_TIMEOUT * 2).unref(),
          );
        }
        if (login === 'lf') return { user: 'bob\nx-injected:1' };
        if (login === 'crlf') return { user: 'bob\r\nx-injected:1' };
        if (login === 'cr') return { user: 'bob\rx-injected:1' };
        return login ? { user: login } : {};
      },
    }));
  });
  afterAll(() => stopWithBystander(running, bystander));

  it.each(['stuck', 'late'])(
    'authenticate that has not settled (%s): the connect timeout still closes the connection with an ERROR naming it',
    async (login) => {
      const attacker = await RawStompClient.open(running.url);
      attacker.sendFrame('CONNECT', { ...CONNECT_12, login });
      // Failure guard only: the timeout is 300 ms.
      const reply = await attacker.next(5000);
      expectErrorNaming(reply, /CONNECT/i);
      expect(reply.headers['message']).toMatch(new RegExp(`\\b${CONNECT_TIMEOUT}\\b`));
      await attacker.waitClosed();
      expect(attacker.frames.map((f) => f.command)).toEqual(['ERROR']);
      await bystander.roundTrip();
      expectNoInternalErrors(running.logs);
    },
  );

  it('a CONNECT frame that never completes: the connect timeout closes the connection with an ERROR naming it', async () => {
    const attacker = await RawStompClient.open(running.url);
    attacker.send('CONNECT\naccept-version:1.2\nhost:local');
    // Failure guard only: the timeout is 300 ms.
    const reply = await attacker.next(5000);
    expectErrorNaming(reply, /CONNECT/i);
    expect(reply.headers['message']).toMatch(new RegExp(`\\b${CONNECT_TIMEOUT}\\b`));
    await attacker.waitClosed();
    await bystander.roundTrip();
    expectNoInternalErrors(running.logs);
  });

  it('a decision that arrives after the timeout does not revive the session', async () => {
    // The 'late' case above has run; wait (bounded) for its decision to come in, and a turn more.
    for (let i = 0; i < 200 && lateDecisions === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(lateDecisions).toBeGreaterThan(0);
    await new Promise((r) => setImmediate(r));
    const registry = running.app.get(SessionRegistry);
    expect(registry.sessionsOf('late').size).toBe(0);
    expect([...registry.all()].filter((s) => s.user === 'late').map((s) => s.state)).toEqual([]);
    await bystander.roundTrip();
    expectNoInternalErrors(running.logs);
  });

  it.each(['lf', 'crlf', 'cr'])('a user name with line breaks (%s) from authenticate: CONNECTED carries no injected header', async (login) => {
    const raw = await connectRecording(running.url, login);
    const reply = raw.messages[0] ?? '';
    if (reply.startsWith('ERROR\n')) {
      expect(reply).not.toMatch(/Internal server error/i);
      expect(reply).toMatch(/user/i);
    } else {
      expect(reply.startsWith('CONNECTED\n')).toBe(true);
      const lines = headerLines(reply);
      const names = lines.map((l) => l.slice(0, l.indexOf(':')));
      expect(names.filter((n) => !CONNECTED_HEADERS.has(n))).toEqual([]);
      expect(lines.filter((l) => l.includes('\r'))).toEqual([]);
    }
    raw.close();
    await bystander.roundTrip();
    expectNoInternalErrors(running.logs);
  });
});

/** Opens a raw socket, sends CONNECT with `login`, and resolves once the first frame arrived. */
async function connectRecording(url: string, login: string): Promise<{ messages: string[]; close(): void }> {
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(url, ['v12.stomp']);
  const messages: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no reply to CONNECT')), 5000);
    ws.on('message', (data: Buffer) => {
      messages.push(data.toString('latin1'));
      clearTimeout(timer);
      resolve();
    });
    ws.once('open', () => ws.send(Buffer.from(`CONNECT\naccept-version:1.2\nhost:localhost\nlogin:${login}\n\n\0`)));
    ws.once('error', reject);
  });
  return { messages, close: () => ws.terminate() };
}
