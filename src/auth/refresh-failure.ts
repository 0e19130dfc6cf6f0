// What a refresh the person asked for (CLI `refresh`) tells them when it could not refresh.

import { ProxyError } from "../lib/errors.ts";
import type { RefreshResult } from "./refresher.ts";

/**
 * The error a forced refresh ends with: undefined when it refreshed or found newer tokens ("refreshed",
 * "replaced"), else what went wrong and which sign-in helps.
 */
export function refreshFailure(result: RefreshResult, serverUrl: string): ProxyError | undefined {
  if (result === "invalid-client") {
    // The refresh token was bound to the forgotten client: only a sign-in (which registers anew) helps.
    return new ProxyError(
      "INVALID_GRANT",
      `The authorization server for ${serverUrl} no longer knows this proxy's client (invalid_client); the stored registration and tokens were removed, so sign in again.`,
      { hint: `Run \`mcp-u2m-proxy auth ${serverUrl}\` to sign in (a new client is registered).` },
    );
  }
  if (result === "no-refresh-token" || result === "invalid-grant") {
    return new ProxyError(
      result === "invalid-grant" ? "INVALID_GRANT" : "SIGN_IN_REQUIRED",
      result === "invalid-grant"
        ? `The authorization server no longer accepts the sign-in for ${serverUrl}; the tokens were removed.`
        : `There is no refresh token for ${serverUrl}.`,
      { hint: `Run \`mcp-u2m-proxy auth ${serverUrl}\` to sign in.` },
    );
  }
  return undefined;
}
