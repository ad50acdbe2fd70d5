/**
 * The authenticated user of a session (Spring's `java.security.Principal`, with the claims an
 * application attaches, as Spring Security's `Authentication` carries authorities): `name` is
 * what user destinations, the user registry and CONNECTED's `user-name` header use; every other
 * property is the application's (roles, tenant, token expiry, …) and is never sent to the client.
 *
 * Named by `authenticate` / a `StompAuthenticator` (`{ user: 'ann' }` or `{ user: { name: 'ann',
 * roles: ['admin'] } }`), or by a CONNECT interceptor (`context.connect.setUser(...)`). Read with
 * `@Principal()` in handlers and `session.principal` everywhere a session is seen.
 */
export interface StompPrincipal {
  readonly name: string;
  readonly [claim: string]: unknown;
}
