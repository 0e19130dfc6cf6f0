import { isIP } from "node:net";
import { isIssuerUrl } from "../config/own-keys.ts";
import { SERVER_NAME_PATTERN } from "../config/server-entry.ts";
import { ProxyError } from "../lib/errors.ts";
import { isLoopbackHost } from "../lib/loopback.ts";
import { usageError } from "./usage-error.ts";

/**
 * Checks of what the user typed that would otherwise fail deep inside (a URL parser, the SDK, listen()) with an
 * unexpected error: each is a usage error (exit 2) saying what was wrong and showing the right form.
 */

/** A URL, or something meant as one (a host with a dot, a port or a path): never taken for a command. */
export function looksLikeAddress(word: string): boolean {
  return /[./:]/.test(word) || word.toLowerCase().startsWith("localhost");
}

/** A server name from a config file: what a `/servers/<name>` path segment allows. */
const SERVER_NAME = SERVER_NAME_PATTERN;

/** The input as it may be quoted back: short, and never with a password in it. */
function shown(value: string): string {
  return JSON.stringify(value.slice(0, 200).replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, "$1***@"));
}

/**
 * The server a command is for: an absolute http(s) URL, or a config file's server name. A word that is both a
 * valid name and a host without its scheme (`my.server`) is returned as a name with the URL it would be (`asUrl`):
 * only the config file can tell which was meant (resolve-server.ts). Anything else is a usage error that shows the
 * right form (`mcp.example.com/mcp` → `https://mcp.example.com/mcp`).
 */
export function parseTarget(
  raw: string | undefined,
  command: string,
):
  | { url: string; name?: undefined; asUrl?: undefined }
  | { name: string; url?: undefined; asUrl?: string | undefined }
  | undefined {
  if (raw === undefined) return undefined;
  const value = raw.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw usageError(`${shown(value)} is not a valid URL.`, command, "Give it as https://host/path.");
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new ProxyError("INVALID_URL", `${url.protocol}// URLs are not MCP server URLs.`, {
        hint: `Give the server's https URL, e.g. "mcp-u2m-proxy ${command} https://mcp.example.com/mcp".`,
      });
    }
    return { url: value };
  }
  if (looksLikeAddress(value)) {
    // `https:/host/mcp` and `https:host` lack slashes; anything else lacks the scheme.
    const rest = value.replace(/^https?:\/*/i, "");
    const scheme = /^http:/i.test(value) || /^(localhost|127\.|\[::1\])/i.test(rest) ? "http" : "https";
    const guess = `${scheme}://${rest}`;
    const usable = canParse(guess) && !/^[^/]*@/.test(rest);
    if (usable && SERVER_NAME.test(value)) return { name: value, asUrl: guess };
    throw new ProxyError("USAGE", `${shown(value)} has no scheme: a server URL starts with https://.`, {
      hint: usable
        ? `Did you mean "mcp-u2m-proxy ${command} ${guess}"?`
        : "Give the URL in full, e.g. https://mcp.example.com/mcp.",
    });
  }
  if (SERVER_NAME.test(value)) return { name: value };
  throw usageError(`${shown(value)} is not a URL (https://…) or a server name.`, command);
}

/**
 * Plain http only to this machine unless --allow-insecure-http: the same rule the core enforces, found here so a
 * mistyped scheme is a usage error showing the https URL rather than a refusal from deep inside.
 */
export function assertServerUrlScheme(url: string, allowInsecureHttp: boolean, command: string): void {
  const parsed = new URL(url);
  if (parsed.protocol !== "http:" || allowInsecureHttp || isLoopbackHost(parsed.hostname)) return;
  parsed.protocol = "https:";
  throw new ProxyError(
    "USAGE",
    `${shown(url)} uses plain http, which the proxy allows only to this machine (OAuth and MCP traffic must use https).`,
    {
      hint: `Did you mean "mcp-u2m-proxy ${command} ${parsed.username || parsed.password ? "https://…" : parsed.href}"? For a test server without TLS, add --allow-insecure-http.`,
    },
  );
}

/** A Client ID Metadata Document is named by an https URL with a path (what the MCP SDK accepts as a client id). */
export function checkClientMetadataUrl(raw: string | undefined, command: string): string | undefined {
  if (raw === undefined) return undefined;
  const url = canParse(raw) ? new URL(raw) : undefined;
  if (url?.protocol === "https:" && url.pathname !== "/" && !url.username && !url.password) return raw;
  throw usageError(
    `--client-metadata-url must be an https URL with a path, not ${shown(raw)}.`,
    command,
    "For example --client-metadata-url https://app.example.com/oauth/client.json.",
  );
}

/** `--accept-issuer`: an issuer identifier (RFC 8414 §2), an http(s) URL with no query or fragment. */
export function checkIssuer(raw: string | undefined, command: string): string | undefined {
  if (raw === undefined) return undefined;
  if (isIssuerUrl(raw.trim())) return raw.trim();
  throw usageError(
    `--accept-issuer must be an http(s) URL without a query or fragment, not ${shown(raw)}.`,
    command,
    "Pass the issuer exactly as the authorization server's metadata names it (the sign-in error shows it).",
  );
}

/** A host name or IP address (`--host`, `--callback-host`), without a port or a scheme. */
export function checkHostName(flag: string, raw: string | undefined, command: string): string | undefined {
  if (raw === undefined) return undefined;
  const bare = raw.replace(/^\[(.*)\]$/, "$1");
  if (isIP(bare) !== 0 || HOST_NAME.test(raw)) return raw;
  const port = /^([^:/]+):(\d+)$/.exec(raw);
  throw usageError(
    `${flag} must be a host name or IP address, not ${shown(raw)}.`,
    command,
    port ? `Give the port with --port: ${flag} ${port[1]} --port ${port[2]}.` : `For example ${flag} 127.0.0.1.`,
  );
}

const HOST_NAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

function canParse(value: string): boolean {
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}
