import type { IncomingHttpHeaders } from "node:http";

/**
 * Which headers cross the proxy, in each direction. Pure functions over Node's flat `rawHeaders` arrays and
 * undici's header objects, so the hot path never builds a Headers object or a Map per request.
 *
 * Everything not listed here passes untouched: `Mcp-Session-Id`, `MCP-Protocol-Version`, `Mcp-Method`,
 * `Mcp-Name`, every `Mcp-Param-*` (intermediaries MUST forward them, 2026-07-28 SH §Standard headers),
 * `Last-Event-ID`, `Accept`, `Content-Type`, `Accept-Encoding` (bytes are relayed as they are, never decoded).
 */

/**
 * Hop-by-hop fields, meaningful only for one connection (RFC 9110 §7.6.1); never forwarded in either direction.
 * Fields named in the `Connection` header are hop-by-hop too and are dropped by {@link connectionListed}.
 */
const HOP_BY_HOP: readonly string[] = [
  // Names the other hop-by-hop fields of this connection and carries close/keep-alive (RFC 9110 §7.6.1).
  "connection",
  // Pre-standard connection persistence parameters (RFC 9110 §7.6.1 lists it).
  "keep-alive",
  // Non-standard but still sent by some agents; same meaning as Connection (RFC 9110 §7.6.1 lists it).
  "proxy-connection",
  // The framing of this hop; the other side frames the message again (RFC 9110 §7.6.1, RFC 9112 §6.1).
  "transfer-encoding",
  // Transfer codings the sender of this hop accepts (RFC 9110 §10.1.4).
  "te",
  // Announces trailer fields of a chunked message on this hop (RFC 9110 §6.6.2).
  "trailer",
  // Protocol switch of this connection (RFC 9110 §7.8); the relay does not tunnel upgrades.
  "upgrade",
  // Credentials and challenges between a client and the next proxy, not the origin (RFC 9110 §11.7).
  "proxy-authorization",
  "proxy-authenticate",
  "proxy-authentication-info",
];

/** Downstream request headers the upstream must never see, beyond the hop-by-hop ones. */
const REQUEST_ONLY_LOCAL: readonly string[] = [
  // The client's own credentials: the upstream gets only the token its AS issued (MCP SEC §Token Passthrough).
  "authorization",
  "cookie",
  // The proxy's inbound secret.
  "x-api-key",
  // undici sets Host from the upstream origin and Content-Length from the buffered body.
  "host",
  "content-length",
  // The body is already buffered; a 100-continue dance with the upstream would only add a round trip.
  "expect",
  // Browser context of a local page: the upstream would judge its own Origin allow-list against the proxy's
  // caller (and reject), and Referer leaks local URLs.
  "origin",
  "referer",
  // Identity claims of a hop the upstream cannot verify; the proxy speaks for itself.
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-real-ip",
];

/** Upstream response headers a local client must not see, beyond the hop-by-hop ones. */
const RESPONSE_ONLY_UPSTREAM: readonly string[] = [
  // The upstream's challenge is addressed to the proxy's credentials. A client that saw it would try OAuth
  // against the proxy itself.
  "www-authenticate",
  "authentication-info",
  // Cookies of the upstream's origin: never handed to local clients (and client cookies are never sent back).
  "set-cookie",
  "set-cookie2",
  // Statements about the upstream origin that would be wrong for the proxy's origin.
  "alt-svc",
  "strict-transport-security",
  "access-control-allow-origin",
  "access-control-allow-credentials",
  "access-control-allow-methods",
  "access-control-allow-headers",
  "access-control-expose-headers",
  "access-control-max-age",
];

const DROP_REQUEST = new Set([...HOP_BY_HOP, ...REQUEST_ONLY_LOCAL]);
const DROP_RESPONSE = new Set([...HOP_BY_HOP, ...RESPONSE_ONLY_UPSTREAM]);

/** Header names listed in a `Connection` value ("close" and "keep-alive" are options, harmless to include). */
export function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  // The usual values name no other field: skip the parse (this runs for nearly every request and response).
  if (value === "keep-alive" || value === "close" || value === "Keep-Alive" || value === "Close") return undefined;
  const text = Array.isArray(value) ? value.join(",") : value;
  const names = new Set<string>();
  for (const part of text.split(",")) {
    const name = part.trim().toLowerCase();
    if (name) names.add(name);
  }
  return names.size > 0 ? names : undefined;
}

export interface RequestHeaderOptions {
  /** Extra header names (lower case) to drop, e.g. the configured API-key header. */
  drop?: ReadonlySet<string> | undefined;
}

/**
 * Filters a downstream request's `rawHeaders` (flat name/value list, names in any case) into the flat list
 * sent upstream. Drops hop-by-hop fields, the client's credentials and cookies, Host and Content-Length.
 * The caller appends the static headers and `Authorization: Bearer <upstream token>`.
 */
export function filterRequestHeaders(rawHeaders: readonly string[], options: RequestHeaderOptions = {}): string[] {
  const out: string[] = [];
  let listed: Set<string> | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 10 && name.toLowerCase() === "connection") {
      const named = connectionListed(rawHeaders[i + 1]);
      if (named) listed = listed ? new Set([...listed, ...named]) : named;
    }
  }
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const lower = name.toLowerCase();
    if (DROP_REQUEST.has(lower) || options.drop?.has(lower) || listed?.has(lower)) continue;
    out.push(name, rawHeaders[i + 1] as string);
  }
  return out;
}

/**
 * Filters an upstream response's headers (undici's lower-case object) into the flat list written downstream.
 * Keeps `Mcp-Session-Id`, `Content-Type`, `Content-Length`, `Content-Encoding` and everything end-to-end; drops
 * hop-by-hop fields, `WWW-Authenticate`, cookies and statements about the upstream origin.
 */
export function filterResponseHeaders(headers: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  const listed = connectionListed(headers.connection);
  for (const name in headers) {
    if (DROP_RESPONSE.has(name) || listed?.has(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      for (const item of value) out.push(name, item);
    } else {
      out.push(name, value);
    }
  }
  return out;
}

/**
 * Added to every relayed response (flat): whatever the upstream sends is never active content on the proxy's
 * origin. `sandbox` gives an HTML answer an opaque origin (its scripts cannot reach the status page, `/mcp` or the
 * page's CSRF token), `frame-ancestors 'none'` keeps it out of frames, `nosniff` stops type guessing, and CORP keeps
 * other sites' `no-cors` loads from reading it.
 */
export const RELAYED_RESPONSE_SECURITY_HEADERS: readonly string[] = [
  "content-security-policy",
  "sandbox; frame-ancestors 'none'",
  "x-content-type-options",
  "nosniff",
  "cross-origin-resource-policy",
  "same-origin",
];

/** True when the header list (flat) contains `name` (lower case). */
export function hasHeader(flat: readonly string[], name: string): boolean {
  for (let i = 0; i < flat.length; i += 2) {
    if ((flat[i] as string).toLowerCase() === name) return true;
  }
  return false;
}

/** The first value of `name` (lower case) in a flat header list. */
export function headerValue(flat: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if ((flat[i] as string).toLowerCase() === name) return flat[i + 1];
  }
  return undefined;
}
