import { afterEach, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { BrokerConnection, type BrokerConnectionOptions } from '../../lib/broker/relay/broker-connection.js';
import { SystemConnection } from '../../lib/broker/relay/system-connection.js';
import type { StompFrame } from '../../lib/protocol/frame.js';
import { StompProtocolError } from '../../lib/protocol/stomp-protocol-error.js';
import { GUARD_MS, withTimeout } from '../support/stomp-client.js';

/** The real RabbitMQ on loopback (STOMP plugin, guest/guest), as CI starts it. */
const RABBIT = { host: '127.0.0.1', port: 61613 };

/** Frames and the close a connection reported, with a way to wait for the next MESSAGE. */
class Recorder {
  readonly frames: StompFrame[] = [];
  closed: Array<StompProtocolError | undefined> = [];
  private waiters: Array<() => void> = [];
  readonly handlers = {
    onFrame: (frame: StompFrame): void => {
      this.frames.push(frame);
      for (const w of this.waiters.splice(0)) w();
    },
    onClose: (error?: StompProtocolError): void => {
      this.closed.push(error);
    },
  };
  async waitForMessages(count: number): Promise<StompFrame[]> {
    const messages = (): StompFrame[] => this.frames.filter((f) => f.command === 'MESSAGE');
    await withTimeout(
      (async () => {
        while (messages().length < count) await new Promise<void>((r) => this.waiters.push(r));
      })(),
      `${count} MESSAGE frames`,
    );
    return messages();
  }
}

function options(recorder: Recorder, extra: Partial<BrokerConnectionOptions> = {}): BrokerConnectionOptions {
  return {
    ...RABBIT,
    login: 'guest',
    passcode: 'guest',
    virtualHost: '/',
    heartbeat: { send: 10_000, receive: 10_000 },
    connectTimeout: GUARD_MS,
    handlers: recorder.handlers,
    ...extra,
  };
}

describe('BrokerConnection against RabbitMQ', () => {
  const open: BrokerConnection[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  const connect = async (recorder: Recorder, extra?: Partial<BrokerConnectionOptions>): Promise<BrokerConnection> => {
    const connection = await BrokerConnection.open(options(recorder, extra));
    open.push(connection);
    return connection;
  };

  it('connects and reports the server, a session id and the negotiated heart-beats', async () => {
    const recorder = new Recorder();
    const connection = await connect(recorder, { heartbeat: { send: 4000, receive: 6000 } });
    expect(connection.server).toMatch(/^RabbitMQ\//);
    expect(connection.sessionId).toEqual(expect.any(String));
    // RabbitMQ answers heart-beat:cy,cx (it honours the client), so max() gives back our offer.
    expect(connection.connectedFrame.headers['heart-beat']).toBe('6000,4000');
    expect(connection.negotiatedHeartbeat).toEqual({ clientToServer: 4000, serverToClient: 6000 });
  });

  it('turns a leg off when we offer 0 for it', async () => {
    const connection = await connect(new Recorder(), { heartbeat: { send: 0, receive: 5000 } });
    expect(connection.negotiatedHeartbeat).toEqual({ clientToServer: 0, serverToClient: 5000 });
  });

  it('round-trips SUBSCRIBE, SEND and MESSAGE, with receipts answered by RabbitMQ', async () => {
    const recorder = new Recorder();
    const connection = await connect(recorder);
    const destination = `/topic/relay-conn-${randomUUID()}`;
    await connection.request('SUBSCRIBE', { id: 'sub-1', destination, ack: 'auto' });
    await connection.request('SEND', { destination, 'content-type': 'text/plain', 'x-tag': 'a:b\\c' }, Buffer.from('héllo'));
    const [message] = await recorder.waitForMessages(1);
    expect(message!.headers['subscription']).toBe('sub-1');
    expect(message!.headers['destination']).toBe(destination);
    // Escaped on the way out, unescaped on the way in: the header arrives as sent.
    expect(message!.headers['x-tag']).toBe('a:b\\c');
    expect(message!.body.toString('utf8')).toBe('héllo');
    // Our own receipts never reach onFrame.
    expect(recorder.frames.map((f) => f.command)).toEqual(['MESSAGE']);
  });

  it('passes a receipt it did not make to onFrame', async () => {
    const recorder = new Recorder();
    const connection = await connect(recorder);
    connection.send('SUBSCRIBE', { id: 's', destination: `/topic/relay-conn-${randomUUID()}`, receipt: 'client-7' });
    await withTimeout(
      (async () => {
        while (recorder.frames.length === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      'RECEIPT',
    );
    expect(recorder.frames[0]).toMatchObject({ command: 'RECEIPT', headers: { 'receipt-id': 'client-7' } });
  });

  it('reports a RabbitMQ ERROR to onFrame, then onClose, and rejects the request that caused it', async () => {
    const recorder = new Recorder();
    const connection = await connect(recorder);
    const error = await connection.request('SUBSCRIBE', { id: 'x', destination: '/nowhere/x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StompProtocolError);
    expect((error as StompProtocolError).code).toBe('BROKER_ERROR');
    expect(recorder.frames.map((f) => f.command)).toEqual(['ERROR']);
    expect(recorder.closed).toHaveLength(1);
    expect(recorder.closed[0]!.code).toBe('BROKER_ERROR');
    // RabbitMQ's message header, then its body's text on one line.
    expect(recorder.frames[0]!.headers['message']).toBe('Unknown destination');
    expect(recorder.closed[0]!.message).toBe(
      "Unknown destination ('/nowhere/x' is not a valid destination. Valid destination types are: " +
        '/temp-queue, /exchange, /topic, /queue, /amq/queue, /reply-queue/.)',
    );
    expect(connection.isOpen).toBe(false);
  });

  it('closes gracefully with DISCONNECT and its receipt, without onClose', async () => {
    const recorder = new Recorder();
    const connection = await BrokerConnection.open(options(recorder));
    await connection.close();
    await connection.close();
    expect(connection.isOpen).toBe(false);
    expect(recorder.closed).toEqual([]);
    expect(connection.send('SEND', { destination: '/topic/x' })).toBe(false);
    await expect(connection.request('SEND', { destination: '/topic/x' })).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' });
  });

  it('rejects a wrong passcode with BROKER_UNAVAILABLE carrying RabbitMQ\'s message', async () => {
    const error = await BrokerConnection.open(options(new Recorder(), { passcode: 'wrong' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StompProtocolError);
    expect((error as StompProtocolError).code).toBe('BROKER_UNAVAILABLE');
    expect((error as StompProtocolError).message).toBe(
      "Broker at 127.0.0.1:61613 refused CONNECT: Bad CONNECT (Access refused for user 'guest')",
    );
  });
});

describe('SystemConnection against RabbitMQ', () => {
  it('makes its system subscriptions, then carries a request() SEND to them', async () => {
    const availability: boolean[] = [];
    const system = new SystemConnection({
      ...RABBIT,
      login: 'guest',
      passcode: 'guest',
      virtualHost: '/',
      heartbeat: { send: 10_000, receive: 10_000 },
      connectTimeout: GUARD_MS,
      onAvailability: (available) => availability.push(available),
    });
    try {
      const destination = `/topic/relay-system-${randomUUID()}`;
      const received: StompFrame[] = [];
      let arrived!: () => void;
      const message = new Promise<void>((resolve) => (arrived = resolve));
      system.subscribe(destination, (frame) => {
        received.push(frame);
        arrived();
      });
      system.start();
      await withTimeout(system.whenAvailable(), 'the system connection');
      expect(system.current?.server).toMatch(/^RabbitMQ\//);
      await system.request('SEND', { destination }, Buffer.from('broadcast'));
      await withTimeout(message, 'the broadcast');
      expect(received.map((f) => [f.headers['subscription'], f.body.toString()])).toEqual([['system-sub-1', 'broadcast']]);
    } finally {
      await system.close();
    }
    expect(availability).toEqual([true, false]);
  });
});
