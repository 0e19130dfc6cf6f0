/**
 * Who signed in, for display only: read from the id_token's payload, or else from a JWT access token's, without
 * verifying it (it came straight from the token endpoint over TLS; nothing is authorised on the strength of it).
 * Opaque tokens give no account.
 */
export function accountOf(idToken: string | undefined, accessToken?: string): string | undefined {
  return claimOf(idToken) ?? claimOf(accessToken);
}

function claimOf(jwt: string | undefined): string | undefined {
  const payload = jwt?.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    for (const claim of ["email", "preferred_username", "username", "name", "sub"]) {
      const value = claims[claim];
      if (typeof value === "string" && value.length > 0 && value.length < 200) return value;
    }
  } catch {
    // Not a JWT we can read: no account to show.
  }
  return undefined;
}
