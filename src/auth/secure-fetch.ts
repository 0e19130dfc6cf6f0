import { DEFAULTS } from "../config/defaults.ts";
import { ProxyError } from "../lib/errors.ts";
import { isLoopbackHost } from "../lib/loopback.ts";
import { FetchFailure, FetchTimeout } from "../lib/network-failure.ts";
import type { FetchLike } from "./authorized-fetch.ts";

/**
 * OAuth and MCP traffic must use https; plain http only to loopback hosts (local servers, tests), unless the user
 * passed --allow-insecure-http (SEC §Communication Security; BP §SSRF "Enforce HTTPS").
 */
export function assertSecureUrl(raw: string | URL, allowInsecureHttp: boolean): URL {
  const url = new URL(String(raw));
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ProxyError("INVALID_URL", `${url.protocol}// URLs are not MCP server URLs.`, {
      hint: "Give the server's https URL, e.g. https://mcp.example.com/mcp.",
    });
  }
  if (url.protocol === "https:" || (url.protocol === "http:" && (allowInsecureHttp || isLoopbackHost(url.hostname)))) {
    return url;
  }
  throw new ProxyError(
    "UNSAFE_URL",
    `Refusing ${url.protocol}// to ${url.host}: OAuth and MCP traffic must use https.`,
    {
      hint: "Use the server's https URL (plain http is allowed only on loopback, or with --allow-insecure-http).",
    },
  );
}

/**
 * Longest wait for an answer from an authorization server or for discovery: a stalled server must not hold a
 * sign-in, or the refresh lock that other requests and processes wait on, for longer than this.
 */
export const OAUTH_REQUEST_TIMEOUT_MS = DEFAULTS.oauthRequestTimeoutMs;

/**
 * A fetch that refuses insecure URLs before sending anything (discovery and AS endpoints come from the network)
 * and gives every request a time limit (on top of the caller's own signal). A request that gets no answer rejects
 * with a FetchFailure (or FetchTimeout) naming its URL, so the error can say which server (the MCP server or its
 * authorization server) could not be reached.
 */
export function secureFetch(
  fetchFn: FetchLike,
  allowInsecureHttp: boolean,
  timeoutMs: number = OAUTH_REQUEST_TIMEOUT_MS,
): FetchLike {
  return async (input, init = {}) => {
    assertSecureUrl(input, allowInsecureHttp);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    try {
      return await fetchFn(input, { ...init, signal });
    } catch (error) {
      if (timeout.aborted && !init.signal?.aborted) throw new FetchTimeout(String(input), timeoutMs, error);
      if (error instanceof TypeError && !(error instanceof FetchFailure)) throw new FetchFailure(String(input), error);
      throw error;
    }
  };
}
