import { ProxyError } from "../lib/errors.ts";
import type { AuthClient, ChallengeOutcome, UpstreamChallenge } from "./auth-client.ts";
import { toProxyError } from "./oauth-errors.ts";
import { type SignInWaitBudget, waitForSignIn } from "./sign-in-wait.ts";

/**
 * The one policy for an upstream call that carries the user's token, shared by the HTTP face's pass-through relay
 * and the message path (stdio face, bridges, SDK transports): which answers are auth challenges, how often a
 * request may be replayed after one, and what the caller is told when the budget is spent.
 */

/** Replays of one request after challenges: a refresh (401), then a step-up (403) or a completed sign-in. */
export const MAX_CHALLENGE_REPLAYS = 3;

/** A 401, or a 403 whose `WWW-Authenticate` says `insufficient_scope` (a step-up); other 403s are answers. */
export function isAuthChallenge(status: number, wwwAuthenticate: string | null | undefined): boolean {
  if (status === 401) return true;
  return status === 403 && /insufficient_scope/i.test(wwwAuthenticate ?? "");
}

/**
 * Asks the auth core what to do about a challenge, within the replay budget. `replays` is how many times this
 * request was already replayed. Past the budget the request fails with an error that names what the upstream kept
 * answering (a 401 is a refused sign-in, not a missing scope).
 *
 * When the core started a sign-in and the caller gave a wait budget, this waits for the person (what is left of the
 * budget, or until the client goes away): a completed sign-in is a retry; otherwise the "sign-in" outcome stands
 * (with the failure's error when the sign-in failed).
 */
export async function answerChallenge(
  auth: AuthClient,
  challenge: UpstreamChallenge,
  replays: number,
  wait?: SignInWaitBudget,
): Promise<ChallengeOutcome> {
  if (replays >= MAX_CHALLENGE_REPLAYS)
    return { action: "fail", error: keptRefusing(auth.serverUrl, challenge.status) };
  let outcome: ChallengeOutcome;
  try {
    outcome = await auth.onChallenge(challenge);
  } catch (error) {
    // The core could not act on the challenge (the shared token store unreachable during the refresh, say): this
    // request fails with that error, said as it is, instead of as a failure inside the proxy.
    return { action: "fail", error: toProxyError(error, auth.serverUrl) };
  }
  if (outcome.action !== "sign-in" || !outcome.completed || !wait || wait.ms <= 0) return outcome;
  const waited = await waitForSignIn(outcome.completed, wait);
  if (waited.outcome === "completed") return { action: "retry" };
  if (waited.outcome === "failed") return { action: "sign-in", error: toProxyError(waited.error, auth.serverUrl) };
  return outcome;
}

function keptRefusing(serverUrl: string, status: number): ProxyError {
  const details = { upstream: serverUrl, upstreamStatus: status };
  if (status === 403) {
    return new ProxyError("INSUFFICIENT_SCOPE", `The upstream ${serverUrl} kept refusing the request for scope.`, {
      hint: "Your account may not be allowed this scope; ask the server's administrator.",
      details,
    });
  }
  return new ProxyError("SIGN_IN_REQUIRED", `The upstream ${serverUrl} kept refusing the sign-in's token (401).`, {
    hint: `Sign in again with \`mcp-u2m-proxy auth ${serverUrl} --force\`.`,
    details,
  });
}
