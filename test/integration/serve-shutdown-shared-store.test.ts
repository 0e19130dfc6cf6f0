// The graceful stop of `serve` (dist/main.js) on a shared store (Redis and PostgreSQL side by side): on SIGTERM it
// closes its store connections (the server sees them go, the log says so) and exits 0 by itself, not through the
// 10 s cap (which exits 1); also when the store server is down at that moment (its clients are reconnecting), and
// when it went down under a sign-in starting at launch (a Redis close waiting for answers that never come).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PostgresTokenStore } from "../../src/store/postgres-store.ts";
import { RedisTokenStore } from "../../src/store/redis-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { sharedServersMissing, startPostgres, startRedis, type TestServer } from "../support/store-servers.ts";
import { signInOnce } from "./support/scale-out-load.ts";
import { type ServeChild, startServeChild } from "./support/serve-child.ts";

/** Client connections the store server has, other than the one asking. */
async function redisConnections(url: string): Promise<number> {
  const { createClient } = await import("redis");
  const client = createClient({ url });
  await client.connect();
  try {
    const list = (await client.sendCommand(["CLIENT", "LIST"])) as string;
    return list.trim().split("\n").length - 1;
  } finally {
    await client.close();
  }
}

async function postgresConnections(url: string): Promise<number> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    return (result.rows[0] as { n: number }).n;
  } finally {
    await client.end();
  }
}

const backends = [
  {
    name: "Redis",
    skip: sharedServersMissing("redis"),
    start: startRedis,
    open: (url: string) => new RedisTokenStore({ url }),
    connections: redisConnections,
  },
  {
    name: "PostgreSQL",
    skip: sharedServersMissing("postgres"),
    start: startPostgres,
    open: (url: string) => new PostgresTokenStore({ url }),
    connections: postgresConnections,
  },
];

function exited(serve: ServeChild): Promise<{ code: number | null; signal: string | null }> {
  const { child } = serve;
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`never happened: ${what}`);
}

describe("serve closes its shared store on SIGTERM", { concurrency: true }, () => {
  for (const backend of backends) {
    describe(`on ${backend.name}`, { skip: backend.skip ?? false, concurrency: false }, () => {
      let as: TestAuthServer;
      let mcp: TestMcpServer;
      let server: TestServer;
      let dir: string;
      before(async () => {
        [as, server] = await Promise.all([startAuthServer(), backend.start()]);
        mcp = await startMcpServer({ authServer: as, transport: "streamable-stateless" });
        // Signed in beforehand: no sign-in starts with the proxy (the stop below is of a replica at rest).
        await signInOnce(backend.open(server.url), mcp.url);
        dir = mkdtempSync(join(tmpdir(), "serve-stop-store-"));
      });
      after(async () => {
        await mcp?.close();
        await as?.close();
        await server?.close();
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      const start = async () =>
        startServeChild([
          mcp.url,
          "--store",
          server.url,
          "--port",
          String(await freePort()),
          "--auth-dir",
          dir,
          "--no-browser",
        ]);

      test("with the store up: its connections end, the log says so, exit 0", async () => {
        const before = await backend.connections(server.url);
        const serve = await start();
        // At start it reads the page secret from the store, so it holds connections there.
        await eventually(async () => (await backend.connections(server.url)) > before, "serve connected to the store");
        const stopped = exited(serve);
        serve.child.kill("SIGTERM");
        const { code, signal } = await stopped;
        assert.deepEqual({ code, signal }, { code: 0, signal: null }, serve.output());
        assert.match(serve.output(), /Closed the token store (redis|postgres):\/\/\S*127\.0\.0\.1:\d+/);
        assert.doesNotMatch(serve.output(), /not-the-password/);
        await eventually(async () => (await backend.connections(server.url)) === before, "its connections gone");
      });

      test("a sign-in starting at launch when the store goes down, then the signal: still exit 0", async () => {
        // Another upstream, never signed in: serve starts a sign-in as it starts, and the store goes away under it.
        const other = await startMcpServer({ authServer: as, transport: "streamable-stateless" });
        try {
          for (let round = 0; round < 3; round++) {
            const serve = await startServeChild([
              other.url,
              "--store",
              server.url,
              "--port",
              String(await freePort()),
              "--auth-dir",
              dir,
              "--no-browser",
            ]);
            await eventually(async () => /starting the sign-in/.test(serve.output()), "the sign-in at launch");
            await server.stop();
            try {
              const stopped = exited(serve);
              serve.child.kill("SIGTERM");
              const { code, signal } = await stopped;
              assert.deepEqual({ code, signal }, { code: 0, signal: null }, serve.output());
              assert.match(serve.output(), /Closed the token store/);
            } finally {
              await server.start();
            }
          }
        } finally {
          await other.close();
        }
      });

      test("with the store down at the signal (reconnecting): still a prompt exit 0", async () => {
        const serve = await start();
        await server.stop();
        try {
          const stopped = exited(serve);
          serve.child.kill("SIGTERM");
          const { code, signal } = await stopped;
          assert.deepEqual({ code, signal }, { code: 0, signal: null }, serve.output());
          assert.match(serve.output(), /Closed the token store/);
          assert.doesNotMatch(serve.output(), /did not finish/);
        } finally {
          await server.start();
        }
      });
    });
  }
});
