import { SUPPORTED_VERSIONS, type StompVersion } from './frame.js';
import { StompProtocolError } from './stomp-protocol-error.js';

/**
 * Picks the STOMP version for a session from CONNECT's `accept-version` and the WebSocket
 * sub-protocol agreed at the handshake (`v12.stomp` → 1.2, if any).
 *
 * - With `accept-version`: the sub-protocol's version if the client also lists it, otherwise the
 *   highest version both sides support; none in common is an error that lists ours.
 * - Without it (a 1.0 client): the sub-protocol's version if there was one, otherwise 1.0.
 */
export function negotiateVersion(
  acceptVersion: string | undefined,
  subprotocolVersion: StompVersion | undefined,
): StompVersion {
  if (acceptVersion === undefined) return subprotocolVersion ?? '1.0';
  const offered = new Set(acceptVersion.split(',').map((v) => v.trim()));
  if (subprotocolVersion !== undefined && offered.has(subprotocolVersion)) return subprotocolVersion;
  for (let i = SUPPORTED_VERSIONS.length - 1; i >= 0; i--) {
    if (offered.has(SUPPORTED_VERSIONS[i])) return SUPPORTED_VERSIONS[i];
  }
  throw new StompProtocolError(
    'UNSUPPORTED_VERSION',
    `Supported protocol versions are ${SUPPORTED_VERSIONS.join(' ')}`,
    { version: SUPPORTED_VERSIONS.join(',') },
  );
}
