import { Client } from '@stomp/stompjs';
import SockJS from 'sockjs-client';
import { startSample, type RunningSample } from '../support/sample-app.js';

describe('smoke', () => {
  let sample: RunningSample;
  beforeAll(async () => (sample = await startSample()));
  afterAll(async () => sample.close());

  for (const transport of ['websocket', 'xhr-streaming', 'xhr-polling']) {
    it(transport, async () => {
      const client = new Client({ webSocketFactory: () => new SockJS(`${sample.httpUrl}/ws`, null, { transports: [transport] }), reconnectDelay: 0 });
      const got = new Promise<string>((resolve) => {
        client.onConnect = () => {
          client.subscribe('/topic/greetings', (m) => resolve(m.body));
          client.publish({ destination: '/app/hello', body: JSON.stringify({ name: 'Ada' }) });
        };
      });
      client.activate();
      expect(await got).toContain('Ada');
      await client.deactivate();
    });
  }
});
