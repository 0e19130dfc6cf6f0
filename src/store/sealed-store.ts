/**
 * Encryption at rest for any TokenStore backend: a decorator that seals every record it writes with the store key
 * (record-cipher.ts) and opens what it reads. Backends see envelopes as opaque records (record-schemas.ts), so the
 * file, memory and shared backends all get it through the TokenStore interface alone.
 *
 * What it promises (docs/storage.md, "Encryption at rest"):
 * - plaintext records (a store from before encryption) are read as they are and sealed on their next write;
 * - an envelope sealed with a key it was not given is never read, moved, or written over: reads and writes of that
 *   record fail with STORE_KEY_WRONG (or STORE_KEY_MISSING without any key) naming the key id that is needed;
 * - an envelope that does not authenticate with the right key (changed, or copied from another record: the store
 *   key and kind are authenticated with it) is refused: a warning, and the record reads as absent, left in place.
 */
import { isProxyError, ProxyError } from "../lib/errors.ts";
import { rememberSecretsIn } from "../lib/redact.ts";
import {
  envelopeProblems,
  isSealedEnvelope,
  openRecord,
  type SealedEnvelope,
  type StoreKey,
  sealRecord,
} from "./record-cipher.ts";
import { assertWritableRecord, parseStoredRecord } from "./record-schemas.ts";
import { revisionOf, withRevision } from "./revisions.ts";
import {
  type HeldLock,
  type RecordKind,
  type RecordTypes,
  STORE_VERSION,
  type StoreChange,
  type StoredRecord,
  type TokenStore,
  type WriteOptions,
} from "./token-store.ts";

export interface SealedStoreOptions {
  /** The key records are sealed with. Undefined: records are written as plaintext; encrypted ones cannot be read. */
  key?: StoreKey | undefined;
  /** Other keys records may be sealed with, for reading only (the old key while a rekey runs). */
  readKeys?: readonly StoreKey[] | undefined;
  /** Told about a record that is refused (does not authenticate) and read as absent. Never record contents. */
  onWarning?: ((message: string) => void) | undefined;
}

/** A plain write that keeps losing the race to other writers gives up after this many rounds. */
const MAX_WRITE_ROUNDS = 50;

export class SealedTokenStore implements TokenStore {
  readonly #inner: TokenStore;
  readonly #key: StoreKey | undefined;
  readonly #keys: Map<string, StoreKey>;
  readonly #warn: (message: string) => void;
  readonly #warned = new Set<string>();
  readonly stamp?: (key: string, kind: RecordKind) => Promise<string>;
  readonly sidecarPath?: (key: string, suffix: string) => string | undefined;
  readonly watch?: (listener: (change: StoreChange) => void) => () => void;
  readonly close?: () => Promise<void>;

  constructor(inner: TokenStore, options: SealedStoreOptions = {}) {
    this.#inner = inner;
    this.#key = options.key;
    this.#keys = new Map([...(options.readKeys ?? []), ...(options.key ? [options.key] : [])].map((k) => [k.id, k]));
    this.#warn = options.onWarning ?? (() => {});
    if (inner.stamp) this.stamp = (key, kind) => inner.stamp!(key, kind);
    if (inner.sidecarPath) this.sidecarPath = (key, suffix) => inner.sidecarPath!(key, suffix);
    if (inner.watch) this.watch = (listener) => inner.watch!(listener);
    if (inner.close) this.close = () => inner.close!();
  }

  get location(): string {
    return this.#inner.location;
  }

  /** The id of the key new records are sealed with; undefined when they are written as plaintext. */
  get keyId(): string | undefined {
    return this.#key?.id;
  }

