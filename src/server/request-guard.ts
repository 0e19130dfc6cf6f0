import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { networkInterfaces, hostname as osHostname } from "node:os";
import { ProxyError } from "../lib/errors.ts";
import { isLoopbackHost } from "../lib/loopback.ts";
import { rememberSecret } from "../lib/redact.ts";

/**
 * Downstream security of the HTTP face: which Host and Origin values are accepted (DNS-rebinding and cross-site
 * protection, MCP 2025-11-25 transports §Security Warning: servers MUST validate Origin and answer 403) and the
 * inbound API key required when the face listens beyond loopback.
 */
export interface GuardOptions {
  /** The address the server binds. */
  bindHost: string;
  /** Origins allowed besides loopback ones (`--allow-origin`), e.g. "https://app.example.com"; "*" allows all. */
  allowOrigins?: readonly string[] | undefined;
  /** Host names allowed besides loopback and this machine's own (`--allow-host`), e.g. behind a reverse proxy. */
  allowHosts?: readonly string[] | undefined;
  /** The inbound secret; required when bindHost is not loopback. */
  apiKey?: string | undefined;
  /**
   * Every request comes through a front that authenticates its user (`--identity databricks-apps`): a
   * non-loopback bind needs no inbound secret then.
   */
  authenticatingFront?: boolean | undefined;
}

/** Header that may carry the inbound secret (besides `Authorization: Bearer`). */
export const API_KEY_HEADER = "x-api-key";

/** True for addresses that only this machine can reach. */
export function isLoopbackBind(host: string): boolean {
  return isLoopbackHost(host);
}

/**
 * Refuses to start a face reachable from other machines without an inbound secret: anyone on the network could
 * otherwise use the user's upstream sign-in.
 */
export function assertBindAllowed(host: string, apiKey: string | undefined): void {
  if (isLoopbackBind(host) || (apiKey !== undefined && apiKey.length > 0)) return;
  throw new ProxyError("USAGE", `Listening on ${host} would let other machines use your sign-in without a secret.`, {
    hint: "Set an inbound API key with --api-key or MCP_PROXY_API_KEY, or listen on 127.0.0.1.",
  });
}

/** The host name of a Host header value ("[::1]:8000" → "::1", "Example.COM:80" → "example.com"). */
export function hostnameOf(hostHeader: string): string {
  const value = hostHeader.trim().toLowerCase();
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    return end === -1 ? value : value.slice(1, end);
  }
  const colon = value.indexOf(":");
  // More than one colon without brackets: a bare IPv6 address (not valid in Host, but compare it as is).
  if (colon !== -1 && value.indexOf(":", colon + 1) !== -1) return value;
  return colon === -1 ? value : value.slice(0, colon);
}

export class RequestGuard {
  private readonly hosts: Set<string>;
  private readonly anyOrigin: boolean;
  private readonly origins: Set<string>;
  private readonly keyDigest: Buffer | undefined;

  constructor(options: GuardOptions) {
    if (!options.authenticatingFront) assertBindAllowed(options.bindHost, options.apiKey);
    rememberSecret(options.apiKey);
    this.hosts = new Set((options.allowHosts ?? []).map((host) => hostnameOf(host)));
    const bind = hostnameOf(options.bindHost);
    if (bind === "0.0.0.0" || bind === "::" || bind === "") {
      // Listening everywhere: the machine's own names and addresses are what legitimate clients use.
      this.hosts.add(osHostname().toLowerCase());
      for (const addresses of Object.values(networkInterfaces())) {
        for (const address of addresses ?? []) this.hosts.add(address.address.toLowerCase());
      }
    } else {
      this.hosts.add(bind);
    }
    this.anyOrigin = (options.allowOrigins ?? []).includes("*");
    this.origins = new Set(
      (options.allowOrigins ?? []).filter((origin) => origin !== "*").map((origin) => normaliseOrigin(origin)),
    );
    this.keyDigest = options.apiKey ? digest(options.apiKey) : undefined;
  }

  /** Accepts a public host and origin learnt after start (the trusted front's X-Forwarded-Host). */
  allowPublicOrigin(origin: string): void {
    const url = new URL(origin);
    this.hosts.add(hostnameOf(url.host));
    this.origins.add(url.origin);
  }

  /** Whether an inbound secret is configured (and must be presented on MCP routes). */
  get requiresKey(): boolean {
    return this.keyDigest !== undefined;
  }

  /**
   * DNS rebinding: a page on evil.example that re-resolves to 127.0.0.1 reaches us with `Host: evil.example`.
   * Accept loopback names, the bound host (or, bound to all interfaces, this machine's names and addresses) and
   * the configured ones; the port is not compared (the socket already decided it).
   */
  isHostAllowed(hostHeader: string | undefined): boolean {
    if (!hostHeader) return false;
    const host = hostnameOf(hostHeader);
    return isLoopbackHost(host) || this.hosts.has(host);
  }

