import type { AuthorizationServerMetadata, StoredOAuthClientInformation } from "@modelcontextprotocol/client";
import { ProxyError } from "../lib/errors.ts";
import { assertSafeBrowserUrl } from "../lib/open-url.ts";
import { rememberSecret } from "../lib/redact.ts";
import type { FetchLike } from "./authorized-fetch.ts";
import { loadSdk } from "./sdk.ts";

/**
 * The protocol side of the RFC 8628 device authorization grant: whether an authorization server offers it, the
 * device authorization request, and what each answer to a polling token request means. The flow around it (the
 * client, the waiting, the tokens) is device-sign-in.ts.
 */

export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** RFC 8628 §3.2: the polling interval when the AS names none. */
export const DEFAULT_POLL_INTERVAL_MS = 5_000;
/** RFC 8628 §3.5: `slow_down` adds 5 seconds to the interval, for this and every later request. */
export const SLOW_DOWN_STEP_MS = 5_000;
/** Network failures and 5xx answers while polling: wait longer each time, give up after this many in a row. */
export const MAX_TRANSIENT_POLL_FAILURES = 3;

/** What the person signing in is shown, and what the proxy polls with. The device code never leaves this process. */
export interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  /** The verification URI with the user code in it, when the AS gives one (nothing to type). */
  verificationUriComplete: string | undefined;
  expiresAt: number;
  intervalMs: number;
}

/** What the app layer shows for a device sign-in (on stderr: stdout may be the MCP channel). */
export interface DevicePrompt {
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string | undefined;
  expiresAt: number;
}

/** The metadata's device endpoint, when it has one and does not rule the grant out. */
export function deviceEndpointOf(metadata: AuthorizationServerMetadata | undefined): string | undefined {
  const endpoint = (metadata as { device_authorization_endpoint?: unknown } | undefined)?.device_authorization_endpoint;
  if (typeof endpoint !== "string" || endpoint === "") return undefined;
  // An AS that publishes its grant types and leaves this one out does not issue tokens for it.
  const grants = metadata?.grant_types_supported;
  if (Array.isArray(grants) && grants.length > 0 && !grants.includes(DEVICE_CODE_GRANT)) return undefined;
  return endpoint;
}

export function deviceFlowUnsupported(serverUrl: string, issuer: string | undefined): ProxyError {
  return new ProxyError(
    "USAGE",
    `The authorization server${issuer ? ` ${issuer}` : ""} for ${serverUrl} offers no device sign-in (RFC 8628): its metadata has no device_authorization_endpoint.`,
    {
      hint: "Sign in without --device: with --no-browser on a terminal, open the printed URL on any machine and paste the address it ends on back here.",
    },
  );
}

export interface DeviceAuthorizationRequest {
  endpoint: string;
  client: StoredOAuthClientInformation;
  metadata: AuthorizationServerMetadata | undefined;
  scope: string | undefined;
  resource: string | undefined;
  fetchFn: FetchLike;
  serverUrl: string;
  now: () => number;
}

/**
 * RFC 8628 §3.1–3.2: asks for a device code and a user code, with the scope and (RFC 8707) resource the token
 * request will carry, the client authenticated as at the token endpoint. Throws the SDK's OAuthError for an OAuth
 * error answer (so `invalid_client` leads to a new registration, as for the other grants) and a ProxyError for an
 * answer that is not a device authorization.
 */
