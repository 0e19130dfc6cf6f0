// Single flight across processes on a shared store: worker processes (as replicas) share one Redis or PostgreSQL
// store while the access token keeps expiring and the refresh token rotates. Every expiry must cost exactly one
// refresh at the AS (the store's lease + re-read, and the fenced write), and nobody gets invalid_grant.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PostgresTokenStore } from "../../src/store/postgres-store.ts";
import { RedisTokenStore } from "../../src/store/redis-store.ts";
import type { TokenStore } from "../../src/store/token-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { sharedServersMissing, startPostgres, startRedis, type TestServer } from "../support/store-servers.ts";
import { signInOnce } from "./support/scale-out-load.ts";

const WORKERS = 4;
const TTL_SECONDS = 2;
const DURATION_MS = 7000;

const backends = [
  {
    name: "Redis",
    skip: sharedServersMissing("redis"),
    start: startRedis,
    open: (url: string): TokenStore => new RedisTokenStore({ url }),
  },
  {
    name: "PostgreSQL",
    skip: sharedServersMissing("postgres"),
    start: startPostgres,
    open: (url: string): TokenStore => new PostgresTokenStore({ url }),
  },
];

function runWorker(storeUrl: string, mcpUrl: string) {
  return new Promise<{ calls: number; errors: number; tokens: number; code: number | null; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          join(import.meta.dirname, "support/refresh-worker.ts"),
          storeUrl,
          mcpUrl,
          String(DURATION_MS),
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      let err = "";
      child.stdout.on("data", (chunk) => (out += chunk));
      child.stderr.on("data", (chunk) => (err += chunk));
      child.once("error", reject);
      child.once("exit", (code) => {
        try {
          resolve({ ...JSON.parse(out.trim().split("\n").at(-1) ?? "{}"), code, stderr: err });
        } catch {
          reject(new Error(`worker printed no result (exit ${code}): ${err.slice(-500)}`));
        }
      });
    },
  );
}

for (const backend of backends) {
  describe(`refresh single flight on ${backend.name}`, { skip: backend.skip ?? false }, () => {
    let as: TestAuthServer;
    let mcp: TestMcpServer;
    let server: TestServer;
    before(async () => {
      [as, server] = await Promise.all([
        startAuthServer({ accessTokenTtlSeconds: TTL_SECONDS, rotateRefreshToken: true }),
        backend.start(),
      ]);
      mcp = await startMcpServer({ authServer: as, transport: "streamable-stateless" });
    });
    after(async () => {
      await mcp?.close();
      await as?.close();
      await server?.close();
    });

    test(`${WORKERS} processes on one ${backend.name} store, rotating refresh tokens: one refresh per expiry, no invalid_grant`, async () => {
      await signInOnce(backend.open(server.url), mcp.url);
      as.resetStats();

      const started = Date.now();
      const times: number[] = [];
      let seen = 0;
      const poll = setInterval(() => {
        while (seen < as.stats.refreshSuccesses) {
          seen++;
          times.push(Date.now() - started);
        }
      }, 20);
      const results = await Promise.all(Array.from({ length: WORKERS }, () => runWorker(server.url, mcp.url)));
      clearInterval(poll);
      const elapsed = Date.now() - started;
      for (const result of results) {
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.errors, 0, `every call succeeded: ${result.stderr}`);
        // Each process went through at least one expiry: it used two generations of tokens (or more).
        assert.ok(result.calls > 0 && result.tokens >= 2, JSON.stringify(result).slice(0, 2000));
        assert.doesNotMatch(result.stderr, /not-the-password/);
      }
      assert.equal(as.stats.invalidGrants, 0, "no rotated refresh token was spent twice");
      assert.equal(as.stats.refreshFailures, 0);
      // Tokens live 2 s and are refreshed in their last quarter: one refresh per ~1.5 s while the workers run.
      // Processes refreshing on their own would make about WORKERS times as many. (A slow machine only makes fewer.)
      const window = elapsed - (times[0] ?? elapsed);
      const maxRefreshes = Math.ceil(window / 1500) + 1;
      assert.ok(as.stats.refreshSuccesses >= 2, `expiries happened (${as.stats.refreshSuccesses} refreshes)`);
      assert.equal(as.stats.tokenRequests.refresh_token, as.stats.refreshSuccesses, "every refresh request succeeded");
      assert.ok(
        as.stats.refreshSuccesses <= maxRefreshes,
        `${as.stats.refreshSuccesses} refreshes for ${WORKERS} processes; at most ${maxRefreshes} expected`,
      );
      console.log(
        `refresh concurrency on ${backend.name}: ${WORKERS} processes, ${results.reduce((n, r) => n + r.calls, 0)} calls, ` +
          `${as.stats.refreshSuccesses} refreshes at the AS over ${window} ms, 0 invalid_grant`,
      );
    });
  });
}
