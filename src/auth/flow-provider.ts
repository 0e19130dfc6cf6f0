import type {
  OAuthClientInformationContext,
  OAuthClientMetadata,
  OAuthClientProvider,
  OAuthDiscoveryState,
  StoredOAuthClientInformation,
  StoredOAuthTokens,
} from "@modelcontextprotocol/client";
import { ProxyError } from "../lib/errors.ts";
import { rememberSecret, rememberSecretsIn } from "../lib/redact.ts";
import type { ClientInfoRecord } from "../store/token-store.ts";
import type { IssuerCheck } from "./issuer-check.ts";
import { authorizeParamsFor, sendsResource } from "./provider-defaults.ts";
import { loadSdk } from "./sdk.ts";

/**
 * What one sign-in attempt remembers between the redirect and the callback: its `state`, PKCE verifier,
 * discovery result (with the AS issuer recorded before redirecting, RFC 9207) and the authorization URL.
 * Kept in memory only, keyed by `state`: only the process that started the flow listens for its callback.
 */
export interface PendingFlow {
  state: string;
  redirectUri: string;
  scope: string | undefined;
  codeVerifier?: string;
  discovery?: OAuthDiscoveryState;
  authorizationUrl?: string;
  /** A client was registered for this flow (so it is known to the AS; a stored one may have been forgotten). */
  registeredNow?: boolean;
  /** How the flow's client was obtained, once the authorization URL exists. */
  clientSource?: ClientInfoRecord["source"] | undefined;
  /** The SDK dropped the client because an endpoint refused it (invalid_client, unauthorized_client). */
  clientRefused?: boolean;
  /**
   * "device": an RFC 8628 sign-in (no browser comes back to the redirect URI; it still names the registration, so
   * a browser sign-in later can use the same client).
   */
  grant?: "device" | undefined;
  startedAt: number;
  expiresAt: number;
}

/** What the flow sets on the authorization URL itself; extra authorize parameters never replace them. */
export const FLOW_PARAMS: ReadonlySet<string> = new Set([
  "response_type",
  "client_id",
  "redirect_uri",
  "state",
  "code_challenge",
  "code_challenge_method",
  "scope",
  "resource",
]);

export interface FlowHost {
  readonly serverUrl: string;
  readonly clientMetadata: OAuthClientMetadata;
  readonly clientMetadataUrl: string | undefined;
  readonly sendResource: boolean;
  readonly authorizeParams: Record<string, string>;
  loadClientInfo(issuer: string | undefined): Promise<StoredOAuthClientInformation | undefined>;
  saveClientInfo(info: StoredOAuthClientInformation, source: ClientInfoRecord["source"]): Promise<void>;
  saveTokens(tokens: StoredOAuthTokens, requestedScope: string | undefined): Promise<void>;
  saveDiscovery(state: OAuthDiscoveryState): Promise<void>;
  /** RFC 8414 §3.3 with this upstream's exceptions; `relaxed` asks the SDK's auth() to leave the check to it. */
  readonly issuers: IssuerCheck;
  /** Throws PKCE_UNSUPPORTED unless the metadata shows PKCE S256 support (or the user opted out). */
  checkPkce(state: OAuthDiscoveryState): void;
  invalidate(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): Promise<void>;
}

/**
 * The SDK's OAuthClientProvider for one sign-in flow. The SDK's `auth()` does discovery, registration, PKCE,
 * `state`/`iss` plumbing and the token request; this object answers its questions from the flow and the store,
 * and captures the authorization URL instead of opening it (UpstreamAuth validates and opens it).
 */
export class FlowProvider implements OAuthClientProvider {
  readonly clientMetadataUrl: string | undefined;

  constructor(
    private readonly host: FlowHost,
    readonly flow: PendingFlow,
  ) {
    this.clientMetadataUrl = host.clientMetadataUrl;
  }

