/**
 * Which upstream a stored record belongs to: the canonical server URL, and the store key derived from it.
 */
import { createHash } from "node:crypto";
import { ProxyError } from "../lib/errors.ts";
import type { RecordKind } from "./token-store.ts";

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

/** Upstream keys are file-name safe and never contain "_" (the separator in `<key>_tokens.json`), "." nor "/". */
const UPSTREAM_KEY = /^[A-Za-z0-9-]{1,64}$/;
/** A principal's grant: `<upstream key>.u<16 hex>`. The "." cannot occur in an upstream key, so the forms never collide. */
const GRANT_KEY = /^([A-Za-z0-9-]{1,64})\.u[0-9a-f]{16}$/;

/**
 * The key a grant (the tokens one principal obtained for one upstream) is stored under.
 *
 * - Without a principal: the upstream key itself, so the single-user layout `<key>_tokens.json` is what it always
 *   was and nobody is signed out on upgrade.
 * - With one: `<upstream key>.u<16 hex>`, the hex being SHA-256 over the upstream key and the principal. The
 *   principal never appears in clear (it names a person; file names end up in listings and logs), and the same
 *   principal gets unrelated suffixes under different upstreams. The principal is taken as given: callers
 *   normalise it (case, whitespace) if two spellings should be one grant.
 *
 * The upstream's client registration and discovery stay under the upstream key: only tokens are per grant.
 */
export function grantKey(upstreamKey: string, principal?: string): string {
  assertUpstreamKey(upstreamKey);
  if (principal === undefined || principal === "") return upstreamKey;
  const digest = createHash("sha256").update(`grant\0${upstreamKey}\0${principal}`, "utf8").digest("hex");
  return `${upstreamKey}.u${digest.slice(0, 16)}`;
}

/** Whether `key` names a principal's grant (`<upstream key>.u<hex>`), not an upstream (or its default grant). */
export function isPrincipalGrantKey(key: string): boolean {
  return GRANT_KEY.test(key);
}

/** The upstream key a store key belongs to: a principal grant's prefix, else the key itself. */
export function upstreamKeyOf(key: string): string {
  return GRANT_KEY.exec(key)?.[1] ?? key;
}

/**
 * Throws ProxyError INTERNAL unless `key` is a valid store key: an upstream key (what {@link storeKey} returns,
 * or any 1-64 letters, digits and "-") or a grant key from {@link grantKey}. Backends call it first, so a key can
 * never escape the store directory.
 */
export function assertStoreKey(key: string): void {
  if (!UPSTREAM_KEY.test(key) && !GRANT_KEY.test(key)) throw invalidKey(key, "Store keys");
}

/** Throws ProxyError INTERNAL unless `key` is an upstream key (not a principal's grant key). */
export function assertUpstreamKey(key: string): void {
  if (!UPSTREAM_KEY.test(key)) throw invalidKey(key, "Upstream keys");
}

/**
 * {@link assertStoreKey}, and: a principal's grant key holds tokens only. The client registration and discovery are
 * the upstream's, shared by its grants; storing them per principal would be a bug in the caller.
 */
export function assertRecordKey(key: string, kind: RecordKind): void {
  assertStoreKey(key);
  if (kind !== "tokens" && kind !== "sign_in" && GRANT_KEY.test(key)) {
    throw new ProxyError("INTERNAL", `A ${kind} record belongs to the upstream key, not the grant key ${key}.`, {
      hint: "Use the upstream key (upstreamKeyOf(key)) for client_info and discovery; this is a bug in the caller.",
    });
  }
}

function invalidKey(key: string, what: string): ProxyError {
  return new ProxyError("INTERNAL", `Invalid store key ${JSON.stringify(key.slice(0, 80))}.`, {
    hint: `${what} are 1-64 letters, digits or '-' (normally from storeKey()), or grantKey()'s '<key>.u<16 hex>'; this is a bug in the caller.`,
  });
}
