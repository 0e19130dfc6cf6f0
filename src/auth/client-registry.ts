import type { OAuthClientMetadata, StoredOAuthClientInformation } from "@modelcontextprotocol/client";
import type { UpstreamOptions } from "../config/options.ts";
import { rememberSecret } from "../lib/redact.ts";
import { type ClientInfoRecord, STORE_VERSION, type TokenStore } from "../store/token-store.ts";
import { DEVICE_CODE_GRANT } from "./device-authorization.ts";

/**
 * The OAuth client this proxy is at one upstream's authorization server: pre-registered (--client-id), a Client ID
 * Metadata Document, or a dynamic registration kept in the store — bound to the AS issuer and redirect URI.
 */
export class ClientRegistry {
  constructor(
    private readonly store: TokenStore,
    private readonly key: string,
    private readonly serverUrl: string,
    private readonly upstream: UpstreamOptions,
  ) {
    rememberSecret(upstream.clientSecret);
  }

  /**
   * RFC 7591 metadata for a dynamic registration (MCP: `application_type: native` for a local client). A device
   * sign-in registers the RFC 8628 grant as well: ASes issue device codes only to clients registered for it.
   */
  metadata(redirectUri: string, grant?: "device"): OAuthClientMetadata {
    return {
      client_name: "mcp-u2m-proxy",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token", ...(grant === "device" ? [DEVICE_CODE_GRANT] : [])],
      response_types: ["code"],
      token_endpoint_auth_method: this.upstream.clientSecret ? "client_secret_basic" : "none",
      application_type: "native",
      software_id: "mcp-u2m-proxy",
      ...(this.upstream.scope ? { scope: this.upstream.scope } : {}),
    } as OAuthClientMetadata;
  }

  /**
   * Pre-registered credentials first; then a stored registration bound to this issuer and redirect URI whose
   * registered scope (if the AS recorded one) covers what this sign-in asks for: a step-up beyond it registers
   * again, since ASes refuse scopes a client was not registered for (invalid_scope). So does a device sign-in with
   * a registration whose recorded grant types lack the device grant. Undefined: register anew.
   */
  async load(
    issuer: string | undefined,
    redirectUri: string,
    scope: string | undefined,
    grant?: "device",
    // Whether a registration recorded under another issuer name is still this server's (IssuerCheck.sameServer).
    sameServer: (recorded: string) => boolean = (recorded) => recorded === issuer,
  ): Promise<StoredOAuthClientInformation | undefined> {
    if (this.upstream.clientId) {
      const info = {
        client_id: this.upstream.clientId,
        ...(this.upstream.clientSecret ? { client_secret: this.upstream.clientSecret } : {}),
        ...(issuer ? { issuer } : {}),
      } as StoredOAuthClientInformation;
      // Recorded as the registered client (bound to the issuer), or a refresh, `clear` and `status` would find no
      // client and read that as a switch of authorization server. The secret stays the user's: never written.
      const stored = await this.store.read(this.key, "client_info");
      if (issuer && (stored?.client.client_id !== this.upstream.clientId || stored.issuer !== issuer)) {
        await this.save(
          { client_id: this.upstream.clientId, issuer } as StoredOAuthClientInformation,
          "pre-registered",
          redirectUri,
        );
      }
      return info;
    }
    const stored = await this.store.read(this.key, "client_info");
    if (!stored) return undefined;
    if (issuer && stored.issuer && !sameServer(stored.issuer)) return undefined; // SEP-2352: never across servers
    if (stored.source === "dynamic" && stored.redirect_uri && stored.redirect_uri !== redirectUri) return undefined;
    const registered = typeof stored.client.scope === "string" ? new Set(stored.client.scope.split(" ")) : undefined;
    if (stored.source === "dynamic" && registered && scope?.split(" ").some((s) => s && !registered.has(s))) {
      return undefined;
    }
    const grants = stored.client.grant_types;
    if (
      grant === "device" &&
      stored.source === "dynamic" &&
      !(Array.isArray(grants) && grants.includes(DEVICE_CODE_GRANT))
    ) {
      return undefined;
    }
    // Stamped with the issuer named now, which the SDK compares with the one it discovered.
    return { ...stored.client, issuer: issuer ?? stored.issuer } as StoredOAuthClientInformation;
  }

  async save(
    info: StoredOAuthClientInformation,
    source: ClientInfoRecord["source"],
    redirectUri: string,
  ): Promise<void> {
    const { issuer, ...client } = info as StoredOAuthClientInformation & { issuer?: string };
    if (this.upstream.clientId) delete client.client_secret; // the user's, kept where they keep it
    await this.store.write(this.key, "client_info", {
      version: STORE_VERSION,
      server_url: this.serverUrl,
      issuer: issuer ?? "",
      source: this.upstream.clientId ? "pre-registered" : source,
      redirect_uri: redirectUri,
      client: client as ClientInfoRecord["client"],
    });
  }

  /** The registered client, with a pre-registered secret (given on the command line or in the config) put back. */
  async read(): Promise<ClientInfoRecord | undefined> {
    const stored = await this.store.read(this.key, "client_info");
    const { clientId, clientSecret } = this.upstream;
    if (!stored || !clientId || stored.client.client_id !== clientId || !clientSecret) return stored;
    return { ...stored, client: { ...stored.client, client_secret: clientSecret } };
  }

  /** Drops a registration the AS no longer accepts; pre-registered credentials are the user's and stay. */
  async forget(): Promise<void> {
    const client = await this.read();
    if (client?.source !== "pre-registered") await this.store.remove(this.key, "client_info");
  }
}
