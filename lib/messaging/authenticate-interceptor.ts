import type { StompFrame } from '../protocol/frame.js';
import { StompProtocolError } from '../protocol/stomp-protocol-error.js';
import type { StompConnectDecision, StompConnectRequest } from '../module/stomp-options.js';
import type { ChannelInterceptorContext, StompChannelInterceptor } from './channel-interceptor.js';
import { principalOf } from '../transport/stomp-session.js';


type ConnectContext = NonNullable<ChannelInterceptorContext['connect']>;
type Authenticate = (request: StompConnectRequest) => StompConnectDecision | Promise<StompConnectDecision>;

function rejected(err: unknown): StompProtocolError {
  return new StompProtocolError('CONNECT_REJECTED', err instanceof Error ? err.message : String(err));
}

/**
 * The `authenticate` option as the first `clientInbound` interceptor (Spring authenticates in a
 * CONNECT `ChannelInterceptor` too). On CONNECT and STOMP frames only, it calls `authenticate`
 * with the session id, the CONNECT headers as sent, `login`, `passcode` and the HTTP upgrade
 * request, and names the principal with `context.connect.setUser`:
 * - `{ user }` names the user, `{}` (or `undefined`) leaves the session anonymous;
 * - `{ reject }`, a throw or a rejected Promise throws `StompProtocolError('CONNECT_REJECTED')`
 *   with that message (the session answers ERROR and closes with 1008);
 * - `{ user, attributes }`: `user` is a name or `{ name, ...claims }`; `attributes` are copied
 *   into the session's attributes;
 * - a user name that is not a string or holds CR, LF or NUL throws `INVALID_USER_NAME`, with a
 *   warning naming the value (CONNECTED could not carry it).
 * A synchronous decision stays synchronous: only a Promise holds the session's next frames.
 */
export class AuthenticateInterceptor implements StompChannelInterceptor {
  constructor(private readonly authenticate: Authenticate) {}

  preSend(frame: StompFrame, context: ChannelInterceptorContext): undefined | Promise<undefined> {
    if (frame.command !== 'CONNECT' && frame.command !== 'STOMP') return undefined;
    const connect = context.connect;
    if (connect === undefined) {
      throw new Error('AuthenticateInterceptor: a CONNECT on clientInbound came without context.connect');
    }
    const headers = frame.headers;
    const sessionId = context.session?.id ?? '';
    let decision: StompConnectDecision | Promise<StompConnectDecision>;
    try {
      decision = this.authenticate({
        sessionId,
        headers,
        login: headers['login'],
        passcode: headers['passcode'],
        request: connect.request,
      });
    } catch (err) {
      throw rejected(err);
    }
    if (!(decision instanceof Promise)) {
      this.decided(decision, sessionId, connect);
      return undefined;
    }
    return decision.then(
      (d) => {
        this.decided(d, sessionId, connect);
        return undefined;
      },
      (err: unknown) => {
        throw rejected(err);
      },
    );
  }

  private decided(decision: StompConnectDecision | undefined, sessionId: string, connect: ConnectContext): void {
    if (decision?.reject !== undefined) throw new StompProtocolError('CONNECT_REJECTED', decision.reject);
    const user: unknown = decision?.user;
    // Checked here too, before setUser, so the warning names `authenticate` as the source.
    if (user !== undefined) connect.setUser(principalOf(user, sessionId, 'authenticate'));
    const attributes = decision?.attributes;
    if (attributes !== undefined) for (const key of Object.keys(attributes)) connect.attributes.set(key, attributes[key]);
  }
}
