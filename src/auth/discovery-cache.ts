import type { OAuthDiscoveryState } from "@modelcontextprotocol/client";
import { STORE_VERSION, type TokenStore } from "../store/token-store.ts";
import type { FetchLike } from "./authorized-fetch.ts";
import type { IssuerCheck } from "./issuer-check.ts";
import { toProxyError } from "./oauth-errors.ts";
import { loadSdk } from "./sdk.ts";

/** The discovery kept for an upstream key, as it was checked when it was discovered. */
export async function readStoredDiscovery(store: TokenStore, key: string): Promise<OAuthDiscoveryState | undefined> {
  const record = await store.read(key, "discovery");
  return record?.state as OAuthDiscoveryState | undefined;
}

/**
 * What discovery learned about an upstream (RFC 9728 resource metadata, the AS and its RFC 8414 metadata), kept in
 * the store so a refresh at start-up needs no discovery requests. Dropped and redone when a held token is refused.
 */
export class DiscoveryCache {
  constructor(
    private readonly store: TokenStore,
    private readonly key: string,
    private readonly serverUrl: string,
    private readonly fetchFn: FetchLike,
    private readonly now: () => number,
    /** RFC 8414 §3.3, with this upstream's accepted exceptions (issuer-check.ts). */
    readonly issuers: IssuerCheck,
  ) {}

  read(): Promise<OAuthDiscoveryState | undefined> {
    return readStoredDiscovery(this.store, this.key);
  }

  async save(state: OAuthDiscoveryState): Promise<void> {
    await this.store.write(this.key, "discovery", {
      version: STORE_VERSION,
      server_url: this.serverUrl,
      state: state as unknown as Record<string, unknown>,
      discovered_at: this.now(),
    });
  }

  forget(): Promise<void> {
    return this.store.remove(this.key, "discovery");
  }

  /** Runs discovery now (the SDK's order and checks) and keeps the result. */
  async discover(resourceMetadataUrl: string | undefined): Promise<OAuthDiscoveryState> {
    try {
      const { discoverOAuthServerInfo } = await loadSdk();
      const info = await discoverOAuthServerInfo(this.serverUrl, {
        ...(resourceMetadataUrl ? { resourceMetadataUrl: new URL(resourceMetadataUrl) } : {}),
        fetchFn: this.fetchFn,
        skipIssuerMetadataValidation: this.issuers.relaxed,
      });
      const state: OAuthDiscoveryState = { ...info, ...(resourceMetadataUrl ? { resourceMetadataUrl } : {}) };
      this.issuers.check(state);
      await this.save(state);
      return state;
    } catch (error) {
      throw toProxyError(error, this.serverUrl);
    }
  }
}