export async function requestDeviceAuthorization(request: DeviceAuthorizationRequest): Promise<DeviceAuthorization> {
  const { selectClientAuthMethod, OAuthError } = await loadSdk();
  const body = new URLSearchParams();
  if (request.scope) body.set("scope", request.scope);
  if (request.resource) body.set("resource", request.resource);
  const headers = new Headers({ "content-type": "application/x-www-form-urlencoded", accept: "application/json" });
  const method = selectClientAuthMethod(request.client, request.metadata?.token_endpoint_auth_methods_supported ?? []);
  applyClientAuthentication(method, request.client, headers, body);
  const response = await request.fetchFn(request.endpoint, { method: "POST", headers, body });
  const text = await response.text();
  const json = parseJson(text);
  if (!response.ok) {
    const error = json && typeof json.error === "string" ? json.error : undefined;
    if (error) {
      const description = typeof json?.error_description === "string" ? `: ${json.error_description}` : "";
      throw new OAuthError(error, `The device authorization endpoint answered ${error}${description}`);
    }
    throw badAnswer(request, `HTTP ${response.status}`);
  }
  if (!json) throw badAnswer(request, "a body that is not JSON");
  const { device_code, user_code, expires_in, interval } = json;
  // Google's endpoint once spelled it verification_url.
  const verificationUri = json.verification_uri ?? json.verification_url;
  if (typeof device_code !== "string" || device_code === "") throw badAnswer(request, "no device_code");
  rememberSecret(device_code);
  if (typeof user_code !== "string" || user_code === "") throw badAnswer(request, "no user_code");
  if (typeof verificationUri !== "string") throw badAnswer(request, "no verification_uri");
  if (typeof expires_in !== "number" || !(expires_in > 0)) throw badAnswer(request, "no positive expires_in");
  if (interval !== undefined && (typeof interval !== "number" || !(interval >= 0))) {
    throw badAnswer(request, "an interval that is not a number of seconds");
  }
  const complete = typeof json.verification_uri_complete === "string" ? json.verification_uri_complete : undefined;
  return {
    deviceCode: device_code,
    userCode: user_code,
    // Shown to the person as a link: only https (or http on loopback), never javascript: and the like.
    verificationUri: assertSafeBrowserUrl(verificationUri).href,
    verificationUriComplete: complete === undefined ? undefined : assertSafeBrowserUrl(complete).href,
    expiresAt: request.now() + expires_in * 1000,
    intervalMs: Math.max(interval === undefined ? DEFAULT_POLL_INTERVAL_MS : interval * 1000, 1_000),
  };
}

/** What one failed polling token request means (RFC 8628 §3.5). */
export type PollVerdict =
  | { kind: "pending" }
  | { kind: "slow-down" }
  /** A network failure or a 5xx: poll again later, with a longer interval. */
  | { kind: "transient" }
  | { kind: "fail"; error: ProxyError };

export function pollVerdict(code: string | undefined, serverUrl: string, transient: boolean): PollVerdict {
  const again = `Run \`mcp-u2m-proxy auth ${serverUrl} --device\` to get a new code.`;
  switch (code) {
    case "authorization_pending":
      return { kind: "pending" };
    case "slow_down":
      return { kind: "slow-down" };
    case "expired_token":
      return {
        kind: "fail",
        error: new ProxyError("SIGN_IN_TIMEOUT", "The device code expired before the sign-in was approved.", {
          hint: again,
        }),
      };
    case "access_denied":
      return {
        kind: "fail",
        error: new ProxyError("SIGN_IN_DENIED", "The sign-in was denied on the verification page.", { hint: again }),
      };
    default:
      if (transient) return { kind: "transient" };
      return {
        kind: "fail",
        error: new ProxyError(
          "AS_ERROR",
          `The authorization server refused the device sign-in${code ? ` (${code})` : ""}.`,
          { hint: again },
        ),
      };
  }
}

export function deviceCodeExpired(serverUrl: string): ProxyError {
  return new ProxyError("SIGN_IN_TIMEOUT", "The device code expired before the sign-in was approved.", {
    hint: `Run \`mcp-u2m-proxy auth ${serverUrl} --device\` to get a new code.`,
  });
}

/** Client authentication exactly as the SDK sends it to the token endpoint (so one AS sees one form). */
function applyClientAuthentication(
  method: string,
  client: StoredOAuthClientInformation,
  headers: Headers,
  body: URLSearchParams,
): void {
  const { client_id, client_secret } = client;
  if (method === "client_secret_basic" && client_secret) {
    headers.set("authorization", `Basic ${btoa(`${client_id}:${client_secret}`)}`);
    return;
  }
  body.set("client_id", client_id);
  if (method === "client_secret_post" && client_secret) body.set("client_secret", client_secret);
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function badAnswer(request: DeviceAuthorizationRequest, what: string): ProxyError {
  return new ProxyError(
    "AS_ERROR",
    `The device authorization endpoint ${new URL(request.endpoint).origin} answered ${what}, not a device code.`,
    { hint: `Check the authorization server's metadata, or sign in without --device.` },
  );
}
