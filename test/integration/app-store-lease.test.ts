// --store-lease reaches the shared store: the store the app builds from the runtime options (createBackendStore)
// takes its refresh lease for the configured time, read back from the server itself while the lease is held (Redis:
// the lease key's PTTL; PostgreSQL: the lease row's expires_at against the server's clock). With the default 10 s
// lease both readings would be far above the 2 s bound, so the test fails if the setting is not passed on.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pg from "pg";
import { createClient } from "redis";
import { closeSharedStores, createBackendStore } from "../../src/app/context.ts";
import type { RuntimeOptions } from "../../src/config/options.ts";
import { sharedServersMissing, startPostgres, startRedis, type TestServer } from "../support/store-servers.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const LEASE_MS = 2_000;

const backends: Array<{
  name: string;
  skip: string | undefined;
  start: () => Promise<TestServer>;
  /** The held lease's remaining life on the server, ms. */
  leaseLeft: (url: string) => Promise<number>;
}> = [
  {
    name: "Redis",
    skip: sharedServersMissing("redis"),
    start: startRedis,
    leaseLeft: async (url) => {
      const client = createClient({ url });
      await client.connect();
      try {
        return Number(await client.pTTL(`mcp-u2m:lock:${KEY}.refresh`));
      } finally {
        await client.close();
      }
    },
  },
  {
    name: "PostgreSQL",
    skip: sharedServersMissing("postgres"),
    start: startPostgres,
    leaseLeft: async (url) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query(
          "SELECT EXTRACT(EPOCH FROM (expires_at - now())) * 1000 AS ms FROM mcp_u2m_leases WHERE name = $1",
          [`${KEY}.refresh`],
        );
        return Number(rows[0]?.ms ?? -1);
      } finally {
        await client.end();
      }
    },
  },
];

const authDir = mkdtempSync(join(tmpdir(), "store-lease-"));
after(async () => {
  await closeSharedStores();
  rmSync(authDir, { recursive: true, force: true });
});

for (const backend of backends) {
  describe(`--store-lease on ${backend.name}`, { skip: backend.skip }, () => {
    let server: TestServer;
    after(async () => {
      await server?.close();
    });

    test(`the app's shared store holds its refresh lease for the configured ${LEASE_MS} ms`, async () => {
      server = await backend.start();
      const runtime = { authDir, storeUrl: server.url, storeLeaseMs: LEASE_MS } as RuntimeOptions;
      const store = createBackendStore(runtime);
      const left = await store.withLock(KEY, "refresh", () => backend.leaseLeft(server.url));
      assert.ok(left > 0, `the lease is held on the server (${left} ms left)`);
      assert.ok(left <= LEASE_MS, `the lease is the configured ${LEASE_MS} ms, not the default (${left} ms left)`);
    });
  });
}
