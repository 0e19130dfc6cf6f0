/** OAuth scope strings (space-separated, RFC 6749 §3.3) compared as sets. */

function scopeSet(scope: string | undefined): Set<string> {
  return new Set((scope ?? "").split(" ").filter(Boolean));
}

/** Whether `granted` includes every scope of `wanted` (nothing wanted is always covered). */
export function scopeCovers(granted: string | undefined, wanted: string | undefined): boolean {
  const have = scopeSet(granted);
  for (const scope of scopeSet(wanted)) if (!have.has(scope)) return false;
  return true;
}

/** Both sets of scopes in one string, `a`'s order first; undefined when both are empty. */
export function scopeUnion(a: string | undefined, b: string | undefined): string | undefined {
  const union = new Set([...scopeSet(a), ...scopeSet(b)]);
  return union.size > 0 ? [...union].join(" ") : undefined;
}

/** `scope` with OpenID Connect's `openid` added: a sign-in whose ID token is the bearer (useIdToken). */
export function withOpenId(scope: string | undefined): string {
  return scopeUnion(scope, "openid") ?? "openid";
}
