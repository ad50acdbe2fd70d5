// Compiled by `npm run typecheck` (tsconfig.types.json) against the built declarations in dist/lib,
// with skipLibCheck off: what an application that type-checks its libraries sees. CI runs it on
// Nest 12 and on Nest 11.
import type { StompSessionInfo } from '../../dist/lib/index.js';
import {
  ConnectedSession,
  DestinationVariable,
  Header,
  Headers,
  MessageException,
  Payload,
  Principal,
  StompChannelInterceptor,
  StompModule,
} from '../../dist/lib/index.js';

export const decorators: ParameterDecorator[] = [
  Header('x-reason'),
  Headers(),
  DestinationVariable('room'),
  DestinationVariable(),
  ConnectedSession(),
  Principal(),
  MessageException(),
  Payload(),
];

@StompChannelInterceptor('clientInbound')
export class Audit implements StompChannelInterceptor {
  preSend(): undefined {
    return undefined;
  }
}

export const module = StompModule.forRoot({ endpoints: [{ path: '/ws' }], interceptors: { clientInbound: [Audit] } });
export type Seen = StompSessionInfo['handshake']['transport'];
