import { EventEmitter } from "node:events";
import type { RuntimeOptions, UpstreamOptions } from "../config/options.ts";
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
import { createFlowHost, type FlowHostParts } from "./flow-host.ts";
import { InteractiveSignIn } from "./interactive-sign-in.ts";
import { issuerCheck } from "./issuer-check.ts";
import { toProxyError } from "./oauth-errors.ts";
import { listsPkceMethods, pkceSupportCheck } from "./pkce-support.ts";
import { providerAdjustments } from "./provider-defaults.ts";
import { refreshFailure } from "./refresh-failure.ts";
import { Refresher, type RefreshResult } from "./refresher.ts";
import { withOpenId } from "./scopes.ts";
import { assertSecureUrl, secureFetch } from "./secure-fetch.ts";
import { SharedSignIns } from "./shared-sign-ins.ts";
import { SignInFlows } from "./sign-in-flows.ts";
import type { SignInOptions } from "./sign-in-parts.ts";
import { isSignInStateOf } from "./sign-in-state.ts";
import { type ClearOutcome, signOut } from "./sign-out.ts";
import { HOT_PATH_STORE_CHECK_MS, TokenKeeper } from "./token-keeper.ts";
import { bearerExpiresAt, expiresSoon, isDead } from "./token-lifetime.ts";
import type { UpstreamAuthDeps } from "./upstream-auth-deps.ts";

export type { ClearOutcome } from "./sign-out.ts";
export type { UpstreamAuthDeps } from "./upstream-auth-deps.ts";