  /** An absent Origin (non-browser clients) is fine; a present one must be loopback or configured. */
  isOriginAllowed(origin: string | undefined): boolean {
    if (origin === undefined) return true;
    if (this.anyOrigin) return true;
    if (origin === "null") return false;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    if ((url.protocol === "http:" || url.protocol === "https:") && isLoopbackHost(url.hostname)) return true;
    return this.origins.has(url.origin);
  }

  /**
   * Whether a form post's Origin is the origin of this proxy's own page, so that only that page can use Sign in /
   * Sign out (with the form token; the Origin check is the second lock). The browser builds Host and Origin from
   * the page's URL, so the Origin's host and port must equal the Host header's. Its scheme must be the one the
   * request arrived on, except when TLS ends in front of the proxy (an HTTPS reverse proxy: the page is https, the
   * socket plain HTTP): another scheme passes only for an origin on this machine (loopback) or one the operator
   * listed exactly with --allow-origin, never through "*". X-Forwarded-Proto is not read: any client can send it.
   * The origin must pass isOriginAllowed and the Host isHostAllowed as well, so a foreign page is never the page.
   */
  isOwnPageOrigin(origin: string, hostHeader: string | undefined, arrivedOverTls: boolean): boolean {
    if (!hostHeader || !/^[\w.~-]+(?::\d+)?$|^\[[\d.:a-f]+\](?::\d+)?$/i.test(hostHeader)) return false;
    if (!this.isHostAllowed(hostHeader) || !this.isOriginAllowed(origin)) return false;
    let url: URL;
    let expectedHost: string;
    try {
      url = new URL(origin);
      // Parsed with the Origin's scheme, so a default port is dropped the same way on both sides (":443").
      expectedHost = new URL(`${url.protocol}//${hostHeader}`).host;
    } catch {
      return false;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return false;
    if (url.host !== expectedHost) return false;
    if (url.protocol === (arrivedOverTls ? "https:" : "http:")) return true;
    return isLoopbackHost(url.hostname) || this.origins.has(url.origin);
  }

  /**
   * Fetch Metadata policy for the relay routes, whose requests carry the user's upstream token: a browser marks
   * what a page asked for (`Sec-Fetch-Site`, `Sec-Fetch-Mode`), and only a page's own scripted call may use the
   * sign-in. Navigations and `no-cors` loads (links, `<img>`, `<script>`, forms, frames) are refused whatever the
   * site, so upstream HTML never renders as this origin; cross-site and same-site requests pass only as CORS
   * requests from an allowed origin. Requests without these headers (non-browser clients) are not affected.
   * Returns why a request is refused, or undefined.
   */
  browserRefusal(headers: IncomingHttpHeaders): string | undefined {
    const mode = headers["sec-fetch-mode"];
    const site = headers["sec-fetch-site"];
    if (mode === undefined && site === undefined) return undefined;
    if (mode !== undefined && mode !== "cors" && mode !== "same-origin") {
      return `a browser ${mode === "navigate" || mode === "nested-navigate" ? "navigation" : `${mode} load`} of an MCP relay path`;
    }
    if (site === "cross-site" || site === "same-site") {
      const origin = headers.origin;
      if (mode !== "cors" || origin === undefined || !this.isOriginAllowed(origin)) {
        return `a ${site} browser request from ${origin ?? "a page"} that is not an allowed origin`;
      }
    }
    return undefined;
  }

  /**
   * The inbound secret from `Authorization: Bearer <key>`, `Authorization: Basic <user:key>` (browsers, for the
   * page) or `X-API-Key`, compared in constant time. True when no key is configured.
   */
  hasValidKey(headers: IncomingHttpHeaders): boolean {
    if (!this.keyDigest) return true;
    const presented = presentedKeys(headers);
    let ok = false;
    for (const key of presented) {
      // Compare digests: equal lengths for timingSafeEqual, and no length leak.
      if (timingSafeEqual(digest(key), this.keyDigest)) ok = true;
    }
    return ok;
  }
}

function presentedKeys(headers: IncomingHttpHeaders): string[] {
  const keys: string[] = [];
  const header = headers[API_KEY_HEADER];
  if (typeof header === "string" && header) keys.push(header.trim());
  const authorization = headers.authorization;
  if (typeof authorization === "string") {
    const space = authorization.indexOf(" ");
    const scheme = authorization.slice(0, space).toLowerCase();
    const value = authorization.slice(space + 1).trim();
    if (scheme === "bearer" && value) keys.push(value);
    if (scheme === "basic" && value) {
      const decoded = Buffer.from(value, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon !== -1) keys.push(decoded.slice(colon + 1));
    }
  }
  return keys;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

function normaliseOrigin(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    return origin.toLowerCase().replace(/\/+$/, "");
  }
}
