import { type ConfigPlace, configError, shown } from "./config-error.ts";
import { RESERVED_AUTHORIZE_PARAMS } from "./mcp-remote-entry.ts";

/**
 * This proxy's own keys inside an entry, under `"mcp-u2m-proxy"`, where hosts leave them alone:
 * `{ "oauth": { clientId, clientSecret, clientMetadataUrl, scope, resource, useIdToken, acceptIssuer, authorizeParams }, "enabled",
 * "rateLimit": { requestsPerMinute, burst }, "protocol": "auto" | "legacy" | "modern", "ignoreTools": ["delete_*", …] }`. Unknown keys here are warned about (a typo would otherwise be
 * silently ignored) but accepted, so a file written for a later version still loads.
 */
export interface OwnKeys {
  oauth: {
    clientId?: string | undefined;
    clientSecret?: string | undefined;
    clientMetadataUrl?: string | undefined;
    scope?: string | undefined;
    resource?: boolean | undefined;
    useIdToken?: boolean | undefined;
    acceptIssuer?: string | undefined;
    authorizeParams: Record<string, string>;
  };
  rateLimit: { requestsPerMinute: number; burst: number } | undefined;
  /** The upstream's MCP wire era when known (undefined: probed). */
  protocol: "legacy" | "modern" | undefined;
  /** Tools to hide from clients: names or `*` patterns (proxy/tool-filter.ts). */
  ignoreTools: string[];
  /** Unknown keys, with why, for the warning. */
  ignored: string[];
}

const OWN = "mcp-u2m-proxy";
const OWN_KEYS = new Set(["oauth", "enabled", "rateLimit", "protocol", "ignoreTools"]);
const PROTOCOLS = new Set(["auto", "legacy", "modern"]);
const OAUTH_STRINGS = ["clientId", "clientSecret", "clientMetadataUrl", "scope", "acceptIssuer"] as const;
const OAUTH_BOOLEANS = ["resource", "useIdToken"] as const;
const OAUTH_KEYS = new Set<string>([...OAUTH_STRINGS, ...OAUTH_BOOLEANS, "authorizeParams"]);

type Place = (key?: string) => ConfigPlace;

/** `"mcp-u2m-proxy".enabled` when given (it wins over the host's `disabled`/`enabled`); checks the object's type. */
export function ownEnabled(raw: unknown, at: Place): boolean | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) throw configError(at(OWN), `must be an object (got ${shown(raw)})`);
  if (raw.enabled === undefined) return undefined;
  if (typeof raw.enabled !== "boolean") {
    throw configError(at(`${OWN}.enabled`), `must be true or false (got ${shown(raw.enabled)})`);
  }
  return raw.enabled;
}

/** Reads and checks the own keys of a served entry; strings go through `expand` (variables). */
export function readOwnKeys(raw: unknown, at: Place, expand: (value: string, key: string) => string): OwnKeys {
  const own: OwnKeys = {
    oauth: { authorizeParams: {} },
    rateLimit: undefined,
    protocol: undefined,
    ignoreTools: [],
    ignored: [],
  };
  if (!isObject(raw)) return own;
  for (const key of Object.keys(raw)) {
    if (!OWN_KEYS.has(key)) own.ignored.push(`${OWN}.${key} (not a key of this version)`);
  }
  own.rateLimit = readRateLimit(raw.rateLimit, at);
  if (raw.protocol !== undefined) {
    if (typeof raw.protocol !== "string" || !PROTOCOLS.has(raw.protocol)) {
      throw configError(at(`${OWN}.protocol`), `must be "auto", "legacy" or "modern" (got ${shown(raw.protocol)})`);
    }
    own.protocol = raw.protocol === "auto" ? undefined : (raw.protocol as "legacy" | "modern");
  }
  own.ignoreTools = readIgnoreTools(raw.ignoreTools, at);
  const oauth = raw.oauth;
  if (oauth === undefined) return own;
  if (!isObject(oauth)) throw configError(at(`${OWN}.oauth`), `must be an object (got ${shown(oauth)})`);
  for (const name of OAUTH_STRINGS) {
    const value = oauth[name];
    if (value === undefined) continue;
    const key = `${OWN}.oauth.${name}`;
    if (typeof value !== "string") throw configError(at(key), `must be a string (got ${kindOf(name, value)})`);
    const expanded = expand(value, key).trim();
    if (expanded) own.oauth[name] = expanded;
  }
  if (own.oauth.clientMetadataUrl !== undefined && !isMetadataDocumentUrl(own.oauth.clientMetadataUrl)) {
    throw configError(
      at(`${OWN}.oauth.clientMetadataUrl`),
      `must be an https URL with a path (where the Client ID Metadata Document is)`,
    );
  }
  if (own.oauth.acceptIssuer !== undefined && !isIssuerUrl(own.oauth.acceptIssuer)) {
    throw configError(
      at(`${OWN}.oauth.acceptIssuer`),
      `must be an http(s) URL: the issuer the authorization server's metadata names`,
    );
  }
  for (const name of OAUTH_BOOLEANS) {
    const value = oauth[name];
    if (value === undefined) continue;
    if (typeof value !== "boolean") {
      throw configError(at(`${OWN}.oauth.${name}`), `must be true or false (got ${shown(value)})`);
    }
    own.oauth[name] = value;
  }
  own.oauth.authorizeParams = readAuthorizeParams(oauth.authorizeParams, at, expand);
  for (const key of Object.keys(oauth)) {
    if (!OAUTH_KEYS.has(key)) own.ignored.push(`${OWN}.oauth.${key} (not a key of this version)`);
  }
  return own;
}

