import type { AuthStatus } from "../auth/auth-client.ts";
import { createUpstreamAuth, type UpstreamAuth } from "../auth/upstream-auth.ts";
import type { RuntimeOptions } from "../config/options.ts";
import type { Logger } from "../lib/logger.ts";
import type { TokenStore } from "../store/token-store.ts";

/**
 * Every upstream with records in the store, each with an auth client bound to its stored key (so `status`,
 * `list` and `clear` without a URL work whatever identity options were used when signing in).
 */
export async function storedUpstreams(
  store: TokenStore,
  runtime: RuntimeOptions,
  logger: Logger,
): Promise<Array<{ key: string; auth: UpstreamAuth }>> {
  const out: Array<{ key: string; auth: UpstreamAuth }> = [];
  for (const key of await store.keys()) {
    const record =
      (await store.read(key, "tokens")) ??
      (await store.read(key, "client_info")) ??
      (await store.read(key, "discovery")) ??
      (await firstUserGrant(store, key));
    if (!record) continue;
    const auth = createUpstreamAuth(
      { url: record.server_url, authorizeParams: {}, headers: {}, sendResource: true },
      runtime,
      { store, logger, callback: "external", storeKey: key },
    );
    out.push({ key, auth });
  }
  return out.sort((a, b) => a.auth.serverUrl.localeCompare(b.auth.serverUrl));
}

export async function statusesOf(entries: Array<{ auth: UpstreamAuth }>): Promise<AuthStatus[]> {
  return Promise.all(entries.map((entry) => entry.auth.status()));
}

/** The tokens of one of the upstream's per-user grants: an upstream whose only records are its users' still lists. */
async function firstUserGrant(store: TokenStore, key: string): Promise<{ server_url: string } | undefined> {
  for (const grant of await store.grantKeys(key)) {
    const record = grant === key ? undefined : await store.read(grant, "tokens");
    if (record) return record;
  }
  return undefined;
}
