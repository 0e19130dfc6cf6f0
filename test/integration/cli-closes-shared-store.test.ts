// The one-shot commands close a shared store they opened: after `status` and `list` with --store against a real
// Redis (and `status` against a real PostgreSQL), run in this process through runCli, the server counts as many
// client connections as before; the connections a command opened do not outlive it (before, only serve's
// graceful stop closed them, and a one-shot command left its connections to the process's exit). `stdio` ends
// through the same runCli.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { createClient } from "redis";
import { runCli } from "../../src/cli/run-cli.ts";
import { sharedServersMissing, startPostgres, startRedis, type TestServer } from "../support/store-servers.ts";

const quiet = () => {};

/** Asks `count` until it gives `expected` (bounded by tries, not asserted on time); returns the last count. */
async function settlesAt(count: () => Promise<number>, expected: number, tries = 100): Promise<number> {
  let last = await count();
  for (let i = 0; i < tries && last !== expected; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await count();
  }
  return last;
}

describe("one-shot commands close the shared store", { skip: sharedServersMissing("redis") }, () => {
  let redis: TestServer;
  let watcher: ReturnType<typeof createClient>;
  let authDir: string;
  /** Client connections Redis holds, besides the watcher's own. */
  const redisClients = async () => {
    const list = String(await watcher.sendCommand(["CLIENT", "LIST"]));
    return list.split("\n").filter((line) => line.includes("id=") && !line.includes("cmd=client|list")).length;
  };

  before(async () => {
    redis = await startRedis();
    watcher = createClient({ url: redis.url });
    await watcher.connect();
    authDir = mkdtempSync(join(tmpdir(), "cli-store-close-"));
  });
  after(async () => {
    await watcher?.close();
    await redis?.close();
    rmSync(authDir, { recursive: true, force: true });
  });

  for (const command of ["status", "list"]) {
    test(`${command} --store redis://…: no connection left once it returned`, async () => {
      const before = await redisClients();
      const lines: string[] = [];
      const code = await runCli([command, "--store", redis.url, "--auth-dir", authDir], {
        out: (line) => void lines.push(line),
        err: quiet,
      });
      assert.equal(code, 0, lines.join("\n"));
      assert.equal(await settlesAt(redisClients, before), before);
    });
  }

  test("status --store postgres://…: no connection left once it returned", {
    skip: sharedServersMissing("postgres"),
  }, async () => {
    const postgres = await startPostgres();
    const watching = new pg.Client({ connectionString: postgres.url });
    try {
      await watching.connect();
      const backends = async () => {
        const { rows } = await watching.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
        );
        return rows[0]?.n ?? -1;
      };
      const before = await backends();
      const code = await runCli(["status", "--store", postgres.url, "--auth-dir", authDir], { out: quiet, err: quiet });
      assert.equal(code, 0);
      assert.equal(await settlesAt(backends, before), before);
    } finally {
      await watching.end();
      await postgres.close();
    }
  });
});
