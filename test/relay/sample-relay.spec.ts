import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MESSAGE_BROKER, RelayBroker } from '../../lib/index.js';
import { sampleBroker } from '../../sample/sample-broker.js';
import { startSample, type RunningSample } from '../support/sample-app.js';
import { connectClient, Inbox, sendConfirmed, subscribeConfirmed, type TestClient } from '../support/stomp-client.js';

describe('the sample with BROKER=relay', () => {
  let sample: RunningSample;
  let ann: TestClient;
  let bob: TestClient;
  const previous = process.env.BROKER;

  beforeAll(async () => {
    process.env.BROKER = 'relay';
    try {
      sample = await startSample();
    } finally {
      if (previous === undefined) delete process.env.BROKER;
      else process.env.BROKER = previous;
    }
    const relay = sample.app.get<RelayBroker>(MESSAGE_BROKER);
    expect(relay).toBeInstanceOf(RelayBroker);
    await relay.system.whenAvailable();
    ann = await connectClient(sample.url, { connectHeaders: { login: 'ann' } });
    bob = await connectClient(sample.url, { connectHeaders: { login: 'bob' } });
  });
  afterAll(async () => {
    await ann?.disconnect();
    await bob?.disconnect();
    await sample?.close();
  });

  it('answers /app/hello on /topic/greetings through RabbitMQ, as on the simple broker', async () => {
    const greetings = new Inbox();
    await subscribeConfirmed(bob.client, '/topic/greetings', greetings);
    await sendConfirmed(ann.client, '/app/hello', JSON.stringify({ name: 'relay' }), { 'content-type': 'application/json' });
    const [m] = await greetings.waitFor(1);
    expect(m.body).toBe('{"content":"Hello, relay!"}');
  });

  it('answers /app/whoami on the user queue, resolved through the relay', async () => {
    const replies = new Inbox();
    await subscribeConfirmed(ann.client, '/user/queue/whoami', replies);
    await sendConfirmed(ann.client, '/app/whoami', '');
    const [m] = await replies.waitFor(1);
    expect(JSON.parse(m.body)).toEqual({ name: 'ann' });
  });
});

describe('sampleBroker (the sample environment)', () => {
  it('defaults to the simple broker, and reads RELAY_* for the relay with guest/guest and 127.0.0.1:61613 by default', () => {
    expect(sampleBroker({})).toEqual({ kind: 'simple', prefixes: ['/topic', '/queue'] });
    expect(sampleBroker({ BROKER: 'relay' })).toEqual({
      kind: 'relay',
      prefixes: ['/topic', '/queue'],
      host: '127.0.0.1',
      port: 61613,
      clientLogin: 'guest',
      clientPasscode: 'guest',
      systemLogin: 'guest',
      systemPasscode: 'guest',
    });
    expect(sampleBroker({ BROKER: 'relay', RELAY_HOST: '::1', RELAY_PORT: '61614', RELAY_LOGIN: 'u', RELAY_PASSCODE: 'p' })).toMatchObject({
      host: '::1',
      port: 61614,
      clientLogin: 'u',
      systemPasscode: 'p',
    });
    expect(() => sampleBroker({ BROKER: 'kafka' })).toThrow('BROKER must be "simple" or "relay", got "kafka"');
    expect(() => sampleBroker({ BROKER: 'relay', RELAY_PORT: 'x' })).toThrow('RELAY_PORT must be a TCP port, got "x"');
  });
});
