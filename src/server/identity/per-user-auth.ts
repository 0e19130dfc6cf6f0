import type {
  AuthStatus,
  CallbackResult,
  ChallengeOutcome,
  SignInHandle,
  UpstreamChallenge,
} from "../../auth/auth-client.ts";
import { isSignInStateOf } from "../../auth/sign-in-state.ts";
import { ProxyError } from "../../lib/errors.ts";
import { grantKey, isPrincipalGrantKey } from "../../store/store-key.ts";
import type { TokenStore } from "../../store/token-store.ts";
import type { FaceAuthClient } from "../http-face.ts";
import { type Caller, currentCaller, principalHash } from "./caller.ts";
import { type HotGrant, HotGrants } from "./hot-grants.ts";

/** One user's auth core for one upstream (UpstreamAuth with that user's grant key). */
export interface UserAuth extends FaceAuthClient {
  clear(): Promise<unknown>;
  ownsSignIn(state: string): boolean;
  close(): Promise<void>;
  onRefresh?(listener: (outcome: string) => void): () => void;
}

/** What an admin sees of one user: never a token. */
export interface UserState {
  /** principalHash of the user: names them in URLs and forms without saying who. */
  readonly user: string;
  /**
   * What people see (e-mail or user name); for a grant in the store whose owner this process has not seen, the one
   * stored with it (undefined when the front named none).
   */
  readonly label: string | undefined;
  /** The grant's id in the store (`u<16 hex>`, the suffix of its grant key): what `list`/`status` show. */
  readonly grant: string;
  readonly status: AuthStatus;
}

export interface PerUserAuthOptions {
  serverUrl: string;
  /** Creates the core of one user (their tokens under grantKey(upstream, principal); registration shared). */
  create: (caller: Caller) => UserAuth;
  /** Users' cores held in memory at most (--max-grants); the least recently used idle one is closed above it. */
  maxGrants?: number | undefined;
  /**
   * The store and upstream key the grants live under: the admin view then lists every user with a grant in the
   * store (also those not seen since this process started) and can delete those grants too.
   */
  store?: { store: TokenStore; storeKey: string } | undefined;
  /**
   * Signs out a stored grant no core here holds (another replica's user, or one from before a restart): revokes its
   * tokens at the authorization server, then deletes its records (UpstreamAuth.clearGrant on the upstream's own
   * core). Without it such a grant is only deleted.
   */
  revokeGrant?: ((grantKey: string) => Promise<unknown>) | undefined;
}

/** Default of --max-grants: a few MB of cores per upstream, and far more users than one replica serves at once. */
export const DEFAULT_MAX_GRANTS = 1000;

/**
 * The auth core the face sees when several people use it: every call acts for the current caller (the identity
 * gate's), on that person's own core, created on their first request. Without a caller (start-up probes,
 * `/healthz`) nobody is signed in and nothing starts. A callback is completed only by the core of the person it
 * comes from: a `state` another user's sign-in issued is refused, never completed for them. Only the hot users'
 * cores stay in memory (HotGrants): an evicted user's grant is re-read from the store on their next request.
 */
