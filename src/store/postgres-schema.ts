import type { Pool } from "pg";

/** The names of the Postgres store's objects, qualified by its schema when it has one (see postgres-store.ts). */
export interface PostgresTables {
  /** The schema to create, if any (else the connection's search_path). */
  readonly schema: string | undefined;
  /** `mcp_u2m_records` (store_key, kind) → upstream_key, revision, generation, data. */
  readonly records: string;
  /** `mcp_u2m_leases` name → holder, expires_at: the withLock leases. */
  readonly leases: string;
  /** `mcp_u2m_generation`: the store-wide write counter. */
  readonly sequence: string;
  /** The NOTIFY channel every write and removal is announced on. */
  readonly channel: string;
}

export function postgresTables(schema: string | undefined): PostgresTables {
  const qualify = (name: string) => (schema ? `"${schema}".${name}` : name);
  return {
    schema,
    records: qualify("mcp_u2m_records"),
    leases: qualify("mcp_u2m_leases"),
    sequence: qualify("mcp_u2m_generation"),
    channel: schema ? `${schema}_mcp_u2m_changed` : "mcp_u2m_changed",
  };
}

/** Creates what is missing of the schema, the sequence, the tables and the index, in one transaction. */
export async function createPostgresTables(pool: Pool, tables: PostgresTables): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // Replicas starting together would race on CREATE … IF NOT EXISTS; a transaction lock serialises them.
    await client.query("SELECT pg_advisory_xact_lock(7236428513902201357)");
    if (tables.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${tables.schema}"`);
    await client.query(`CREATE SEQUENCE IF NOT EXISTS ${tables.sequence}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${tables.records} (
      store_key text NOT NULL, kind text NOT NULL, upstream_key text NOT NULL, revision integer NOT NULL,
      generation bigint NOT NULL, data text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (store_key, kind))`);
    await client.query(
      `CREATE INDEX IF NOT EXISTS mcp_u2m_records_by_upstream ON ${tables.records} (upstream_key, kind)`,
    );
    await client.query(`CREATE TABLE IF NOT EXISTS ${tables.leases} (
      name text PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL)`);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