function readAuthorizeParams(
  raw: unknown,
  at: Place,
  expand: (value: string, key: string) => string,
): Record<string, string> {
  const params: Record<string, string> = {};
  if (raw === undefined) return params;
  const base = `${OWN}.oauth.authorizeParams`;
  if (!isObject(raw)) throw configError(at(base), `must be an object of parameter names and values`);
  for (const [name, value] of Object.entries(raw)) {
    const key = `${base}.${name}`;
    if (RESERVED_AUTHORIZE_PARAMS.has(name)) throw configError(at(key), `cannot be set: the sign-in sets it`);
    if (name === "scope" || name === "resource") {
      throw configError(at(key), `is set by "${OWN}".oauth.${name} instead`);
    }
    if (typeof value !== "string") throw configError(at(key), `must be a string (got ${shown(value)})`);
    params[name] = expand(value, key);
  }
  return params;
}

function readIgnoreTools(raw: unknown, at: Place): string[] {
  if (raw === undefined) return [];
  const key = `${OWN}.ignoreTools`;
  const problem = `must be a list of tool names or patterns with *, like ["delete_*", "admin_action"]`;
  if (!Array.isArray(raw)) throw configError(at(key), `${problem} (got ${shown(raw)})`);
  return raw.map((item, index) => {
    if (typeof item !== "string" || item.trim() === "") {
      throw configError(at(`${key}[${index}]`), `${problem} (got ${shown(item)})`);
    }
    return item.trim();
  });
}

function readRateLimit(raw: unknown, at: Place): OwnKeys["rateLimit"] {
  if (raw === undefined) return undefined;
  const base = `${OWN}.rateLimit`;
  if (!isObject(raw)) throw configError(at(base), `must be an object like {"requestsPerMinute": 120, "burst": 20}`);
  const perMinute = raw.requestsPerMinute;
  if (!isCount(perMinute)) {
    throw configError(
      at(`${base}.requestsPerMinute`),
      `must be a whole number of at least 1 (got ${shown(perMinute)})`,
    );
  }
  const burst = raw.burst ?? perMinute;
  if (!isCount(burst))
    throw configError(at(`${base}.burst`), `must be a whole number of at least 1 (got ${shown(burst)})`);
  return { requestsPerMinute: perMinute, burst };
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}

function isMetadataDocumentUrl(value: string): boolean {
  try {
    const url = new URL(value);
    const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
    return (url.protocol === "https:" || (url.protocol === "http:" && loopback)) && url.pathname !== "/";
  } catch {
    return false;
  }
}

/** A wrong-typed secret is described by its kind only. */
function kindOf(name: string, value: unknown): string {
  return name === "clientSecret" ? typeof value : shown(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An issuer identifier (RFC 8414 §2): an http(s) URL without query or fragment. */
export function isIssuerUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && !url.search && !url.hash && !value.includes("#");
  } catch {
    return false;
  }
}