export class PerUserAuth implements FaceAuthClient {
  readonly serverUrl: string;
  private readonly users: HotGrants;
  private readonly stateListeners = new Set<(status: AuthStatus) => void>();
  private readonly refreshListeners = new Set<(outcome: string) => void>();
  /** Evicted cores still closing: close() waits for them. */
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly options: PerUserAuthOptions) {
    this.serverUrl = options.serverUrl;
    this.users = new HotGrants(options.maxGrants ?? DEFAULT_MAX_GRANTS, (_principal, entry) => this.retire(entry));
  }

  /** Users' cores in memory now (metrics, tests). */
  get hotUsers(): number {
    return this.users.size;
  }

  /** The core of `caller`, created on first use (or again after its eviction). */
  authFor(caller: Caller): UserAuth {
    return this.entryFor(caller).auth;
  }

  private entryFor(caller: Caller): HotGrant {
    const known = this.users.get(caller.principal);
    if (known) return known;
    const auth = this.options.create(caller);
    const removeState = auth.onStateChange((status) => {
      for (const listener of this.stateListeners) listener(status);
    });
    const removeRefresh =
      auth.onRefresh?.((outcome) => {
        for (const listener of this.refreshListeners) listener(outcome);
      }) ?? (() => {});
    const entry: HotGrant = {
      caller,
      auth,
      inUse: 0,
      unsubscribe: () => {
        removeState();
        removeRefresh();
      },
    };
    this.users.add(caller.principal, entry);
    return entry;
  }

  private retire(entry: HotGrant): void {
    entry.unsubscribe();
    const closed = entry.auth.close().catch(() => {
      // A core that fails to close holds nothing the store does not have; the next request makes a new one.
    });
    this.closing.add(closed);
    void closed.finally(() => this.closing.delete(closed));
  }

  /**
   * Runs `work` on the current caller's core, held (never evicted) until it settles; undefined without a caller.
   */
  private async withCurrent<T>(work: (auth: UserAuth) => Promise<T>): Promise<T | undefined> {
    const caller = currentCaller();
    return caller ? this.withEntry(this.entryFor(caller), work) : undefined;
  }

  private async withEntry<T>(entry: HotGrant, work: (auth: UserAuth) => Promise<T>): Promise<T> {
    entry.inUse++;
    try {
      return await work(entry.auth);
    } finally {
      entry.inUse--;
      this.users.trim();
    }
  }

  private current(): UserAuth | undefined {
    const caller = currentCaller();
    return caller ? this.authFor(caller) : undefined;
  }

  private required(): HotGrant {
    const caller = currentCaller();
    if (!caller) {
      throw new ProxyError(
        "SIGN_IN_REQUIRED",
        `Sign-in to ${this.serverUrl} needs a user, and this request names none.`,
        {
          hint: "Reach the proxy through its identity-aware front.",
        },
      );
    }
    return this.entryFor(caller);
  }

  async getAccessToken(): Promise<string | undefined> {
    return this.withCurrent((auth) => auth.getAccessToken());
  }

  async onChallenge(challenge: UpstreamChallenge): Promise<ChallengeOutcome> {
    const outcome = await this.withCurrent((auth) => auth.onChallenge(challenge));
    if (outcome) return outcome;
    return { action: "fail", error: new ProxyError("SIGN_IN_REQUIRED", `No user to sign in to ${this.serverUrl}.`) };
  }

  accepted(operation: string | undefined): void {
    this.current()?.accepted?.(operation);
  }

  async startSignIn(options?: { scope?: string; reason?: string; openBrowser?: boolean }): Promise<SignInHandle> {
    return this.withEntry(this.required(), (auth) => auth.startSignIn({ ...options, openBrowser: false }));
  }

  async handleCallback(query: URLSearchParams): Promise<CallbackResult> {
    const caller = currentCaller();
    const state = query.get("state") ?? "";
    const own = caller ? this.entryFor(caller) : undefined;
    if (own && (state === "" || own.auth.ownsSignIn(state) || !this.ownsSignIn(state))) {
      return this.withEntry(own, (auth) => auth.handleCallback(query));
    }
    // The state is another person's pending sign-in (or there is no caller): never complete it for this one.
    return {
      ok: false,
      error: new ProxyError(
        "STATE_MISMATCH",
        "This sign-in was started by another user: it can only be completed in their browser session.",
        { hint: "Start your own sign-in from the proxy's page." },
      ),
    };
  }

  ownsSignIn(state: string): boolean {
    for (const { auth } of this.users.values()) if (auth.ownsSignIn(state)) return true;
    return false;
  }

  /** Whether `state` was minted for this upstream, by any replica, for anyone (the shared callback route asks). */
  mintedSignInState(state: string): boolean {
    return this.options.store !== undefined && isSignInStateOf(state, this.options.store.storeKey);
  }

  pendingSignIn(): SignInHandle | undefined {
    return this.current()?.pendingSignIn();
  }

  async status(): Promise<AuthStatus> {
    const status = await this.withCurrent((auth) => auth.status());
    if (status) return status;
    return { serverUrl: this.serverUrl, signedIn: false, hasRefreshToken: false, scopes: [], storeKey: "" };
  }

  onStateChange(listener: (status: AuthStatus) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  onRefresh(listener: (outcome: string) => void): () => void {
    this.refreshListeners.add(listener);
    return () => this.refreshListeners.delete(listener);
  }

  /** Signs the current caller out (their grant only). */
  async clear(): Promise<unknown> {
    return this.withEntry(this.required(), (auth) => auth.clear());
  }

  /**
   * Every user with state (admin view): those whose cores this process holds now (the hot ones), with their live
   * state, then those that only have a grant in the store (idle ones closed by --max-grants, another replica's
   * users, or from before a restart), from the stored record.
   */
  async userStates(): Promise<UserState[]> {
    const seen = await Promise.all(
      [...this.users.values()].map(async ({ caller, auth }) => ({
        user: principalHash(caller.principal),
        label: caller.label,
        grant: this.grantIdOf(caller.principal),
        status: await auth.status(),
      })),
    );
    const backing = this.options.store;
    if (!backing) return seen;
    const known = new Set(seen.map(({ grant }) => grant));
    const stored: UserState[] = [];
    for (const key of await backing.store.grantKeys(backing.storeKey)) {
      const grant = grantIdOfKey(key);
      if (!grant || known.has(grant)) continue;
      const record = await backing.store.read(key, "tokens");
      if (!record) continue;
      const scope = record.tokens.scope ?? record.requested_scope ?? "";
      stored.push({
        user: grant,
        label: record.user_label,
        grant,
        status: {
          serverUrl: this.serverUrl,
          signedIn: record.expires_at === undefined || record.expires_at > Date.now() || !!record.tokens.refresh_token,
          hasRefreshToken: !!record.tokens.refresh_token,
          scopes: scope.split(" ").filter(Boolean),
          storeKey: key,
          ...(record.expires_at !== undefined ? { expiresAt: new Date(record.expires_at).toISOString() } : {}),
          ...(record.account ? { account: record.account } : {}),
        },
      });
    }
    return [...seen, ...stored];
  }

  /**
   * Revokes and deletes one user's grant (admin), named by principalHash or by grant id: through their core when
   * this process holds one, else through `revokeGrant` (or, without it, by deleting the stored grant).
   * False when no such user or grant is known.
   */
  async revokeUser(user: string): Promise<boolean> {
    for (const entry of this.users.values()) {
      const { principal } = entry.caller;
      if (principalHash(principal) === user || this.grantIdOf(principal) === user) {
        await this.withEntry(entry, (auth) => auth.clear());
        return true;
      }
    }
    const backing = this.options.store;
    if (!backing || !/^u[0-9a-f]{16}$/.test(user)) return false;
    const key = `${backing.storeKey}.${user}`;
    if (!(await backing.store.grantKeys(backing.storeKey)).includes(key)) return false;
    if (this.options.revokeGrant) await this.options.revokeGrant(key);
    else await backing.store.remove(key, "tokens");
    return true;
  }

  private grantIdOf(principal: string): string {
    return grantIdOfKey(grantKey(this.options.store?.storeKey ?? "x", principal)) ?? "";
  }

  async close(): Promise<void> {
    const held = this.users.drain();
    for (const entry of held) entry.unsubscribe();
    await Promise.all([...held.map(({ auth }) => auth.close()), ...this.closing]);
  }
}

/** `u<16 hex>` of a principal's grant key, else undefined (the upstream's default grant). */
function grantIdOfKey(key: string): string | undefined {
  return isPrincipalGrantKey(key) ? key.slice(key.lastIndexOf(".") + 1) : undefined;
}
