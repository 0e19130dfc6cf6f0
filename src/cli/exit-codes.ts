import type { ErrorCode } from "../lib/errors.ts";

/** Exit codes, one per class of failure, so scripts can branch without parsing messages. */
export const EXIT = {
  ok: 0,
  /** `status <url>`: no usable tokens. */
  notSignedIn: 1,
  usage: 2,
  /** A sign-in is needed, was denied, timed out or was rejected (state, iss). */
  signIn: 3,
  /** The upstream or authorization server could not be reached. */
  network: 4,
  /** The authorization server (or its metadata) refused or misbehaved. */
  authServer: 5,
  /** The token store could not be read or written. */
  store: 6,
  internal: 70,
} as const;

const BY_CODE: Record<ErrorCode, number> = {
  USAGE: EXIT.usage,
  CONFIG_INVALID: EXIT.usage,
  INVALID_URL: EXIT.usage,
  UNSAFE_URL: EXIT.authServer,
  SIGN_IN_REQUIRED: EXIT.signIn,
  SIGN_IN_TIMEOUT: EXIT.signIn,
  SIGN_IN_DENIED: EXIT.signIn,
  SIGN_IN_IN_PROGRESS: EXIT.signIn,
  STATE_MISMATCH: EXIT.signIn,
  ISSUER_MISMATCH: EXIT.signIn,
  INVALID_GRANT: EXIT.signIn,
  INSUFFICIENT_SCOPE: EXIT.signIn,
  CALLBACK_PORT_IN_USE: EXIT.usage,
  DISCOVERY_FAILED: EXIT.authServer,
  RESOURCE_MISMATCH: EXIT.authServer,
  PKCE_UNSUPPORTED: EXIT.authServer,
  REGISTRATION_FAILED: EXIT.authServer,
  AS_ERROR: EXIT.authServer,
  NETWORK: EXIT.network,
  UPSTREAM_ERROR: EXIT.network,
  UPSTREAM_TIMEOUT: EXIT.network,
  UPSTREAM_SESSION_EXPIRED: EXIT.network,
  PROXY_BUSY: EXIT.network,
  RATE_LIMITED: EXIT.network,
  STORE_ERROR: EXIT.store,
  STORE_CONFLICT: EXIT.store,
  STORE_UNSAFE: EXIT.store,
  STORE_KEY_MISSING: EXIT.store,
  STORE_KEY_WRONG: EXIT.store,
  INTERNAL: EXIT.internal,
};

export function exitCodeFor(code: ErrorCode): number {
  return BY_CODE[code];
}
