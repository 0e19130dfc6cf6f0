import type { LeaseBackend } from "./lease-lock.ts";

/** Runs one statement of the Postgres store (its pool, its error mapping) and returns the rows. */
export type PostgresQuery = <R>(sql: string, params: unknown[]) => Promise<R[]>;

/**
 * The withLock leases as rows of `leases` (name → holder, expires_at), timed by the server's clock so replicas with
 * skewed clocks agree: taken when free or expired, extended and released only by their holder (lease-lock.ts).
 */
export function postgresLeaseBackend(query: PostgresQuery, leases: string): LeaseBackend {
  const until = "clock_timestamp() + $3 * interval '1 millisecond'";
  return {
    acquire: async (name, holder, ttlMs) =>
      (
        await query(
          `INSERT INTO ${leases} (name, holder, expires_at) VALUES ($1, $2, ${until})
           ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
           WHERE ${leases}.expires_at < clock_timestamp() RETURNING holder`,
          [name, holder, ttlMs],
        )
      ).length === 1,
    extend: async (name, holder, ttlMs) =>
      (
        await query(
          `UPDATE ${leases} SET expires_at = ${until}
           WHERE name = $1 AND holder = $2 AND expires_at > clock_timestamp() RETURNING holder`,
          [name, holder, ttlMs],
        )
      ).length === 1,
    release: async (name, holder) => {
      await query(`DELETE FROM ${leases} WHERE name = $1 AND holder = $2`, [name, holder]);
    },
  };
}
