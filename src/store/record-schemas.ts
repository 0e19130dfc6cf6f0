/**
 * The shape of every stored record, and the upgrade path from older layout versions.
 * Reads go through {@link parseStoredRecord}: upgrade in code, then validate. Writes go through
 * {@link assertWritableRecord}, so a bug cannot store a record that the next read would reject.
 */
import { ProxyError } from "../lib/errors.ts";
import { checkShape, type Shape } from "../lib/shape-check.ts";
import { envelopeProblems, isSealedEnvelope } from "./record-cipher.ts";
import { revisionProblem } from "./revisions.ts";
import { type RecordKind, type RecordTypes, STORE_VERSION } from "./token-store.ts";

/** Every record kind, in the order they are listed and removed. */
export const RECORD_KINDS: readonly RecordKind[] = [
  "tokens",
  "client_info",
  "discovery",
  "protocol",
  "sign_in",
  "page_secret",
];

const optionalString: Shape = { optional: "string" };

const shapes: { [K in RecordKind]: Shape } = {
  tokens: {
    fields: {
      version: "integer ≥ 1",
      server_url: "non-empty string",
      issuer: "string",
      tokens: {
        fields: {
          access_token: "non-empty string",
          token_type: "string",
          refresh_token: optionalString,
          id_token: optionalString,
          scope: optionalString,
          expires_in: { optional: "number" },
        },
      },
      expires_at: { optional: "number" },
      obtained_at: "number",
      requested_scope: optionalString,
      account: optionalString,
      user_label: optionalString,
      refreshing_by: optionalString,
      refreshing_since: { optional: "number" },
    },
  },
  client_info: {
    fields: {
      version: "integer ≥ 1",
      server_url: "non-empty string",
      issuer: "string",
      source: { oneOf: ["pre-registered", "cimd", "dynamic"] },
      redirect_uri: optionalString,
      client: { fields: { client_id: "non-empty string", client_secret: optionalString } },
    },
  },
  discovery: {
    fields: { version: "integer ≥ 1", server_url: "non-empty string", state: "object", discovered_at: "number" },
  },
  protocol: {
    fields: {
      version: "integer ≥ 1",
      server_url: "non-empty string",
      era: { oneOf: ["legacy", "modern", "dual"] },
      supported_versions: "string array",
      checked_at: "number",
    },
  },
  // The entries of `pending` are checked where they are read (shared-sign-ins.ts): a bad one is a flow refused.
  sign_in: { fields: { version: "integer ≥ 1", server_url: "non-empty string", pending: "object" } },
  page_secret: {
    fields: { version: "integer ≥ 1", server_url: "string", secret: "non-empty string", created_at: "number" },
  },
};

/** Upgrades a record of version n to version n + 1. Gets a plain object whose `version` is n. */
type Migration = (record: Record<string, unknown>) => Record<string, unknown>;

/**
 * MIGRATIONS[kind][n] turns a version-n record into a version-(n + 1) record. Empty while STORE_VERSION is 1.
 * When a v2 arrives: bump STORE_VERSION, change the schema above, add `1: (r) => ({ ...r, <new shape> })` here.
 * Never drop an entry: a file written years ago must still upgrade step by step.
 */
const MIGRATIONS: { [K in RecordKind]: Partial<Record<number, Migration>> } = {
  tokens: {},
  client_info: {},
  discovery: {},
  protocol: {},
  sign_in: {},
  page_secret: {},
};

export type ParseResult<K extends RecordKind> =
  /**
   * `sealed`: an encrypted record (record-cipher.ts), passed through as it is: only a holder of the key can check
   * or upgrade it (sealed-store.ts), so a backend never treats one as corrupt.
   */
  | { ok: true; value: RecordTypes[K]; migratedFrom?: number; sealed?: true }
  /** `newer`: written by a later version of the layout; leave the file alone. Otherwise the record is corrupt. */
  | { ok: false; reason: string; newer?: boolean };

/** Upgrades (if older) and validates a parsed JSON value read from the store. Never throws. */
export function parseStoredRecord<K extends RecordKind>(
  kind: K,
  raw: unknown,
  migrations: { [P in RecordKind]: Partial<Record<number, Migration>> } = MIGRATIONS,
  currentVersion: number = STORE_VERSION,
): ParseResult<K> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: "not a JSON object" };
  }
  let record = raw as Record<string, unknown>;
  if (isSealedEnvelope(raw)) {
    const revision = revisionProblem(record);
    return revision === undefined
      ? { ok: true, value: raw as unknown as RecordTypes[K], sealed: true }
      : { ok: false, reason: revision };
  }
  const version = record.version;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    return { ok: false, reason: "missing or invalid version field" };
  }
  if (version > currentVersion) {
    return {
      ok: false,
      newer: true,
      reason: `layout version ${version} is newer than this program's ${currentVersion}`,
    };
  }
  for (let from = version; from < currentVersion; from++) {
    const migrate = migrations[kind][from];
    if (!migrate) return { ok: false, reason: `no upgrade from layout version ${from}` };
    try {
      record = { ...migrate(record), version: from + 1 };
    } catch (error) {
      return { ok: false, reason: `upgrade from layout version ${from} failed: ${(error as Error).message}` };
    }
  }
  const problems = checkShape(record, shapes[kind]);
  const revision = revisionProblem(record);
  if (revision !== undefined) problems.push(revision);
  if (problems.length > 0) return { ok: false, reason: problems.join("; ") };
  const value = record as unknown as RecordTypes[K];
  return version < currentVersion ? { ok: true, value, migratedFrom: version } : { ok: true, value };
}

/**
 * Throws ProxyError STORE_ERROR unless `value` is a valid record of the current layout version, or a well-formed
 * encrypted envelope of one. Its `revision`, if any (a record read back and changed), is not checked: the store sets
 * its own.
 */
export function assertWritableRecord(kind: RecordKind, value: unknown): void {
  // An encrypted record (sealed-store.ts) is checked as an envelope: its content was checked before sealing.
  const problems = isSealedEnvelope(value) ? envelopeProblems(value) : checkShape(value, shapes[kind]);
  const version = (value as { version?: unknown } | null)?.version;
  const problem =
    problems.length > 0
      ? problems.join("; ")
      : version !== STORE_VERSION
        ? `version must be ${STORE_VERSION}`
        : undefined;
  if (problem !== undefined) {
    throw new ProxyError("STORE_ERROR", `Refusing to store an invalid ${kind} record: ${problem}.`, {
      hint: "This is a bug in mcp-u2m-proxy; please report it.",
    });
  }
}
