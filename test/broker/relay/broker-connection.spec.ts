import { afterEach, describe, expect, it } from '@jest/globals';
import {
  BrokerConnection,
  negotiateClientHeartbeat,
  type BrokerConnectionOptions,
} from '../../../lib/broker/relay/broker-connection.js';
import type { StompFrame } from '../../../lib/protocol/frame.js';
import { StompProtocolError } from '../../../lib/protocol/stomp-protocol-error.js';
import {
  closedPort,
  FakeStompServer,
  rawFrame,
  wellBehaved,
  type FakeBrokerSocket,
} from '../../support/fake-stomp-server.js';
import { GUARD_MS, withTimeout } from '../../support/stomp-client.js';

/** What the connection reported, in order: frames by command, then the close. */
class Recorder {
  readonly events: string[] = [];
  readonly frames: StompFrame[] = [];
  readonly closes: Array<StompProtocolError | undefined> = [];
  private readonly checks = new Set<() => void>();
  throwOnFrame = false;
  readonly handlers = {
    onFrame: (frame: StompFrame): void => {
      this.frames.push(frame);
      this.events.push(frame.command);
      this.recheck();
      if (this.throwOnFrame) throw new Error('handler bug');
    },
    onClose: (error?: StompProtocolError): void => {
      this.closes.push(error);
      this.events.push(`close:${error?.code}`);
      this.recheck();
    },
  };
  async closed(): Promise<StompProtocolError> {
    await this.until('onClose', () => this.closes.length > 0);
    return this.closes[0]!;
  }
  until(what: string, test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    let check!: () => void;
    const done = new Promise<void>((resolve) => {
      check = () => {
        if (test()) resolve();
      };
      this.checks.add(check);
    });
    return withTimeout(done, what).finally(() => this.checks.delete(check));
  }
  private recheck(): void {
    for (const check of [...this.checks]) check();
  }
}

