/**
 * Explicit migrations of a whole store between keys: encrypt a plaintext store, rotate to a new key (rekey), or
 * decrypt for good. One record at a time, each rewrite an ordinary atomic write of the backend (a compare-and-set
 * against the revision just read), so a process killed at any moment leaves every record sealed with the old key
 * or the new one (or plaintext), never torn; running the same migration again finishes it, skipping records that
 * are already done.
 */
import { isProxyError, ProxyError } from "../lib/errors.ts";
import { isSealedEnvelope, type SealedEnvelope, type StoreKey } from "./record-cipher.ts";
import { RECORD_KINDS } from "./record-schemas.ts";
import { SealedTokenStore } from "./sealed-store.ts";
import type { RecordKind, RecordTypes, StoredRecord, TokenStore } from "./token-store.ts";

export interface RecordRef {
  key: string;
  kind: RecordKind;
}

/** How a store's records are held: plaintext, or sealed with which key id. */
export interface StoreCensus {
  total: number;
  plaintext: number;
  /** Key id → number of records sealed with it. */
  byKeyId: Record<string, number>;
}

/** Every record in the store: each upstream's own kinds, then its principals' grants. */
export async function listRecords(store: TokenStore): Promise<Array<RecordRef & { stored: StoredRecord<RecordKind> }>> {
  const out: Array<RecordRef & { stored: StoredRecord<RecordKind> }> = [];
  for (const upstream of await store.keys()) {
    const refs: RecordRef[] = RECORD_KINDS.map((kind) => ({ key: upstream, kind }));
    for (const grant of await store.grantKeys(upstream)) {
      if (grant !== upstream) refs.push({ key: grant, kind: "tokens" });
    }
    for (const ref of refs) {
      const stored = await store.read(ref.key, ref.kind);
      if (stored !== undefined) out.push({ ...ref, stored });
    }
  }
  return out;
}

/** Counts records by how they are held. `store` is the backend itself (not a SealedTokenStore), to see envelopes. */
export async function censusOf(store: TokenStore): Promise<StoreCensus> {
  return tally((await listRecords(store)).map((record) => record.stored));
}

export interface RewriteOptions {
  /** Keys records may be sealed with now (the old key); records sealed with `to` are done already. */
  from: readonly StoreKey[];
  /** The key every record ends up sealed with; undefined: every record ends up plaintext (decrypt). */
  to: StoreKey | undefined;
  /** Told about a record that cannot be opened (does not authenticate) and is left as it is. */
  onWarning?: ((message: string) => void) | undefined;
  /** Told before the first record is rewritten: how many there are to do. */
  onStart?: ((census: StoreCensus, toDo: number) => void) | undefined;
}

export interface RewriteResult {
  /** Records rewritten by this run. */
  rewritten: number;
  /** Records that were already as wanted (a resumed run). */
  already: number;
  /** Records left as they were because they do not open (see onWarning). */
  skipped: number;
}

/**
 * Rewrites every record of `store` (the backend itself) so it is sealed with `to` (or plaintext). Before changing
 * anything it checks that every envelope is sealed with a key it was given; otherwise it fails with STORE_KEY_WRONG
 * (STORE_KEY_MISSING without keys) naming the missing key ids, and nothing is changed.
 */
export async function rewriteStore(store: TokenStore, options: RewriteOptions): Promise<RewriteResult> {
  const known = new Set([...options.from, ...(options.to ? [options.to] : [])].map((key) => key.id));
  const records = await listRecords(store);
  const census = tally(records.map((record) => record.stored));
  const unknown = Object.keys(census.byKeyId).filter((kid) => !known.has(kid));
  if (unknown.length > 0) throw missingKeys(store.location, unknown, census, known.size > 0);
  const done = (stored: StoredRecord<RecordKind>) => keyIdOf(stored) === options.to?.id;
  options.onStart?.(census, records.filter((record) => !done(record.stored)).length);

  const reader = new SealedTokenStore(store, { key: options.to, readKeys: options.from, onWarning: options.onWarning });
  const result: RewriteResult = { rewritten: 0, already: 0, skipped: 0 };
  for (const { key, kind } of records) {
    for (;;) {
      const stored = await store.read(key, kind);
      if (stored === undefined) break; // removed meanwhile
      if (done(stored)) {
        result.already++;
        break;
      }
      const record = reader.open(key, kind, stored);
      if (record === undefined) {
        result.skipped++;
        break;
      }
      try {
        await store.write(key, kind, reader.seal(key, kind, record as RecordTypes[typeof kind]), {
          expectedRevision: stored.revision,
        });
        result.rewritten++;
        break;
      } catch (error) {
        // A running proxy wrote it in between: read it again and rewrite what it wrote.
        if (!isProxyError(error, "STORE_CONFLICT")) throw error;
      }
    }
  }
  return result;
}

function tally(stored: StoredRecord<RecordKind>[]): StoreCensus {
  const census: StoreCensus = { total: 0, plaintext: 0, byKeyId: {} };
  for (const record of stored) {
    census.total++;
    const kid = keyIdOf(record);
    if (kid === undefined) census.plaintext++;
    else census.byKeyId[kid] = (census.byKeyId[kid] ?? 0) + 1;
  }
  return census;
}

/** The key id an envelope names; undefined for a plaintext record. */
export function keyIdOf(stored: unknown): string | undefined {
  if (!isSealedEnvelope(stored)) return undefined;
  const kid = (stored as SealedEnvelope).sealed.kid;
  return typeof kid === "string" ? kid : "?";
}

function missingKeys(location: string, kids: string[], census: StoreCensus, someGiven: boolean): ProxyError {
  const counts = kids.map((kid) => `${census.byKeyId[kid]} with store key ${kid}`).join(", ");
  return new ProxyError(
    someGiven ? "STORE_KEY_WRONG" : "STORE_KEY_MISSING",
    `${location} has records sealed with a key that was not given (${counts}); nothing was changed.`,
    {
      hint: `Give the key${kids.length > 1 ? "s" : ""} whose id ${kids.length > 1 ? "are" : "is"} ${kids.join(", ")} (MCP_PROXY_STORE_KEY or --store-key-file); without ${kids.length > 1 ? "them" : "it"} those records cannot be read.`,
      details: { keyIds: kids },
    },
  );
}
