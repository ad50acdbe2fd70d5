import 'reflect-metadata';
import { ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

/** Starts the sample on $PORT (default 8080): STOMP at ws://localhost:$PORT/ws. */
export async function bootstrap(port = Number(process.env.PORT ?? 8080), host = process.env.HOST) {
  const app = await NestFactory.create(AppModule, { logger: ['log', 'warn', 'error'] });
  // One ValidationPipe for HTTP bodies and STOMP payloads alike.
  app.useGlobalPipes(new ValidationPipe());
  app.enableShutdownHooks();
  if (host) await app.listen(port, host);
  else await app.listen(port);
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  bootstrap().then(
    () =>
      console.log(
        `nestjs-stomp sample: STOMP endpoint ws://localhost:${process.env.PORT ?? 8080}/ws (SockJS: http://localhost:${process.env.PORT ?? 8080}/ws), chat page http://localhost:${process.env.PORT ?? 8080}/`,
      ),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
