// The errors the relay words itself for a failed upstream call, apart so the loop only decides when to use them.
import { isProxyError, ProxyError } from "../lib/errors.ts";
import { brokeOff, mcpServer, unreachable } from "../lib/messages.ts";

/** Where a sign-in can be done, for the error that asks for one. */
export interface SignInPlaces {
  /** The upstream MCP endpoint (its href). */
  upstream: string;
  /** The authorization URL of a sign-in under way. */
  signInUrl: string | undefined;
  /** This proxy's page, where people can start a sign-in. */
  signInPageUrl: string | undefined;
}

/** A sign-in error that names where to sign in: the authorization URL under way and this proxy's page. */
export function signInErrorFor(error: unknown, places: SignInPlaces): ProxyError {
  const { upstream, signInUrl, signInPageUrl } = places;
  const where: Record<string, unknown> = {};
  if (signInUrl) where.signInUrl = signInUrl;
  if (signInPageUrl) where.signInPage = signInPageUrl;
  if (isProxyError(error)) {
    const needsSignIn = error.code.startsWith("SIGN_IN") || error.code === "INVALID_GRANT";
    if (!needsSignIn || Object.keys(where).length === 0) return error;
    return new ProxyError(error.code, error.message, {
      hint: error.hint,
      cause: error.cause,
      details: { upstream, ...where, ...error.details },
    });
  }
  return new ProxyError(
    "SIGN_IN_REQUIRED",
    `Sign-in to ${upstream} is required${signInUrl ? " and not finished yet" : ""}.`,
    {
      hint: signInUrl
        ? `Open ${signInUrl} in a browser, then try again.`
        : `Open ${signInPageUrl ?? "the proxy's page"} and sign in, then try again.`,
      cause: error,
      details: { upstream, ...where },
    },
  );
}

/** An undici failure (before or during the response) as the catalogue words it for the MCP server at `upstream`. */
export function networkErrorFor(upstream: string, error: unknown, during: "request" | "response"): ProxyError {
  const party = mcpServer(upstream);
  return during === "response" ? brokeOff(party, error) : unreachable(party, error);
}
