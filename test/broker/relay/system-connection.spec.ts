import { afterEach, describe, expect, it } from '@jest/globals';
import { SystemConnection, type SystemConnectionOptions } from '../../../lib/broker/relay/system-connection.js';
import type { StompFrame } from '../../../lib/protocol/frame.js';
import { StompProtocolError } from '../../../lib/protocol/stomp-protocol-error.js';
import { closedPort, FakeStompServer, wellBehaved, type FakeBrokerSocket } from '../../support/fake-stomp-server.js';
import { GUARD_MS, withTimeout } from '../../support/stomp-client.js';

/** Everything a SystemConnection reported, in order, with a way to wait for a count of it. */
class Reports {
  readonly log: string[] = [];
  readonly failures: Array<{ error: StompProtocolError; attempt: number; retryInMs: number }> = [];
  readonly causes: Array<StompProtocolError | undefined> = [];
  private readonly checks = new Set<() => void>();
  readonly callbacks: Pick<SystemConnectionOptions, 'onAvailability' | 'onConnectFailed' | 'onFrame' | 'onMessageError'> = {
    onAvailability: (available, cause) => {
      this.causes.push(cause);
      this.push(available ? 'available' : 'unavailable');
    },
    onConnectFailed: (error, attempt, retryInMs) => {
      this.failures.push({ error, attempt, retryInMs });
      this.push(`failed:${attempt}`);
    },
    onFrame: (frame) => this.push(`frame:${frame.command}`),
    onMessageError: (error) => this.push(`message-error:${(error as Error).message}`),
  };
  push(entry: string): void {
    this.log.push(entry);
    for (const check of [...this.checks]) check();
  }
  count(entry: string): number {
    return this.log.filter((e) => e === entry).length;
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
  /** Waits until `entry` was reported `n` times. */
  times(entry: string, n: number): Promise<void> {
    return this.until(`${n} × ${entry}`, () => this.count(entry) >= n);
  }
}

describe('SystemConnection (fake STOMP server over TCP)', () => {
  let server: FakeStompServer | undefined;
  let system: SystemConnection | undefined;

  afterEach(async () => {
    await system?.close();
    system = undefined;
    await server?.close();
    server = undefined;
  });

  function create(reports: Reports, port: number, extra: Partial<SystemConnectionOptions> = {}): SystemConnection {
    system = new SystemConnection({
      host: '127.0.0.1',
      port,
      login: 'system',
      passcode: 'system-secret',
      heartbeat: { send: 0, receive: 0 },
      connectTimeout: GUARD_MS,
      reconnect: { initialDelay: 5, maxDelay: 20, multiplier: 2, jitter: 0 },
      ...reports.callbacks,
      ...extra,
    });
    return system;
  }

  it('connects with the system login and reports available once', async () => {
    server = await FakeStompServer.start(wellBehaved());
    const reports = new Reports();
    const connection = create(reports, server.port);
    expect(connection.available).toBe(false);
    connection.start();
    connection.start();
    await connection.whenAvailable();
    expect(connection.available).toBe(true);
    expect(connection.current?.server).toBe('Fake/1.0');
    expect(reports.log).toEqual(['available']);
    const broker = await server.connection(1);
    expect(broker.frames[0]!.headers).toMatchObject({ login: 'system', passcode: 'system-secret' });
    expect(server.sockets).toHaveLength(1);
  });

  it('reconnects after the broker drops it, reporting unavailable then available again', async () => {
    server = await FakeStompServer.start(wellBehaved());
    const reports = new Reports();
    const connection = create(reports, server.port);
    connection.start();
    await reports.times('available', 1);
    (await server.connection(1)).socket.destroy();
    await reports.times('available', 2);
    expect(reports.log).toEqual(['available', 'unavailable', 'available']);
    expect(reports.causes[1]).toMatchObject({
      code: 'BROKER_UNAVAILABLE',
      message: `Broker at 127.0.0.1:${server.port} closed the connection`,
    });
    expect(server.sockets).toHaveLength(2);
    expect(connection.available).toBe(true);
  });

  it('backs off exponentially (capped) while the broker refuses, then recovers', async () => {
    // The first four attempts are refused with an ERROR, the fifth is accepted.
    server = await FakeStompServer.start((socket, index) => {
      if (index < 4) void socket.frame('CONNECT').then(() => socket.send('ERROR', { message: 'Not yet' }));
      else wellBehaved()(socket);
    });
    const reports = new Reports();
    const connection = create(reports, server.port);
    connection.start();
    await reports.times('available', 1);
    expect(reports.log).toEqual(['failed:1', 'failed:2', 'failed:3', 'failed:4', 'available']);
    expect(reports.failures.map((f) => f.retryInMs)).toEqual([5, 10, 20, 20]);
    expect(reports.failures[0]!.error).toMatchObject({
      code: 'BROKER_UNAVAILABLE',
      message: `Broker at 127.0.0.1:${server.port} refused CONNECT: Not yet`,
    });
    expect(server.sockets).toHaveLength(5);
    expect(connection.failedAttempts).toBe(0);
  });

  it('takes jitter off the delays, never adding to them', async () => {
    const port = await closedPort();
    const reports = new Reports();
    const connection = create(reports, port, { reconnect: { initialDelay: 10, maxDelay: 40, multiplier: 2, jitter: 0.5 } });
    connection.start();
    await reports.times('failed:4', 1);
    await connection.close();
    const exact = [10, 20, 40, 40];
    reports.failures.slice(0, 4).forEach((f, i) => {
      expect(f.retryInMs).toBeLessThanOrEqual(exact[i]!);
      expect(f.retryInMs).toBeGreaterThanOrEqual(exact[i]! / 2);
    });
  });

  it('fails sends and requests at once while the broker is down, naming the cause', async () => {
    const port = await closedPort();
    const reports = new Reports();
    const connection = create(reports, port, { reconnect: { initialDelay: 1000, maxDelay: 1000, multiplier: 1, jitter: 0 } });
    expect(() => connection.send('SEND', { destination: '/topic/a' })).toThrow(
      new StompProtocolError('BROKER_UNAVAILABLE', 'The message broker is not available'),
    );
    connection.start();
    await reports.times('failed:1', 1);
    const expected = `The message broker is not available: Broker at 127.0.0.1:${port} is not reachable (ECONNREFUSED)`;
    let thrown: unknown;
    try {
      connection.send('SEND', { destination: '/topic/a' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(StompProtocolError);
    expect(thrown).toMatchObject({ code: 'BROKER_UNAVAILABLE', message: expected });
    await expect(connection.request('SEND', { destination: '/topic/a' })).rejects.toMatchObject({
      code: 'BROKER_UNAVAILABLE',
      message: expected,
    });
    expect(reports.log).toEqual(['failed:1']);
  });

  it('sends and requests on the connection while available', async () => {
    server = await FakeStompServer.start(wellBehaved());
    const reports = new Reports();
    const connection = create(reports, server.port);
    connection.start();
    await connection.whenAvailable();
    expect(connection.send('SEND', { destination: '/topic/a' }, Buffer.from('one'))).toBe(true);
    await connection.request('SEND', { destination: '/topic/a' }, Buffer.from('two'));
    const broker = await server.connection(1);
    expect(broker.frames.filter((f) => f.command === 'SEND').map((f) => f.body.toString())).toEqual(['one', 'two']);
  });

  it('re-makes system subscriptions on every connection before reporting available', async () => {
    server = await FakeStompServer.start(wellBehaved());
    const reports = new Reports();
    const connection = create(reports, server.port);
    const received: StompFrame[] = [];
    const before = connection.subscribe('/topic/broadcast', (frame) => {
      received.push(frame);
      reports.push('message');
    });
    const extra = connection.subscribe('/topic/other', () => undefined, { 'x-queue-name': 'q1', ack: 'client' });
    expect([before.id, extra.id]).toEqual(['system-sub-1', 'system-sub-2']);
    connection.start();
    await reports.times('available', 1);
    const first = await server.connection(1);
    expect(first.frames.filter((f) => f.command === 'SUBSCRIBE').map((f) => f.headers)).toEqual([
      { ack: 'auto', id: 'system-sub-1', destination: '/topic/broadcast', receipt: expect.stringMatching(/^relay-receipt-/) },
      { ack: 'client', 'x-queue-name': 'q1', id: 'system-sub-2', destination: '/topic/other', receipt: expect.stringMatching(/^relay-receipt-/) },
    ]);

    // One made while connected is sent at once; an unsubscribed one is not made again.
    const late = connection.subscribe('/topic/late', () => undefined);
    await first.frame('SUBSCRIBE', 3);
    extra.unsubscribe();
    extra.unsubscribe();
    expect((await first.frame('UNSUBSCRIBE')).headers).toEqual({ id: 'system-sub-2' });

    first.send('MESSAGE', { subscription: 'system-sub-1', destination: '/topic/broadcast', 'message-id': '1' }, 'hello');
    await reports.until('MESSAGE', () => received.length === 1);
    expect(received[0]!.body.toString()).toBe('hello');

    first.socket.destroy();
    await reports.times('available', 2);
    const second = await server.connection(2);
    expect(second.frames.filter((f) => f.command === 'SUBSCRIBE').map((f) => f.headers['destination'])).toEqual([
      '/topic/broadcast',
      '/topic/late',
    ]);
    expect(late.id).toBe('system-sub-3');
    second.send('MESSAGE', { subscription: 'system-sub-1', destination: '/topic/broadcast', 'message-id': '2' }, 'again');
    await reports.until('second MESSAGE', () => received.length === 2);
    expect(received[1]!.body.toString()).toBe('again');
  });

  it('holds availability until the subscriptions are confirmed, and retries when one is refused', async () => {
    // The first connection refuses the SUBSCRIBE with an ERROR; the second confirms it.
    server = await FakeStompServer.start((socket, index) => {
      if (index > 0) return wellBehaved()(socket);
      void socket.frame('CONNECT').then(async () => {
        socket.connected();
        const sub = await socket.frame('SUBSCRIBE');
        socket.send('ERROR', { message: 'Access refused', 'receipt-id': sub.headers['receipt']! });
      });
    });
    const reports = new Reports();
    const connection = create(reports, server.port);
    connection.subscribe('/topic/broadcast', () => undefined);
    connection.start();
    await reports.times('available', 1);
    expect(reports.log).toEqual(['frame:ERROR', 'failed:1', 'available']);
    expect(reports.failures[0]!.error).toMatchObject({ code: 'BROKER_ERROR', message: 'Access refused' });
    expect(server.sockets).toHaveLength(2);
  });

  it('reports a throwing subscriber and keeps the connection', async () => {
    server = await FakeStompServer.start(wellBehaved());
    const reports = new Reports();
    const connection = create(reports, server.port);
    connection.subscribe('/topic/b', () => {
      throw new Error('subscriber bug');
    });
    connection.start();
    await reports.times('available', 1);
    const broker = await server.connection(1);
    broker.send('MESSAGE', { subscription: 'system-sub-1', destination: '/topic/b', 'message-id': '1' });
    await reports.times('message-error:subscriber bug', 1);
    expect(connection.available).toBe(true);
  });

  it('close() reports unavailable, stops reconnecting and rejects whenAvailable', async () => {
    server = await FakeStompServer.start(wellBehaved());
    const reports = new Reports();
    const connection = create(reports, server.port);
    connection.start();
    await reports.times('available', 1);
    await connection.close();
    expect(reports.log).toEqual(['available', 'unavailable']);
    expect(reports.causes[1]).toBeUndefined();
    const broker = await server.connection(1);
    await broker.frame('DISCONNECT');
    await broker.whenClosed();
    await expect(connection.whenAvailable()).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' });
    expect(() => connection.send('SEND', { destination: '/x' })).toThrow(StompProtocolError);
    // A later start() does nothing: the server sees no new connection.
    connection.start();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(server.sockets).toHaveLength(1);
  });

  it('close() while waiting to retry stops the retries', async () => {
    const port = await closedPort();
    const reports = new Reports();
    const connection = create(reports, port, { reconnect: { initialDelay: 5, maxDelay: 5, multiplier: 1, jitter: 0 } });
    connection.start();
    await reports.times('failed:2', 1);
    await connection.close();
    const attempts = reports.failures.length;
    // Several retry delays pass without another attempt.
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(reports.failures).toHaveLength(attempts);
    expect(reports.log).not.toContain('unavailable');
  });

  it('reconnects when the broker stops heart-beating', async () => {
    let connections = 0;
    server = await FakeStompServer.start((socket: FakeBrokerSocket) => {
      connections++;
      wellBehaved('20,0')(socket);
    });
    const reports = new Reports();
    const connection = create(reports, server.port, { heartbeat: { send: 0, receive: 20 } });
    connection.start();
    await reports.times('available', 2);
    expect(reports.causes[1]).toMatchObject({ code: 'HEARTBEAT_TIMEOUT', message: 'Broker heart-beat missed: no data for 40 ms' });
    expect(connections).toBeGreaterThanOrEqual(2);
  });
});