/**
 * The OAuth client for one upstream MCP server, composed of one part per job:
 * - TokenKeeper (token-keeper.ts): the tokens in memory, loaded once, written through, noticed when changed;
 * - Refresher (refresher.ts): single-flight refresh under the store's lock, with transient retries;
 * - ChallengePolicy (challenge-policy.ts): what a 401/403 leads to (retry, sign in, fail), step-up budget, breaker;
 * - SignInFlows (sign-in-flows.ts, browser-flows.ts, pending-browser-flows.ts, device-flows.ts): pending flows by
 *   `state`, the callback, the `iss` check, restarts.
 * - InteractiveSignIn (interactive-sign-in.ts): one sign-in at a time, under the store's cross-process sign-in lock.
 * This class wires them together (flow-host.ts binds a flow to the store) and adds status and clear.
 * It prints nothing and opens nothing itself: the app layer passes `printSignInUrl` and `openUrl`.
 */
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
  /** The user's choices that provider defaults give way to, for `status`. */
  private readonly choices: Pick<UpstreamOptions, "authorizeParams" | "sendResource">;
  private readonly keeper: TokenKeeper;
  private readonly refresher: Refresher;
  private readonly policy: ChallengePolicy;
  private readonly flows: SignInFlows;
  private readonly signIns: InteractiveSignIn;

  /** Stops the shared store's change notifications for this grant (see close()). */
  private readonly unwatch: () => void;

  constructor(upstream: UpstreamOptions, runtime: RuntimeOptions, deps: UpstreamAuthDeps) {
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
    this.choices = { authorizeParams: upstream.authorizeParams, sendResource: upstream.sendResource };
    const issuers = issuerCheck({ serverUrl, acceptIssuer: upstream.acceptIssuer, log });
    this.discovery = new DiscoveryCache(this.store, this.storeKey, serverUrl, this.fetchFn, now, issuers);
    const checkPkce = pkceSupportCheck({ serverUrl, allowUnverified: upstream.allowPkceUnverified === true, log });
    // Without a principal the grant is the upstream's default one: its key is the upstream key, the layout unchanged.
    this.keeper = new TokenKeeper(
      this.store,
      grantKey(this.storeKey, deps.principal),
      serverUrl,
      onChange,
      now,
      log,
      deps.principal ? deps.principalLabel : undefined,
      upstream.useIdToken ? "id" : "access",
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
      signInForRequest: (request) => this.signIns.forRequest(request),
      now,
      log,
    });
    const hostParts: FlowHostParts = {
      serverUrl,
      upstream,
      clients: this.clients,
      keeper: this.keeper,
      discovery: this.discovery,
      checkPkce,
    };
    this.flows = new SignInFlows({
      serverUrl,
      runtime,
      callback: deps.callback,
      clients: this.clients,
      fetchFn: this.fetchFn,
      flowHost: (flow) => createFlowHost(hostParts, flow),
      signInScope: async (requested) => {
        const scope = requested ?? upstream.scope ?? this.policy.challengedScope;
        if (!upstream.useIdToken) return scope;
        // Else the SDK would ask for the server's scopes_supported, and register the client for them, without openid.
        const discovered = scope
          ? undefined
          : ((await this.discovery.read()) ?? (await this.discovery.discover(this.policy.resourceMetadataUrl)));
        return withOpenId(scope ?? discovered?.resourceMetadata?.scopes_supported?.join(" "));
      },
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
    this.signIns = new InteractiveSignIn({
      serverUrl,
      store: this.store,
      keeper: this.keeper,
      clients: this.clients,
      flows: this.flows,
      isRefused: (token) => this.policy.isRefused(token),
      now,
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
    await this.keeper.noticeStoreChange({ maxAgeMs: HOT_PATH_STORE_CHECK_MS });
    await this.keeper.load();
    const held = this.keeper.current;
    if (!held) return undefined;
    if (expiresSoon(held, this.now(), this.keeper.bearer) && held.tokens.refresh_token) {
      try {
        await this.refresher.refresh();
      } catch (error) {
        // Keep serving the old token; the upstream answers 401 if it is really dead, and onChallenge handles that.
        this.log.warn(`Refresh for ${this.serverUrl} failed: ${toProxyError(error, this.serverUrl).toLine()}`);
      }
    }
    const token = this.keeper.bearerToken;
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
   * @see InteractiveSignIn (interactive-sign-in.ts)
   */
  signIn(options: { force?: boolean; scope?: string; registerAnew?: boolean } = {}): Promise<void> {
    return this.signIns.signIn(options);
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
    const failure = refreshFailure(await this.refresher.refresh({ force: true }), this.serverUrl);
    if (failure) throw failure;
  }

  // ── Status, clear, close ──────────────────────────────────────────────────

  async status(): Promise<AuthStatus> {
    await this.keeper.noticeStoreChange();
    await this.keeper.load();
    const record = this.keeper.current;
    const client = await this.clients.read();
    const expiresAt = record ? bearerExpiresAt(record, this.keeper.bearer) : undefined;
    const discovered = await this.discovery.read();
    const discoveredIssuer = discovered?.authorizationServerMetadata?.issuer;
    const accepted = discovered ? this.discovery.issuers.acceptance(discovered) : undefined;
    const adjustments = [
      ...(accepted
        ? [`issuer ${discoveredIssuer} accepted for ${discovered?.authorizationServerUrl}, because of ${accepted}`]
        : []),
      ...providerAdjustments(
        discoveredIssuer,
        this.choices,
        discovered?.authorizationServerMetadata !== undefined &&
          !listsPkceMethods(discovered.authorizationServerMetadata),
      ),
    ];
    return {
      serverUrl: this.serverUrl,
      ...(this.keeper.bearer === "id" ? { bearer: "id_token" as const } : {}),
      signedIn: record !== undefined && !isDead(record, this.now(), this.keeper.bearer),
      expiresAt: expiresAt ? new Date(expiresAt).toISOString() : undefined,
      expiresInSeconds: expiresAt ? Math.round((expiresAt - this.now()) / 1000) : undefined,
      hasRefreshToken: Boolean(record?.tokens.refresh_token),
      scopes: (record?.tokens.scope ?? record?.requested_scope ?? "").split(" ").filter(Boolean),
      issuer: record?.issuer ?? client?.issuer,
      account: record?.account,
      clientId: client?.client.client_id,
      clientSource: client?.source,
      ...(adjustments.length > 0 ? { adjustments } : {}),
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
}

export function createUpstreamAuth(
  upstream: UpstreamOptions,
  runtime: RuntimeOptions,
  deps: UpstreamAuthDeps,
): UpstreamAuth {
  return new UpstreamAuth(upstream, runtime, deps);
}
