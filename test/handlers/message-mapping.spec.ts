import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, ParseIntPipe } from '@nestjs/common';
import { ConnectedSocket, MessageBody } from '@nestjs/websockets';
import { concat, defer, map, of, timer } from 'rxjs';
import {
  ConnectedSession,
  DestinationVariable,
  Header,
  Headers,
  MessageMapping,
  Payload,
  Principal,
  SendTo,
  type StompSessionInfo,
  type StompHeaders,
  type StompPrincipal,
} from '../../lib/index.js';
import { barrier, connectAs, inboxOf, json, jsonBodies, sendAndWait, sleep } from '../support/handler-fixtures.js';
import { startStompApp, unique, type RunningApp } from '../support/stomp-app.js';
import { Inbox, sendConfirmed, type TestClient } from '../support/stomp-client.js';

@Controller()
@MessageMapping('/mm')
class PrefixedController {
  /** Two patterns, a class prefix and no @SendTo: replies go to /topic/mm/one and /topic/mm/two. */
  @MessageMapping('/one', '/two')
  several(@Payload() payload: { n: number }, @Header('destination') destination: string) {
    return { n: payload.n, destination };
  }
}

@Controller()
class MappingController {
  @MessageMapping('/room/{room}/item/{id}')
  variables(
    @DestinationVariable('room') room: string,
    @DestinationVariable('id', ParseIntPipe) id: number,
    @DestinationVariable() all: Record<string, string>,
  ) {
    return { room, id, idType: typeof id, all };
  }

  @MessageMapping('/headers/{tag}')
  @SendTo('/topic/headers/{tag}')
  headers(@Header('x-trace') trace: string, @Header('x-absent') absent: string | undefined, @Headers() all: StompHeaders) {
    return { trace, absent: absent ?? null, destination: all['destination'], custom: all['x-custom'], contentType: all['content-type'] };
  }

  @MessageMapping('/whoami/{tag}')
  @SendTo('/topic/whoami/{tag}')
  whoami(@ConnectedSession() session: StompSessionInfo, @Principal() principal: StompPrincipal | undefined) {
    return { sessionId: session.id, user: session.user ?? null, principal: principal ?? null };
  }

  /** Nest's own WebSocket decorators work on STOMP handlers as well. */
  @MessageMapping('/nest-style/{tag}')
  @SendTo('/topic/nest-style/{tag}')
  nestStyle(@MessageBody() body: { name: string }, @MessageBody('name') name: string, @ConnectedSocket() socket: StompSessionInfo) {
    return { body, name, sessionId: socket.id };
  }

  @MessageMapping('/defaults/{x}')
  defaults(@DestinationVariable('x') x: string) {
    return { x };
  }

  @MessageMapping('/maybe/{tag}')
  @SendTo('/topic/maybe/{tag}')
  maybe(@Payload() payload: { id: number; reply: boolean }) {
    return payload.reply ? { id: payload.id } : undefined;
  }

  @MessageMapping('/later/{tag}')
  @SendTo('/topic/later/{tag}')
  async later(@Payload() payload: { n: number }) {
    await sleep(2);
    return { doubled: payload.n * 2 };
  }

  @MessageMapping('/stream/{tag}')
  @SendTo('/topic/stream/{tag}')
  stream() {
    return concat(
      of({ i: 1 }),
      timer(3).pipe(map(() => ({ i: 2 }))),
      defer(async () => ({ i: 3 })),
    );
  }

  @MessageMapping('/convert/{tag}')
  @SendTo('/topic/convert/{tag}')
  convert(@Payload() payload: unknown) {
    if (Buffer.isBuffer(payload)) {
      return { kind: 'buffer', length: payload.length, first: payload[0], last: payload[payload.length - 1] };
    }
    return { kind: typeof payload, value: payload };
  }

  @MessageMapping('/room-echo/{room}')
  @SendTo('/topic/room-echo/{room}', '/topic/room-echo-all')
  roomEcho(@DestinationVariable('room') room: string, @Payload() text: string) {
    return `${room}:${text}`;
  }
}

@Controller()
@SendTo('/topic/class-level')
class ClassSendToController {
  @MessageMapping('/cls/inherit')
  inherit() {
    return 'inherited';
  }

  @MessageMapping('/cls/override')
  @SendTo('/topic/method-level')
  override() {
    return 'overridden';
  }
}

