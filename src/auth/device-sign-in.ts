import { setTimeout as delay } from "node:timers/promises";
import type { OAuthClientInformationContext, StoredOAuthClientInformation } from "@modelcontextprotocol/client";
import { ProxyError } from "../lib/errors.ts";
import type { FetchLike } from "./authorized-fetch.ts";
import {
  DEVICE_CODE_GRANT,
  type DeviceAuthorization,
  type DevicePrompt,
  deviceCodeExpired,
  deviceEndpointOf,
  deviceFlowUnsupported,
  MAX_TRANSIENT_POLL_FAILURES,
  type PollVerdict,
  pollVerdict,
  requestDeviceAuthorization,
  SLOW_DOWN_STEP_MS,
} from "./device-authorization.ts";
import { type FlowHost, FlowProvider, type PendingFlow } from "./flow-provider.ts";
import { isTransientOAuthError, toProxyError } from "./oauth-errors.ts";
import { loadSdk, sdkIfLoaded } from "./sdk.ts";

export interface DeviceSignInParts {
  serverUrl: string;
  /** The flow, with the discovery it was chosen on (the SDK uses it as is: no second discovery). */
  flow: PendingFlow;
  /** The storage side of the flow (its client metadata asks for the device grant, PKCE is not checked). */
  host: FlowHost;
  resourceMetadataUrl: string | undefined;
  fetchFn: FetchLike;
  /** Shows the code and where to enter it; called again if the AS forgot the client and a new code was needed. */
  show: (prompt: DevicePrompt) => void;
  /** Aborting ends the polling (shutdown, or a step-up that starts a wider sign-in). */
  signal: AbortSignal;
  now?: () => number;
  /** Waits between polls (tests pass a fake clock). Rejects when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * A sign-in with the RFC 8628 device authorization grant: the SDK's `auth()` does what it does for every grant
 * (the discovered metadata, the `resource` check and choice, the scope, the client: stored, CIMD or registered),
 * and this provider, being non-interactive (no redirect URI), supplies the token request: the device code, obtained
 * on the first call, after waiting the polling interval. Polls go on until the person approves or denies, the code
 * expires, or `signal` aborts. Resolves once the tokens are stored (bound to the issuer, as a browser sign-in's).
 */
export async function runDeviceSignIn(parts: DeviceSignInParts): Promise<void> {
  const { serverUrl, flow } = parts;
  const metadata = flow.discovery?.authorizationServerMetadata;
  if (!deviceEndpointOf(metadata)) throw deviceFlowUnsupported(serverUrl, metadata?.issuer);
  const provider = new DeviceFlowProvider(parts);
  const { auth: sdkAuth, fetchToken } = await loadSdk();
  let verdict: PollVerdict;
  try {
    await sdkAuth(provider, {
      serverUrl,
      ...(flow.scope ? { scope: flow.scope } : {}),
      ...(parts.resourceMetadataUrl ? { resourceMetadataUrl: new URL(parts.resourceMetadataUrl) } : {}),
      fetchFn: parts.fetchFn,
      skipIssuerMetadataValidation: parts.host.issuers.relaxed,
    });
    return;
  } catch (error) {
    verdict = classify(error, parts);
  }
  const issuer = metadata?.issuer ?? flow.discovery?.authorizationServerUrl ?? "";
  for (;;) {
    if (verdict.kind === "fail") throw verdict.error;
    provider.next(verdict.kind);
    try {
      const tokens = await fetchToken(provider, flow.discovery?.authorizationServerUrl ?? issuer, {
        metadata,
        ...(provider.resource ? { resource: provider.resource } : {}),
        ...(provider.scope ? { scope: provider.scope } : {}),
        fetchFn: parts.fetchFn,
      });
      await provider.saveTokens({ ...tokens, issuer });
      return;
    } catch (error) {
      verdict = classify(error, parts);
    }
  }
}

/** What a failed step means: a ProxyError (expiry, abort, mapped errors) ends the sign-in; OAuth codes per §3.5. */
function classify(error: unknown, parts: DeviceSignInParts): PollVerdict {
  if (parts.signal.aborted) {
    const reason = parts.signal.reason;
    return {
      kind: "fail",
      error:
        reason instanceof ProxyError ? reason : new ProxyError("SIGN_IN_TIMEOUT", "The device sign-in was abandoned."),
    };
  }
  if (error instanceof ProxyError && error.code !== "NETWORK") return { kind: "fail", error };
  const sdk = sdkIfLoaded();
  const code = sdk && error instanceof sdk.OAuthError ? error.code : undefined;
  const verdict = pollVerdict(code, parts.serverUrl, isTransientOAuthError(error));
  if (verdict.kind === "fail" && code === undefined)
    return { kind: "fail", error: toProxyError(error, parts.serverUrl) };
  return verdict;
}

/**
 * The SDK's provider for a device sign-in: the browser flow's provider (client, tokens, discovery, the resource
 * check) without a redirect URI, so that `auth()` and `fetchToken()` ask it for the token request instead.
 */
class DeviceFlowProvider extends FlowProvider {
  resource: string | undefined;
  scope: string | undefined;
  private authorization: (DeviceAuthorization & { clientId: string }) | undefined;
  private client: StoredOAuthClientInformation | undefined;
  private intervalMs = 0;
  private waitMs = 0;
  private transientFailures = 0;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(private readonly parts: DeviceSignInParts) {
    super(parts.host, parts.flow);
    this.now = parts.now ?? Date.now;
    this.sleep = parts.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }));
  }

  override get redirectUrl(): undefined {
    return undefined;
  }

  override async clientInformation(
    ctx?: OAuthClientInformationContext,
  ): Promise<StoredOAuthClientInformation | undefined> {
    this.client = await super.clientInformation(ctx);
    return this.client;
  }

  override async saveClientInformation(info: StoredOAuthClientInformation): Promise<void> {
    await super.saveClientInformation(info);
    this.client = info;
  }

  saveResourceUrl(resource: string): void {
    this.resource = resource;
  }

  /** After a failed poll: how long until the next one (RFC 8628 §3.5). */
  next(kind: "pending" | "slow-down" | "transient"): void {
    if (kind === "slow-down") this.intervalMs += SLOW_DOWN_STEP_MS;
    if (kind === "transient") {
      this.transientFailures += 1;
      if (this.transientFailures > MAX_TRANSIENT_POLL_FAILURES) {
        throw new ProxyError("NETWORK", `The authorization server for ${this.parts.serverUrl} stopped answering.`, {
          hint: `Run \`mcp-u2m-proxy auth ${this.parts.serverUrl} --device\` to try again.`,
        });
      }
    } else {
      this.transientFailures = 0;
    }
    // A connection failure must lower the polling rate (§3.5): the wait doubles with each one in a row.
    this.waitMs = this.intervalMs * 2 ** this.transientFailures;
  }

  /** The device code grant, once the polling interval has passed (the first call obtains the code and shows it). */
  async prepareTokenRequest(scope?: string): Promise<URLSearchParams> {
    this.scope = scope;
    const client = this.client;
    if (!client) throw new ProxyError("INTERNAL", "The device sign-in has no client.");
    if (!this.authorization || this.authorization.clientId !== client.client_id) {
      const metadata = this.parts.flow.discovery?.authorizationServerMetadata;
      const authorization = await requestDeviceAuthorization({
        endpoint: deviceEndpointOf(metadata) ?? "",
        client,
        metadata,
        scope,
        resource: this.resource,
        fetchFn: this.parts.fetchFn,
        serverUrl: this.parts.serverUrl,
        now: this.now,
      });
      this.authorization = { ...authorization, clientId: client.client_id };
      this.intervalMs = authorization.intervalMs;
      this.waitMs = authorization.intervalMs;
      this.parts.show({
        userCode: authorization.userCode,
        verificationUri: authorization.verificationUri,
        verificationUriComplete: authorization.verificationUriComplete,
        expiresAt: authorization.expiresAt,
      });
    }
    const { deviceCode, expiresAt } = this.authorization;
    if (this.now() + this.waitMs >= expiresAt) throw deviceCodeExpired(this.parts.serverUrl);
    await this.sleep(this.waitMs, this.parts.signal);
    return new URLSearchParams({ grant_type: DEVICE_CODE_GRANT, device_code: deviceCode });
  }
}
