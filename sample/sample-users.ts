import type { StompConnectDecision, StompConnectRequest } from '../lib/index.js';

/**
 * The sample's log-in rule. `SAMPLE_USERS` lists `name:passcode` pairs, comma-separated
 * (default `guest:guest`): a listed name must give its passcode; any other name of at most
 * {@link MAX_USER_NAME_LENGTH} characters joins freely. The principal is the CONNECT `login`: a
 * CONNECT without one is refused, except on {@link ANONYMOUS_ENDPOINT}, whose front end (Spring's
 * getting-started guide) connects without a login.
 */

/** The endpoint of Spring's getting-started guide: its `app.js` sends CONNECT without a login. */
export const ANONYMOUS_ENDPOINT = '/gs-guide-websocket';

/** Longest user name the sample accepts: names are shown to everyone (chat, presence). */
export const MAX_USER_NAME_LENGTH = 64;
export function parseSampleUsers(spec: string | undefined): Map<string, string> {
  const users = new Map<string, string>();
  for (const entry of (spec ?? 'guest:guest').split(',')) {
    const trimmed = entry.trim();
    if (!trimmed) continue;
    const colon = trimmed.indexOf(':');
    if (colon <= 0) throw new Error(`SAMPLE_USERS: "${trimmed}" is not a name:passcode pair`);
    users.set(trimmed.slice(0, colon), trimmed.slice(colon + 1));
  }
  return users;
}

export function sampleAuthenticator(users: Map<string, string>) {
  return ({ login, passcode, endpoint }: StompConnectRequest): StompConnectDecision => {
    if (login === undefined || login === '') {
      return endpoint === ANONYMOUS_ENDPOINT ? {} : { reject: 'Log in with a name (send a login header in CONNECT)' };
    }
    if (login.length > MAX_USER_NAME_LENGTH) return { reject: `User names are at most ${MAX_USER_NAME_LENGTH} characters` };
    const expected = users.get(login);
    if (expected !== undefined && expected !== passcode) {
      return { reject: `Wrong passcode for user ${login}` };
    }
    return { user: login };
  };
}
