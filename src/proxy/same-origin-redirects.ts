import type { FetchLike } from "../auth/authorized-fetch.ts";
import { HTTP_ERROR_CODES, UpstreamHttpError } from "./upstream-http-error.ts";

/**
 * One request to an MCP endpoint through `fetch`. Redirects are followed only when they keep the method (GET, or 307/308) and the
 * origin, at most 5 times, as the SDK's transport does: the authorized fetch puts the user's token on every
 * request, and a redirect to another origin would hand that token to a server it was not issued for; a 301/302/303
 * would turn the POST into a GET that has lost its JSON-RPC body. Any other redirect fails with where it points.
 */
export async function fetchKeepingOrigin(fetch: FetchLike, endpoint: URL, init: RequestInit): Promise<Response> {
  let url = endpoint;
  for (let followed = 0; ; followed++) {
    const response = await fetch(url, { ...init, redirect: "manual" });
    const target = redirectTarget(url, response);
    if (!target) return response;
    await response.body?.cancel().catch(() => {});
    const keepsMethod = init.method === "GET" || response.status === 307 || response.status === 308;
    if (!keepsMethod || !sameOrigin(url, target) || target.username || target.password || followed === MAX_REDIRECTS) {
      target.username = target.password = target.search = target.hash = "";
      const why = followed === MAX_REDIRECTS ? `after ${MAX_REDIRECTS} redirects` : "";
      throw new UpstreamHttpError(
        HTTP_ERROR_CODES.notImplemented,
        `Redirect to ${target.href} not followed${why ? ` ${why}` : ""}: only same-origin redirects that keep the method are followed, so the token never leaves the server it was issued for. Use that URL as the upstream if it is the intended server.`,
        { status: response.status, statusText: response.statusText, text: "" },
      );
    }
    url = target;
  }
}

const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function redirectTarget(url: URL, response: Response): URL | undefined {
  const location = REDIRECT_STATUSES.has(response.status) ? response.headers.get("location") : null;
  if (!location) return undefined;
  try {
    return new URL(location, url);
  } catch {
    return undefined;
  }
}

function sameOrigin(from: URL, to: URL): boolean {
  return from.protocol === to.protocol && from.host === to.host;
}