  async read<K extends RecordKind>(key: string, kind: K): Promise<StoredRecord<K> | undefined> {
    return this.open(key, kind, await this.#inner.read(key, kind));
  }

  /**
   * What a record read from the backend holds: a plaintext record as it is, an envelope opened (undefined, with a
   * warning, when it does not authenticate). Throws STORE_KEY_MISSING / STORE_KEY_WRONG for an envelope sealed
   * with a key this store was not given.
   */
  open<K extends RecordKind>(key: string, kind: K, stored: StoredRecord<K> | undefined): StoredRecord<K> | undefined {
    if (stored === undefined || !isSealedEnvelope(stored)) return stored;
    const envelope = stored as unknown as SealedEnvelope;
    const where = `The ${kind} record of ${key} in ${this.location}`;
    // A key id first: an envelope of a key this store lacks is refused whatever else it holds.
    this.#assertReplaceable(key, kind, envelope);
    const problems = envelopeProblems(envelope);
    const sealer = this.#keys.get(envelope.sealed.kid);
    if (problems.length > 0 || !sealer) {
      this.#warnOnce(
        `${where} is an encrypted record this program cannot open (${problems.join("; ")}); treating it as absent (it is left in place).`,
      );
      return undefined;
    }
    const text = openRecord(sealer, key, kind, envelope.sealed);
    if (text === undefined) {
      this.#warnOnce(
        `${where} does not authenticate with store key ${sealer.id}: it was changed, or copied from another record; treating it as absent (it is left in place).`,
      );
      return undefined;
    }
    let parsed: ReturnType<typeof parseStoredRecord<K>>;
    try {
      parsed = parseStoredRecord(kind, JSON.parse(text));
    } catch {
      parsed = { ok: false, reason: "not valid JSON" };
    }
    if (!parsed.ok || parsed.sealed) {
      const reason = parsed.ok ? "an envelope inside an envelope" : parsed.reason;
      this.#warnOnce(`${where} decrypts to an unusable record (${reason}); treating it as absent.`);
      return undefined;
    }
    return rememberSecretsIn(withRevision(parsed.value, revisionOf(envelope)));
  }

  /**
   * Seals and writes. Never over an envelope of a key this store was not given (that would lose it): the stored
   * record is checked first, and the write is a compare-and-set against what was checked, so nothing can slip in
   * between. A plain write (no expectedRevision) retries when another writer got there first.
   */
  async write<K extends RecordKind>(
    key: string,
    kind: K,
    value: RecordTypes[K],
    options?: WriteOptions,
  ): Promise<number> {
    if (isSealedEnvelope(value)) {
      throw new ProxyError("STORE_ERROR", `Refusing to store an already encrypted ${kind} record through the key.`, {
        hint: "This is a bug in mcp-u2m-proxy; please report it.",
      });
    }
    assertWritableRecord(kind, value);
    const payload = this.seal(key, kind, value);
    for (let round = 1; ; round++) {
      const current = await this.#inner.read(key, kind);
      this.#assertReplaceable(key, kind, current);
      if (options?.expectedRevision !== undefined) return this.#inner.write(key, kind, payload, options);
      try {
        return await this.#inner.write(key, kind, payload, {
          expectedRevision: current === undefined ? null : current.revision,
        });
      } catch (error) {
        if (!isProxyError(error, "STORE_CONFLICT") || round >= MAX_WRITE_ROUNDS) throw error;
      }
    }
  }

  /** What this store writes for a record: an envelope sealed with its key, or the record itself without one. */
  seal<K extends RecordKind>(key: string, kind: K, value: RecordTypes[K]): RecordTypes[K] {
    const { revision: _set_by_the_store, ...record } = value as RecordTypes[K] & { revision?: number };
    if (!this.#key) return record as RecordTypes[K];
    const envelope: SealedEnvelope = {
      version: STORE_VERSION,
      sealed: sealRecord(this.#key, key, kind, JSON.stringify(record)),
    };
    return envelope as unknown as RecordTypes[K];
  }

  remove(key: string, kind?: RecordKind): Promise<void> {
    return this.#inner.remove(key, kind);
  }

  keys(): Promise<string[]> {
    return this.#inner.keys();
  }

  grantKeys(upstreamKey: string): Promise<string[]> {
    return this.#inner.grantKeys(upstreamKey);
  }

  withLock<T>(
    key: string,
    name: "refresh" | "sign-in",
    fn: (lock: HeldLock) => Promise<T>,
    options?: { waitMs?: number },
  ): Promise<T> {
    return this.#inner.withLock(key, name, fn, options);
  }

  /** Throws when `current` is an envelope of a key this store does not hold: writing over it would lose it. */
  #assertReplaceable(key: string, kind: RecordKind, current: unknown): void {
    if (!isSealedEnvelope(current)) return;
    const kid = (current.sealed as { kid?: unknown }).kid;
    if (typeof kid === "string" && !this.#keys.has(kid)) throw this.#keyError(key, kind, kid);
  }

  #keyError(key: string, kind: RecordKind, kid: string): ProxyError {
    const details = { key, kind, keyId: kid, configuredKeyId: this.#key?.id ?? null };
    const safe = kid.replace(/[^A-Za-z0-9_-]/g, "?").slice(0, 32);
    if (!this.#key) {
      return new ProxyError(
        "STORE_KEY_MISSING",
        `The ${kind} record of ${key} in ${this.location} is encrypted with store key ${safe}, and no store key was given.`,
        {
          hint: `Set MCP_PROXY_STORE_KEY (or pass --store-key-file FILE, or --keychain when the OS keychain holds it) to the key whose id is ${safe}; nothing was read or changed.`,
          details,
        },
      );
    }
    return new ProxyError(
      "STORE_KEY_WRONG",
      `The ${kind} record of ${key} in ${this.location} is encrypted with store key ${safe}, not with the given key ${this.#key.id}.`,
      {
        hint: `Give the key whose id is ${safe} (MCP_PROXY_STORE_KEY, --store-key-file or --keychain); nothing was read or changed. If a "mcp-u2m-proxy store rekey" was interrupted, run it again with the same old and new keys to finish it.`,
        details,
      },
    );
  }

  #warnOnce(message: string): void {
    if (this.#warned.has(message)) return;
    this.#warned.add(message);
    this.#warn(message);
  }
}
