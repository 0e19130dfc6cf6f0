import { REFRESH_SKEW_MS } from "../config/options.ts";
import type { TokensRecord } from "../store/token-store.ts";
import { jwtClaims } from "./token-claims.ts";

/**
 * Which token goes upstream as the bearer: the access token, or (`useIdToken`, for servers such as AWS Cognito
 * and Bedrock AgentCore that validate one) the OpenID Connect ID token from the same grant.
 */
export type BearerKind = "access" | "id";

/** The token sent upstream for `record`; undefined when the grant has none of that kind. */
export function bearerOf(record: TokensRecord | undefined, kind: BearerKind): string | undefined {
  return kind === "id" ? record?.tokens.id_token : record?.tokens.access_token;
}

/**
 * When the bearer expires (ms since the epoch): the access token's `expires_in` as stored, or the ID token's own
 * `exp` claim (read, not verified: it came from the token endpoint; the upstream verifies it).
 */
export function bearerExpiresAt(record: TokensRecord, kind: BearerKind): number | undefined {
  if (kind === "access") return record.expires_at;
  // Asked on every request: each record's ID token is decoded once (a refresh brings a new record).
  if (!idTokenExpiry.has(record)) {
    const exp = jwtClaims(record.tokens.id_token)?.exp;
    idTokenExpiry.set(record, typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined);
  }
  return idTokenExpiry.get(record);
}

const idTokenExpiry = new WeakMap<TokensRecord, number | undefined>();

/**
 * True within the refresh window: a minute before expiry (clock skew), or the last quarter of a short lifetime.
 * Tokens without an expiry are used until the upstream refuses them.
 */
export function expiresSoon(record: TokensRecord, now: number, kind: BearerKind = "access"): boolean {
  const expiresAt = bearerExpiresAt(record, kind);
  if (expiresAt === undefined) return false;
  const lifetime = expiresAt - record.obtained_at;
  const skew = Math.min(REFRESH_SKEW_MS, Math.max(0, lifetime / 4));
  return now >= expiresAt - skew;
}

/** Expired with no way to refresh: only a sign-in helps. */
export function isDead(record: TokensRecord, now: number, kind: BearerKind = "access"): boolean {
  if (kind === "id" && !record.tokens.id_token) return true;
  const expiresAt = bearerExpiresAt(record, kind);
  return expiresAt !== undefined && expiresAt <= now && !record.tokens.refresh_token;
}
