import type { AuthClient } from "../auth/auth-client.ts";
import { describeError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import { probeEndpoint } from "../proxy/endpoint-probe.ts";
import { GUESS_TIMEOUT_MS, reportEndpoint } from "../proxy/endpoint-report.ts";
import type { UpstreamHealth } from "../proxy/upstream-health.ts";

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
    await signInFromChallenge(auth, response.headers.get("www-authenticate"), logger);
  } catch (error) {
    logger.warn(
      `Could not check whether ${upstream.url} needs a sign-in (${describeError(error)}); will sign in when it asks.`,
    );
  }
}

/**
 * `serve` start: one endpoint probe (with the token when signed in, see endpoint-probe.ts), kept as /healthz's first
 * report. Without tokens, its 401 starts the sign-in as signInAtStart does. An upstream that is down, failing or not
 * an MCP endpoint gets one warning line (with the URL the user probably meant) and the face keeps serving: the
 * server may come up later, and /healthz tells when. Never throws.
 */
export async function checkUpstreamAtStart(options: {
  url: string;
  headers: Record<string, string>;
  health: UpstreamHealth;
  logger: Logger;
  /** The auth core, when the upstream uses OAuth; `signIn: false` only probes. */
  auth?: AuthClient | undefined;
  signIn?: boolean | undefined;
  /** The protected resource metadata's `resource`, for "did you mean". */
  resource?: (() => Promise<string | undefined>) | undefined;
}): Promise<void> {
  const { auth, logger, url } = options;
  try {
    const status = auth ? await auth.status() : undefined;
    const verdict = await options.health.probe();
    if (verdict.kind === "auth-required") {
      if (verdict.status === 401 && auth && options.signIn !== false && !status?.signedIn && !auth.pendingSignIn()) {
        await signInFromChallenge(auth, verdict.wwwAuthenticate, logger);
      }
      return;
    }
    const token = status?.signedIn ? await auth?.getAccessToken().catch(() => undefined) : undefined;
    const problem = await reportEndpoint(url, verdict, {
      resource: await options.resource?.().catch(() => undefined),
      probe: (candidate) => probeEndpoint(candidate, { token, headers: options.headers, timeoutMs: GUESS_TIMEOUT_MS }),
    });
    if (problem) logger.warn(`${problem.message} Serving anyway; /healthz says when it answers.`);
  } catch (error) {
    logger.warn(`Could not check ${url} at start (${describeError(error)}).`);
  }
}

async function signInFromChallenge(auth: AuthClient, wwwAuthenticate: string | null, logger: Logger): Promise<void> {
  logger.info(`Not signed in to ${auth.serverUrl}; starting the sign-in.`);
  const outcome = await auth.onChallenge({ status: 401, wwwAuthenticate, usedToken: undefined });
  if (outcome.action === "retry") return;
  if (outcome.action === "sign-in" && outcome.completed) {
    // Under way: its URL is shown already; only a failure is worth a line, whenever it comes.
    outcome.completed.catch((error: unknown) =>
      logger.warn(`Sign-in to ${auth.serverUrl} failed: ${describeError(error)}`),
    );
    return;
  }
  logger.warn(outcome.error.toLine());
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
