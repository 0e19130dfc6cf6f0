/**
 * Which upstream a stored record belongs to: the canonical server URL, and the store key derived from it.
 */
import { createHash } from "node:crypto";
import { ProxyError } from "../lib/errors.ts";

/**
 * The MCP "Canonical Server URI" of an MCP server URL: absolute http(s), lowercase scheme and host, default port
 * dropped, no fragment, no trailing slash (a bare "/" path is dropped too), path and query kept.
 * Idempotent: `canonicalServerUrl(canonicalServerUrl(u)) === canonicalServerUrl(u)`.
 *
 * Whether plain http is acceptable for a host (only loopback, unless allowInsecureHttp) is the caller's policy,
 * not checked here.
 *
 * @throws ProxyError INVALID_URL for unparsable URLs, other schemes and URLs carrying a user name or password.
 * @see https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#canonical-server-uri
 * @see RFC 8707 section 2 (resource indicators: absolute URI, no fragment)
 */
export function canonicalServerUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch (cause) {
    // Mask anything that looks like credentials before quoting the input.
    const shown = url.trim().replace(/\/\/[^/@]*@/, "//***@");
    throw new ProxyError("INVALID_URL", `"${shown}" is not an absolute URL.`, {
      hint: "Give the MCP server URL in full, e.g. https://mcp.example.com/mcp.",
      cause,
    });
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new ProxyError(
      "INVALID_URL",
      `The MCP server URL uses "${parsed.protocol}"; only https and http are allowed.`,
      {
        hint: "Give the MCP server URL as https://host/path.",
      },
    );
  }
  if (parsed.username !== "" || parsed.password !== "") {
    // Never echo the password back.
    parsed.username = "";
    parsed.password = "";
    throw new ProxyError(
      "INVALID_URL",
      `The MCP server URL ${parsed.protocol}//${parsed.host}${parsed.pathname} contains a user name or password.`,
      {
        hint: "Remove the credentials from the URL; the proxy signs in with OAuth (or use --header for a static one).",
      },
    );
  }
  // The URL parser already lowercases scheme and host, punycodes IDNs, drops default ports and resolves dot segments.
  const path = parsed.pathname.replace(/\/+$/, "");
  return `${parsed.protocol}//${parsed.host}${path}${parsed.search}`;
}

/** What, besides the server URL, selects a different sign-in (and so a different set of records). */
export interface StoreIdentity {
  /** A pre-registered client id (--client-id): tokens of one client are never used by another. */
  clientId?: string | undefined;
  /** A Client ID Metadata Document URL (--client-metadata-url): the client's identity. */
  clientMetadataUrl?: string | undefined;
}

/**
 * The store key of an upstream: the first 32 hex characters (128 bits) of SHA-256 over
 * - the canonical server URL alone, when no identity part is set (the common case); otherwise
 * - `JSON.stringify({ url, client_id, client_metadata_url })` (absent parts as null). A canonical URL never starts
 *   with "{", so the two forms cannot collide.
 *
 * The client secret, scopes and the authorization server's issuer are deliberately not part of it: a rotated secret
 * or a step-up is the same sign-in, and the issuer is recorded inside the records (a registration is never reused
 * for another issuer). The URL is canonicalised first, so equivalent spellings share a key.
 *
 * The key is stable across package versions: changing this derivation signs everyone out, so don't.
 */
export function storeKey(serverUrl: string, identity: StoreIdentity = {}): string {
  const url = canonicalServerUrl(serverUrl);
  const clientId = identity.clientId || undefined;
  const clientMetadataUrl = identity.clientMetadataUrl || undefined;
  const input =
    clientId === undefined && clientMetadataUrl === undefined
      ? url
      : JSON.stringify({ url, client_id: clientId ?? null, client_metadata_url: clientMetadataUrl ?? null });
  return createHash("sha256").update(input, "utf8").digest("hex").slice(0, 32);
}

/** Keys are file-name safe and never contain "_" (the separator in `<key>_tokens.json`) nor path separators. */
const KEY_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

/**
 * Throws ProxyError INTERNAL unless `key` is a valid store key (what {@link storeKey} returns, or any 1-64
 * characters of letters, digits and "-"). Backends call it first, so a key can never escape the store directory.
 */
export function assertStoreKey(key: string): void {
  if (!KEY_PATTERN.test(key)) {
    throw new ProxyError("INTERNAL", `Invalid store key ${JSON.stringify(key.slice(0, 80))}.`, {
      hint: "Store keys are 1-64 letters, digits or '-' (normally from storeKey()); this is a bug in the caller.",
    });
  }
}
