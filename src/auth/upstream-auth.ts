import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { StoredOAuthTokens } from "@modelcontextprotocol/client";
import {
  CALLBACK_PATH,
  type RuntimeOptions,
  SIGN_IN_TIMEOUT_MS,
  STALE_CLIENT_WAIT_MS,
  type UpstreamOptions,
} from "../config/options.ts";
import { ProxyError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { assertSafeBrowserUrl, openUrl } from "../lib/open-url.ts";
import { rememberSecret, rememberSecretsIn } from "../lib/redact.ts";
import { canonicalServerUrl, storeKey } from "../store/store-key.ts";
import { STORE_VERSION, type TokenStore, type TokensRecord } from "../store/token-store.ts";
import type {
  AuthClient,
  AuthStatus,
  CallbackResult,
  ChallengeOutcome,
  SignInHandle,
  UpstreamChallenge,
} from "./auth-client.ts";
import type { FetchLike } from "./authorized-fetch.ts";
import { type CallbackListener, startCallbackListener } from "./callback-listener.ts";
import { parseChallenge } from "./challenge.ts";
import { ClientRegistry } from "./client-registry.ts";
import { DiscoveryCache } from "./discovery-cache.ts";
import { type FlowHost, FlowProvider, type PendingFlow } from "./flow-provider.ts";
import { isInvalidClient, isInvalidGrant, isTransientOAuthError, toProxyError } from "./oauth-errors.ts";
import { pkceSupportCheck } from "./pkce-support.ts";
import { revokeGrant } from "./revoke-grant.ts";
import { loadSdk } from "./sdk.ts";
import { assertSecureUrl, secureFetch } from "./secure-fetch.ts";
import {
  mayRegisterAgain,
  probeAuthorizationUrl,
  type RegisterAgainContext,
  watchForStaleClient,
} from "./stale-client.ts";
import { accountOf } from "./token-claims.ts";
import { expiresSoon, isDead } from "./token-lifetime.ts";

export interface UpstreamAuthDeps {
  store: TokenStore;
  logger?: Logger;
  /**
   * "own-listener": sign-ins start a short-lived loopback listener on runtime.port (CLI, stdio face).
   * "external": the caller routes `/oauth/callback` to handleCallback() (the HTTP face on the same port).
   */
  callback: "own-listener" | "external";
  /** Opens a validated URL (default: BROWSER or the platform opener, unless runtime.openBrowser is false). */
  openUrl?: (url: string) => Promise<void>;
  /** Prints the sign-in URL for people (default: stderr). */
  printSignInUrl?: (url: string, serverUrl: string) => void;
  /** fetch for discovery, registration and token requests (default: global fetch). */
  fetch?: FetchLike;
  /** Time limit of each discovery, registration, token and revocation request (default OAUTH_REQUEST_TIMEOUT_MS). */
  oauthRequestTimeoutMs?: number;
  now?: () => number;
  /** How long a request that needs a sign-in waits for it before failing (default 45 s). */
  signInWaitMs?: number;
  /** How long a sign-in with a stored dynamic client waits for its callback before probing the URL (tests). */
  staleClientWaitMs?: number;
  /** Use this store key instead of deriving it (the CLI's `clear` of a listed entry). */
  storeKey?: string;
}

/** What `clear` did: whether anything was stored, and what became of the revocation. */
export interface ClearOutcome {
  hadRecords: boolean;
  /** The authorization server revoked the grant. */
  revoked: boolean;
  /**
   * "unsupported": the AS offers no revocation endpoint; "no-client": no client registration was stored to revoke
   * with; "no-tokens": nothing to revoke.
   */
  revocation: "revoked" | "failed" | "unsupported" | "no-client" | "no-tokens";
  /** With "failed": where and what the server said (no secrets). */
  failure?: string | undefined;
  /** With "failed": the AS answered invalid_client (it no longer knows this proxy's dynamic registration). */
  clientUnknown?: boolean | undefined;
  /** When the access token expires, if known (it stays valid upstream until then when not revoked). */
  expiresAt?: string | undefined;
}

/** Step-ups for one operation before we give up (MCP authorization, "Step-Up Authorization Flow"). */
const MAX_STEP_UPS = 2;
/** Retries of a refresh that failed transiently (network, temporarily_unavailable). */
const TRANSIENT_RETRIES = 2;

type RefreshResult = "refreshed" | "replaced" | "no-refresh-token" | "invalid-grant" | "invalid-client";

type SignInOptions = { scope?: string; reason?: string; openBrowser?: boolean; retried?: boolean };

/** A sign-in waiting for its callback: how to settle it, and what to stop when it settles or starts over. */
interface FlowEntry {
  flow: PendingFlow;
  options: SignInOptions;
  settle: (error?: ProxyError) => void;
  /** Stops the sign-in timeout and the stale-client watch without settling (a restart takes over). */
  detach: () => void;
}

/**
 * The OAuth client for one upstream MCP server: hands out a valid access token from memory, refreshes it before
 * expiry and on 401 (single-flight in the process and, through the store's lock, across processes), steps up on
 * 403 insufficient_scope, and runs sign-ins (one at a time, with `state` bound to the flow and `iss` checked).
 * Discovery, registration, PKCE and token requests are the official SDK's (`auth()`, `refreshAuthorization()`).
 */
export class UpstreamAuth implements AuthClient {
  readonly serverUrl: string;
  readonly storeKey: string;

  private readonly store: TokenStore;
  private readonly log: Logger;
  private readonly fetchFn: FetchLike;
  private readonly now: () => number;
  private readonly events = new EventEmitter();
  private readonly flows = new Map<string, FlowEntry>();
  private readonly stepUps = new Map<string, number>();
  private readonly clients: ClientRegistry;
  private readonly discovery: DiscoveryCache;
  private readonly checkPkce: FlowHost["checkPkce"];

  private tokens: TokensRecord | undefined;
  private loaded: Promise<void> | undefined;
  private refreshing: Promise<RefreshResult> | undefined;
  private signingIn: Promise<void> | undefined;
  private current: SignInHandle | undefined;
  private listener: CallbackListener | undefined;
  /** Pending close of an idle listener; a sign-in that starts meanwhile (a step-up) reuses the listener. */
  private listenerCloseTimer: NodeJS.Timeout | undefined;
  private resourceMetadataUrl: string | undefined;
  private challengedScope: string | undefined;
  /** True while startSignIn() runs discovery and registration, before the authorization URL exists. */
  private preparingSignIn = false;
  /** The store's fingerprint of the tokens record when this process last read or wrote it. */
  private tokensStamp: string | undefined;

  constructor(
    private readonly upstream: UpstreamOptions,
    private readonly runtime: RuntimeOptions,
    private readonly deps: UpstreamAuthDeps,
  ) {
    this.serverUrl = canonicalServerUrl(upstream.url);
    this.storeKey =
      deps.storeKey ??
      storeKey(this.serverUrl, {
        clientId: upstream.clientId,
        clientMetadataUrl: upstream.clientMetadataUrl,
      });
    this.store = deps.store;
    this.log = deps.logger ?? silentLogger;
    assertSecureUrl(this.serverUrl, runtime.allowInsecureHttp);
    this.fetchFn = secureFetch(deps.fetch ?? fetch, runtime.allowInsecureHttp, deps.oauthRequestTimeoutMs);
    this.now = deps.now ?? Date.now;
    this.clients = new ClientRegistry(this.store, this.storeKey, this.serverUrl, upstream);
    this.discovery = new DiscoveryCache(this.store, this.storeKey, this.serverUrl, this.fetchFn, this.now);
    this.checkPkce = pkceSupportCheck({
      serverUrl: this.serverUrl,
      allowUnverified: upstream.allowPkceUnverified === true,
      log: this.log,
    });
  }

  // ── Hot path ──────────────────────────────────────────────────────────────

  async getAccessToken(): Promise<string | undefined> {
    await this.noticeStoreChange();
    if (!this.tokens) {
      await this.load();
      if (!this.tokens) return undefined;
    }
    if (expiresSoon(this.tokens, this.now()) && this.tokens.tokens.refresh_token) {
      try {
        await this.refreshTokens();
      } catch (error) {
        // Keep serving the old token; the upstream answers 401 if it is really dead, and onChallenge handles that.
        this.log.warn(`Refresh for ${this.serverUrl} failed: ${toProxyError(error, this.serverUrl).toLine()}`);
      }
    }
    return this.tokens?.tokens.access_token;
  }

  async onChallenge(challenge: UpstreamChallenge): Promise<ChallengeOutcome> {
    const params = parseChallenge(challenge.wwwAuthenticate);
    if (params.resourceMetadataUrl) this.resourceMetadataUrl = params.resourceMetadataUrl;

    if (challenge.status === 403) {
      if (params.error !== "insufficient_scope") {
        return {
          action: "fail",
          error: new ProxyError("UPSTREAM_ERROR", `The upstream ${this.serverUrl} refused the request (403).`),
        };
      }
      return this.stepUp(challenge, params.scope);
    }

    // 401. Another caller may already have replaced the token this request carried.
    await this.load();
    const current = this.tokens?.tokens.access_token;
    if (current && current !== challenge.usedToken) return { action: "retry" };
    if (params.scope) this.challengedScope = params.scope;

    if (challenge.usedToken && this.tokens?.tokens.refresh_token) {
      try {
        const result = await this.refreshTokens({ rediscover: true });
        if (result === "refreshed" || result === "replaced") return { action: "retry" };
      } catch (error) {
        const proxyError = toProxyError(error, this.serverUrl);
        if (isTransientOAuthError(error)) return { action: "fail", error: proxyError };
        this.log.warn(`Refresh for ${this.serverUrl} failed: ${proxyError.toLine()}`);
      }
    } else if (challenge.usedToken) {
      // A held token without a refresh token was refused: it is dead.
      await this.forgetTokens();
    }
    return this.signInForRequest({ scope: params.scope });
  }

  // ── Sign-in ───────────────────────────────────────────────────────────────

  /**
   * Interactive sign-in for the CLI and the stdio face: takes the store's sign-in lock so that several processes
   * for the same upstream open one browser tab; a process that waited uses the winner's tokens.
   * Resolves when tokens are stored; rejects with SIGN_IN_TIMEOUT, SIGN_IN_DENIED, … otherwise.
   */
  async signIn(options: { force?: boolean; scope?: string; registerAnew?: boolean } = {}): Promise<void> {
    if (!this.signingIn) {
      this.signingIn = this.signInLocked(options).finally(() => {
        this.signingIn = undefined;
      });
    }
    return this.signingIn;
  }

  private async signInLocked({
    force,
    scope,
    registerAnew,
  }: {
    force?: boolean;
    scope?: string;
    registerAnew?: boolean;
  }): Promise<void> {
    await this.load();
    const before = this.tokens?.tokens.access_token;
    await this.store.withLock(
      this.storeKey,
      "sign-in",
      async () => {
        // Someone (another process, or a refresh) may have produced tokens while we waited for the lock.
        await this.reload();
        const fresh = this.tokens && this.tokens.tokens.access_token !== before;
        if (this.tokens && !isDead(this.tokens, this.now()) && (!force || fresh)) return;
        // `auth --force`: a dynamic registration the AS may have forgotten is replaced (pre-registered stays).
        if (registerAnew) await this.clients.forget();
        const handle = await this.startSignIn(scope === undefined ? {} : { scope });
        await handle.completed;
      },
      { waitMs: SIGN_IN_TIMEOUT_MS + 30_000 },
    );
  }

  async startSignIn(options: SignInOptions = {}): Promise<SignInHandle> {
    if (this.current && this.current.expiresAt > this.now()) return this.current;

    clearTimeout(this.listenerCloseTimer);
    this.listenerCloseTimer = undefined;
    if (this.deps.callback === "own-listener" && !this.listener) {
      this.listener = await startCallbackListener(this.runtime.port, (query) => this.handleCallback(query), {
        callbackHost: this.runtime.callbackHost,
      });
    }
    const port = this.listener?.port ?? this.runtime.port;
    const startedAt = this.now();
    const flow: PendingFlow = {
      state: randomBytes(32).toString("base64url"),
      redirectUri: `http://${this.runtime.callbackHost}:${port}${CALLBACK_PATH}`,
      scope: options.scope ?? this.upstream.scope ?? this.challengedScope,
      startedAt,
      expiresAt: startedAt + SIGN_IN_TIMEOUT_MS,
    };

    this.preparingSignIn = true;
    try {
      const { auth: sdkAuth } = await loadSdk();
      const result = await sdkAuth(new FlowProvider(this.flowHost(flow), flow), {
        serverUrl: this.serverUrl,
        ...(flow.scope ? { scope: flow.scope } : {}),
        ...(this.resourceMetadataUrl ? { resourceMetadataUrl: new URL(this.resourceMetadataUrl) } : {}),
        fetchFn: this.fetchFn,
        forceReauthorization: true,
      });
      if (result === "AUTHORIZED") {
        // A non-interactive grant (no browser needed) already stored tokens.
        return this.settledHandle(flow, startedAt);
      }
    } catch (error) {
      await this.closeListenerIfIdle();
      throw toProxyError(error, this.serverUrl);
    } finally {
      this.preparingSignIn = false;
    }
    if (!flow.authorizationUrl) throw new ProxyError("INTERNAL", "The SDK did not produce an authorization URL.");
    const url = assertSafeBrowserUrl(flow.authorizationUrl).href;
    flow.clientSource = (await this.clients.read())?.source;

    let settle!: (error?: ProxyError) => void;
    const completed = new Promise<void>((resolve, reject) => {
      settle = (error) => (error ? reject(error) : resolve());
    });
    completed.catch(() => {}); // Callers that never await it must not crash the process.
    const timer = setTimeout(() => {
      this.finishFlow(
        flow.state,
        new ProxyError("SIGN_IN_TIMEOUT", `Sign-in to ${this.serverUrl} was not completed within 5 minutes.`, {
          hint: `Run \`mcp-u2m-proxy auth ${this.serverUrl}\` to try again.`,
        }),
      );
    }, SIGN_IN_TIMEOUT_MS); // not unref'd: `completed` waits for it; settling the flow (or close()) clears it
    // A stored dynamic client may be unknown to the AS by now: then the browser shows its error page and never
    // comes back. Without a callback after a short wait, the URL is asked what it shows.
    const stopWatch = mayRegisterAgain(this.registerAgainContext(flow, options), "authorization")
      ? watchForStaleClient({
          waitMs: this.deps.staleClientWaitMs ?? STALE_CLIENT_WAIT_MS,
          pending: () => this.flows.has(flow.state),
          probe: () => probeAuthorizationUrl(this.fetchFn, url),
          onRefused: ({ status }) => void this.registerAgain(flow.state, `the sign-in URL answered HTTP ${status}`),
        })
      : () => {};
    const detach = () => {
      clearTimeout(timer);
      stopWatch();
    };
    this.flows.set(flow.state, {
      flow,
      options,
      detach,
      settle: (error) => {
        detach();
        settle(error);
      },
    });
    const handle: SignInHandle = { url, startedAt, expiresAt: flow.expiresAt, completed };
    this.current = handle;
    this.emitState();

    (this.deps.printSignInUrl ?? printToStderr)(url, this.serverUrl);
    if (options.openBrowser ?? this.runtime.openBrowser) {
      const open = this.deps.openUrl ?? ((u: string) => openUrl(u, { browserCommand: process.env.BROWSER }));
      open(url).catch((error: unknown) => {
        this.log.warn(
          `Could not open a browser (${error instanceof Error ? error.message : String(error)}); open the URL above yourself.`,
        );
      });
    }
    return handle;
  }

  async handleCallback(query: URLSearchParams): Promise<CallbackResult> {
    const state = query.get("state");
    const entry = state ? this.flows.get(state) : undefined;
    if (!state || !entry) {
      // Unknown, missing, replayed or expired state: reject before any token request (RFC 6749 §10.12).
      return {
        ok: false,
        error: new ProxyError(
          "STATE_MISMATCH",
          state
            ? "This sign-in link is unknown, was already used, or has expired."
            : "The authorization response carries no state parameter; it was rejected.",
          { hint: `Start a new sign-in with \`mcp-u2m-proxy auth ${this.serverUrl}\`.` },
        ),
      };
    }
    this.flows.delete(state); // single use
    const { flow } = entry;
    if (flow.expiresAt <= this.now()) {
      const error = new ProxyError("SIGN_IN_TIMEOUT", "This sign-in has expired.", {
        hint: `Start a new one with \`mcp-u2m-proxy auth ${this.serverUrl}\`.`,
      });
      this.finishFlow(state, error, entry);
      return { ok: false, error };
    }

    try {
      // RFC 9207 before anything else, error responses included: a mix-up must not even show the AS's error text.
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
          { hint: `Run \`mcp-u2m-proxy auth ${this.serverUrl}\` to try again.` },
        );
      }
      const code = query.get("code");
      rememberSecret(code);
      if (!code) throw new ProxyError("AS_ERROR", "The authorization response carries no code.");
      await sdkAuth(new FlowProvider(this.flowHost(flow), flow), {
        serverUrl: this.serverUrl,
        authorizationCode: code,
        iss: query.get("iss") ?? undefined,
        ...(flow.scope ? { scope: flow.scope } : {}),
        fetchFn: this.fetchFn,
      });
    } catch (error) {
      if (flow.clientRefused && mayRegisterAgain(this.registerAgainContext(flow, entry.options), "token")) {
        // The token endpoint refused the client (invalid_client): the AS forgot the registration after it issued
        // the code. The SDK has dropped the registration already; register again and start over, once.
        this.flows.set(state, entry);
        await this.registerAgain(state, "the token endpoint answered invalid_client");
        return {
          ok: false,
          error: new ProxyError(
            "SIGN_IN_REQUIRED",
            "The authorization server no longer knew this proxy's client, so the proxy registered it again.",
            { hint: "Continue in the new sign-in tab (or open the new sign-in URL the proxy printed)." },
          ),
        };
      }
      const proxyError = flow.clientRefused ? this.clientRefusedError(flow) : toProxyError(error, this.serverUrl);
      this.log.warn(`Sign-in to ${this.serverUrl} failed: ${proxyError.toLine()}`);
      this.finishFlow(state, proxyError, entry);
      return { ok: false, error: proxyError };
    }
    this.finishFlow(state, undefined, entry);
    this.log.info(`Signed in to ${this.serverUrl}${this.tokens?.account ? ` as ${this.tokens.account}` : ""}.`);
    return { ok: true, serverUrl: this.serverUrl, account: this.tokens?.account };
  }

  private registerAgainContext(flow: PendingFlow, options: SignInOptions): RegisterAgainContext {
    return { source: flow.clientSource, registeredNow: flow.registeredNow === true, retried: options.retried === true };
  }

  /** The token endpoint refused the client of a sign-in and registering again is not an option (or was tried). */
  private clientRefusedError(flow: PendingFlow): ProxyError {
    const preRegistered = flow.clientSource === "pre-registered";
    return new ProxyError(
      "AS_ERROR",
      `The authorization server for ${this.serverUrl} refused this proxy's client (invalid_client) when the sign-in code was exchanged.`,
      {
        hint: preRegistered
          ? "Check --client-id and --client-secret with the server's administrator."
          : `Run \`mcp-u2m-proxy auth ${this.serverUrl}\` to sign in again (a new client is registered).`,
      },
    );
  }

  /**
   * The AS does not know the stored dynamic client of the sign-in `state`: drop the registration and start a new
   * sign-in (registering again, opening the browser again), once. Whoever waits for the first sign-in gets the
   * outcome of the second.
   */
  private async registerAgain(state: string, why: string): Promise<void> {
    const entry = this.flows.get(state);
    if (!entry) return;
    this.flows.delete(state);
    entry.detach();
    if (this.current?.url === entry.flow.authorizationUrl) this.current = undefined;
    this.log.warn(
      `The authorization server for ${this.serverUrl} no longer knows this client; registering again and restarting the sign-in (${why}).`,
    );
    try {
      await this.clients.forget();
      // The tab of the first sign-in shows the AS's error: the browser opens the new URL as configured, even for a
      // sign-in that the status page started in its own tab.
      const { openBrowser: _firstTab, ...options } = entry.options;
      const next = await this.startSignIn({ ...options, retried: true });
      next.completed.then(
        () => entry.settle(),
        (error: unknown) => entry.settle(toProxyError(error, this.serverUrl)),
      );
    } catch (error) {
      entry.settle(toProxyError(error, this.serverUrl));
      this.emitState();
      void this.closeListenerIfIdle();
    }
  }

  /** Whether `state` belongs to one of this client's pending sign-ins (the shared callback route asks). */
  ownsSignIn(state: string): boolean {
    return this.flows.has(state);
  }

  pendingSignIn(): SignInHandle | undefined {
    return this.current && this.current.expiresAt > this.now() ? this.current : undefined;
  }

  // ── Refresh ───────────────────────────────────────────────────────────────

  /** Refreshes now (CLI `refresh`). Throws SIGN_IN_REQUIRED when there is nothing to refresh with. */
  async refresh(): Promise<void> {
    await this.load();
    const result = await this.refreshTokens({ force: true });
    if (result === "invalid-client") {
      // The refresh token was bound to the forgotten client: only a sign-in (which registers anew) helps.
      throw new ProxyError(
        "INVALID_GRANT",
        `The authorization server for ${this.serverUrl} no longer knows this proxy's client (invalid_client); the stored registration and tokens were removed, so sign in again.`,
        { hint: `Run \`mcp-u2m-proxy auth ${this.serverUrl}\` to sign in (a new client is registered).` },
      );
    }
    if (result === "no-refresh-token" || result === "invalid-grant") {
      throw new ProxyError(
        result === "invalid-grant" ? "INVALID_GRANT" : "SIGN_IN_REQUIRED",
        result === "invalid-grant"
          ? `The authorization server no longer accepts the sign-in for ${this.serverUrl}; the tokens were removed.`
          : `There is no refresh token for ${this.serverUrl}.`,
        { hint: `Run \`mcp-u2m-proxy auth ${this.serverUrl}\` to sign in.` },
      );
    }
  }

  /**
   * Single-flight refresh. Within the process, concurrent callers share one promise; across processes the store's
   * lock serialises, and whoever gets the lock second finds the winner's tokens on disk and uses them, so a
   * rotating refresh token is spent exactly once.
   */
  private refreshTokens(options: { force?: boolean; rediscover?: boolean } = {}): Promise<RefreshResult> {
    if (!this.refreshing) {
      const before = this.tokens?.tokens.access_token;
      this.refreshing = this.store
        .withLock(this.storeKey, "refresh", () => this.refreshUnderLock(before, options), { waitMs: 30_000 })
        .then(
          (result) => {
            this.events.emit("refresh", result);
            return result;
          },
          (error: unknown) => {
            this.events.emit("refresh", "failed");
            throw error;
          },
        )
        .finally(() => {
          this.refreshing = undefined;
        });
    }
    return this.refreshing;
  }

  private async refreshUnderLock(
    before: string | undefined,
    { force, rediscover }: { force?: boolean; rediscover?: boolean },
  ): Promise<RefreshResult> {
    const onDisk = await this.store.read(this.storeKey, "tokens");
    if (onDisk && onDisk.tokens.access_token !== before && !expiresSoon(onDisk, this.now())) {
      this.setTokens(onDisk);
      return "replaced";
    }
    if (!onDisk) this.setTokens(undefined);
    const refreshToken = onDisk?.tokens.refresh_token;
    if (!onDisk || !refreshToken) return "no-refresh-token";
    if (!force && !rediscover && !expiresSoon(onDisk, this.now())) {
      this.setTokens(onDisk);
      return "replaced";
    }

    const client = await this.clients.read();
    let serverInfo = rediscover ? undefined : await this.discovery.read();
    serverInfo ??= await this.discovery.discover(this.resourceMetadataUrl);
    const issuer = serverInfo.authorizationServerMetadata?.issuer ?? serverInfo.authorizationServerUrl;
    if (!client || client.issuer !== issuer || onDisk.issuer !== issuer) {
      // The resource now points at another authorization server: nothing issued by the old one may be reused.
      this.log.info(`${this.serverUrl} now uses authorization server ${issuer}; a new sign-in is needed.`);
      await this.forgetTokens();
      return "invalid-grant";
    }

    const resource = this.upstream.sendResource ? (serverInfo.resourceMetadata?.resource ?? this.serverUrl) : undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        const { refreshAuthorization } = await loadSdk();
        const tokens = await refreshAuthorization(serverInfo.authorizationServerUrl, {
          ...(serverInfo.authorizationServerMetadata ? { metadata: serverInfo.authorizationServerMetadata } : {}),
          clientInformation: client.client,
          refreshToken,
          ...(resource ? { resource } : {}),
          fetchFn: this.fetchFn,
        });
        // RFC 6749 §6: the AS may keep the refresh token; keep the old one when it sends none.
        await this.persistTokens(
          { ...tokens, refresh_token: tokens.refresh_token ?? refreshToken },
          issuer,
          onDisk.requested_scope,
          onDisk.account,
        );
        this.log.debug(`Refreshed tokens for ${this.serverUrl}.`);
        return "refreshed";
      } catch (error) {
        if (isInvalidGrant(error)) {
          this.log.warn(
            `The refresh token for ${this.serverUrl} was refused (invalid_grant); a new sign-in is needed.`,
          );
          await this.forgetTokens();
          return "invalid-grant";
        }
        if (isInvalidClient(error)) {
          // The AS forgot our registration: register again at the next sign-in (a pre-registered client stays).
          // The refresh token was issued to the old client, so no refresh can follow the new registration.
          this.log.warn(
            `The authorization server no longer knows this proxy's client for ${this.serverUrl} (invalid_client); a new sign-in is needed.`,
          );
          await this.clients.forget();
          await this.forgetTokens();
          return "invalid-client";
        }
        if (!isTransientOAuthError(error) || attempt >= TRANSIENT_RETRIES) throw toProxyError(error, this.serverUrl);
        await delay(250 * 2 ** attempt);
      }
    }
  }

  // ── Status, clear, close ──────────────────────────────────────────────────

  async status(): Promise<AuthStatus> {
    await this.noticeStoreChange();
    await this.load();
    const record = this.tokens;
    const client = await this.clients.read();
    const expiresAt = record?.expires_at;
    return {
      serverUrl: this.serverUrl,
      signedIn: record !== undefined && !isDead(record, this.now()),
      expiresAt: expiresAt ? new Date(expiresAt).toISOString() : undefined,
      expiresInSeconds: expiresAt ? Math.round((expiresAt - this.now()) / 1000) : undefined,
      hasRefreshToken: Boolean(record?.tokens.refresh_token),
      scopes: (record?.tokens.scope ?? record?.requested_scope ?? "").split(" ").filter(Boolean),
      issuer: record?.issuer ?? client?.issuer,
      account: record?.account,
      clientId: client?.client.client_id,
      clientSource: client?.source,
      signInUrl: this.pendingSignIn()?.url,
      storeKey: this.storeKey,
    };
  }

  /**
   * Signs out: revokes at the AS when it supports RFC 7009, then deletes every stored record, whatever the AS said
   * (a failed revocation is reported, not retried: the token stays valid upstream until it expires).
   */
  async clear(): Promise<ClearOutcome> {
    const record = await this.store.read(this.storeKey, "tokens");
    const client = await this.clients.read();
    const serverInfo = await this.discovery.read();
    const hadRecords = record !== undefined || client !== undefined || serverInfo !== undefined;
    const metadata = serverInfo?.authorizationServerMetadata as { revocation_endpoint?: string } | undefined;
    const endpoint = metadata?.revocation_endpoint;
    const expiresAt = record?.expires_at ? new Date(record.expires_at).toISOString() : undefined;
    let outcome: ClearOutcome;
    if (!record) outcome = { hadRecords, revoked: false, revocation: "no-tokens" };
    else if (!client) outcome = { hadRecords, revoked: false, revocation: "no-client", expiresAt };
    else if (!endpoint) outcome = { hadRecords, revoked: false, revocation: "unsupported", expiresAt };
    else {
      const result = await revokeGrant(this.fetchFn, endpoint, client, record);
      if (result.revoked) outcome = { hadRecords, revoked: true, revocation: "revoked" };
      else {
        this.log.warn(`Could not revoke the tokens for ${this.serverUrl} at ${endpoint}: ${result.reason}.`);
        const clientUnknown = result.error === "invalid_client";
        outcome = {
          hadRecords,
          revoked: false,
          revocation: "failed",
          failure: `${endpoint}: ${result.reason}`,
          expiresAt,
          ...(clientUnknown ? { clientUnknown } : {}),
        };
      }
    }
    await this.store.remove(this.storeKey);
    this.setTokens(undefined);
    await this.rememberStamp();
    return outcome;
  }

  /** Subscribe to the outcome of every refresh attempt (metrics, the access log). Returns an unsubscribe function. */
  onRefresh(listener: (outcome: RefreshResult | "failed") => void): () => void {
    this.events.on("refresh", listener);
    return () => this.events.off("refresh", listener);
  }

  onStateChange(listener: (status: AuthStatus) => void): () => void {
    const handler = () => {
      void this.status().then(listener, () => {});
    };
    this.events.on("change", handler);
    return () => this.events.off("change", handler);
  }

  async close(): Promise<void> {
    for (const state of [...this.flows.keys()]) {
      this.finishFlow(
        state,
        new ProxyError("SIGN_IN_TIMEOUT", "The proxy is shutting down; the sign-in was abandoned."),
      );
    }
    clearTimeout(this.listenerCloseTimer);
    this.listenerCloseTimer = undefined;
    await this.listener?.close();
    this.listener = undefined;
  }

  // ── Internals ─────────────────────────────────────────────────────────────

  private async signInForRequest({
    scope,
    force,
  }: {
    scope?: string | undefined;
    force?: boolean;
  }): Promise<ChallengeOutcome> {
    const opts: { force?: boolean; scope?: string } = {};
    if (scope) opts.scope = scope;
    if (force) opts.force = true;
    const signIn = this.signIn(opts);
    const waitMs = this.deps.signInWaitMs ?? 45_000;
    let waitTimer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      signIn.then(
        () => "done" as const,
        (error: unknown) => toProxyError(error, this.serverUrl),
      ),
      new Promise<"waiting">((resolve) => {
        waitTimer = setTimeout(() => resolve("waiting"), waitMs);
      }),
    ]).finally(() => clearTimeout(waitTimer));
    if (outcome === "done" && this.tokens) return { action: "retry" };
    if (outcome instanceof ProxyError) return { action: "sign-in", error: outcome };
    // An error without the URL is of little use: if this process is still preparing the sign-in (discovery,
    // registration on a slow network), give it a little longer to produce the URL.
    for (let waited = 0; this.preparingSignIn && !this.pendingSignIn() && waited < 10_000; waited += 50)
      await delay(50);
    const url = this.pendingSignIn()?.url;
    return {
      action: "sign-in",
      error: new ProxyError("SIGN_IN_REQUIRED", `Sign-in to ${this.serverUrl} is required.`, {
        hint: url
          ? `Open ${url} in a browser to sign in, then retry.`
          : `Run \`mcp-u2m-proxy auth ${this.serverUrl}\`, then retry.`,
        details: url ? { signInUrl: url } : {},
      }),
    };
  }

  private async stepUp(challenge: UpstreamChallenge, challengedScope: string | undefined): Promise<ChallengeOutcome> {
    await this.load();
    const previous = this.tokens?.requested_scope ?? this.tokens?.tokens.scope;
    const { computeScopeUnion } = await loadSdk();
    const union = computeScopeUnion(previous, challengedScope);
    const key = `${challenge.operation ?? "*"}|${union ?? ""}`;
    const attempts = (this.stepUps.get(key) ?? 0) + 1;
    this.stepUps.set(key, attempts);
    if (attempts > MAX_STEP_UPS) {
      return {
        action: "fail",
        error: new ProxyError(
          "INSUFFICIENT_SCOPE",
          `The upstream ${this.serverUrl} still refuses ${challenge.operation ?? "the request"} after ${MAX_STEP_UPS} step-up sign-ins (scope ${challengedScope ?? "unknown"}).`,
          { hint: "Your account may not be allowed this scope; ask the server's administrator." },
        ),
      };
    }
    this.log.info(
      `${this.serverUrl} needs more scope (${challengedScope ?? "unspecified"}); asking for ${union ?? "it"}.`,
    );
    return this.signInForRequest({ scope: union, force: true });
  }

  private flowHost(flow: PendingFlow): FlowHost {
    let loadedClientId: string | undefined;
    return {
      serverUrl: this.serverUrl,
      clientMetadata: this.clients.metadata(flow.redirectUri),
      clientMetadataUrl: this.upstream.clientMetadataUrl,
      sendResource: this.upstream.sendResource,
      authorizeParams: this.upstream.authorizeParams,
      loadClientInfo: async (issuer) => {
        const info = await this.clients.load(issuer, flow.redirectUri, flow.scope);
        loadedClientId ??= info?.client_id;
        return info;
      },
      saveClientInfo: (info, source) => {
        // The SDK saves a client it loaded too: only a new client id is a registration made now.
        if (info.client_id !== loadedClientId) flow.registeredNow = true;
        return this.clients.save(info, source, flow.redirectUri);
      },
      saveTokens: async (tokens, requestedScope) => {
        const issuer = tokens.issuer ?? flow.discovery?.authorizationServerMetadata?.issuer ?? "";
        await this.persistTokens(tokens, issuer, requestedScope, accountOf(tokens.id_token, tokens.access_token));
      },
      saveDiscovery: (state) => this.discovery.save(state),
      checkPkce: this.checkPkce,
      invalidate: async (scope) => {
        if (scope === "client" || scope === "all") {
          // The SDK drops the client when an endpoint answered invalid_client or unauthorized_client.
          flow.clientRefused = true;
          await this.clients.forget();
        }
        if (scope === "tokens" || scope === "all") await this.forgetTokens();
        if (scope === "discovery" || scope === "all") await this.discovery.forget();
      },
    };
  }

  private async persistTokens(
    tokens: StoredOAuthTokens,
    issuer: string,
    requestedScope: string | undefined,
    account: string | undefined,
  ): Promise<void> {
    const obtainedAt = this.now();
    const { issuer: _stamp, ...set } = tokens as StoredOAuthTokens & { issuer?: string };
    const record: TokensRecord = {
      version: STORE_VERSION,
      server_url: this.serverUrl,
      issuer,
      tokens: set as TokensRecord["tokens"],
      obtained_at: obtainedAt,
      ...(typeof tokens.expires_in === "number" ? { expires_at: obtainedAt + tokens.expires_in * 1000 } : {}),
      ...(requestedScope ? { requested_scope: requestedScope } : {}),
      ...(account ? { account } : {}),
    };
    await this.store.write(this.storeKey, "tokens", record);
    this.setTokens(record);
    await this.rememberStamp();
  }

  /**
   * Whether another process changed the tokens record since this one last read or wrote it (a `clear`, a sign-in,
   * a refresh): then it is read again, so a running `serve` or `stdio` stops using tokens that were cleared. One
   * stat per call (the file store's fingerprint); nothing before the first load.
   */
  private async noticeStoreChange(): Promise<void> {
    if (!this.store.stamp || this.tokensStamp === undefined) return;
    const stamp = await this.store.stamp(this.storeKey, "tokens");
    if (stamp === this.tokensStamp) return;
    const had = this.tokens?.tokens.access_token;
    await this.reload();
    if (this.tokens?.tokens.access_token === had) return;
    // A refresh by another process is routine; a `clear` elsewhere is worth a line.
    if (this.tokens) this.log.debug(`The stored tokens for ${this.serverUrl} were replaced by another process.`);
    else this.log.info(`The stored tokens for ${this.serverUrl} were removed elsewhere; a new sign-in is needed.`);
    this.emitState();
  }

  private load(): Promise<void> {
    this.loaded ??= this.reload();
    return this.loaded;
  }

  private async reload(): Promise<void> {
    // The fingerprint before the read: a change in between is seen (and read) at the next check.
    const stamp = await this.store.stamp?.(this.storeKey, "tokens");
    this.setTokens(await this.store.read(this.storeKey, "tokens"), { quiet: true });
    this.tokensStamp = stamp;
  }

  /** After this process read or wrote the tokens: its own changes are not "another process". */
  private async rememberStamp(): Promise<void> {
    if (this.store.stamp) this.tokensStamp = await this.store.stamp(this.storeKey, "tokens");
  }

  private async forgetTokens(): Promise<void> {
    await this.store.remove(this.storeKey, "tokens");
    this.setTokens(undefined);
    await this.rememberStamp();
  }

  private setTokens(record: TokensRecord | undefined, { quiet = false } = {}): void {
    rememberSecretsIn(record?.tokens);
    const changed = record?.tokens.access_token !== this.tokens?.tokens.access_token;
    this.tokens = record;
    if (changed && !quiet) this.emitState();
  }

  private emitState(): void {
    this.events.emit("change");
  }

  private settledHandle(flow: PendingFlow, startedAt: number): SignInHandle {
    return {
      url: flow.authorizationUrl ?? this.serverUrl,
      startedAt,
      expiresAt: flow.expiresAt,
      completed: Promise.resolve(),
    };
  }

  private finishFlow(state: string, error: ProxyError | undefined, entry = this.flows.get(state)): void {
    this.flows.delete(state);
    entry?.settle(error);
    if (this.current && entry && this.current.url === entry.flow.authorizationUrl) this.current = undefined;
    this.emitState();
    void this.closeListenerIfIdle();
  }

  private async closeListenerIfIdle(): Promise<void> {
    if (this.flows.size > 0 || !this.listener || this.listenerCloseTimer) return;
    // Let the result page finish sending before the listener goes away. Until then it stays this.listener, so a
    // sign-in starting right after (a step-up) reuses it instead of failing to bind the same fixed port.
    this.listenerCloseTimer = setTimeout(() => {
      const listener = this.listener;
      this.listener = undefined;
      this.listenerCloseTimer = undefined;
      void listener?.close();
    }, 200);
    // No result waits for this: it only closes a listener nobody needs, so it must not hold the process open.
    this.listenerCloseTimer.unref();
  }
}

export function createUpstreamAuth(
  upstream: UpstreamOptions,
  runtime: RuntimeOptions,
  deps: UpstreamAuthDeps,
): UpstreamAuth {
  return new UpstreamAuth(upstream, runtime, deps);
}

function printToStderr(url: string, serverUrl: string): void {
  process.stderr.write(`\nSign in to ${serverUrl} by opening this URL in a browser:\n\n  ${url}\n\n`);
}

/**
 * A pause that a pending result waits for (a refresh's retry back-off, a sign-in's poll for its URL). Never
 * unref'd: with nothing else pending the process would end in the middle of the wait and report nothing.
 */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
