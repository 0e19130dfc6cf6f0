import { REFRESH_SKEW_MS } from "../config/options.ts";
import type { TokensRecord } from "../store/token-store.ts";

/**
 * True within the refresh window: a minute before expiry (clock skew), or the last quarter of a short lifetime.
 * Tokens without an expiry are used until the upstream refuses them.
 */
export function expiresSoon(record: TokensRecord, now: number): boolean {
  if (record.expires_at === undefined) return false;
  const lifetime = record.expires_at - record.obtained_at;
  const skew = Math.min(REFRESH_SKEW_MS, Math.max(0, lifetime / 4));
  return now >= record.expires_at - skew;
}

/** Expired with no way to refresh: only a sign-in helps. */
export function isDead(record: TokensRecord, now: number): boolean {
  return record.expires_at !== undefined && record.expires_at <= now && !record.tokens.refresh_token;
}
