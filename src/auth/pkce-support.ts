import type { OAuthDiscoveryState } from "@modelcontextprotocol/client";
import { ProxyError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import { providerDefaults } from "./provider-defaults.ts";

/** The only PKCE method the proxy uses (RFC 7636 §4.2); `plain` gives no protection against a stolen code. */
const S256 = "S256";

/** What is missing from the authorization server metadata for a verified PKCE S256 flow, if anything. */
export function missingPkceSupport(metadata: OAuthDiscoveryState["authorizationServerMetadata"]): string | undefined {
  if (!metadata) return "publishes no authorization server metadata (RFC 8414)";
  const methods = (metadata as { code_challenge_methods_supported?: unknown }).code_challenge_methods_supported;
  if (!Array.isArray(methods)) return "does not list code_challenge_methods_supported in its metadata";
  if (!methods.includes(S256)) {
    return `lists code_challenge_methods_supported ${JSON.stringify(methods)} without S256`;
  }
  return undefined;
}

/** Whether the metadata lists PKCE methods at all (whatever they are). */
export function listsPkceMethods(metadata: OAuthDiscoveryState["authorizationServerMetadata"]): boolean {
  return Array.isArray(
    (metadata as { code_challenge_methods_supported?: unknown } | undefined)?.code_challenge_methods_supported,
  );
}

export interface PkceCheckOptions {
  serverUrl: string;
  /** --allow-pkce-unverified: go on without the metadata saying so, for servers known to support S256 anyway. */
  allowUnverified: boolean;
  log: Logger;
}

/**
 * Returns a check to run on the discovery result before any registration or authorization request: MCP clients
 * MUST verify PKCE support from the authorization server metadata and MUST refuse to proceed when
 * `code_challenge_methods_supported` is absent. The opt-out covers an absent field (or absent metadata) only; a
 * list without S256 is the server saying it does not support it, and the SDK would refuse that anyway.
 * With the opt-out the check warns once per authorization server.
 *
 * @see https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#authorization-code-protection
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-2 (code_challenge_methods_supported)
 */
export function pkceSupportCheck({
  serverUrl,
  allowUnverified,
  log,
}: PkceCheckOptions): (state: OAuthDiscoveryState) => void {
  const warned = new Set<string>();
  return (state) => {
    const metadata = state.authorizationServerMetadata;
    const missing = missingPkceSupport(metadata);
    if (!missing) return;
    const issuer = metadata?.issuer ?? String(state.authorizationServerUrl);
    const listsOthers = listsPkceMethods(metadata);
    // Entra and Cognito support S256 without listing it: their documented support stands in for the list.
    const provider = metadata && !listsOthers ? providerDefaults(metadata.issuer) : undefined;
    if (provider?.unlistedPkceS256) {
      if (!warned.has(issuer)) {
        warned.add(issuer);
        log.info(
          `The authorization server ${issuer} ${missing}; ${provider.name} supports PKCE S256 without listing it, so the sign-in uses S256.`,
        );
      }
      return;
    }
    if (allowUnverified && !listsOthers) {
      if (!warned.has(issuer)) {
        warned.add(issuer);
        log.warn(
          `The authorization server ${issuer} ${missing}; going on with PKCE S256 anyway because of --allow-pkce-unverified.`,
        );
      }
      return;
    }
    throw new ProxyError(
      "PKCE_UNSUPPORTED",
      listsOthers
        ? `The authorization server ${issuer} (for ${serverUrl}) ${missing}; refusing to sign in without PKCE S256.`
        : `The authorization server ${issuer} (for ${serverUrl}) ${missing}, so its PKCE S256 support cannot be verified; refusing to sign in.`,
      {
        hint: listsOthers
          ? "This server cannot be used safely; ask its operator to enable PKCE S256."
          : "Ask its operator to list S256 in code_challenge_methods_supported; if you know it enforces S256 anyway, pass --allow-pkce-unverified.",
        details: { issuer },
      },
    );
  };
}
