/**
 * Who signed in, for display only: read from the id_token's payload, or else from a JWT access token's, without
 * verifying it (it came straight from the token endpoint over TLS; nothing is authorised on the strength of it).
 * Opaque tokens give no account.
 */
export function accountOf(idToken: string | undefined, accessToken?: string): string | undefined {
  return claimOf(idToken) ?? claimOf(accessToken);
}

function claimOf(jwt: string | undefined): string | undefined {
  const claims = jwtClaims(jwt);
  for (const claim of ["email", "preferred_username", "username", "name", "sub"]) {
    const value = claims?.[claim];
    if (typeof value === "string" && value.length > 0 && value.length < 200) return value;
  }
  return undefined;
}

/** A JWT's payload claims, read without verifying; undefined for anything that is not a readable JWT. */
export function jwtClaims(jwt: string | undefined): Record<string, unknown> | undefined {
  const payload = jwt?.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    return claims && typeof claims === "object" ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
