import type { StoredOAuthTokens } from "@modelcontextprotocol/client";
import { isProxyError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { rememberSecretsIn } from "../lib/redact.ts";
import { STORE_VERSION, type StoredRecord, type TokenStore, type TokensRecord } from "../store/token-store.ts";
import { type BearerKind, bearerOf } from "./token-lifetime.ts";

/**
 * How long a request may use the tokens held here without asking the store whether another process changed them (a
 * `clear`, a refresh elsewhere): long enough to spare a burst of requests a stat each, far below anything a person
 * or another process does in between.
 */
export const HOT_PATH_STORE_CHECK_MS = 100;

/**
 * The tokens of one grant, kept in memory so the hot path never reads the store: loaded once, written through on
 * every sign-in and refresh, and read again only when another process may have written (the store's cheap stamp
 * changed, a lock was lost, or a held token was refused).
 */
export class TokenKeeper {
  private record: TokensRecord | undefined;
  private loaded: Promise<void> | undefined;
  /** The store's fingerprint of the record when this process last read or wrote it. */
  private stamp: string | undefined;
  /** The store-change check running now, shared by the callers that arrive meanwhile. */
  private checking: Promise<boolean> | undefined;
  /** When (performance.now()) the stamp was last compared or taken: `noticeStoreChange({ maxAgeMs })` skips a newer one. */
  private stampedAt = Number.NEGATIVE_INFINITY;
  /**
   * Refreshed tokens the store could not take (it was unreachable): in use here, written back as soon as it answers,
   * fenced on the revision the refresh marked (see refresher.ts).
   */
  private unsaved: { record: TokensRecord; expectedRevision: number } | undefined;
  private writeBackTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: TokenStore,
    /** The grant's key in the store. */
    readonly key: string,
    private readonly serverUrl: string,
    private readonly onChange: () => void,
    private readonly now: () => number = Date.now,
    private readonly log: Logger = silentLogger,
    /** A per-user grant's owner for display (TokensRecord.user_label), written with every sign-in and refresh. */
    private readonly userLabel?: string | undefined,
    /** Which of the grant's tokens is the bearer (`useIdToken`: the ID token). */
    readonly bearer: BearerKind = "access",
  ) {}

  /** The tokens in memory (after load()); undefined when not signed in. */
  get current(): TokensRecord | undefined {
    return this.record;
  }

  /** The token sent upstream: the access token, or the ID token when this upstream wants one (token-lifetime.ts). */
  get bearerToken(): string | undefined {
    return bearerOf(this.record, this.bearer);
  }

  /**
   * Reads the record once per process; later calls share the first read. A read that failed (a shared store
   * unreachable at start) is not remembered: the next call tries again.
   */
  load(): Promise<void> {
    this.loaded ??= this.reload().catch((error: unknown) => {
      this.loaded = undefined;
      throw error;
    });
    return this.loaded;
  }

  /** Reads the record again from the store (another process may have written it). */
  async reload(): Promise<void> {
    // Tokens only this process holds go to the store first, or the read would put the spent ones back in use.
    await this.writeBack();
    // The fingerprint before the read: a change in between is seen (and read) at the next check.
    const stamp = await this.store.stamp?.(this.key, "tokens");
    this.set(await this.store.read(this.key, "tokens"), { quiet: true });
    this.stamp = stamp;
    this.stampedAt = performance.now();
  }

  /** The record as the store has it now (with its revision), without adopting it (the refresher decides). */
  async readStored(): Promise<StoredRecord<"tokens"> | undefined> {
    await this.writeBack();
    return this.store.read(this.key, "tokens");
  }

  /** Whether refreshed tokens are held here that the store has not taken yet. */
  get hasUnsaved(): boolean {
    return this.unsaved !== undefined;
  }

  /**
   * Marks the stored record as being refreshed by `holder` (a compare-and-set over `stored`): the new revision,
   * which the refresh's write is then fenced on. STORE_CONFLICT when another writer got there first.
   */
  async markRefreshing(stored: StoredRecord<"tokens">, holder: string): Promise<number> {
    const { revision, ...record } = stored;
    const marked = { ...record, refreshing_by: holder, refreshing_since: this.now() };
    const next = await this.store.write(this.key, "tokens", marked, { expectedRevision: revision });
    await this.rememberStamp();
    return next;
  }

  /** Takes a refresh's mark off again (the refresh failed without new tokens); best effort. */
  async unmark(stored: StoredRecord<"tokens">, markedRevision: number): Promise<void> {
    const { revision: _old, refreshing_by: _by, refreshing_since: _since, ...record } = stored;
    try {
      await this.store.write(this.key, "tokens", record, { expectedRevision: markedRevision });
      await this.rememberStamp();
    } catch (error) {
      this.log.debug(`Could not clear the refresh mark of ${this.serverUrl}: ${errorLine(error)}`);
    }
  }

  /**
   * Whether another process changed the record since this one last read or wrote it (a `clear`, a sign-in, a
   * refresh): then it is read again, so a running `serve` or `stdio` stops using tokens that were cleared. One stat
   * per check (the file store's fingerprint); nothing before the first load. True when other tokens are held now.
   * Callers that arrive while a check runs share it (one stat for a burst of concurrent requests, not one each).
   * With `maxAgeMs` (the hot path's), a check less than that long ago stands: a stat per request was a fiftieth of
   * the message path's CPU, and a change elsewhere that a request misses is caught by the upstream's 401 (whose
   * handling checks at once). Without it (status, a refused token, a shared store's change notice), it checks now.
   */
  noticeStoreChange(options: { maxAgeMs?: number } = {}): Promise<boolean> {
    if (!this.store.stamp || this.stamp === undefined) return Promise.resolve(false);
    if (options.maxAgeMs !== undefined && performance.now() - this.stampedAt < options.maxAgeMs) {
      return this.checking ?? Promise.resolve(false);
    }
    this.checking ??= this.checkStoreChange().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async checkStoreChange(): Promise<boolean> {
    if (!this.store.stamp || this.stamp === undefined) return false;
    const stamp = await this.store.stamp(this.key, "tokens");
    if (stamp === this.stamp) {
      this.stampedAt = performance.now();
      return false;
    }
    const had = this.bearerToken;
    try {
      await this.reload();
    } catch (error) {
      // The store is unreachable (a shared one's outage): keep serving the tokens held here; the stamp is left as
      // it was, so the next check reads again.
      this.log.debug(`Could not re-read the tokens for ${this.serverUrl}: ${errorLine(error)}`);
      return false;
    }
    if (this.bearerToken === had) return false;
    // A refresh by another process is routine; a `clear` elsewhere is worth a line.
    if (this.record) this.log.debug(`The stored tokens for ${this.serverUrl} were replaced by another process.`);
    else this.log.info(`The stored tokens for ${this.serverUrl} were removed elsewhere; a new sign-in is needed.`);
    this.onChange();
    return true;
  }

  /**
   * Stores a token response (sign-in or refresh) and uses it from now on. With `expectedRevision` the write is a
   * compare-and-set (a refresh writes only over the record it refreshed): ProxyError STORE_CONFLICT when another
   * writer got there first, and nothing changes here.
   */
  async persist(
    tokens: StoredOAuthTokens,
    issuer: string,
    requestedScope: string | undefined,
    account: string | undefined,
    expectedRevision?: number,
    { holdIfUnsaved = false }: { holdIfUnsaved?: boolean } = {},
  ): Promise<TokensRecord> {
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
      ...(this.userLabel ? { user_label: this.userLabel } : {}),
    };
    try {
      await this.store.write(
        this.key,
        "tokens",
        record,
        expectedRevision === undefined ? undefined : { expectedRevision },
      );
    } catch (error) {
      // A refresh's tokens are the only good ones once the AS answered: kept and written back, never dropped.
      if (!holdIfUnsaved || expectedRevision === undefined || !isProxyError(error) || error.code !== "STORE_ERROR") {
        throw error;
      }
      this.log.warn(
        `Could not store the refreshed tokens for ${this.serverUrl} (${errorLine(error)}); using them and storing them when the store answers again.`,
      );
      this.unsaved = { record, expectedRevision };
      this.set(record);
      this.scheduleWriteBack(0);
      return record;
    }
    this.dropUnsaved();
    this.set(record);
    await this.rememberStamp();
    return record;
  }

  /**
   * Writes held tokens to the store. Resolves when there are none (left); rejects while the store is unreachable
   * (they stay held). A conflict means another writer got there first: its record wins and is read next.
   */
  private async writeBack(): Promise<void> {
    const unsaved = this.unsaved;
    if (!unsaved) return;
    try {
      await this.store.write(this.key, "tokens", unsaved.record, { expectedRevision: unsaved.expectedRevision });
      this.log.info(`Stored the tokens for ${this.serverUrl} refreshed while the store was unreachable.`);
    } catch (error) {
      if (!isProxyError(error) || error.code !== "STORE_CONFLICT") throw error;
      this.log.warn(
        `The tokens for ${this.serverUrl} refreshed while the store was unreachable were replaced there meanwhile; using the stored ones.`,
      );
    }
    if (this.unsaved === unsaved) this.unsaved = undefined;
    clearTimeout(this.writeBackTimer);
    this.writeBackTimer = undefined;
    await this.rememberStamp();
  }

  /** Retries the write-back with a capped back-off until the store takes it. */
  private scheduleWriteBack(attempt: number): void {
    if (this.writeBackTimer) return;
    this.writeBackTimer = setTimeout(
      () => {
        this.writeBackTimer = undefined;
        this.writeBack().catch(() => this.unsaved && this.scheduleWriteBack(attempt + 1));
      },
      Math.min(250 * 2 ** attempt, 2000),
    );
    this.writeBackTimer.unref();
  }

  /** Uses a record another process stored (found under the refresh lock). */
  adopt(record: TokensRecord | undefined): void {
    this.set(record);
  }

  /** Deletes the tokens (refused for good, or signed out). */
  async forget(): Promise<void> {
    this.dropUnsaved();
    await this.store.remove(this.key, "tokens");
    this.set(undefined);
    await this.rememberStamp();
  }

  /** After `clear` removed every record of the upstream: nothing in memory either. */
  async cleared(): Promise<void> {
    this.dropUnsaved();
    this.set(undefined);
    await this.rememberStamp();
  }

  private dropUnsaved(): void {
    this.unsaved = undefined;
    clearTimeout(this.writeBackTimer);
    this.writeBackTimer = undefined;
  }

  /** After this process read or wrote the record: its own changes are not "another process". */
  private async rememberStamp(): Promise<void> {
    if (!this.store.stamp) return;
    this.stamp = await this.store.stamp(this.key, "tokens");
    this.stampedAt = performance.now();
  }

  private set(record: TokensRecord | undefined, { quiet = false } = {}): void {
    rememberSecretsIn(record?.tokens);
    const changed = bearerOf(record, this.bearer) !== this.bearerToken;
    this.record = record;
    if (changed && !quiet) this.onChange();
  }
}

function errorLine(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
