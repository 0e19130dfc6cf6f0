import type { Logger } from "../lib/logger.ts";
import type { TokenStore } from "../store/token-store.ts";
import type { FetchLike } from "./authorized-fetch.ts";
import type { ClientRegistry } from "./client-registry.ts";
import type { DiscoveryCache } from "./discovery-cache.ts";
import { revokeGrant } from "./revoke-grant.ts";

/** What `clear` did: whether anything was stored, and what became of the revocation. */
export interface ClearOutcome {
  hadRecords: boolean;
  /** The authorization server revoked the grant. */
  revoked: boolean;
  /**
   * "unsupported": the AS offers no revocation endpoint; "no-client": no client registration was stored to revoke
   * with; "no-tokens": nothing to revoke.
   */
  revocation: "revoked" | "failed" | "unsupported" | "no-client" | "no-tokens";
  /** With "failed": where and what the server said (no secrets). */
  failure?: string | undefined;
  /** With "failed": the AS answered invalid_client (it no longer knows this proxy's dynamic registration). */
  clientUnknown?: boolean | undefined;
  /** When the access token expires, if known (it stays valid upstream until then when not revoked). */
  expiresAt?: string | undefined;
}

export interface SignOutParts {
  store: TokenStore;
  /** The upstream's key: removing it removes its registration, discovery and every grant. */
  upstreamKey: string;
  /** The grant whose tokens are revoked. */
  grantKey: string;
  clients: ClientRegistry;
  discovery: DiscoveryCache;
  fetchFn: FetchLike;
  serverUrl: string;
  log: Logger;
}

/**
 * Signs out of one upstream: revokes the grant at the AS when it supports RFC 7009, then deletes every stored record
 * of the upstream (of a user's grant: that grant's tokens only), whatever the AS said (a failed revocation is reported, not retried: the token stays valid
 * upstream until it expires).
 */
export async function signOut(parts: SignOutParts): Promise<ClearOutcome> {
  const { store, clients, discovery, serverUrl, log } = parts;
  const record = await store.read(parts.grantKey, "tokens");
  const client = await clients.read();
  const serverInfo = await discovery.read();
  const hadRecords = record !== undefined || client !== undefined || serverInfo !== undefined;
  const metadata = serverInfo?.authorizationServerMetadata as { revocation_endpoint?: string } | undefined;
  const endpoint = metadata?.revocation_endpoint;
  const expiresAt = record?.expires_at ? new Date(record.expires_at).toISOString() : undefined;
  let outcome: ClearOutcome;
  if (!record) outcome = { hadRecords, revoked: false, revocation: "no-tokens" };
  else if (!client) outcome = { hadRecords, revoked: false, revocation: "no-client", expiresAt };
  else if (!endpoint) outcome = { hadRecords, revoked: false, revocation: "unsupported", expiresAt };
  else {
    const result = await revokeGrant(parts.fetchFn, endpoint, client, record);
    if (result.revoked) outcome = { hadRecords, revoked: true, revocation: "revoked" };
    else {
      log.warn(`Could not revoke the tokens for ${serverUrl} at ${endpoint}: ${result.reason}.`);
      const clientUnknown = result.error === "invalid_client";
      outcome = {
        hadRecords,
        revoked: false,
        revocation: "failed",
        failure: `${endpoint}: ${result.reason}`,
        expiresAt,
        ...(clientUnknown ? { clientUnknown } : {}),
      };
    }
  }
  // One person's grant (several users share the upstream): only their tokens go; the registration stays shared.
  if (parts.grantKey !== parts.upstreamKey) await store.remove(parts.grantKey, "tokens");
  else await store.remove(parts.upstreamKey);
  return outcome;
}
