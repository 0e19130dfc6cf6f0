/**
 * A TokenStore in PostgreSQL, shared by every replica using the same database (`pg`, loaded on first use). Tables
 * (created on first use, in `schema` if given, else the connection's search_path), see docs/scale-out.md:
 * - `mcp_u2m_records` (store_key, kind) → upstream_key, revision, generation, data (the record's JSON, as text);
 * - `mcp_u2m_leases` name → holder, expires_at: the withLock leases, timed by the server's clock;
 * - sequence `mcp_u2m_generation`: a store-wide write counter.
 * A compare-and-set is one `UPDATE … WHERE revision = $n` (or an `INSERT … ON CONFLICT DO NOTHING` for "no record"),
 * and every write or removal sends a NOTIFY in the same statement, so other replicas re-read (change-feed.ts).
 * Here: the records and the pool; the tables (postgres-schema.ts), the LISTEN connection (postgres-listener.ts),
 * the leases (postgres-leases.ts) and what a failed query means (postgres-errors.ts) have files of their own.
 */
import type { Pool, PoolConfig } from "pg";
import { ProxyError } from "../lib/errors.ts";
import { ChangeFeed } from "./change-feed.ts";
import { lakebasePassword } from "./lakebase-password.ts";
import { LeaseLocks } from "./lease-lock.ts";
import { describePgEnv, postgresErrorText, postgresStoreError } from "./postgres-errors.ts";
import { postgresLeaseBackend } from "./postgres-leases.ts";
import { PostgresListener } from "./postgres-listener.ts";
import { createPostgresTables, type PostgresTables, postgresTables } from "./postgres-schema.ts";
import { RECORD_KINDS } from "./record-schemas.ts";
import { conflictError } from "./revisions.ts";
import { sharedWrite, storedRecord } from "./shared-records.ts";
import { assertRecordKey, assertStoreKey, assertUpstreamKey, isPrincipalGrantKey, upstreamKeyOf } from "./store-key.ts";
import { redactStoreUrl } from "./store-url.ts";
import type {
  HeldLock,
  RecordKind,
  RecordTypes,
  StoreChange,
  StoredRecord,
  TokenStore,
  WriteOptions,
} from "./token-store.ts";

export interface PostgresTokenStoreOptions {
  /** postgres://user[:password]@host:port/db[?sslmode=…]; `postgres:` alone: everything from the PG* variables. */
  url: string;
  /** A schema for the tables (created if missing); default: the connection's search_path (usually `public`). */
  schema?: string;
  onWarning?: (message: string) => void;
  /** Default `waitMs` of withLock. Default 30 s. */
  lockWaitMs?: number;
  /** How long a lease lasts without renewal (a dead holder delays the others this long). Default 10 s. */
  leaseMs?: number;
  /** Environment for the PG* variables (default: the process's). */
  env?: NodeJS.ProcessEnv;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,40}$/;
/** The bare forms that mean "take everything from the PG* variables". */
const BARE_URL = /^postgres(ql)?:(\/\/)?$/i;

export class PostgresTokenStore implements TokenStore {
  readonly location: string;
  readonly #config: PoolConfig;
  readonly #warn: (message: string) => void;
  readonly #waitMs: number;
  readonly #feed = new ChangeFeed();
  readonly #locks: LeaseLocks;
  readonly #tables: PostgresTables;
  readonly #records: string;
  readonly #sequence: string;
  readonly #channel: string;
  readonly #listener: PostgresListener;
  #pool: Promise<Pool> | undefined;
  #created: Promise<void> | undefined;
  #closed = false;
  #down = false;

