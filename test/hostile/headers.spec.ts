// Issue 7, header injection: a STOMP 1.2 sender can escape ':' and line breaks into header names
// and values (`content-length\c1`, `x\nlen`), which a STOMP 1.0 subscriber cannot receive escaped;
// written raw they became extra header lines (a second content-length). And headers the broker
// owns (`redelivered`, `Message-Id`, `DESTINATION`, `user-name`) must not be forged by a sender.
// Either the SEND is refused with an ERROR about the header, or every subscriber receives exactly
// the broker's header lines plus harmless ones. Subscribers here are plain sockets that keep the
// bytes as sent; "received nothing more" is judged by a marker published afterwards.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rawConnected } from '../support/raw-client.js';
import { unique, type RunningApp } from '../support/stomp-app.js';
import {
  Bystander,
  startWithBystander,
  stopWithBystander,
  CONNECT_12,
  expectErrorNaming,
  expectNoInternalErrors,
  headerLines,
  RecordingSocket,
  request,
} from './hostile-support.js';

describe('hostile headers', () => {
  let running: RunningApp;
  let bystander: Bystander;

  beforeAll(async () => {
    ({ running, bystander } = await startWithBystander({}));
  });
  afterAll(() => stopWithBystander(running, bystander));

  async function subscriber(version: '1.0' | '1.1' | '1.2', destination: string): Promise<RecordingSocket> {
    const socket = await RecordingSocket.connect(running.url, version);
    socket.send(`SUBSCRIBE\ndestination:${destination}\nid:s\nreceipt:sub\n\n\0`);
    await socket.waitFor((m) => m.startsWith('RECEIPT\n'), 'the SUBSCRIBE receipt');
    return socket;
  }

  /** Sends `headers` (1.2-escaped as given) with body `hello`; then a marker from another client. Returns the MESSAGEs before it. */
  async function publishThenMarker(destination: string, headers: Record<string, string>, subscribers: RecordingSocket[]) {
    const { raw: sender } = await rawConnected(running.url, CONNECT_12);
    const reply = await request(sender, 'SEND', { destination, ...headers }, 'hello');
    const { raw: markers } = await rawConnected(running.url, CONNECT_12);
    expect((await request(markers, 'SEND', { destination }, 'marker'))?.command).toBe('RECEIPT');
    const received: string[][] = [];
    for (const s of subscribers) {
      await s.waitFor((m) => m.startsWith('MESSAGE\n') && m.endsWith('\n\nmarker\0'), 'the marker');
      received.push(s.messages.filter((m) => m.startsWith('MESSAGE\n') && !m.endsWith('\n\nmarker\0')));
    }
    if (!sender.closeInfo) await sender.close();
    await markers.close();
    return { reply, received };
  }

  it('escaped ":" and line breaks in header names and values never become extra header lines, for 1.0, 1.1 and 1.2 subscribers', async () => {
    const destination = `/topic/${unique('h')}`;
    const subscribers = [await subscriber('1.0', destination), await subscriber('1.1', destination), await subscriber('1.2', destination)];
    const { reply, received } = await publishThenMarker(
      destination,
      {
        'content-length\\c1': 'x', // the header named "content-length:1"
        'x-evil\\nlen': 'y', // a header name with a line break in it
        'x-note': 'a\\ncontent-length\\c2', // a value with a line break and a colon
        'x-\\ccolon': 'z\\cz',
      },
      subscribers,
    );
    if (reply?.command === 'ERROR') {
      expectErrorNaming(reply, /header/i);
      for (const messages of received) expect(messages).toEqual([]);
    } else {
      expect(reply?.command).toBe('RECEIPT');
      for (const [i, messages] of received.entries()) {
        expect(messages).toHaveLength(1);
        const lines = headerLines(messages[0]);
        const version = ['1.0', '1.1', '1.2'][i];
        // Every line is name:value, and the only content-length line is the broker's.
        expect({ version, orphans: lines.filter((l) => !l.includes(':')) }).toEqual({ version, orphans: [] });
        expect({ version, lengths: lines.filter((l) => /^content-length:/i.test(l)) }).toEqual({ version, lengths: ['content-length:5'] });
        expect({ version, injected: lines.filter((l) => /^len:/.test(l)) }).toEqual({ version, injected: [] });
        expect(messages[0].endsWith('\n\nhello\0')).toBe(true);
      }
    }
    for (const s of subscribers) s.close();
    await bystander.roundTrip();
    expectNoInternalErrors(running.logs);
  });

  it('a sender cannot forge the headers the broker owns (redelivered, message-id, destination, subscription, ack, user-name), in any letter case', async () => {
    const destination = `/topic/${unique('forged')}`;
    const subscribers = [await subscriber('1.2', destination), await subscriber('1.0', destination)];
    const { reply, received } = await publishThenMarker(
      destination,
      {
        redelivered: 'true',
        'Message-Id': 'forged',
        DESTINATION: '/topic/forged',
        Subscription: 'forged',
        ACK: 'forged',
        'user-name': 'admin',
        'Content-Length': '1',
      },
      subscribers,
    );
    if (reply?.command === 'ERROR') {
      expectErrorNaming(reply, /header|reserved/i);
      for (const messages of received) expect(messages).toEqual([]);
    } else {
      expect(reply?.command).toBe('RECEIPT');
      for (const messages of received) {
        expect(messages).toHaveLength(1);
        const lines = headerLines(messages[0]);
        const named = (name: string) => lines.filter((l) => l.slice(0, l.indexOf(':')).toLowerCase() === name);
        expect(named('redelivered')).toEqual([]);
        expect(named('user-name')).toEqual([]);
        expect(named('destination')).toEqual([`destination:${destination}`]);
        expect(named('subscription')).toEqual(['subscription:s']);
        expect(named('message-id')).toHaveLength(1);
        expect(named('message-id')[0]).not.toBe('message-id:forged');
        expect(named('ack')).toEqual([]);
        expect(named('content-length')).toEqual(['content-length:5']);
      }
    }
    for (const s of subscribers) s.close();
    await bystander.roundTrip();
    expectNoInternalErrors(running.logs);
  });
});
