/**
 * What the auth core persists per upstream, and the interface every backend implements.
 * The file backend (file-store.ts) keeps the original layout `~/.mcp/auth/<hash>_tokens.json`,
 * `<hash>_client_info.json` (+ `<hash>_discovery.json`); see docs/storage.md.
 * The store knows nothing of HTTP or OAuth flows: it keeps JSON records, atomically, and hands out locks.
 */

/** Stored layout version, independent of the package version (never sign people out on upgrade). */
export const STORE_VERSION = 1;

/**
 * The record kinds. `client_info`, `discovery` and `protocol` are the upstream's (kept under its key); `tokens` are a
 * grant's (kept under a grant key, see grantKey() in store-key.ts: the upstream key itself for the default grant).
 * `sign_in` is a grant's pending browser sign-in (shared stores: a callback may reach another replica); `page_secret`
 * is the secret the status page's form tokens are derived from (shared stores: a form may be posted to another replica).
 */
export type RecordKind = "tokens" | "client_info" | "discovery" | "protocol" | "sign_in" | "page_secret";

export interface TokenSet {
  access_token: string;
  token_type: string;
  refresh_token?: string;
  id_token?: string;
  /** Granted scope as returned by the AS (space separated), if it said. */
  scope?: string;
  expires_in?: number;
}

export interface TokensRecord {
  version: number;
  /** Set by the store on every write (what a write is given here is ignored); see {@link StoredRecord}. */
  revision?: number;
  /** The canonical upstream MCP server URL these tokens are for. */
  server_url: string;
  /** The authorization server issuer that issued them (SEP-2352 binding). */
  issuer: string;
  tokens: TokenSet;
  /** Epoch ms when the access token expires, if known. */
  expires_at?: number;
  /** Epoch ms when these tokens were obtained (sign-in or refresh). */
  obtained_at: number;
  /** Scopes we asked for in the last authorization (union over step-ups). */
  requested_scope?: string;
  /** Who signed in, when the AS told us (id_token claims or userinfo), for display only. */
  account?: string;
  /**
   * A per-user grant's owner as the identity front named them (e-mail or user name; never their id), for display
   * only: `list`, `status` and the admin view show it beside the grant id.
   */
  user_label?: string;
  /**
   * Set while a refresh is at the authorization server: the refreshing process's id and since when (epoch ms). A
   * rotating refresh token is spent the moment the AS answers, so if the answer cannot be written (the store went
   * away) the process that holds it writes it back later; another process that finds this mark waits for that write
   * instead of spending the old refresh token again (see refresher.ts). Cleared by the write of the new tokens.
   */
  refreshing_by?: string;
  refreshing_since?: number;
}

export interface ClientInfoRecord {
  version: number;
  /** Set by the store on every write (what a write is given here is ignored); see {@link StoredRecord}. */
  revision?: number;
  server_url: string;
  /** The AS issuer this registration is bound to; never reused for another issuer. */
  issuer: string;
  /** How we got the client id. */
  source: "pre-registered" | "cimd" | "dynamic";
  /** The redirect URI registered with it; a different one means re-register. */
  redirect_uri?: string;
  /** The registration (RFC 7591 response, or the pre-registered id/secret). */
  client: { client_id: string; client_secret?: string; [key: string]: unknown };
}

export interface DiscoveryRecord {
  version: number;
  /** Set by the store on every write (what a write is given here is ignored); see {@link StoredRecord}. */
  revision?: number;
  server_url: string;
  /** The SDK's OAuthDiscoveryState (PRM, AS URL, AS metadata), as JSON. */
  state: Record<string, unknown>;
  discovered_at: number;
}

/** Which MCP wire era the upstream speaks, as last probed (see src/proxy/era/era-verdicts.ts). */
export interface ProtocolRecord {
  version: number;
  /** Set by the store on every write (what a write is given here is ignored); see {@link StoredRecord}. */
  revision?: number;
  server_url: string;
  /** `legacy`: 2025 session wire only; `modern`: 2026-07-28 only; `dual`: both. */
  era: "legacy" | "modern" | "dual";
  /** The versions its `server/discover` named (empty for a legacy server). */
  supported_versions: string[];
  /** Epoch ms of the probe: a verdict is probed again once it is old. */
  checked_at: number;
}

/** One browser sign-in waiting for its callback, as kept in a {@link SignInRecord}. */
export interface PendingSignIn {
  /** The OAuth `state` of the authorization request. */
  state: string;
  /** The PKCE code verifier. */
  code_verifier: string;
  redirect_uri: string;
  scope?: string;
  /** The SDK's OAuthDiscoveryState the flow ran with (issuer and token endpoint for the exchange). */
  discovery?: Record<string, unknown>;
  client_source?: "pre-registered" | "cimd" | "dynamic";
  started_at: number;
  /** Epoch ms after which the flow is refused (and dropped from the record at its next write). */
  expires_at: number;
  /** Epoch ms when a replica took the flow to exchange its code: set once, the flow is used. */
  consumed_at?: number;
}

/**
 * A grant's browser sign-ins waiting for their callbacks, kept in a shared store so any replica can complete one.
 * Single use: the replica that takes a flow first sets its `consumed_at` with a compare-and-set of the record, so a
 * second use fails everywhere. Kept under the grant key of the person who started them, so only their callback
 * finds them; expired flows are dropped whenever the record is written.
 */
export interface SignInRecord {
  version: number;
  /** Set by the store on every write (what a write is given here is ignored); see {@link StoredRecord}. */
  revision?: number;
  server_url: string;
  /** By the SHA-256 of the state (hex). */
  pending: Record<string, PendingSignIn>;
}

