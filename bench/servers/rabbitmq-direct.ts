/**
 * The relay scenario's baseline: no server of ours at all. This stub only reports RabbitMQ's
 * Web-STOMP endpoint (ws://127.0.0.1:15674/ws, `RABBITMQ_WS_PORT` overrides the port) as its
 * address, so the runner drives the load generator straight at RabbitMQ with the same harness as
 * every other server. Its own CPU (≈ 0) is what the runner reads as "server CPU": RabbitMQ's is not
 * measured, in either column.
 */
import { runServer } from './harness.js';

void runServer(() => Promise.resolve({ port: Number(process.env.RABBITMQ_WS_PORT ?? 15674), path: '/ws' })).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