describe('BrokerConnection (fake STOMP server over TCP)', () => {
  let server: FakeStompServer | undefined;
  const connections: BrokerConnection[] = [];

  afterEach(async () => {
    for (const c of connections.splice(0)) c.destroy();
    await server?.close();
    server = undefined;
  });

  function options(recorder: Recorder, extra: Partial<BrokerConnectionOptions> = {}): BrokerConnectionOptions {
    return {
      host: '127.0.0.1',
      port: server!.port,
      login: 'relay',
      passcode: 'secret',
      heartbeat: { send: 0, receive: 0 },
      connectTimeout: GUARD_MS,
      handlers: recorder.handlers,
      ...extra,
    };
  }

  async function open(
    onConnection: (socket: FakeBrokerSocket) => void,
    extra: Partial<BrokerConnectionOptions> = {},
  ): Promise<{ connection: BrokerConnection; recorder: Recorder; broker: FakeBrokerSocket }> {
    server = await FakeStompServer.start(onConnection);
    const recorder = new Recorder();
    const connection = await BrokerConnection.open(options(recorder, extra));
    connections.push(connection);
    return { connection, recorder, broker: await server.connection(1) };
  }

  async function openFailure(
    onConnection: (socket: FakeBrokerSocket) => void,
    extra: Partial<BrokerConnectionOptions> = {},
  ): Promise<StompProtocolError> {
    server = await FakeStompServer.start(onConnection);
    const error = await BrokerConnection.open(options(new Recorder(), extra)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StompProtocolError);
    return error as StompProtocolError;
  }

  const answerConnect =
    (answer: (socket: FakeBrokerSocket) => void) =>
    (socket: FakeBrokerSocket): void => {
      void socket.frame('CONNECT').then(() => answer(socket));
    };

  describe('open', () => {
    it('sends CONNECT with version, virtual host, credentials, heart-beats and extra headers', async () => {
      const { connection, broker } = await open(wellBehaved('0,0'), {
        virtualHost: 'vh1',
        heartbeat: { send: 1500, receive: 2500 },
        extraConnectHeaders: { 'client-id': 'node-a', login: 'ignored' },
      });
      expect(broker.frames[0]).toEqual({
        command: 'CONNECT',
        headers: {
          'client-id': 'node-a',
          login: 'relay',
          'accept-version': '1.2',
          host: 'vh1',
          passcode: 'secret',
          'heart-beat': '1500,2500',
        },
        body: Buffer.alloc(0),
      });
      expect(connection.server).toBe('Fake/1.0');
      expect(connection.sessionId).toBe('fake-1');
      expect(connection.isOpen).toBe(true);
    });

    it('uses the host as the virtual host by default', async () => {
      const { broker } = await open(wellBehaved());
      expect(broker.frames[0]!.headers['host']).toBe('127.0.0.1');
    });

    it('negotiates each heart-beat leg as the max of what one side offers and the other wants', async () => {
      const { connection } = await open(wellBehaved('300,50'), { heartbeat: { send: 100, receive: 200 } });
      expect(connection.negotiatedHeartbeat).toEqual({ clientToServer: 100, serverToClient: 300 });
    });

    it('turns a leg off when either side says 0, and one Node timers cannot honour', () => {
      expect(negotiateClientHeartbeat({ send: 0, receive: 100 }, '100,100', 2)).toEqual({ clientToServer: 0, serverToClient: 100 });
      expect(negotiateClientHeartbeat({ send: 100, receive: 100 }, '0,100', 2)).toEqual({ clientToServer: 100, serverToClient: 0 });
      expect(negotiateClientHeartbeat({ send: 100, receive: 100 }, undefined, 2)).toEqual({ clientToServer: 0, serverToClient: 0 });
      expect(negotiateClientHeartbeat({ send: 100, receive: 100 }, '2000000000,5', 2)).toEqual({ clientToServer: 100, serverToClient: 0 });
    });

    it('rejects with BROKER_UNAVAILABLE when nothing listens', async () => {
      const port = await closedPort();
      const error = await BrokerConnection.open({
        host: '127.0.0.1',
        port,
        login: 'a',
        passcode: 'b',
        heartbeat: { send: 0, receive: 0 },
        connectTimeout: GUARD_MS,
        handlers: new Recorder().handlers,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StompProtocolError);
      expect(error).toMatchObject({
        code: 'BROKER_UNAVAILABLE',
        message: `Broker at 127.0.0.1:${port} is not reachable (ECONNREFUSED)`,
      });
    });

    it('rejects with the ERROR the broker answers CONNECT with', async () => {
      const error = await openFailure(
        answerConnect((s) => s.send('ERROR', { message: "Access refused for user 'x'" })),
      );
      expect(error.code).toBe('BROKER_UNAVAILABLE');
      expect(error.message).toBe(`Broker at 127.0.0.1:${server!.port} refused CONNECT: Access refused for user 'x'`);
      await (await server!.connection(1)).whenClosed();
    });

    it("adds the ERROR's body to its message header, on one line", async () => {
      const error = await openFailure(
        answerConnect((s) => s.send('ERROR', { message: 'Bad CONNECT', 'content-type': 'text/plain' }, 'Access refused\nfor x\n')),
      );
      expect(error.message).toBe(`Broker at 127.0.0.1:${server!.port} refused CONNECT: Bad CONNECT (Access refused for x)`);
    });

    it('rejects when no CONNECTED comes within connectTimeout, and drops the socket', async () => {
      const error = await openFailure(() => undefined, { connectTimeout: 50 });
      expect(error).toMatchObject({
        code: 'BROKER_UNAVAILABLE',
        message: `Broker at 127.0.0.1:${server!.port} did not answer CONNECT within 50 ms`,
      });
      await (await server!.connection(1)).whenClosed();
    });

    it('rejects when the broker closes the socket before CONNECTED', async () => {
      const error = await openFailure(answerConnect((s) => s.socket.end()));
      expect(error.message).toBe(`Broker at 127.0.0.1:${server!.port} closed the connection before CONNECTED`);
    });

    it('rejects a malformed answer to CONNECT', async () => {
      const error = await openFailure(answerConnect((s) => s.write('CONNECTED\nno colon here\n\n\0')));
      expect(error.code).toBe('BROKER_UNAVAILABLE');
      expect(error.message).toMatch(new RegExp(`^Broker at 127\\.0\\.0\\.1:${server!.port} sent a malformed frame: `));
    });

    it('rejects an answer other than CONNECTED, and an invalid heart-beat', async () => {
      let error = await openFailure(answerConnect((s) => s.send('MESSAGE', { destination: '/x' })));
      expect(error.message).toBe(`Broker at 127.0.0.1:${server!.port} answered CONNECT with MESSAGE instead of CONNECTED`);
      await server!.close();
      error = await openFailure(answerConnect((s) => s.connected('soon')));
      expect(error.message).toMatch(/sent an invalid CONNECTED: Invalid heart-beat header "soon"/);
    });

    it('delivers a frame that came in the same TCP chunk as CONNECTED', async () => {
      const { recorder } = await open(
        answerConnect((s) =>
          s.write(
            Buffer.concat([
              rawFrame('CONNECTED', { version: '1.2' }),
              rawFrame('MESSAGE', { subscription: 's', destination: '/d', 'message-id': '1' }, 'early'),
            ]),
          ),
        ),
      );
      await recorder.until('the early MESSAGE', () => recorder.frames.length === 1);
      expect(recorder.frames[0]!.body.toString()).toBe('early');
    });
  });

  describe('frames and receipts', () => {
    it('encodes what it sends, with escaping and content-length', async () => {
      const { connection, broker } = await open(wellBehaved());
      expect(connection.send('SEND', { destination: '/q/a', 'x-h': 'a:b' }, Buffer.from('body'))).toBe(true);
      const send = await broker.frame('SEND');
      expect(send.headers).toEqual({ destination: '/q/a', 'x-h': 'a\\cb', 'content-length': '4' });
      expect(send.body.toString()).toBe('body');
    });

    it('matches receipts answered out of order, and passes other RECEIPTs and MESSAGEs to onFrame', async () => {
      const { connection, recorder, broker } = await open(answerConnect((s) => s.connected()));
      let settled = 0;
      const first = connection.request('SUBSCRIBE', { id: '1', destination: '/a' }).then(() => settled++);
      const second = connection.request('SUBSCRIBE', { id: '2', destination: '/b' }).then(() => settled++);
      const a = await broker.frame('SUBSCRIBE', 1);
      const b = await broker.frame('SUBSCRIBE', 2);
      expect(a.headers['receipt']).not.toBe(b.headers['receipt']);
      broker.send('RECEIPT', { 'receipt-id': b.headers['receipt']! });
      await second;
      expect(settled).toBe(1);
      broker.send('RECEIPT', { 'receipt-id': 'client-42' });
      broker.send('MESSAGE', { subscription: '1', destination: '/a', 'message-id': 'm1' }, 'hi');
      broker.send('RECEIPT', { 'receipt-id': a.headers['receipt']! });
      await first;
      expect(settled).toBe(2);
      await recorder.until('two frames', () => recorder.frames.length === 2);
      expect(recorder.events).toEqual(['RECEIPT', 'MESSAGE']);
      expect(recorder.frames[0]!.headers['receipt-id']).toBe('client-42');
    });

    it('rejects a request whose RECEIPT does not come in time, and the one beyond maxPendingReceipts', async () => {
      const { connection, broker } = await open(answerConnect((s) => s.connected()), { maxPendingReceipts: 2 });
      const slow = connection.request('BEGIN', { transaction: 't1' }, undefined, 30);
      const kept = connection.request('BEGIN', { transaction: 't2' });
      await expect(connection.request('BEGIN', { transaction: 't3' })).rejects.toMatchObject({
        code: 'TOO_MANY_PENDING_RECEIPTS',
        message: `2 receipts from the broker at 127.0.0.1:${server!.port} are already awaited (maxPendingReceipts)`,
      });
      await expect(slow).rejects.toMatchObject({
        code: 'RECEIPT_TIMEOUT',
        message: `No RECEIPT for BEGIN from the broker at 127.0.0.1:${server!.port} within 30 ms`,
      });
      // The refused one was never sent; the timed-out one freed its place.
      const third = connection.request('BEGIN', { transaction: 't4' });
      const sent = await broker.frame('BEGIN', 3);
      expect(broker.frames.filter((f) => f.command === 'BEGIN').map((f) => f.headers['transaction'])).toEqual(['t1', 't2', 't4']);
      broker.send('RECEIPT', { 'receipt-id': sent.headers['receipt']! });
      broker.send('RECEIPT', { 'receipt-id': (await broker.frame('BEGIN', 2)).headers['receipt']! });
      await Promise.all([third, kept]);
    });

    it('on ERROR: rejects the request it answers, calls onFrame(ERROR) then onClose(BROKER_ERROR) once', async () => {
      const { connection, recorder, broker } = await open(answerConnect((s) => s.connected()));
      const refused = connection.request('SUBSCRIBE', { id: '1', destination: '/forbidden' });
      const other = connection.request('SUBSCRIBE', { id: '2', destination: '/fine' });
      const sub = await broker.frame('SUBSCRIBE');
      broker.send('ERROR', { message: 'Access refused', 'receipt-id': sub.headers['receipt']! }, 'no /forbidden for you');
      await expect(refused).rejects.toMatchObject({ code: 'BROKER_ERROR', message: 'Access refused (no /forbidden for you)' });
      await expect(other).rejects.toMatchObject({ code: 'BROKER_ERROR' });
      expect(recorder.events).toEqual(['ERROR', 'close:BROKER_ERROR']);
      expect(recorder.closes[0]!.message).toBe('Access refused (no /forbidden for you)');
      expect(connection.isOpen).toBe(false);
      expect(connection.send('SEND', { destination: '/x' })).toBe(false);
      await broker.whenClosed();
    });
  });

  describe('the connection ending', () => {
    it('reports the broker closing the socket once, and rejects what was pending', async () => {
      const { connection, recorder, broker } = await open(answerConnect((s) => s.connected()));
      const pending = connection.request('SEND', { destination: '/x' });
      await broker.frame('SEND');
      broker.socket.end();
      const error = await recorder.closed();
      expect(error).toMatchObject({
        code: 'BROKER_UNAVAILABLE',
        message: `Broker at 127.0.0.1:${server!.port} closed the connection`,
      });
      await expect(pending).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' });
      await expect(connection.request('SEND', { destination: '/x' })).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' });
      await connection.close();
      expect(recorder.closes).toHaveLength(1);
    });

    it('closes on a malformed frame from the broker, with a BROKER_PROTOCOL_ERROR', async () => {
      const { recorder, broker } = await open(answerConnect((s) => s.connected()));
      broker.write('MESSAGE\nsubscription:1\nbroken header line\n\n\0');
      const error = await recorder.closed();
      expect(error.code).toBe('BROKER_PROTOCOL_ERROR');
      expect(error.message).toMatch(new RegExp(`^Broker at 127\\.0\\.0\\.1:${server!.port} sent a malformed frame: `));
      expect(recorder.frames).toEqual([]);
      await broker.whenClosed();
    });

    it('closes on a frame over its limits', async () => {
      const { recorder, broker } = await open(answerConnect((s) => s.connected()), { limits: { maxBodyLength: 8 } });
      broker.send('MESSAGE', { subscription: '1', destination: '/d', 'message-id': '1' }, 'x'.repeat(9));
      const error = await recorder.closed();
      expect(error.code).toBe('BROKER_PROTOCOL_ERROR');
      expect(error.message).toMatch(/exceeds the limit of 8 bytes \(limits\.maxBodyLength\)$/);
    });

    it('closes on a frame a broker must not send after CONNECTED', async () => {
      const { recorder, broker } = await open(answerConnect((s) => s.connected()));
      broker.send('CONNECTED', { version: '1.2' });
      expect(await recorder.closed()).toMatchObject({
        code: 'BROKER_PROTOCOL_ERROR',
        message: `Broker at 127.0.0.1:${server!.port} sent an unexpected CONNECTED frame`,
      });
    });

    it('closes when onFrame throws, without the error escaping the socket event', async () => {
      const { recorder, broker } = await open(answerConnect((s) => s.connected()));
      recorder.throwOnFrame = true;
      broker.send('MESSAGE', { subscription: '1', destination: '/d', 'message-id': '1' });
      expect(await recorder.closed()).toMatchObject({ code: 'INTERNAL_ERROR', message: 'onFrame failed: handler bug' });
    });
  });

  describe('heart-beats', () => {
    it('sends an EOL while it has nothing else to send', async () => {
      const { broker } = await open(wellBehaved('0,20'), { heartbeat: { send: 20, receive: 0 } });
      await broker.until('3 heart-beats', () => broker.heartbeats >= 3);
    });

    it('closes when the broker is silent for tolerance × its interval', async () => {
      const { recorder, broker } = await open(wellBehaved('20,0'), { heartbeat: { send: 0, receive: 20 } });
      const error = await recorder.closed();
      expect(error).toMatchObject({ code: 'HEARTBEAT_TIMEOUT', message: 'Broker heart-beat missed: no data for 40 ms' });
      await broker.whenClosed();
    });

    it('stays open while the broker beats', async () => {
      const { connection, recorder, broker } = await open(wellBehaved('20,0'), {
        heartbeat: { send: 0, receive: 20 },
        heartbeatTolerance: 3,
      });
      // 20 beats, one every 10 ms, span several check windows of 60 ms.
      let beats = 0;
      let timer: NodeJS.Timeout | undefined;
      const done = new Promise<void>((resolve) => {
        timer = setInterval(() => {
          broker.write('\n');
          if (++beats === 20) resolve();
        }, 10);
      });
      try {
        await withTimeout(done, '20 beats sent');
      } finally {
        clearInterval(timer);
      }
      expect(recorder.closes).toEqual([]);
      expect(connection.isOpen).toBe(true);
    });
  });

  describe('back-pressure', () => {
    it('returns false above the high-water mark and drained() resolves once the broker reads again', async () => {
      const { connection, broker } = await open(wellBehaved(), { writableHighWaterMark: 1024 });
      broker.socket.pause();
      const body = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      let accepted = true;
      while (accepted && sent < 2000) {
        accepted = connection.send('SEND', { destination: '/q' }, body);
        sent++;
      }
      expect(accepted).toBe(false);
      expect(connection.writableLength).toBeGreaterThan(1024);
      const drained = connection.drained();
      broker.socket.resume();
      await withTimeout(drained, 'drain');
      await broker.until(`${sent} SEND frames`, () => broker.frames.filter((f) => f.command === 'SEND').length === sent);
      expect(broker.frames.filter((f) => f.command === 'SEND').every((f) => f.body.length === body.length)).toBe(true);
    });
  });

  describe('close', () => {
    it('sends DISCONNECT with a receipt, waits for it, ends the socket; idempotent; no onClose', async () => {
      const { connection, recorder, broker } = await open(wellBehaved());
      const closing = connection.close();
      expect(connection.close()).toBe(closing);
      await closing;
      const disconnect = await broker.frame('DISCONNECT');
      expect(disconnect.headers['receipt']).toMatch(/^relay-receipt-\d+$/);
      await broker.whenClosed();
      expect(recorder.closes).toEqual([]);
      expect(connection.send('SEND', { destination: '/x' })).toBe(false);
    });

    it('does not wait longer than closeTimeout for a broker that never answers DISCONNECT', async () => {
      const { connection, broker } = await open(answerConnect((s) => s.connected()), { closeTimeout: 30 });
      const pending = connection.request('SEND', { destination: '/x' }).catch((e: unknown) => e);
      await connection.close();
      expect(await pending).toMatchObject({ code: 'BROKER_UNAVAILABLE' });
      await broker.whenClosed();
    });

    it('finishes closing when the broker closes on DISCONNECT without a RECEIPT', async () => {
      const { connection, recorder } = await open(
        answerConnect(async (s) => {
          s.connected();
          await s.frame('DISCONNECT');
          s.socket.end();
        }),
        { closeTimeout: 60 * GUARD_MS },
      );
      // Resolves on the socket's close, long before closeTimeout (the test's own timeout is below it).
      await withTimeout(connection.close(), 'close()');
      expect(recorder.closes).toEqual([]);
    });

    it('destroy() drops the socket at once and rejects pending requests', async () => {
      const { connection, recorder, broker } = await open(answerConnect((s) => s.connected()));
      const pending = connection.request('SEND', { destination: '/x' });
      connection.destroy();
      await expect(pending).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' });
      await broker.whenClosed();
      expect(recorder.closes).toEqual([]);
    });
  });
});
