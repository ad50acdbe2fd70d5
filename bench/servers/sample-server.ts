/**
 * The system under test: the sample app (simple broker on /topic and /queue, `/app` application
 * prefix) started through its exported `bootstrap`, exactly as `npm run start:sample` would.
 */
import type { AddressInfo } from 'node:net';
import { bootstrap } from '../../sample/main.js';
import { runServer } from './harness.js';

void runServer(async () => {
  const app = await bootstrap(0, '127.0.0.1');
  const address = app.getHttpServer().address() as AddressInfo;
  return { port: address.port, path: '/ws' };
}).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
