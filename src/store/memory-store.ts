/**
 * A TokenStore in memory, for tests and for library users who keep tokens elsewhere. Same contract as the file
 * store (validation on write, copies in and out, exclusive locks with a bounded wait), but only within this
 * process and only for its lifetime.
 */
import { ProxyError } from "../lib/errors.ts";
import { rememberSecretsIn } from "../lib/redact.ts";
import { KeyedMutex } from "./keyed-mutex.ts";
import { assertWritableRecord, RECORD_KINDS } from "./record-schemas.ts";
import { assertStoreKey } from "./store-key.ts";
import type { RecordKind, RecordTypes, TokenStore } from "./token-store.ts";

export interface MemoryTokenStoreOptions {
  /** Default `waitMs` of withLock. Default 30 s. */
  lockWaitMs?: number;
}

export class MemoryTokenStore implements TokenStore {
  readonly location = "memory";
  readonly #records = new Map<string, Partial<{ [K in RecordKind]: RecordTypes[K] }>>();
  readonly #locks = new KeyedMutex();
  /** Bumped on every write or removal of a record: the fingerprint `stamp()` hands out. */
  readonly #revisions = new Map<string, number>();
  #revision = 0;
  readonly #waitMs: number;

  constructor(options: MemoryTokenStoreOptions = {}) {
    this.#waitMs = options.lockWaitMs ?? 30_000;
  }

  async read<K extends RecordKind>(key: string, kind: K): Promise<RecordTypes[K] | undefined> {
    assertStoreKey(key);
    const value = this.#records.get(key)?.[kind];
    // A copy, as if read from disk: callers may mutate what they get without changing what is stored.
    return value === undefined ? undefined : rememberSecretsIn(structuredClone(value as RecordTypes[K]));
  }

  async write<K extends RecordKind>(key: string, kind: K, value: RecordTypes[K]): Promise<void> {
    assertStoreKey(key);
    assertWritableRecord(kind, value);
    const records = this.#records.get(key) ?? {};
    records[kind] = structuredClone(value);
    this.#records.set(key, records);
    this.#revisions.set(`${key}_${kind}`, ++this.#revision);
  }

  async stamp(key: string, kind: RecordKind): Promise<string> {
    assertStoreKey(key);
    return this.#records.get(key)?.[kind] === undefined ? "absent" : String(this.#revisions.get(`${key}_${kind}`));
  }

  async remove(key: string, kind?: RecordKind): Promise<void> {
    assertStoreKey(key);
    const records = this.#records.get(key);
    if (!records) return;
    for (const k of kind ? [kind] : RECORD_KINDS) {
      delete records[k];
      this.#revisions.delete(`${key}_${k}`);
    }
    if (Object.keys(records).length === 0) this.#records.delete(key);
  }

  async keys(): Promise<string[]> {
    return [...this.#records.keys()].sort();
  }

  async withLock<T>(
    key: string,
    name: "refresh" | "sign-in",
    fn: () => Promise<T>,
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
      return await fn();
    } finally {
      release();
    }
  }

  sidecarPath(): undefined {
    return undefined;
  }
}
