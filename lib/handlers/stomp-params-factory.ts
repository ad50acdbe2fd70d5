import type { ParamData } from '@nestjs/common';
import type { ParamsFactory } from '@nestjs/core';
import { StompMessageContext } from './stomp-message-context.js';

/**
 * Parameter types read through the params factory. The numbers are `@nestjs/websockets`' own,
 * so its `@ConnectedSocket()` and `@MessageBody()` work on STOMP handlers as well.
 */
export enum StompParamtype {
  SESSION = 0,
  PAYLOAD = 3,
}

/** Resolves `@Payload()` / `@MessageBody()` and `@ConnectedSocket()` for the context creator. */
export class StompParamsFactory implements ParamsFactory {
  exchangeKeyForValue(type: number, data: ParamData, args: unknown[]): unknown {
    const context = StompMessageContext.from(args);
    if (!context) return undefined;
    switch (type) {
      case StompParamtype.SESSION:
        return context.session;
      case StompParamtype.PAYLOAD: {
        const payload = context.payload;
        if (typeof data === 'string' && payload !== null && typeof payload === 'object') {
          return (payload as Record<string, unknown>)[data];
        }
        return payload;
      }
      default:
        return undefined;
    }
  }
}
