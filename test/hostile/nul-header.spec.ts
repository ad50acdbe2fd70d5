// Issue 7 (security report, item 3): a NUL in a header value. `SEND x-a:\0ERROR` used to reach
// STOMP 1.0 and 1.2 subscribers with the NUL inside the MESSAGE's headers, so a client splitting
// the stream on NUL saw the frame end there and a forged `ERROR` frame start. The server refuses
// a NUL in any header value (CONNECT included) with an ERROR naming the header, and subscribers
// receive nothing from such a frame.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RawStompClient, rawConnected, unescapeValue } from '../support/raw-client.js';
import { unique, type RunningApp } from '../support/stomp-app.js';
import { Bystander,
  startWithBystander,
  stopWithBystander, CONNECT_12, expectNoInternalErrors, RecordingSocket, request } from './hostile-support.js';

const nulMessage = (name: string) =>
  `Header ${JSON.stringify(name)} has a NUL in its value: a NUL ends a STOMP frame, so no peer can read it back`;

describe('NUL in header values', () => {
  let running: RunningApp;
  let bystander: Bystander;

  beforeAll(async () => {
    ({ running, bystander } = await startWithBystander({}));
  });
  afterAll(() => stopWithBystander(running, bystander));

  it.each(['1.0', '1.2'] as const)(
    'SEND x-a:\\0ERROR from a STOMP %s sender: ERROR naming x-a, and 1.0/1.2 subscribers receive nothing of it',
    async (senderVersion) => {
      const destination = `/topic/${unique('nul')}`;
      const subscribers: RecordingSocket[] = [];
      for (const version of ['1.0', '1.2'] as const) {
        const socket = await RecordingSocket.connect(running.url, version);
        socket.send(`SUBSCRIBE\ndestination:${destination}\nid:s\nreceipt:sub\n\n\0`);
        await socket.waitFor((m) => m.startsWith('RECEIPT\n'), 'the SUBSCRIBE receipt');
        subscribers.push(socket);
      }
      const { raw: sender } = await rawConnected(running.url, { 'accept-version': senderVersion, host: 'localhost' });
      const reply = await request(sender, 'SEND', { destination, 'content-type': 'text/plain', 'x-a': '\0ERROR' }, 'hello');
      expect(reply?.command).toBe('ERROR');
      const message = reply?.headers['message'] ?? '';
      expect(senderVersion === '1.0' ? message : unescapeValue(message)).toBe(nulMessage('x-a'));
      expect(reply?.headers['receipt-id']).toMatch(/^r-\d+$/);
      expect((await sender.waitClosed()).code).toBe(1002);

      const { raw: marker } = await rawConnected(running.url, CONNECT_12);
      expect((await request(marker, 'SEND', { destination }, 'marker'))?.command).toBe('RECEIPT');
      for (const s of subscribers) {
        await s.waitFor((m) => m.startsWith('MESSAGE\n'), 'the marker');
        const messages = s.messages.filter((m) => m.startsWith('MESSAGE\n'));
        // The marker is the only MESSAGE, and nothing the server wrote holds a NUL before its end.
        expect(messages).toHaveLength(1);
        expect(messages[0].endsWith('\n\nmarker\0')).toBe(true);
        expect(messages[0].indexOf('\0')).toBe(messages[0].length - 1);
        s.close();
      }
      await marker.close();
      await bystander.roundTrip();
      expectNoInternalErrors(running.logs);
    },
  );

  it('CONNECT with a NUL in a header value (never unescaped) is refused with an ERROR naming it', async () => {
    const raw = await RawStompClient.open(running.url);
    raw.sendFrame('CONNECT', { 'accept-version': '1.2', host: 'localhost', login: 'a\0b' });
    const error = await raw.expect('ERROR');
    expect(unescapeValue(error.headers['message'] ?? '')).toBe(nulMessage('login'));
    expect((await raw.waitClosed()).code).toBe(1002);
    await bystander.roundTrip();
  });

  it('SUBSCRIBE with a NUL in its destination is refused with an ERROR naming it', async () => {
    const { raw } = await rawConnected(running.url, CONNECT_12);
    const reply = await request(raw, 'SUBSCRIBE', { id: 's', destination: '/topic/a\0MESSAGE' });
    expect(reply?.command).toBe('ERROR');
    expect(unescapeValue(reply?.headers['message'] ?? '')).toBe(nulMessage('destination'));
    await bystander.roundTrip();
    expectNoInternalErrors(running.logs);
  });
});