  /**
   * Present only when no `resource` is to be sent: --no-resource, or an authorization server known to reject RFC
   * 8707 (Entra AADSTS9010010, provider-defaults.ts). A getter, because the SDK asks after discovery, when the
   * issuer is known. Absent, the SDK checks and sends the resource itself.
   */
  get validateResourceURL(): ((serverUrl: string | URL, resource?: string) => Promise<URL | undefined>) | undefined {
    const issuer = this.flow.discovery?.authorizationServerMetadata?.issuer;
    if (sendsResource(this.host.sendResource, issuer)) return undefined;
    // Still refuse a protected resource metadata document naming another resource; send no `resource` parameter.
    return async (serverUrl, resource) => {
      const { checkResourceAllowed, resourceUrlFromServerUrl } = await loadSdk();
      if (
        resource &&
        !checkResourceAllowed({ requestedResource: resourceUrlFromServerUrl(serverUrl), configuredResource: resource })
      ) {
        throw new ProxyError(
          "RESOURCE_MISMATCH",
          `Protected resource ${resource} does not match expected ${String(serverUrl)}.`,
          { hint: "Check the server URL." },
        );
      }
      return undefined;
    };
  }

  get redirectUrl(): string | undefined {
    return this.flow.redirectUri;
  }

  get clientMetadata(): OAuthClientMetadata {
    return this.host.clientMetadata;
  }

  state(): string {
    return this.flow.state;
  }

  clientInformation(ctx?: OAuthClientInformationContext): Promise<StoredOAuthClientInformation | undefined> {
    return this.host.loadClientInfo(ctx?.issuer);
  }

  async saveClientInformation(info: StoredOAuthClientInformation): Promise<void> {
    rememberSecretsIn(info);
    const source = this.clientMetadataUrl && info.client_id === this.clientMetadataUrl ? "cimd" : "dynamic";
    await this.host.saveClientInfo(info, source);
  }

  // The SDK asks for tokens only to decide on a refresh; UpstreamAuth refreshes on its own path, and sign-ins
  // always run with forceReauthorization, so nothing is handed back here.
  tokens(): undefined {
    return undefined;
  }

  async saveTokens(tokens: StoredOAuthTokens): Promise<void> {
    rememberSecretsIn(tokens);
    await this.host.saveTokens(tokens, this.flow.scope);
  }

  redirectToAuthorization(authorizationUrl: URL): void {
    // Checked at discovery already; again here because nothing opens this URL unless this returns.
    if (this.flow.discovery) this.host.checkPkce(this.flow.discovery);
    const issuer = this.flow.discovery?.authorizationServerMetadata?.issuer;
    for (const [name, value] of Object.entries(authorizeParamsFor(issuer, this.host.authorizeParams))) {
      // The options layer refuses these; a library caller's map must not break PKCE, state or the binding either.
      if (FLOW_PARAMS.has(name.toLowerCase())) continue;
      authorizationUrl.searchParams.set(name, value);
    }
    this.flow.authorizationUrl = authorizationUrl.href;
  }

  saveCodeVerifier(codeVerifier: string): void {
    rememberSecret(codeVerifier);
    this.flow.codeVerifier = codeVerifier;
  }

  codeVerifier(): string {
    if (!this.flow.codeVerifier) throw new ProxyError("STATE_MISMATCH", "This sign-in has no PKCE verifier.");
    return this.flow.codeVerifier;
  }

  // The SDK's auth() hands over a fresh discovery result before it registers a client or builds the authorization
  // URL, so refusing here means an AS without verified PKCE support sees no registration and no authorization request.
  async saveDiscoveryState(state: OAuthDiscoveryState): Promise<void> {
    this.host.issuers.check(state);
    this.host.checkPkce(state);
    this.flow.discovery = state;
    await this.host.saveDiscovery(state);
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.flow.discovery;
  }

  async invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): Promise<void> {
    if (scope === "verifier" || scope === "all") delete this.flow.codeVerifier;
    if (scope === "discovery" || scope === "all") delete this.flow.discovery;
    await this.host.invalidate(scope);
  }
}
