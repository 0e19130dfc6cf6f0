import { EventEmitter } from "node:events";
import { type RuntimeOptions, SIGN_IN_TIMEOUT_MS, type UpstreamOptions } from "../config/options.ts";
import { ProxyError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { canonicalServerUrl, grantKey, isPrincipalGrantKey, storeKey } from "../store/store-key.ts";
import type { TokenStore } from "../store/token-store.ts";
import type {
  AuthClient,
  AuthStatus,
  CallbackResult,
  ChallengeOutcome,
  SignInHandle,
  UpstreamChallenge,
} from "./auth-client.ts";
import type { FetchLike } from "./authorized-fetch.ts";
import { ChallengePolicy } from "./challenge-policy.ts";
import { ClientRegistry } from "./client-registry.ts";
import { DiscoveryCache } from "./discovery-cache.ts";
import type { FlowHost, PendingFlow } from "./flow-provider.ts";
import { toProxyError } from "./oauth-errors.ts";
import { pkceSupportCheck } from "./pkce-support.ts";
import { Refresher, type RefreshResult } from "./refresher.ts";
import { scopeUnion } from "./scopes.ts";
import { assertSecureUrl, secureFetch } from "./secure-fetch.ts";
import { SharedSignIns } from "./shared-sign-ins.ts";
import { SignInFlows } from "./sign-in-flows.ts";
import type { SignInOptions, SignInPresenter } from "./sign-in-parts.ts";
import { isSignInStateOf } from "./sign-in-state.ts";
import { type ClearOutcome, signOut } from "./sign-out.ts";
import { accountOf } from "./token-claims.ts";
import { TokenKeeper } from "./token-keeper.ts";
import { expiresSoon, isDead } from "./token-lifetime.ts";

export interface UpstreamAuthDeps {
  store: TokenStore;
  logger?: Logger;
  /**
   * "own-listener": sign-ins start a short-lived loopback listener on runtime.port (CLI, stdio face).
   * "external": the caller routes `/oauth/callback` to handleCallback() (the HTTP face on the same port).
   */
  callback: "own-listener" | "external";
  /**
   * Opens a validated sign-in URL in a browser, for sign-ins that ask for one (runtime.openBrowser). The app layer
   * passes it (BROWSER or the platform opener); without it nothing is opened.
   */
  openUrl?: ((url: string) => Promise<void>) | undefined;
  /** Shows the sign-in URL to people (the app layer prints it on stderr); without it, an info line in the log. */
  printSignInUrl?: ((url: string, serverUrl: string) => void) | undefined;
  /** Shows a device sign-in's code and verification URI (the app layer prints them on stderr). */
  printDeviceCode?: SignInPresenter["printDeviceCode"];
  /** An interactive terminal the redirected URL can be pasted back into (the CLI's `auth` on a terminal). */
  pasteBack?: SignInPresenter["pasteBack"];
  /** Waits between device-flow polls (tests: a fake clock). */
  sleep?: ((ms: number, signal: AbortSignal) => Promise<void>) | undefined;
  /** fetch for discovery, registration and token requests (default: global fetch). */
  fetch?: FetchLike;
  /** Time limit of each discovery, registration, token and revocation request (default OAUTH_REQUEST_TIMEOUT_MS). */
  oauthRequestTimeoutMs?: number;
  now?: () => number;
  /** How long a sign-in with a stored dynamic client waits for its callback before probing the URL (tests). */
  staleClientWaitMs?: number;
  /** Use this store key instead of deriving it (the CLI's `clear` of a listed entry). */
  storeKey?: string;
  /**
   * The person these tokens belong to when several share the upstream (`serve --identity`): the tokens live under
   * grantKey(upstream key, principal), hashed; registration and discovery stay the upstream's, shared.
   */
  principal?: string | undefined;
  /** That person's e-mail or user name, kept with their tokens for display (`list`, `status`); never their id. */
  principalLabel?: string | undefined;
}

/** How long a request that needs a sign-in waits for this process to produce the URL it can name. */
const SIGN_IN_URL_WAIT_MS = 10_000;

/**
 * The OAuth client for one upstream MCP server, composed of one part per job:
 * - TokenKeeper (token-keeper.ts): the tokens in memory, loaded once, written through, noticed when changed;
 * - Refresher (refresher.ts): single-flight refresh under the store's lock, with transient retries;
 * - ChallengePolicy (challenge-policy.ts): what a 401/403 leads to (retry, sign in, fail), step-up budget, breaker;
 * - SignInFlows (sign-in-flows.ts, browser-flows.ts, pending-browser-flows.ts, device-flows.ts): pending flows by
 *   `state`, the callback, the `iss` check, restarts.
 * This class wires them together and adds what spans them: the cross-process sign-in lock, status and clear.
 * It prints nothing and opens nothing itself: the app layer passes `printSignInUrl` and `openUrl`.
 */
export type { ClearOutcome } from "./sign-out.ts";

export class UpstreamAuth implements AuthClient {
  readonly serverUrl: string;
  readonly storeKey: string;

  private readonly store: TokenStore;
  private readonly log: Logger;
  private readonly fetchFn: FetchLike;
  private readonly now: () => number;
  private readonly events = new EventEmitter();
  private readonly clients: ClientRegistry;
  private readonly discovery: DiscoveryCache;
  private readonly checkPkce: FlowHost["checkPkce"];
  private readonly keeper: TokenKeeper;
  private readonly refresher: Refresher;
  private readonly policy: ChallengePolicy;
  private readonly flows: SignInFlows;

  private signingIn: Promise<void> | undefined;
  /** Stops the shared store's change notifications for this grant (see close()). */
  private readonly unwatch: () => void;
  /** Every scope asked for while the sign-in under way runs (a step-up may widen it). */
  private signInScope: string | undefined;

  constructor(
    private readonly upstream: UpstreamOptions,
    runtime: RuntimeOptions,
    deps: UpstreamAuthDeps,
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
    const { serverUrl, log, now } = this;
    const onChange = () => this.events.emit("change");
    this.clients = new ClientRegistry(this.store, this.storeKey, serverUrl, upstream);
    this.discovery = new DiscoveryCache(this.store, this.storeKey, serverUrl, this.fetchFn, now);
    this.checkPkce = pkceSupportCheck({ serverUrl, allowUnverified: upstream.allowPkceUnverified === true, log });
    // Without a principal the grant is the upstream's default one: its key is the upstream key, the layout unchanged.
    this.keeper = new TokenKeeper(
      this.store,
      grantKey(this.storeKey, deps.principal),
      serverUrl,
      onChange,
      now,
      log,
      deps.principal ? deps.principalLabel : undefined,
    );
    this.refresher = new Refresher({
      store: this.store,
      keeper: this.keeper,
      clients: this.clients,
      discovery: this.discovery,
      fetchFn: this.fetchFn,
      serverUrl,
      sendResource: upstream.sendResource,
      resourceMetadataUrl: () => this.policy.resourceMetadataUrl,
      onOutcome: (outcome) => this.events.emit("refresh", outcome),
      now,
      log,
    });
    this.policy = new ChallengePolicy({
      serverUrl,
      keeper: this.keeper,
      refresh: (request) => this.refresher.refresh(request),
      signInForRequest: (request) => this.signInForRequest(request),
      now,
      log,
    });
    this.flows = new SignInFlows({
      serverUrl,
      runtime,
      callback: deps.callback,
      clients: this.clients,
      fetchFn: this.fetchFn,
      flowHost: (flow) => this.flowHost(flow),
      defaultScope: () => upstream.scope ?? this.policy.challengedScope,
      resourceMetadataUrl: () => this.policy.resourceMetadataUrl,
      discover: () => this.discovery.discover(this.policy.resourceMetadataUrl),
      account: () => this.keeper.current?.account,
      onChange,
      printSignInUrl: deps.printSignInUrl,
      openUrl: deps.openUrl,
      printDeviceCode: deps.printDeviceCode,
      pasteBack: deps.pasteBack,
      sleep: deps.sleep,
      now,
      log,
      staleClientWaitMs: deps.staleClientWaitMs,
      // A shared store (it notifies changes) may have replicas: their callbacks can reach any of them.
      shared: this.store.watch ? new SharedSignIns(this.store, this.keeper.key, serverUrl, now) : undefined,
      upstreamKey: this.storeKey,
    });
    // A shared store tells of other replicas' writes: re-read this grant's tokens at once, so a sign-in or refresh
    // elsewhere is used from the next request on (noticeStoreChange compares stamps and re-reads only on a change),
    // and a sign-in pending here whose callback another replica completed ends here too.
    this.unwatch =
      this.store.watch?.((change) => {
        if (change.kind !== undefined && change.kind !== "tokens") return;
        if (change.key !== undefined && change.key !== this.keeper.key && change.key !== this.storeKey) return;
        void this.keeper
          .noticeStoreChange()
          .then((replaced) => replaced && this.flows.completedElsewhere(this.keeper.current))
          .catch(() => {});
      }) ?? (() => {});
  }

  // ── Hot path ──────────────────────────────────────────────────────────────

  async getAccessToken(): Promise<string | undefined> {
    await this.keeper.noticeStoreChange();
    await this.keeper.load();
    const held = this.keeper.current;
    if (!held) return undefined;
    if (expiresSoon(held, this.now()) && held.tokens.refresh_token) {
      try {
        await this.refresher.refresh();
      } catch (error) {
        // Keep serving the old token; the upstream answers 401 if it is really dead, and onChallenge handles that.
        this.log.warn(`Refresh for ${this.serverUrl} failed: ${toProxyError(error, this.serverUrl).toLine()}`);
      }
    }
    const token = this.keeper.accessToken;
    // A token the upstream refused is never sent again (the policy's breaker).
    return this.policy.isRefused(token) ? undefined : token;
  }

  onChallenge(challenge: UpstreamChallenge): Promise<ChallengeOutcome> {
    return this.policy.decide(challenge);
  }

  accepted(operation: string | undefined): void {
    this.policy.accepted(operation);
  }

  // ── Sign-in ───────────────────────────────────────────────────────────────

  /**
   * Interactive sign-in (CLI, stdio face, a request that needs one): takes the store's sign-in lock so that several
   * processes for the same upstream open one browser tab; a process that waited uses the winner's tokens. One at a
   * time in the process: a call while one runs joins it, widening its scope first when it asks for more.
   * Resolves when tokens are stored; rejects with SIGN_IN_TIMEOUT, SIGN_IN_DENIED, … otherwise.
   */
  async signIn(options: { force?: boolean; scope?: string; registerAnew?: boolean } = {}): Promise<void> {
    this.signInScope = scopeUnion(this.signInScope, options.scope);
    if (this.signingIn) {
      // A step-up while a sign-in waits in the browser: restart it for the union, its waiters follow the new one.
      if (options.scope && this.flows.pending() && !this.flows.covers(options.scope)) {
        await this.flows.start({ scope: options.scope });
      }
      return this.signingIn;
    }
    this.signingIn = this.signInLocked(options).finally(() => {
      this.signingIn = undefined;
      this.signInScope = undefined;
    });
    return this.signingIn;
  }

  private async signInLocked({ force, registerAnew }: { force?: boolean; registerAnew?: boolean }): Promise<void> {
    await this.keeper.load();
    const before = this.keeper.accessToken;
    await this.store.withLock(
      this.keeper.key,
      "sign-in",
      async () => {
        // Someone (another process, or a refresh) may have produced tokens while we waited for the lock.
        await this.keeper.reload();
        const held = this.keeper.current;
        const fresh = held !== undefined && held.tokens.access_token !== before;
        const usable =
          held !== undefined && !isDead(held, this.now()) && !this.policy.isRefused(held.tokens.access_token);
        if (usable && (!force || fresh)) return;
        // `auth --force`: a dynamic registration the AS may have forgotten is replaced (pre-registered stays).
        if (registerAnew) await this.clients.forget();
        const handle = await this.flows.start(this.signInScope === undefined ? {} : { scope: this.signInScope });
        await handle.completed;
      },
      { waitMs: SIGN_IN_TIMEOUT_MS + 30_000 },
    );
  }

  /**
   * The sign-in a request needs, without waiting for the person: starts it (or joins it), waits only until this
   * process shows its URL (or it ends, or {@link SIGN_IN_URL_WAIT_MS}), and answers "sign-in" naming the URL with a
   * promise of its end, so the caller decides how long the request waits (answerChallenge's budget).
   */
  private async signInForRequest({
    scope,
    force,
  }: {
    scope?: string | undefined;
    force?: boolean;
  }): Promise<ChallengeOutcome> {
    const watch = this.flows.nextStarted(scope);
    const signIn = this.signIn({ ...(scope ? { scope } : {}), ...(force ? { force: true } : {}) });
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      signIn.then(
        () => "done" as const,
        (error: unknown) => toProxyError(error, this.serverUrl),
      ),
      watch.started,
      new Promise<"waiting">((resolve) => {
        timer = setTimeout(() => resolve("waiting"), SIGN_IN_URL_WAIT_MS);
      }),
    ]).finally(() => {
      clearTimeout(timer);
      watch.cancel();
    });
    if (first === "done" && !this.policy.isRefused(this.keeper.accessToken) && this.keeper.current) {
      return { action: "retry" };
    }
    if (first instanceof ProxyError) return { action: "sign-in", error: first };
    const handle = typeof first === "object" ? first : this.flows.pending();
    const url = handle?.url;
    const userCode = handle?.userCode;
    return {
      action: "sign-in",
      completed: signIn,
      error: new ProxyError("SIGN_IN_REQUIRED", `Sign-in to ${this.serverUrl} is required.`, {
        hint: url
          ? `Open ${url} in a browser${userCode ? ` and enter the code ${userCode}` : ""} to sign in, then retry.`
          : `Run \`mcp-u2m-proxy auth ${this.serverUrl}\`, then retry.`,
        details: url ? { signInUrl: url, ...(userCode ? { userCode } : {}) } : {},
      }),
    };
  }

  /** Starts a sign-in, or joins the one pending when it asks for at least this scope (the page's button). */
  startSignIn(options: SignInOptions = {}): Promise<SignInHandle> {
    return this.flows.start(options);
  }

  handleCallback(query: URLSearchParams): Promise<CallbackResult> {
    return this.flows.handleCallback(query);
  }

  /** Whether `state` belongs to one of this client's pending sign-ins (the shared callback route asks). */
  ownsSignIn(state: string): boolean {
    return this.flows.owns(state);
  }

  /**
   * Whether `state` was minted for this upstream (by any replica, for any user): the shared callback route's guess
   * when no sign-in pending in this process owns it. Taking the flow from the shared store decides the rest.
   */
  mintedSignInState(state: string): boolean {
    return isSignInStateOf(state, this.storeKey);
  }

  pendingSignIn(): SignInHandle | undefined {
    return this.flows.pending();
  }

  /** Whether this client's own callback listener is bound (tests of its lifetime). */
  get listening(): boolean {
    return this.flows.listening;
  }

  // ── Refresh ───────────────────────────────────────────────────────────────

  /** Refreshes now (CLI `refresh`). Throws SIGN_IN_REQUIRED when there is nothing to refresh with. */
  async refresh(): Promise<void> {
    await this.keeper.load();
    const result = await this.refresher.refresh({ force: true });
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

  // ── Status, clear, close ──────────────────────────────────────────────────

  async status(): Promise<AuthStatus> {
    await this.keeper.noticeStoreChange();
    await this.keeper.load();
    const record = this.keeper.current;
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
   * Signs out: revokes at the AS when it supports RFC 7009, then deletes every stored record of the upstream,
   * whatever the AS said (see sign-out.ts).
   */
  async clear(): Promise<ClearOutcome> {
    const outcome = await signOut({
      store: this.store,
      upstreamKey: this.storeKey,
      grantKey: this.keeper.key,
      clients: this.clients,
      discovery: this.discovery,
      fetchFn: this.fetchFn,
      serverUrl: this.serverUrl,
      log: this.log,
    });
    await this.keeper.cleared();
    return outcome;
  }

  /**
   * Signs one person out (`clear --user`): revokes and deletes the per-user grant `grantKey` of this upstream (one
   * `serve --identity` stored), leaving the registration and everyone else's grants.
   */
  async clearGrant(grantKey: string): Promise<ClearOutcome> {
    if (!grantKey.startsWith(`${this.storeKey}.`) || !isPrincipalGrantKey(grantKey)) {
      throw new ProxyError("INTERNAL", `${grantKey} is not a per-user grant of ${this.serverUrl}.`);
    }
    return signOut({
      store: this.store,
      upstreamKey: this.storeKey,
      grantKey,
      clients: this.clients,
      discovery: this.discovery,
      fetchFn: this.fetchFn,
      serverUrl: this.serverUrl,
      log: this.log,
    });
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
    this.unwatch();
    await this.flows.close();
  }

  // ── Internals ─────────────────────────────────────────────────────────────

  /** The storage side of one flow, for the SDK's provider: client, tokens and discovery, bound to the flow. */
  private flowHost(flow: PendingFlow): FlowHost {
    let loadedClientId: string | undefined;
    return {
      serverUrl: this.serverUrl,
      clientMetadata: this.clients.metadata(flow.redirectUri, flow.grant),
      clientMetadataUrl: this.upstream.clientMetadataUrl,
      sendResource: this.upstream.sendResource,
      authorizeParams: this.upstream.authorizeParams,
      loadClientInfo: async (issuer) => {
        const info = await this.clients.load(issuer, flow.redirectUri, flow.scope, flow.grant);
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
        await this.keeper.persist(tokens, issuer, requestedScope, accountOf(tokens.id_token, tokens.access_token));
      },
      saveDiscovery: (state) => this.discovery.save(state),
      // PKCE belongs to the authorization code grant; a device sign-in has none to check.
      checkPkce: flow.grant === "device" ? () => {} : this.checkPkce,
      invalidate: async (scope) => {
        if (scope === "client" || scope === "all") {
          // The SDK drops the client when an endpoint answered invalid_client or unauthorized_client.
          flow.clientRefused = true;
          await this.clients.forget();
        }
        if (scope === "tokens" || scope === "all") await this.keeper.forget();
        if (scope === "discovery" || scope === "all") await this.discovery.forget();
      },
    };
  }
}

export function createUpstreamAuth(
  upstream: UpstreamOptions,
  runtime: RuntimeOptions,
  deps: UpstreamAuthDeps,
): UpstreamAuth {
  return new UpstreamAuth(upstream, runtime, deps);
}
