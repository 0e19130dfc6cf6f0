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
    const response = await fetch(upstream.url, {
      method: "POST",
      headers: {
        ...upstream.headers,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: "mcp-u2m-proxy-start", method: "ping" }),
      signal: AbortSignal.timeout(15_000),
    });
    await response.body?.cancel().catch(() => {});
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
