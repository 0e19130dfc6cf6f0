/**
 * A TokenStore in memory, for tests and for library users who keep tokens elsewhere. Same contract as the file
 * store (validation on write, copies in and out, exclusive locks with a bounded wait), but only within this
 * process and only for its lifetime.
 */
import { ProxyError } from "../lib/errors.ts";
import { rememberSecretsIn } from "../lib/redact.ts";
import { KeyedMutex } from "./keyed-mutex.ts";
import { newHeldLock } from "./lease-lock.ts";
import { assertWritableRecord, RECORD_KINDS } from "./record-schemas.ts";
import { nextRevision, revisionOf, withRevision } from "./revisions.ts";
import { assertRecordKey, assertStoreKey, assertUpstreamKey, isPrincipalGrantKey, upstreamKeyOf } from "./store-key.ts";
import type { HeldLock, RecordKind, RecordTypes, StoredRecord, TokenStore, WriteOptions } from "./token-store.ts";

export interface MemoryTokenStoreOptions {
  /** Default `waitMs` of withLock. Default 30 s. */
  lockWaitMs?: number;
}

export class MemoryTokenStore implements TokenStore {
  readonly location = "memory";
  /** By store key (upstream and grant keys alike), the records as stored: with their revision. */
  readonly #records = new Map<string, Partial<{ [K in RecordKind]: StoredRecord<K> }>>();
  readonly #locks = new KeyedMutex();
  /** Bumped on every write or removal of a record: the fingerprint `stamp()` hands out. */
  readonly #revisions = new Map<string, number>();
  #revision = 0;
  readonly #waitMs: number;

  constructor(options: MemoryTokenStoreOptions = {}) {
    this.#waitMs = options.lockWaitMs ?? 30_000;
  }

  async read<K extends RecordKind>(key: string, kind: K): Promise<StoredRecord<K> | undefined> {
    assertRecordKey(key, kind);
    const value = this.#records.get(key)?.[kind] as StoredRecord<K> | undefined;
    // A copy, as if read from disk: callers may mutate what they get without changing what is stored.
    return value === undefined ? undefined : rememberSecretsIn(structuredClone(value));
  }

  /** Read, compare and set happen without an await in between, so a compare-and-set is atomic in this process. */
  async write<K extends RecordKind>(
    key: string,
    kind: K,
    value: RecordTypes[K],
    options?: WriteOptions,
  ): Promise<number> {
    assertRecordKey(key, kind);
    assertWritableRecord(kind, value);
    const records = this.#records.get(key) ?? {};
    const current = records[kind];
    const revision = nextRevision(key, kind, current === undefined ? undefined : revisionOf(current), options);
    records[kind] = withRevision(structuredClone(value), revision) as (typeof records)[K];
    this.#records.set(key, records);
    this.#revisions.set(`${key}_${kind}`, ++this.#revision);
    return revision;
  }

  async stamp(key: string, kind: RecordKind): Promise<string> {
    assertRecordKey(key, kind);
    return this.#records.get(key)?.[kind] === undefined ? "absent" : String(this.#revisions.get(`${key}_${kind}`));
  }

  async remove(key: string, kind?: RecordKind): Promise<void> {
    if (kind) assertRecordKey(key, kind);
    else assertStoreKey(key);
    // An upstream key without a kind: its grants go too (a `clear` of the upstream).
    const grants = kind || isPrincipalGrantKey(key) ? [] : this.#principalGrantsOf(key);
    for (const k of [key, ...grants]) {
      const records = this.#records.get(k);
      if (!records) continue;
      for (const each of kind ? [kind] : RECORD_KINDS) {
        delete records[each];
        this.#revisions.delete(`${k}_${each}`);
      }
      if (Object.keys(records).length === 0) this.#records.delete(k);
    }
  }

  async keys(): Promise<string[]> {
    return [...new Set([...this.#records.keys()].map(upstreamKeyOf))].sort();
  }

  async grantKeys(upstreamKey: string): Promise<string[]> {
    assertUpstreamKey(upstreamKey);
    const withTokens = (key: string) => this.#records.get(key)?.tokens !== undefined;
    return [upstreamKey, ...this.#principalGrantsOf(upstreamKey)].filter(withTokens).sort();
  }

  #principalGrantsOf(upstreamKey: string): string[] {
    return [...this.#records.keys()].filter((key) => isPrincipalGrantKey(key) && upstreamKeyOf(key) === upstreamKey);
  }

  async withLock<T>(
    key: string,
    name: "refresh" | "sign-in",
    fn: (lock: HeldLock) => Promise<T>,
    options: { waitMs?: number } = {},
  ): Promise<T> {
    assertStoreKey(key);
    const id = `${key}.${name}`;
    const waitMs = options.waitMs ?? this.#waitMs;
    const release = await this.#locks.acquire(id, waitMs);
    if (!release) {
      throw new ProxyError("STORE_ERROR", `Timed out after ${waitMs} ms waiting for the ${name} lock of ${key}.`, {
        hint: "Another request in this process holds it; retry in a moment.",
        details: { waitMs },
      });
    }
    try {
      // Held until released: nothing in one process can take it away.
      return await fn(newHeldLock().lock);
    } finally {
      release();
    }
  }

  sidecarPath(): undefined {
    return undefined;
  }
}
