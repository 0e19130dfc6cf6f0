import { ProxyError } from "../lib/errors.ts";
import { rememberSecret } from "../lib/redact.ts";
import type { FetchLike } from "./authorized-fetch.ts";
import { type FlowHost, FlowProvider, type PendingFlow } from "./flow-provider.ts";
import { loadSdk } from "./sdk.ts";

/**
 * The authorization server's redirect for one pending flow: checks `iss` (RFC 9207) before anything else, turns an
 * error response into a ProxyError, and exchanges the code (the SDK's token request; the flow host stores the
 * tokens). Throws on every failure; the caller decides whether to register again or report.
 */
export async function exchangeCallback(
  query: URLSearchParams,
  flow: PendingFlow,
  host: FlowHost,
  fetchFn: FetchLike,
  serverUrl: string,
): Promise<void> {
  // Error responses included: a mix-up must not even show the AS's error text.
  const metadata = flow.discovery?.authorizationServerMetadata;
  const { auth: sdkAuth, validateAuthorizationResponseIssuer } = await loadSdk();
  validateAuthorizationResponseIssuer({
    iss: query.get("iss") ?? undefined,
    expectedIssuer: metadata?.issuer,
    issParameterSupported: metadata?.authorization_response_iss_parameter_supported === true,
  });
  const asError = query.get("error");
  if (asError) {
    const description = query.get("error_description");
    throw new ProxyError(
      asError === "access_denied" ? "SIGN_IN_DENIED" : "AS_ERROR",
      asError === "access_denied"
        ? "Sign-in was denied at the authorization server."
        : `The authorization server answered ${asError}${description ? `: ${description}` : ""}.`,
      { hint: `Run \`mcp-u2m-proxy auth ${serverUrl}\` to try again.` },
    );
  }
  const code = query.get("code");
  rememberSecret(code);
  if (!code) throw new ProxyError("AS_ERROR", "The authorization response carries no code.");
  await sdkAuth(new FlowProvider(host, flow), {
    serverUrl,
    authorizationCode: code,
    iss: query.get("iss") ?? undefined,
    ...(flow.scope ? { scope: flow.scope } : {}),
    fetchFn,
    skipIssuerMetadataValidation: host.issuers.relaxed,
  });
}
