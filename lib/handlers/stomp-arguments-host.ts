import type { ArgumentsHost, ContextType } from '@nestjs/common';

// Nest exports these three shapes from `@nestjs/common/interfaces` only, not from its root.
type WsArgumentsHost = ReturnType<ArgumentsHost['switchToWs']>;
type HttpArgumentsHost = ReturnType<ArgumentsHost['switchToHttp']>;
type RpcArgumentsHost = ReturnType<ArgumentsHost['switchToRpc']>;

/** Handlers run in Nest's WebSocket execution context: `context.getType() === 'ws'`. */
export const STOMP_CONTEXT_TYPE = 'ws';

/**
 * The `ArgumentsHost` a Nest exception filter receives for a STOMP handler. Its arguments are the
 * handler's `[client, payload, context, destination]`, read by position as Nest's own hosts do:
 * `switchToWs()` gives the client, the payload as data and the destination as pattern, so
 * `@nestjs/websockets`' `BaseWsExceptionFilter` works unchanged. `switchToHttp()` and
 * `switchToRpc()` read the same positions (an HTTP-only filter gets no response object and fails,
 * as it would on a gateway).
 */
export class StompArgumentsHost implements ArgumentsHost {
  constructor(private readonly args: unknown[]) {}

  getType<TContext extends string = ContextType>(): TContext {
    return STOMP_CONTEXT_TYPE as TContext;
  }

  getArgs<T extends unknown[] = unknown[]>(): T {
    return this.args as T;
  }

  getArgByIndex<T = unknown>(index: number): T {
    return this.args[index] as T;
  }

  switchToWs(): WsArgumentsHost {
    return {
      getClient: <T>() => this.getArgByIndex<T>(0),
      getData: <T>() => this.getArgByIndex<T>(1),
      getPattern: () => this.getArgByIndex<string>(this.args.length - 1),
    };
  }

  switchToHttp(): HttpArgumentsHost {
    return {
      getRequest: <T>() => this.getArgByIndex<T>(0),
      getResponse: <T>() => this.getArgByIndex<T>(1),
      getNext: <T>() => this.getArgByIndex<T>(2),
    };
  }

  switchToRpc(): RpcArgumentsHost {
    return {
      getData: <T>() => this.getArgByIndex<T>(0),
      getContext: <T>() => this.getArgByIndex<T>(1),
    };
  }
}
