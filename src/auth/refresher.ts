import { randomUUID } from "node:crypto";
import { isProxyError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import type { StoredRecord, TokenStore } from "../store/token-store.ts";
import type { FetchLike } from "./authorized-fetch.ts";
import type { ClientRegistry } from "./client-registry.ts";
import type { DiscoveryCache } from "./discovery-cache.ts";
import { isInvalidClient, isInvalidGrant, isTransientOAuthError, toProxyError } from "./oauth-errors.ts";
import { sendsResource } from "./provider-defaults.ts";
import { loadSdk } from "./sdk.ts";
import type { TokenKeeper } from "./token-keeper.ts";
import { bearerOf, expiresSoon } from "./token-lifetime.ts";

/**
 * What a refresh came to:
 * - "refreshed": this process got new tokens from the authorization server;
 * - "replaced": newer tokens were already stored (another process or caller refreshed first), now in use;
 * - "no-refresh-token": nothing to refresh with (only a sign-in helps);
 * - "invalid-grant": the AS refused the refresh token, or the resource moved to another AS; tokens removed;
 * - "invalid-client": the AS no longer knows the client; registration and tokens removed.
 * Anything else (network, 5xx after retries, a malformed answer) rejects with a ProxyError.
 */
export type RefreshResult = "refreshed" | "replaced" | "no-refresh-token" | "invalid-grant" | "invalid-client";

export interface RefreshRequest {
  /** Refresh even when the stored tokens are not near expiry (CLI `refresh`). */
  force?: boolean;
  /** Discover again first (after the upstream refused a token: its AS may have changed). */
  rediscover?: boolean;
}

/** Retries of a refresh that failed transiently (network, temporarily_unavailable). */
export const TRANSIENT_RETRIES = 2;
/** How long a refresh waits for another process's refresh of the same grant. */
const REFRESH_LOCK_WAIT_MS = 30_000;
/**
 * How long a refresh that finds another process's mark on the record (its refresh reached the AS, and its write
 * did not arrive) waits for that process to write the tokens back before spending the refresh token itself. Covers
 * the holder's reconnect and write-back after a store outage (both back off at most 2 s); a holder that died costs
 * this once.
 */
export const FOREIGN_REFRESH_WAIT_MS = 5000;
const FOREIGN_REFRESH_POLL_MS = 200;
/** This process, in the refresh marks it leaves on records. */
const PROCESS_HOLDER = randomUUID();

export interface RefresherParts {
  store: TokenStore;
  keeper: TokenKeeper;
  clients: ClientRegistry;
  discovery: DiscoveryCache;
  fetchFn: FetchLike;
  serverUrl: string;
  /** Send RFC 8707 `resource` on the refresh request. */
  sendResource: boolean;
  /** The resource metadata URL the upstream's last challenge named, if any. */
  resourceMetadataUrl: () => string | undefined;
  /** Every outcome, for metrics and the access log. */
  onOutcome?: (outcome: RefreshResult | "failed") => void;
  now?: () => number;
  log?: Logger;
  /** The back-off before a transient retry (tests pass a shorter one). */
  backoff?: (attempt: number) => Promise<void>;
  /** This process's id in refresh marks (tests give two refreshers on one store different ones). */
  holder?: string;
  /** How long to wait for another process's marked refresh to be written (default FOREIGN_REFRESH_WAIT_MS). */
  foreignRefreshWaitMs?: number;
}

/**
 * Refreshes one grant, once at a time: within the process concurrent callers share one promise; across processes
 * the store's lock serialises, and whoever gets the lock second finds the winner's tokens in the store and uses
 * them, so a rotating refresh token is spent exactly once.
 */
export class Refresher {
  private running: Promise<RefreshResult> | undefined;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly holder: string;

  constructor(private readonly parts: RefresherParts) {
    this.now = parts.now ?? Date.now;
    this.log = parts.log ?? silentLogger;
    this.holder = parts.holder ?? PROCESS_HOLDER;
  }

  refresh(request: RefreshRequest = {}): Promise<RefreshResult> {
    if (!this.running) {
      const { store, keeper, onOutcome } = this.parts;
      const before = keeper.bearerToken;
      this.running = store
        .withLock(keeper.key, "refresh", () => this.underLock(before, request), { waitMs: REFRESH_LOCK_WAIT_MS })
        .then(
          (result) => {
            onOutcome?.(result);
            return result;
          },
          (error: unknown) => {
            onOutcome?.("failed");
            throw error;
          },
        )
        .finally(() => {
          this.running = undefined;
        });
    }
    return this.running;
  }

  private async underLock(before: string | undefined, { force, rediscover }: RefreshRequest): Promise<RefreshResult> {
    const { keeper, clients, discovery, serverUrl } = this.parts;
    const stored = await this.awaitForeignRefresh(await keeper.readStored());
    if (stored && bearerOf(stored, keeper.bearer) !== before && !expiresSoon(stored, this.now(), keeper.bearer)) {
      keeper.adopt(stored);
      return "replaced";
    }
    if (!stored) keeper.adopt(undefined);
    const refreshToken = stored?.tokens.refresh_token;
    if (!stored || !refreshToken) return "no-refresh-token";
    if (!force && !rediscover && !expiresSoon(stored, this.now(), keeper.bearer)) {
      keeper.adopt(stored);
      return "replaced";
    }

    const client = await clients.read();
    let serverInfo = rediscover ? undefined : await discovery.read();
    serverInfo ??= await discovery.discover(this.parts.resourceMetadataUrl());
    const issuer = serverInfo.authorizationServerMetadata?.issuer ?? serverInfo.authorizationServerUrl;
    const here = (recorded: string | undefined) =>
      discovery.issuers.sameServer(serverInfo.authorizationServerUrl, recorded, issuer);
    if (!client || !here(client.issuer) || !here(stored.issuer)) {
      // The resource now points at another authorization server: nothing issued by the old one may be reused.
      this.log.info(`${serverUrl} now uses authorization server ${issuer}; a new sign-in is needed.`);
      await keeper.forget();
      return "invalid-grant";
    }

    const resource = sendsResource(this.parts.sendResource, issuer)
      ? (serverInfo.resourceMetadata?.resource ?? serverUrl)
      : undefined;
    // The mark says "this refresh token is being spent": kept if the answer cannot be stored, so no other process
    // spends it again while this one holds the new tokens (awaitForeignRefresh).
    let marked: number;
    try {
      marked = await keeper.markRefreshing(stored, this.holder);
    } catch (error) {
      if (!isProxyError(error) || error.code !== "STORE_CONFLICT") throw error;
      keeper.adopt(await keeper.readStored());
      return "replaced";
    }
    let spent = false;
    try {
      const result = await this.refreshAt(serverInfo, client, refreshToken, resource, issuer, stored, marked);
      spent = true;
      return result;
    } finally {
      if (!spent) await keeper.unmark(stored, marked);
    }
  }

  /**
   * When the stored record carries another process's refresh mark (its refresh reached the AS and its tokens are not
   * stored yet): waits up to foreignRefreshWaitMs for them, and returns the record as it is then.
   */
  private async awaitForeignRefresh(
    stored: StoredRecord<"tokens"> | undefined,
  ): Promise<StoredRecord<"tokens"> | undefined> {
    if (!stored?.refreshing_by || stored.refreshing_by === this.holder) return stored;
    const { keeper, serverUrl } = this.parts;
    const waitMs = this.parts.foreignRefreshWaitMs ?? FOREIGN_REFRESH_WAIT_MS;
    for (let waited = 0; waited < waitMs; waited += FOREIGN_REFRESH_POLL_MS) {
      await new Promise((resolve) => setTimeout(resolve, FOREIGN_REFRESH_POLL_MS));
      const now = await keeper.readStored();
      if (now?.revision !== stored.revision) return now;
    }
    this.log.warn(
      `Another process started refreshing the tokens for ${serverUrl} and never stored the result; refreshing here.`,
    );
    return stored;
  }

  private async refreshAt(
    serverInfo: Awaited<ReturnType<DiscoveryCache["discover"]>>,
    client: NonNullable<Awaited<ReturnType<ClientRegistry["read"]>>>,
    refreshToken: string,
    resource: string | undefined,
    issuer: string,
    stored: StoredRecord<"tokens">,
    marked: number,
  ): Promise<RefreshResult> {
    const { keeper, clients, serverUrl } = this.parts;
    for (let attempt = 0; ; attempt++) {
      try {
        const { refreshAuthorization } = await loadSdk();
        const tokens = await refreshAuthorization(serverInfo.authorizationServerUrl, {
          ...(serverInfo.authorizationServerMetadata ? { metadata: serverInfo.authorizationServerMetadata } : {}),
          clientInformation: client.client,
          refreshToken,
          ...(resource ? { resource } : {}),
          fetchFn: this.parts.fetchFn,
        });
        // RFC 6749 §6: the AS may keep the refresh token; keep the old one when it sends none. A fenced write: only
        // over the record this refresh started from, so a writer that got there first (a sign-in, a store shared
        // with a process that does not take this lock) is never overwritten; its tokens are used instead.
        try {
          await keeper.persist(
            { ...tokens, refresh_token: tokens.refresh_token ?? refreshToken },
            issuer,
            stored.requested_scope,
            stored.account,
            marked,
            { holdIfUnsaved: true },
          );
        } catch (error) {
          if (!isProxyError(error) || error.code !== "STORE_CONFLICT") throw error;
          this.log.debug(`The tokens for ${serverUrl} changed during the refresh; using the newer ones.`);
          keeper.adopt(await keeper.readStored());
          return "replaced";
        }
        this.log.debug(`Refreshed tokens for ${serverUrl}.`);
        return "refreshed";
      } catch (error) {
        if (isInvalidGrant(error)) {
          this.log.warn(`The refresh token for ${serverUrl} was refused (invalid_grant); a new sign-in is needed.`);
          await keeper.forget();
          return "invalid-grant";
        }
        if (isInvalidClient(error)) {
          // The AS forgot our registration: register again at the next sign-in (a pre-registered client stays).
          // The refresh token was issued to the old client, so no refresh can follow the new registration.
          this.log.warn(
            `The authorization server no longer knows this proxy's client for ${serverUrl} (invalid_client); a new sign-in is needed.`,
          );
          await clients.forget();
          await keeper.forget();
          return "invalid-client";
        }
        if (!isTransientOAuthError(error) || attempt >= TRANSIENT_RETRIES) throw toProxyError(error, serverUrl);
        await (this.parts.backoff ?? backoff)(attempt);
      }
    }
  }
}

/**
 * The pause before a transient retry. Never unref'd: with nothing else pending the process would end in the middle
 * of the wait and report nothing.
 */
function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
}