  constructor(options: PostgresTokenStoreOptions) {
    const env = options.env ?? process.env;
    const bare = BARE_URL.test(options.url.trim());
    this.location = bare ? describePgEnv(env) : redactStoreUrl(options.url);
    this.#config = {
      ...(bare ? {} : { connectionString: options.url }),
      max: 5,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 10_000,
      application_name: env.PGAPPNAME ?? "mcp-u2m-proxy",
    };
    // A Lakebase resource (PG* variables, no PGPASSWORD) logs in with a workspace token, fetched per new connection.
    const password = bare ? lakebasePassword(env) : undefined;
    if (password) this.#config.password = password;
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw new ProxyError("USAGE", `Invalid Postgres schema name ${JSON.stringify(options.schema)}.`, {
        hint: "Use lowercase letters, digits and underscores.",
      });
    }
    this.#tables = postgresTables(options.schema);
    this.#records = this.#tables.records;
    this.#sequence = this.#tables.sequence;
    this.#channel = this.#tables.channel;
    this.#listener = new PostgresListener({
      config: this.#config,
      channel: this.#channel,
      onPayload: (payload) => this.#feed.received(payload),
      onListening: () => this.#feed.reconnected(),
    });
    this.#warn = options.onWarning ?? (() => {});
    this.#waitMs = options.lockWaitMs ?? 30_000;
    const query = <R>(sql: string, params: unknown[]) => this.#query<R>(sql, params);
    this.#locks = new LeaseLocks(postgresLeaseBackend(query, this.#tables.leases), {
      leaseMs: options.leaseMs ?? 10_000,
      waitMs: this.#waitMs,
      where: `the Postgres store ${this.location}`,
      onWarning: this.#warn,
    });
  }

  async read<K extends RecordKind>(key: string, kind: K): Promise<StoredRecord<K> | undefined> {
    assertRecordKey(key, kind);
    const rows = await this.#query<{ revision: number; data: string }>(
      `SELECT revision, data FROM ${this.#records} WHERE store_key = $1 AND kind = $2`,
      [key, kind],
    );
    const row = rows[0];
    if (!row) return undefined;
    return storedRecord(kind, row.data, row.revision, {
      newer: (reason) =>
        this.#warn(`The ${kind} record of ${key} in ${this.location}: ${reason}; treating it as absent.`),
      unreadable: (reason) => this.#quarantine(key, kind, reason),
    });
  }

  async write<K extends RecordKind>(
    key: string,
    kind: K,
    value: RecordTypes[K],
    options?: WriteOptions,
  ): Promise<number> {
    const { data, expected } = sharedWrite(key, kind, value, options);
    const notify = `SELECT revision, pg_notify('${this.#channel}', $notify) AS notified FROM w`;
    const message = this.#feed.message(key, kind);
    let sql: string;
    let params: unknown[];
    if (typeof expected === "number") {
      // The fenced write: only over the revision the caller read.
      sql = `WITH w AS (UPDATE ${this.#records} SET revision = revision + 1, generation = nextval('${this.#sequence}'),
          data = $3, updated_at = now() WHERE store_key = $1 AND kind = $2 AND revision = $4 RETURNING revision)
        ${notify.replace("$notify", "$5")}`;
      params = [key, kind, data, expected, message];
    } else {
      const onConflict =
        expected === null
          ? "DO NOTHING"
          : `DO UPDATE SET revision = ${this.#records}.revision + 1, generation = EXCLUDED.generation,
              data = EXCLUDED.data, updated_at = now()`;
      sql = `WITH w AS (INSERT INTO ${this.#records} (store_key, kind, upstream_key, revision, generation, data)
          VALUES ($1, $2, $3, 1, nextval('${this.#sequence}'), $4) ON CONFLICT (store_key, kind) ${onConflict}
          RETURNING revision)
        ${notify.replace("$notify", "$5")}`;
      params = [key, kind, upstreamKeyOf(key), data, message];
    }
    const rows = await this.#query<{ revision: number }>(sql, params);
    if (!rows[0]) {
      const current = await this.#query<{ revision: number }>(
        `SELECT revision FROM ${this.#records} WHERE store_key = $1 AND kind = $2`,
        [key, kind],
      );
      throw conflictError(key, kind, expected ?? null, current[0]?.revision);
    }
    this.#feed.changedHere(key, kind);
    return rows[0].revision;
  }

  async remove(key: string, kind?: RecordKind): Promise<void> {
    if (kind) assertRecordKey(key, kind);
    else assertStoreKey(key);
    // An upstream key without a kind: its records and every grant's (a `clear`); a grant key: its tokens.
    const all = !kind && !isPrincipalGrantKey(key);
    const removed = all ? undefined : (kind ?? "tokens");
    const where = all ? "upstream_key = $1" : "store_key = $1 AND kind = $3";
    const params = all ? [key, this.#feed.message(key)] : [key, this.#feed.message(key, removed), removed];
    await this.#query(
      `WITH d AS (DELETE FROM ${this.#records} WHERE ${where} RETURNING 1)
       SELECT count(*) AS removed, pg_notify('${this.#channel}', $2) FROM d`,
      params,
    );
    this.#feed.changedHere(key, removed);
  }

  async keys(): Promise<string[]> {
    const rows = await this.#query<{ upstream_key: string }>(
      `SELECT DISTINCT upstream_key FROM ${this.#records} WHERE kind = ANY($1)`,
      [RECORD_KINDS],
    );
    return rows.map((row) => row.upstream_key).sort();
  }

  async grantKeys(upstreamKey: string): Promise<string[]> {
    assertUpstreamKey(upstreamKey);
    const rows = await this.#query<{ store_key: string }>(
      `SELECT store_key FROM ${this.#records} WHERE upstream_key = $1 AND kind = 'tokens'`,
      [upstreamKey],
    );
    return rows.map((row) => row.store_key).sort();
  }

  async withLock<T>(
    key: string,
    name: "refresh" | "sign-in",
    fn: (lock: HeldLock) => Promise<T>,
    options: { waitMs?: number } = {},
  ): Promise<T> {
    assertStoreKey(key);
    return this.#locks.run(key, name, fn, options.waitMs ?? this.#waitMs);
  }

  /** From memory, kept current by LISTEN: no round trip (see change-feed.ts). */
  async stamp(key: string, kind: RecordKind): Promise<string> {
    assertRecordKey(key, kind);
    this.#listener.start();
    return this.#feed.stamp(key, kind);
  }

  watch(listener: (change: StoreChange) => void): () => void {
    this.#listener.start();
    return this.#feed.watch(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#listener.close();
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool) await (await pool).end().catch(() => {});
  }

  sidecarPath(): undefined {
    return undefined;
  }

  /** Moves an unreadable record out of the way (kept under kind `<kind>.corrupt-<time>`) and says so. */
  async #quarantine(key: string, kind: RecordKind, reason: string): Promise<void> {
    const aside = `${kind}.corrupt-${new Date().toISOString().replace(/[-:.]/g, "")}`;
    try {
      await this.#query(`UPDATE ${this.#records} SET kind = $3 WHERE store_key = $1 AND kind = $2`, [key, kind, aside]);
      this.#warn(`The ${kind} record of ${key} in ${this.location} was unreadable (${reason}); kept it as ${aside}.`);
    } catch {
      this.#warn(`The ${kind} record of ${key} in ${this.location} is unreadable (${reason}).`);
    }
  }

  async #query<R>(sql: string, params: unknown[]): Promise<R[]> {
    if (this.#closed) throw new ProxyError("INTERNAL", `The Postgres store ${this.location} was closed.`);
    const pool = await this.#connect();
    try {
      await this.#ensureTables(pool);
      const result = await pool.query(sql, params);
      this.#reachable();
      return result.rows as R[];
    } catch (error) {
      throw this.#storeError(error);
    }
  }

  #connect(): Promise<Pool> {
    this.#pool ??= import("pg").then(({ default: pg }) => {
      const pool = new pg.Pool(this.#config);
      // An idle connection that breaks (the server restarted) is dropped by the pool; the next query reconnects.
      pool.on("error", (error) => this.#unreachable(error));
      return pool;
    });
    return this.#pool;
  }

  #ensureTables(pool: Pool): Promise<void> {
    this.#created ??= createPostgresTables(pool, this.#tables).catch((error: unknown) => {
      this.#created = undefined;
      throw error;
    });
    return this.#created;
  }

  #reachable(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#warn(`The Postgres store ${this.location} is reachable again.`);
  }

  #unreachable(error: unknown): void {
    if (this.#down) return;
    this.#down = true;
    this.#warn(`The Postgres store ${this.location} is unreachable (${postgresErrorText(error)}); retrying.`);
  }

  #storeError(error: unknown): ProxyError {
    const { error: failure, unreachable } = postgresStoreError(error, this.location);
    if (unreachable) this.#unreachable(error);
    return failure;
  }

  /** Whether LISTEN is established (tests wait for it before counting on notifications). */
  get listening(): boolean {
    return this.#listener.listening;
  }
}
