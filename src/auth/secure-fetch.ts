import { ProxyError } from "../lib/errors.ts";
import { isLoopbackHost } from "../lib/loopback.ts";
import { FetchFailure } from "../lib/network-failure.ts";
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
 * A fetch that refuses insecure URLs before sending anything (discovery and AS endpoints come from the network).
 * A request that gets no answer rejects with a FetchFailure naming its URL, so the error can say which server
 * (the MCP server or its authorization server) could not be reached.
 */
export function secureFetch(fetchFn: FetchLike, allowInsecureHttp: boolean): FetchLike {
  return async (input, init) => {
    assertSecureUrl(input, allowInsecureHttp);
    try {
      return await fetchFn(input, init);
    } catch (error) {
      if (error instanceof TypeError && !(error instanceof FetchFailure)) throw new FetchFailure(String(input), error);
      throw error;
    }
  };
}
