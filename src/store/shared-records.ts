/**
 * Records as the shared backends (Redis, PostgreSQL) keep them: the record's JSON as text, its revision beside it
 * (a hash field, a column) where the server can compare-and-set it. What both do alike lives here: checking a
 * write and turning it into text, and turning stored text back into a record (or saying why it cannot be one).
 */
import { rememberSecretsIn } from "../lib/redact.ts";
import { assertWritableRecord, parseStoredRecord } from "./record-schemas.ts";
import { withRevision } from "./revisions.ts";
import { assertRecordKey } from "./store-key.ts";
import type { RecordKind, RecordTypes, StoredRecord, WriteOptions } from "./token-store.ts";

/** What a write stores, once its key and record are checked (ProxyError STORE_ERROR / USAGE otherwise). */
export interface SharedWrite {
  /** The record's JSON, without its revision (the server keeps that). */
  data: string;
  /** The compare-and-set wanted: a revision, null for "only if there is none", undefined for a plain write. */
  expected: number | null | undefined;
}

export function sharedWrite<K extends RecordKind>(
  key: string,
  kind: K,
  value: RecordTypes[K],
  options: WriteOptions | undefined,
): SharedWrite {
  assertRecordKey(key, kind);
  assertWritableRecord(kind, value);
  const { revision: _ignored, ...record } = value as RecordTypes[K] & { revision?: number };
  return { data: JSON.stringify(record), expected: options?.expectedRevision };
}

/** What a backend does with stored text that is not a record it can use; each says it in its own words. */
export interface UnusableRecord {
  /** Written by a newer version of the proxy: left as it is, treated as absent. */
  newer(reason: string): void;
  /** Not valid JSON or not the documented shape: moved aside, treated as absent. */
  unreadable(reason: string): Promise<void>;
}

/**
 * The record stored as `data` at `revision`, checked against its schema (older layouts upgraded), its secrets
 * remembered so logs mask them; undefined (after `unusable` was told) when it cannot be used.
 */
export async function storedRecord<K extends RecordKind>(
  kind: K,
  data: string,
  revision: number,
  unusable: UnusableRecord,
): Promise<StoredRecord<K> | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    await unusable.unreadable("not valid JSON");
    return undefined;
  }
  const parsed = parseStoredRecord(kind, raw);
  if (parsed.ok) return rememberSecretsIn(withRevision(parsed.value, revision));
  if (parsed.newer) unusable.newer(parsed.reason);
  else await unusable.unreadable(parsed.reason);
  return undefined;
}
