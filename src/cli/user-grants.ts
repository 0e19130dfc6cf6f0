/**
 * The per-user grants of an upstream, as `list` and `status` show them: what `serve --identity` stored for each
 * person (tokens under `<upstream key>.u<16 hex>`). Read from the store's records only: never a token, and never
 * the person's id (the grant id is a hash; the label is the e-mail or user name the front named, when it did).
 */
import { isPrincipalGrantKey } from "../store/store-key.ts";
import type { TokenStore } from "../store/token-store.ts";

/**
 * - `valid`: the access token has not expired (or the authorization server gave no expiry);
 * - `refreshable`: it has, and a refresh token is stored (the next request refreshes it);
 * - `expired`: it has, and nothing can renew it: the person signs in again.
 */
export type GrantState = "valid" | "refreshable" | "expired";

export interface UserGrant {
  /** The grant id, `u<16 hex>`: the suffix of the grant key (file `<key>.u<hex>_tokens.json`), as the admin view names it. */
  grant: string;
  /** The person's e-mail or user name as stored at sign-in; null when the front named none. */
  label: string | null;
  state: GrantState;
  expiresAt: string | null;
  expiresInSeconds: number | null;
  hasRefreshToken: boolean;
  scopes: string[];
  /** Who the authorization server says signed in (id_token claims), when it said. */
  account: string | null;
}

/** Every per-user grant of `upstreamKey` in the store, by grant id (the upstream's default grant is not one). */
export async function userGrantsOf(
  store: TokenStore,
  upstreamKey: string,
  now: number = Date.now(),
): Promise<UserGrant[]> {
  const grants: UserGrant[] = [];
  for (const key of await store.grantKeys(upstreamKey)) {
    if (!isPrincipalGrantKey(key)) continue;
    const record = await store.read(key, "tokens");
    if (!record) continue;
    const expiresAt = record.expires_at;
    const hasRefreshToken = Boolean(record.tokens.refresh_token);
    const expired = expiresAt !== undefined && expiresAt <= now;
    grants.push({
      grant: key.slice(key.lastIndexOf(".") + 1),
      label: record.user_label ?? null,
      state: !expired ? "valid" : hasRefreshToken ? "refreshable" : "expired",
      expiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(),
      expiresInSeconds: expiresAt === undefined ? null : Math.round((expiresAt - now) / 1000),
      hasRefreshToken,
      scopes: (record.tokens.scope ?? record.requested_scope ?? "").split(" ").filter(Boolean),
      account: record.account ?? null,
    });
  }
  return grants;
}

/** Whether a grant can be used now or after a refresh. */
export function isUsable(grant: UserGrant): boolean {
  return grant.state !== "expired";
}

/**
 * `--user WHO`: a grant id (`u<16 hex>`, exactly) or the stored e-mail / user name (case-insensitive). The grant id
 * is how a person is named without saying who; the label is how an administrator knows them.
 */
export function matchesUser(grant: UserGrant, who: string): boolean {
  const wanted = who.trim();
  return grant.grant === wanted || (grant.label !== null && grant.label.toLowerCase() === wanted.toLowerCase());
}