describe('@MessageMapping end to end', () => {
  let running: RunningApp;
  let anon: TestClient;
  let ann: TestClient;
  /** anon's one subscription to /user/queue/errors (a second one would share its messages). */
  let anonErrors: Inbox;

  beforeAll(async () => {
    running = await startStompApp(
      { authenticate: ({ login }) => (login ? { user: login } : {}) },
      { controllers: [PrefixedController, MappingController, ClassSendToController] },
    );
    anon = await connectAs(running.url);
    ann = await connectAs(running.url, 'ann');
    anonErrors = await inboxOf(anon, '/user/queue/errors');
  });
  afterAll(async () => {
    await anon?.disconnect();
    await ann?.disconnect();
    await running?.close();
  });

  it('combines a class-level prefix with several method patterns; replies default to /topic + mapped destination', async () => {
    const one = await inboxOf(anon, '/topic/mm/one');
    const two = await inboxOf(anon, '/topic/mm/two');
    await sendAndWait(anon, '/app/mm/one', { n: 1 });
    await sendAndWait(anon, '/app/mm/two', { n: 2 });
    await one.waitFor(1);
    await two.waitFor(1);
    await barrier(anon);
    expect(jsonBodies(one)).toEqual([{ n: 1, destination: '/app/mm/one' }]);
    expect(jsonBodies(two)).toEqual([{ n: 2, destination: '/app/mm/two' }]);
    expect(one.messages[0].headers['destination']).toBe('/topic/mm/one');
    expect(one.messages[0].headers['content-type']).toBe('application/json');
  });

  it('passes template variables through @DestinationVariable, converted by ParseIntPipe', async () => {
    const inbox = await inboxOf(anon, '/topic/room/r1/item/42');
    await sendAndWait(anon, '/app/room/r1/item/42', {});
    const [m] = await inbox.waitFor(1);
    expect(json(m)).toEqual({ room: 'r1', id: 42, idType: 'number', all: { room: 'r1', id: '42' } });
    // The pipe rejects a non-numeric id: the client is told, and no reply is sent.
    const other = await inboxOf(anon, '/topic/room/r1/item/x');
    await sendAndWait(anon, '/app/room/r1/item/x', {});
    const [error] = await anonErrors.waitFor(1);
    expect(anonErrors.messages).toHaveLength(1);
    expect(json(error)).toEqual({
      status: 'error',
      message: 'Validation failed (numeric string is expected)',
      destination: '/app/room/r1/item/x',
    });
    await barrier(anon);
    expect(other.messages).toHaveLength(0);
  });

  it('gives @Header one header (undefined when absent) and @Headers all of them', async () => {
    const tag = unique('h');
    const inbox = await inboxOf(anon, `/topic/headers/${tag}`);
    await sendAndWait(anon, `/app/headers/${tag}`, 'x', { 'x-trace': 't-1', 'x-custom': 'c-2', 'content-type': 'text/plain' });
    const [m] = await inbox.waitFor(1);
    expect(json(m)).toEqual({
      trace: 't-1',
      absent: null,
      destination: `/app/headers/${tag}`,
      custom: 'c-2',
      contentType: 'text/plain',
    });
  });

  it('gives @ConnectedSession the session (id = CONNECTED session header) and @Principal the authenticated user', async () => {
    const tag = unique('who');
    const fromAnn = await inboxOf(ann, `/topic/whoami/${tag}`);
    await sendAndWait(ann, `/app/whoami/${tag}`, {});
    const [m] = await fromAnn.waitFor(1);
    expect(ann.connected.headers['session']).toEqual(expect.any(String));
    expect(json(m)).toEqual({ sessionId: ann.connected.headers['session'], user: 'ann', principal: { name: 'ann' } });

    const tag2 = unique('who');
    const fromAnon = await inboxOf(anon, `/topic/whoami/${tag2}`);
    await sendAndWait(anon, `/app/whoami/${tag2}`, {});
    const [m2] = await fromAnon.waitFor(1);
    expect(anon.connected.headers['session']).not.toBe(ann.connected.headers['session']);
    expect(json(m2)).toEqual({ sessionId: anon.connected.headers['session'], user: null, principal: null });
  });

  it("accepts Nest's own @MessageBody() and @ConnectedSocket()", async () => {
    const tag = unique('nest');
    const inbox = await inboxOf(ann, `/topic/nest-style/${tag}`);
    await sendAndWait(ann, `/app/nest-style/${tag}`, { name: 'Nest' });
    const [m] = await inbox.waitFor(1);
    expect(json(m)).toEqual({ body: { name: 'Nest' }, name: 'Nest', sessionId: ann.connected.headers['session'] });
  });

  it('sends to /topic + the mapped destination without @SendTo, to other clients as well', async () => {
    const x = unique('x');
    const watcher = await inboxOf(ann, `/topic/defaults/${x}`);
    await sendAndWait(anon, `/app/defaults/${x}`, {});
    const [m] = await watcher.waitFor(1);
    expect(m.headers['destination']).toBe(`/topic/defaults/${x}`);
    expect(json(m)).toEqual({ x });
  });

  it('lets a method-level @SendTo override the class-level one', async () => {
    const classLevel = await inboxOf(anon, '/topic/class-level');
    const methodLevel = await inboxOf(anon, '/topic/method-level');
    await sendAndWait(anon, '/app/cls/inherit', '');
    await sendAndWait(anon, '/app/cls/override', '');
    await barrier(anon);
    expect(classLevel.bodies()).toEqual(['inherited']);
    expect(methodLevel.bodies()).toEqual(['overridden']);
  });

  it('fills {room} in @SendTo destinations and sends to each of several destinations', async () => {
    const room = unique('room');
    const inRoom = await inboxOf(anon, `/topic/room-echo/${room}`);
    const all = await inboxOf(anon, '/topic/room-echo-all');
    await sendAndWait(anon, `/app/room-echo/${room}`, 'hi', { 'content-type': 'text/plain' });
    await barrier(anon);
    expect(inRoom.bodies()).toEqual([`${room}:hi`]);
    expect(inRoom.messages[0].headers['content-type']).toBe('text/plain;charset=UTF-8');
    expect(all.bodies()).toEqual([`${room}:hi`]);
  });

  it('sends nothing when the handler returns undefined', async () => {
    const tag = unique('maybe');
    const inbox = await inboxOf(anon, `/topic/maybe/${tag}`);
    await sendAndWait(anon, `/app/maybe/${tag}`, { id: 1, reply: false });
    await sendAndWait(anon, `/app/maybe/${tag}`, { id: 2, reply: true });
    await sendAndWait(anon, `/app/maybe/${tag}`, { id: 3, reply: false });
    await sendAndWait(anon, `/app/maybe/${tag}`, { id: 4, reply: true });
    await barrier(anon);
    expect(jsonBodies(inbox)).toEqual([{ id: 2 }, { id: 4 }]);
  });

  it('sends the resolved value of a Promise', async () => {
    const tag = unique('later');
    const inbox = await inboxOf(anon, `/topic/later/${tag}`);
    await sendAndWait(anon, `/app/later/${tag}`, { n: 21 });
    // The RECEIPT follows the handler's completion, so the reply is already here.
    expect(jsonBodies(inbox)).toEqual([{ doubled: 42 }]);
  });

  it('sends each value of an Observable as one message, in order', async () => {
    const tag = unique('stream');
    const inbox = await inboxOf(anon, `/topic/stream/${tag}`);
    await sendAndWait(anon, `/app/stream/${tag}`, {});
    await inbox.waitFor(3);
    await barrier(anon);
    expect(jsonBodies(inbox)).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);
  });

  describe('payload conversion', () => {
    let inbox: Inbox;
    let tag: string;
    let taken = 0;
    beforeAll(async () => {
      tag = unique('convert');
      inbox = await inboxOf(anon, `/topic/convert/${tag}`);
    });
    /** The next reply not yet looked at. */
    const next = async () => {
      const messages = await inbox.waitFor(++taken);
      return json(messages[taken - 1]);
    };

    it('parses JSON with content-type application/json', async () => {
      await sendAndWait(anon, `/app/convert/${tag}`, '{"a":[1,2]}', { 'content-type': 'application/json;charset=UTF-8' });
      expect(await next()).toEqual({ kind: 'object', value: { a: [1, 2] } });
    });

    it('parses a JSON body that has no content-type', async () => {
      await sendConfirmed(anon.client, `/app/convert/${tag}`, '{"b":true}');
      expect(await next()).toEqual({ kind: 'object', value: { b: true } });
      await sendConfirmed(anon.client, `/app/convert/${tag}`, 'not json');
      expect(await next()).toEqual({ kind: 'string', value: 'not json' });
    });

    it('keeps text/plain as a string, even if it looks like JSON', async () => {
      await sendAndWait(anon, `/app/convert/${tag}`, '{"a":1}', { 'content-type': 'text/plain' });
      expect(await next()).toEqual({ kind: 'string', value: '{"a":1}' });
    });

    it('passes application/octet-stream as a Buffer', async () => {
      const bytes = new Uint8Array([0xff, 0x00, 0x01, 0x80, 0x00, 0xfe, 0x7f]);
      await anon.receipt((receipt) =>
        anon.client.publish({
          destination: `/app/convert/${tag}`,
          binaryBody: bytes,
          headers: { 'content-type': 'application/octet-stream', receipt },
        }),
      );
      expect(await next()).toEqual({ kind: 'buffer', length: 7, first: 0xff, last: 0x7f });
    });

    it('passes a body without content-type that is not UTF-8 as a Buffer', async () => {
      await anon.receipt((receipt) =>
        anon.client.publish({ destination: `/app/convert/${tag}`, binaryBody: new Uint8Array([0xc3, 0x28, 0x00, 0x41]), headers: { receipt } }),
      );
      expect(await next()).toEqual({ kind: 'buffer', length: 4, first: 0xc3, last: 0x41 });
    });

    it('tells the client when a JSON body does not parse', async () => {
      const before = inbox.messages.length;
      const errorsBefore = anonErrors.messages.length;
      await sendAndWait(anon, `/app/convert/${tag}`, '{broken', { 'content-type': 'application/json' });
      const errors = await anonErrors.waitFor(errorsBefore + 1);
      expect(json<{ message: string }>(errors[errorsBefore]).message).toMatch(/^Body is not valid JSON/);
      await barrier(anon);
      expect(inbox.messages).toHaveLength(before);
      expect(running.logs.at('warn').some((l) => l.includes('Body is not valid JSON'))).toBe(true);
    });
  });
});

