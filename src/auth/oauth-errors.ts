import { ProxyError } from "../lib/errors.ts";
import { authorizationServer, mcpServer, type Party, signInServersUnreachable, unreachable } from "../lib/messages.ts";
import { FetchFailure, FetchTimeout } from "../lib/network-failure.ts";
import { clientNeeded, isNoRegistrationError } from "./client-needed.ts";
import { issuerMismatch } from "./issuer-check.ts";
import { sdkIfLoaded } from "./sdk.ts";

/** The SDK's OAuthError code, when `error` is one (only possible once the SDK is loaded). */
function oauthCode(error: unknown): string | undefined {
  const sdk = sdkIfLoaded();
  return sdk && error instanceof sdk.OAuthError ? error.code : undefined;
}

/** OAuth error codes that mean "try again later", not "your grant is gone" (RFC 6749 §5.2, §4.1.2.1). */
const TRANSIENT_OAUTH_CODES = new Set(["temporarily_unavailable", "server_error"]);

export function isTransientOAuthError(error: unknown): boolean {
  const code = oauthCode(error);
  if (code !== undefined) return TRANSIENT_OAUTH_CODES.has(code);
  // fetch failures (connection refused, reset, DNS) surface as TypeError from undici.
  return error instanceof TypeError || (error instanceof ProxyError && error.code === "NETWORK");
}

export function isInvalidGrant(error: unknown): boolean {
  return oauthCode(error) === "invalid_grant";
}

/** The AS does not know (or no longer accepts) our client registration (RFC 6749 §5.2). */
export function isInvalidClient(error: unknown): boolean {
  const code = oauthCode(error);
  return code === "invalid_client" || code === "unauthorized_client";
}

/**
 * Maps whatever the SDK's OAuth functions throw to a ProxyError that says what went wrong with which server and
 * what to do. Never includes tokens or codes (SDK messages quote server error bodies, not our secrets).
 */
export function toProxyError(error: unknown, serverUrl: string): ProxyError {
  if (error instanceof ProxyError) return error;
  const sdk = sdkIfLoaded();
  if (sdk) {
    const mapped = fromSdkError(error, serverUrl, sdk);
    if (mapped) return mapped;
  }
  return fromOtherError(error, serverUrl);
}

function retryHint(serverUrl: string): string {
  return `Run \`mcp-u2m-proxy auth ${serverUrl}\` to sign in again.`;
}

function fromSdkError(
  error: unknown,
  serverUrl: string,
  {
    AuthorizationServerMismatchError,
    InsecureTokenEndpointError,
    IssuerMismatchError,
    OAuthError,
    RegistrationRejectedError,
  }: NonNullable<ReturnType<typeof sdkIfLoaded>>,
): ProxyError | undefined {
  const retry = retryHint(serverUrl);
  if (error instanceof IssuerMismatchError) {
    if (error.kind === "metadata") return issuerMismatch(serverUrl, error.expected, error.received);
    return new ProxyError(
      "ISSUER_MISMATCH",
      "The authorization response came from a different issuer than the one the sign-in started with (possible mix-up attack); it was rejected.",
      { hint: "Sign in again; if it repeats, the server's OAuth setup is wrong.", cause: error },
    );
  }
  if (error instanceof AuthorizationServerMismatchError) {
    return new ProxyError("ISSUER_MISMATCH", `The authorization server for ${serverUrl} changed during sign-in.`, {
      hint: retry,
      cause: error,
    });
  }
  if (error instanceof InsecureTokenEndpointError) {
    return new ProxyError("UNSAFE_URL", `The token endpoint of ${serverUrl}'s authorization server is not https.`, {
      hint: "Only use this server over https (or loopback in development).",
      cause: error,
    });
  }
  if (error instanceof RegistrationRejectedError) {
    return new ProxyError(
      "REGISTRATION_FAILED",
      `The authorization server rejected client registration (HTTP ${error.status}).`,
      { hint: "Pass a pre-registered client with --client-id (and --client-secret).", cause: error },
    );
  }
  if (error instanceof OAuthError) {
    if (error.code === "invalid_grant") {
      return new ProxyError(
        "INVALID_GRANT",
        `The authorization server no longer accepts the sign-in for ${serverUrl}.`,
        {
          hint: retry,
          cause: error,
        },
      );
    }
    if (error.code === "access_denied") {
      return new ProxyError("SIGN_IN_DENIED", `Sign-in to ${serverUrl} was denied.`, { hint: retry, cause: error });
    }
    return new ProxyError("AS_ERROR", `The authorization server answered ${error.code}: ${error.message}`, {
      hint: isTransientOAuthError(error) ? "Try again in a moment." : retry,
      cause: error,
    });
  }
  return undefined;
}

/** Network failures and the SDK's plain Errors, recognised by their message (the SDK has no codes for these). */
function fromOtherError(error: unknown, serverUrl: string): ProxyError {
  if (error instanceof FetchFailure || error instanceof FetchTimeout) {
    return unreachable(partyOfRequest(error.url, serverUrl), error);
  }
  if (error instanceof TypeError) return signInServersUnreachable(serverUrl, error);
  if (isNoRegistrationError(error)) return clientNeeded(serverUrl, undefined, undefined, error);
  const message = error instanceof Error ? error.message : String(error);
  if (/does not match expected|Protected resource .* does not match/i.test(message)) {
    return new ProxyError(
      "RESOURCE_MISMATCH",
      `The server's protected resource metadata names a different resource than ${serverUrl}; refusing to sign in.`,
      { hint: "Check the server URL.", cause: error },
    );
  }
  if (/PKCE|code_challenge/i.test(message)) {
    return new ProxyError("PKCE_UNSUPPORTED", `The authorization server for ${serverUrl} does not support PKCE S256.`, {
      hint: "This server cannot be used safely; ask its operator to enable PKCE.",
      cause: error,
    });
  }
  if (/metadata|discover/i.test(message)) {
    return new ProxyError("DISCOVERY_FAILED", `Could not discover how to sign in to ${serverUrl}: ${message}`, {
      hint: "Check the server URL; it must be an MCP endpoint that uses OAuth.",
      cause: error,
    });
  }
  return new ProxyError("AS_ERROR", `Sign-in to ${serverUrl} failed: ${message}`, {
    hint: retryHint(serverUrl),
    cause: error,
  });
}

/**
 * Which server a sign-in request went to: the MCP server for its own URL and its protected resource metadata
 * (RFC 9728 §3, the first request of every discovery), the authorization server for everything else (its metadata,
 * registration, token and revocation endpoints), even when it shares the MCP server's origin.
 */
export function partyOfRequest(requestUrl: string, serverUrl: string): Party {
  try {
    const request = new URL(requestUrl);
    const server = new URL(serverUrl);
    if (
      request.origin === server.origin &&
      (request.pathname === server.pathname || request.pathname.startsWith("/.well-known/oauth-protected-resource"))
    ) {
      return mcpServer(serverUrl);
    }
  } catch {
    // not a URL: fall through
  }
  return authorizationServer(requestUrl, serverUrl);
}
