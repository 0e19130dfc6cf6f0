import type { AuthClient } from "../auth/auth-client.ts";
import { describeError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";

/**
 * At start-up without usable tokens, asks the upstream once, without a token, whether it wants one (a JSON-RPC
 * ping). A 401 starts the sign-in exactly as a client request's 401 would, with the challenge's scope and
 * resource_metadata, so the browser opens while the host is still starting. Any other answer means this upstream
 * needs no sign-in now: none is started (and no misleading registration error is printed); a later 401 still
 * starts one. Never throws.
 */
export async function signInAtStart(
  auth: AuthClient,
  upstream: { url: string; headers: Record<string, string> },
  logger: Logger,
): Promise<void> {
  try {
    const status = await auth.status();
    if (status.signedIn || auth.pendingSignIn()) return;
    // A POST answers 401 on Streamable HTTP servers; a legacy SSE server (POST refused: 400/404/405) is asked with
    // the GET that opens its stream, closed as soon as the status is known.
    let response = await probe(upstream, "POST");
    if (response.status !== 401 && [400, 404, 405].includes(response.status)) response = await probe(upstream, "GET");
    if (response.status !== 401) {
      logger.debug(`${upstream.url} answered ${response.status} without a token; no sign-in needed yet.`);
      return;
    }
    logger.info(`Not signed in to ${auth.serverUrl}; starting the sign-in.`);
    const outcome = await auth.onChallenge({
      status: 401,
      wwwAuthenticate: response.headers.get("www-authenticate"),
      usedToken: undefined,
    });
    if (outcome.action !== "retry") logger.warn(outcome.error.toLine());
  } catch (error) {
    logger.warn(
      `Could not check whether ${upstream.url} needs a sign-in (${describeError(error)}); will sign in when it asks.`,
    );
  }
}

async function probe(
  upstream: { url: string; headers: Record<string, string> },
  method: "POST" | "GET",
): Promise<Response> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 15_000);
  try {
    const response = await fetch(upstream.url, {
      method,
      headers: {
        ...upstream.headers,
        accept: method === "GET" ? "text/event-stream" : "application/json, text/event-stream",
        ...(method === "POST" ? { "content-type": "application/json" } : {}),
      },
      ...(method === "POST"
        ? { body: JSON.stringify({ jsonrpc: "2.0", id: "mcp-u2m-proxy-start", method: "ping" }) }
        : {}),
      signal: abort.signal,
    });
    return response;
  } finally {
    clearTimeout(timer);
    abort.abort(); // the status is all we need; never read (or keep open) the body
  }
}