/** The random secret shared by replicas, from which the status page's form (CSRF) tokens are derived. */
export interface PageSecretRecord {
  version: number;
  /** Set by the store on every write (what a write is given here is ignored); see {@link StoredRecord}. */
  revision?: number;
  server_url: string;
  /** 32 random bytes, base64url. */
  secret: string;
  created_at: number;
}

export interface RecordTypes {
  tokens: TokensRecord;
  client_info: ClientInfoRecord;
  discovery: DiscoveryRecord;
  protocol: ProtocolRecord;
  sign_in: SignInRecord;
  page_secret: PageSecretRecord;
}

/**
 * A record as read back: with its revision, which starts at 1 and grows by one with every write of the record, so a
 * caller can compare-and-set ({@link WriteOptions}). A record written before revisions existed reads as revision 0.
 * Removing a record forgets its revision: one written again starts at 1.
 */
export type StoredRecord<K extends RecordKind> = RecordTypes[K] & { revision: number };

export interface WriteOptions {
  /**
   * Compare-and-set: write only if the stored record's revision is this (`null`: only if there is no record),
   * else reject with ProxyError STORE_CONFLICT and write nothing. Omitted: a plain write.
   */
  expectedRevision?: number | null | undefined;
}

/** What withLock tells `fn` about the lock it holds. */
export interface HeldLock {
  /**
   * True once the lock was lost while `fn` ran (a shared store's lease expired: a stall, the store unreachable for
   * longer than the lease). Another process may hold it now, so `fn`'s writes must be fenced (compare-and-set).
   */
  readonly lost: boolean;
  /** Aborted when the lock is lost. */
  readonly signal: AbortSignal;
}

/**
 * A change another process made, as a shared store's notifications tell it: a record (`key` and `kind`), every
 * record of an upstream and its grants (`key`, no kind: a `clear`), or anything at all (neither: the notification
 * channel reconnected and may have missed some).
 */
export interface StoreChange {
  key?: string;
  kind?: RecordKind;
}

export interface TokenStore {
  /** Where it keeps things, for people ("~/.mcp/auth", "memory"). */
  readonly location: string;
  /**
   * Reads a record (from the backend on every call; callers cache). Undefined when absent. A corrupt record is moved
   * aside, reported through the backend's warning callback (FileTokenStore `onWarning`) and treated as absent; an
   * older layout version is upgraded in code. Never throws for a bad record.
   */
  read<K extends RecordKind>(key: string, kind: K): Promise<StoredRecord<K> | undefined>;
  /**
   * Writes a record atomically: readers see the old or the new one, never a mix, even across a crash. Resolves to
   * the record's new revision (the old one + 1; 1 for a new record). With `expectedRevision` it is a compare-and-set,
   * atomic across every process sharing the store (see {@link WriteOptions}).
   * The record must have `version: STORE_VERSION` and the documented shape, else ProxyError STORE_ERROR.
   */
  write<K extends RecordKind>(key: string, kind: K, value: RecordTypes[K], options?: WriteOptions): Promise<number>;
  /**
   * Removes one kind, or every record of the key. With an upstream key and no kind, that is the upstream's records
   * and all its grants (every principal's tokens): a `clear` of the upstream.
   */
  remove(key: string, kind?: RecordKind): Promise<void>;
  /** Every upstream key that has at least one record (its own or one of its grants'). Grant keys are not listed. */
  keys(): Promise<string[]>;
  /** The grant keys of an upstream that hold tokens, sorted (the default grant, the upstream key, included). */
  grantKeys(upstreamKey: string): Promise<string[]>;
  /**
   * Runs fn while holding an exclusive lock on (key, name), across every process sharing this store. Shared stores
   * hold it as a lease that is renewed while fn runs; fn is told through its argument if it is lost anyway.
   * Waits up to `waitMs` (default 30 s) for the lock, then throws ProxyError STORE_ERROR. Stale locks of dead
   * processes are broken (file store: ~10 s after the holder died). fn's result and errors pass through; the lock is
   * released either way. Not re-entrant: a nested call for the same (key, name) waits for itself until waitMs.
   */
  withLock<T>(
    key: string,
    name: "refresh" | "sign-in",
    fn: (lock: HeldLock) => Promise<T>,
    options?: { waitMs?: number },
  ): Promise<T>;
  /**
   * A cheap fingerprint of a record (file store: inode, mtime and size; no read) that changes whenever another
   * process writes or removes it, so a long-running process notices a `clear` or a sign-in elsewhere. Optional:
   * backends without it are only re-read when a request is refused.
   */
  stamp?(key: string, kind: RecordKind): Promise<string>;
  /**
   * Calls `listener` when another process changes a record (shared stores only: Redis pub/sub, Postgres
   * LISTEN/NOTIFY), so a replica learns of a sign-in or refresh elsewhere before its next request. Returns a function
   * that stops the calls. Optional: without it, changes are noticed through `stamp` (or a refused request).
   */
  watch?(listener: (change: StoreChange) => void): () => void;
  /** Closes connections to a shared store's server (pending operations finish first). Optional: files need none. */
  close?(): Promise<void>;
  /**
   * A file path next to the records for this key (`<dir>/<key>_<suffix>`, e.g. the debug log); the caller creates
   * it with mode 0600. Undefined for backends without files.
   */
  sidecarPath?(key: string, suffix: string): string | undefined;
}
