/**
 * Record revisions, the same for every backend: a record's `revision` starts at 1 and grows by one with every write,
 * so a caller that read revision n can write "only if it is still n" (compare-and-set) and a shared backend never
 * loses an update to a concurrent writer. A record written before revisions existed has none and counts as 0.
 */
import { ProxyError } from "../lib/errors.ts";
import type { RecordKind, RecordTypes, StoredRecord, WriteOptions } from "./token-store.ts";

/** The revision of a record as stored (0 when it has none: written before revisions existed). */
export function revisionOf(record: { revision?: unknown } | undefined): number {
  const revision = record?.revision;
  return typeof revision === "number" && Number.isInteger(revision) && revision >= 0 ? revision : 0;
}

/** "revision: …" when a stored record's revision is present but not an integer ≥ 0; undefined when it is fine. */
export function revisionProblem(record: Record<string, unknown>): string | undefined {
  const revision = record.revision;
  if (revision === undefined || (Number.isInteger(revision) && (revision as number) >= 0)) return undefined;
  return "revision: expected an integer ≥ 0";
}

/** The record to store: `value` with `revision` set (after `version`, for people reading the file). */
export function withRevision<K extends RecordKind>(value: RecordTypes[K], revision: number): StoredRecord<K> {
  const { version, revision: _ignored, ...rest } = value as RecordTypes[K] & { revision?: number };
  return { version, revision, ...rest } as unknown as StoredRecord<K>;
}

/**
 * The revision a write stores after `current` (undefined: no record), or ProxyError STORE_CONFLICT when the write
 * is a compare-and-set whose expectation does not hold. Called while the backend holds the record's write lock.
 */
export function nextRevision(
  key: string,
  kind: RecordKind,
  current: number | undefined,
  options: WriteOptions | undefined,
): number {
  const expected = options?.expectedRevision;
  if (expected !== undefined && (expected === null ? current !== undefined : current !== expected)) {
    throw conflictError(key, kind, expected, current);
  }
  return (current ?? 0) + 1;
}

/**
 * ProxyError STORE_CONFLICT for a compare-and-set that expected `expected` (null: no record) and found `current`
 * (undefined: no record). Shared backends, whose compare-and-set runs in the server, build it from what they found.
 */
export function conflictError(
  key: string,
  kind: RecordKind,
  expected: number | null,
  current: number | undefined,
): ProxyError {
  const found = current === undefined ? "there is none" : `it is at revision ${current}`;
  const wanted = expected === null ? "no record" : `revision ${expected}`;
  return new ProxyError(
    "STORE_CONFLICT",
    `Did not write the ${kind} record of ${key}: expected ${wanted}, but ${found}.`,
    {
      hint: "Another process updated it; read it again, and write again only if the change still applies.",
      details: { key, kind, expectedRevision: expected, revision: current ?? null },
    },
  );
}
