import type { StompConnectDecision, StompConnectRequest } from '../lib/index.js';

/**
 * The sample's log-in rule. `SAMPLE_USERS` lists `name:passcode` pairs, comma-separated
 * (default `guest:guest`): a listed name must give its passcode; any other name joins freely,
 * and a client that gives no login joins anonymously.
 */
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
  return ({ login, passcode }: StompConnectRequest): StompConnectDecision => {
    if (login === undefined || login === '') return {};
    const expected = users.get(login);
    if (expected !== undefined && expected !== passcode) {
      return { reject: `Wrong passcode for user ${login}` };
    }
    return { user: login };
  };
}