@Controller()
@MessageMapping('shop')
class DotController {
  @MessageMapping('{item}')
  item(@DestinationVariable('item') item: string) {
    return { item };
  }

  @MessageMapping('chat.{room}')
  @SendTo('/topic/rooms.{room}')
  chat(@DestinationVariable('room') room: string, @Payload() text: string) {
    return { room, text };
  }
}

@Controller()
class DotRootController {
  @MessageMapping('chat.{room}')
  chat(@DestinationVariable('room') room: string) {
    return { room };
  }

  @MessageMapping('news.**')
  news(@Header('destination') destination: string) {
    return { destination };
  }
}

describe('pathSeparator "."', () => {
  let running: RunningApp;
  let client: TestClient;
  beforeAll(async () => {
    running = await startStompApp({ pathSeparator: '.' }, { controllers: [DotController, DotRootController] });
    client = await connectAs(running.url);
  });
  afterAll(async () => {
    await client?.disconnect();
    await running?.close();
  });

  it("maps /app/chat.lobby to @MessageMapping('chat.{room}'), replying to /topic/chat.lobby", async () => {
    const inbox = await inboxOf(client, '/topic/chat.lobby');
    await sendAndWait(client, '/app/chat.lobby', {});
    const [m] = await inbox.waitFor(1);
    expect(m.headers['destination']).toBe('/topic/chat.lobby');
    expect(json(m)).toEqual({ room: 'lobby' });
  });

  it('joins a class-level prefix with "." and fills @SendTo placeholders', async () => {
    const item = await inboxOf(client, '/topic/shop.apple');
    const rooms = await inboxOf(client, '/topic/rooms.kitchen');
    await sendAndWait(client, '/app/shop.apple', {});
    await sendAndWait(client, '/app/shop.chat.kitchen', 'hello', { 'content-type': 'text/plain' });
    await item.waitFor(1);
    await rooms.waitFor(1);
    await barrier(client);
    expect(jsonBodies(item)).toEqual([{ item: 'apple' }]);
    expect(jsonBodies(rooms)).toEqual([{ room: 'kitchen', text: 'hello' }]);
  });

  it('lets "**" span several "."-separated segments', async () => {
    const inbox = await inboxOf(client, '/topic/news.sport.football');
    await sendAndWait(client, '/app/news.sport.football', {});
    const [m] = await inbox.waitFor(1);
    expect(json(m)).toEqual({ destination: '/app/news.sport.football' });
  });
});
