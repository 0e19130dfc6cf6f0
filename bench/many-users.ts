/**
 * Many users on a few replicas (issue 10): 1,000 users × 3 upstreams of grants seeded in the store, requests from
 * users picked at random and spread round-robin over the `serve` replicas (identity by header, behind the API key),
 * once per store backend: file, Redis, PostgreSQL (real servers, started as the shared-store tests do). Reports
 * per-replica RSS after the load and the p50/p95 of a `tools/list` through the proxy, so the shared stores' cost can
 * be read against the file store's in the same run. The upstreams are unprotected SDK servers: the proxy still reads
 * each user's grant from the store and sends its bearer, which is what is measured, without an authorization server
 * having to issue 3,000 tokens.
 *
 * `tsx bench/many-users.ts [--quick] [--max-grants N]`; `npm run bench` runs it after its paths unless `--no-many-users`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createStore } from "../src/store/create-store.ts";
import { canonicalServerUrl, grantKey, storeKey } from "../src/store/store-key.ts";
import { STORE_VERSION } from "../src/store/token-store.ts";
import { startMcpServer, type TestMcpServer } from "../test/fixtures/mcp-server.ts";
import { freePort } from "../test/fixtures/ports.ts";
import { sharedServersMissing, startPostgres, startRedis, type TestServer } from "../test/support/store-servers.ts";
import { memoryStats } from "./proc-stats.ts";
import { median, percentile } from "./workloads.ts";

export const MANY_USERS = 1000;
export const MANY_USERS_UPSTREAMS = 3;
const API_KEY = "bench-many-users-api-key-0123456789";

export interface BackendResult {
  backend: string;
  replicas: number;
  requests: number;
  p50Ms: number;
  p95Ms: number;
  rssMiB: number[];
  errors: number;
}

const main = process.argv[1]?.endsWith("many-users.ts");
if (main) {
  const { values } = parseArgs({ options: { quick: { type: "boolean" }, "max-grants": { type: "string" } } });
  const maxGrants = values["max-grants"] === undefined ? undefined : Number(values["max-grants"]);
  if (maxGrants !== undefined && !(Number.isInteger(maxGrants) && maxGrants > 0)) {
    throw new Error(`--max-grants wants a positive whole number, not ${values["max-grants"]}`);
  }
  const results = await runManyUsers({ quick: values.quick === true, maxGrants });
  process.stdout.write(`${manyUsersTable(results)}\n`);
  process.exit(0);
}

/** `maxGrants`: each replica's `--max-grants` (below the number of users, so the LRU evicts); default the proxy's. */
export async function runManyUsers(options: {
  quick: boolean;
  maxGrants?: number | undefined;
}): Promise<BackendResult[]> {
  const replicas = options.quick ? 2 : 3;
  const requests = options.quick ? 600 : 3000;
  const upstreams: TestMcpServer[] = [];
  for (let i = 0; i < MANY_USERS_UPSTREAMS; i++)
    upstreams.push(await startMcpServer({ transport: "streamable-stateless", auth: false }));
  const results: BackendResult[] = [];
  try {
    for (const backend of ["file", "redis", "postgres"] as const) {
      const missing = backend === "file" ? undefined : sharedServersMissing(backend);
      if (missing) {
        process.stderr.write(`many-users: ${backend} skipped (${missing})\n`);
        continue;
      }
      results.push(await runBackend(backend, upstreams, replicas, requests, options.maxGrants));
    }
  } finally {
    await Promise.all(upstreams.map((upstream) => upstream.close()));
  }
  return results;
}

async function runBackend(
  backend: "file" | "redis" | "postgres",
  upstreams: TestMcpServer[],
  replicaCount: number,
  requests: number,
  maxGrants: number | undefined,
): Promise<BackendResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-users-"));
  let server: TestServer | undefined;
  const children: ChildProcess[] = [];
  try {
    server = backend === "redis" ? await startRedis() : backend === "postgres" ? await startPostgres() : undefined;
    const storeUrl = server ? server.url : `file:${join(dir, "auth")}`;
    await seedGrants(backend, server?.url, join(dir, "auth"), upstreams);
    const config = join(dir, "servers.json");
    const mcpServers = Object.fromEntries(upstreams.map((upstream, i) => [`u${i + 1}`, { url: upstream.url }]));
    writeFileSync(config, JSON.stringify({ mcpServers }), { mode: 0o600 });
    const ports: number[] = [];
    for (let i = 0; i < replicaCount; i++) {
      const port = await freePort();
      ports.push(port);
      const child = spawn(
        process.execPath,
        [
          "dist/main.js",
          "serve",
          "--config",
          config,
          "--port",
          String(port),
          "--store",
          storeUrl,
          "--identity",
          "header:X-Bench-User",
          "--api-key",
          API_KEY,
          "--no-browser",
          ...(maxGrants === undefined ? [] : ["--max-grants", String(maxGrants)]),
        ],
        { stdio: ["ignore", "ignore", "ignore"], env: { ...process.env, MCP_PROXY_STORE: "" } },
      );
      children.push(child);
    }
    await Promise.all(ports.map((port) => untilUp(port)));
    const latencies: number[] = [];
    let errors = 0;
    // Eight callers at once, each request from a random user to a random upstream on the next replica.
    let next = 0;
    const worker = async () => {
      while (next < requests) {
        const n = next++;
        const port = ports[n % ports.length] as number;
        const userIndex = Math.floor(Math.random() * MANY_USERS);
        const upstream = 1 + Math.floor(Math.random() * upstreams.length);
        const started = performance.now();
        const ok = await listTools(port, `u${upstream}`, `user${userIndex}@bench.test`);
        latencies.push(performance.now() - started);
        if (!ok) errors++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    latencies.sort((a, b) => a - b);
    return {
      backend,
      replicas: replicaCount,
      requests,
      p50Ms: median(latencies),
      p95Ms: percentile(latencies, 95),
      rssMiB: children.map((child) => memoryStats(child.pid as number).rssMiB),
      errors,
    };
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Tokens for every user × upstream, written through the store the replicas will read (so its layout is theirs). */
async function seedGrants(
  backend: "file" | "redis" | "postgres",
  url: string | undefined,
  dir: string,
  upstreams: TestMcpServer[],
): Promise<void> {
  const store = createStore({ backend, url, dir });
  const expiresAt = Date.now() + 24 * 3_600_000;
  try {
    for (const upstream of upstreams) {
      const key = storeKey(canonicalServerUrl(upstream.url));
      const writes: Promise<number>[] = [];
      for (let i = 0; i < MANY_USERS; i++) {
        writes.push(
          store.write(grantKey(key, `header:user${i}@bench.test`), "tokens", {
            version: STORE_VERSION,
            server_url: canonicalServerUrl(upstream.url),
            issuer: "http://127.0.0.1/bench",
            tokens: { access_token: `bench-at-${i}`, token_type: "Bearer" },
            obtained_at: Date.now(),
            expires_at: expiresAt,
          }),
        );
        if (writes.length >= 50) await Promise.all(writes.splice(0));
      }
      await Promise.all(writes);
    }
  } finally {
    await store.close?.();
  }
}

async function listTools(port: number, server: string, user: string): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/servers/${server}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "x-api-key": API_KEY,
        "x-bench-user": user,
        "mcp-protocol-version": "2025-06-18",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
    });
    const text = await response.text();
    return response.ok && text.includes('"tools"');
  } catch {
    return false;
  }
}

async function untilUp(port: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the serve replica on port ${port} did not come up`);
}

export function manyUsersTable(results: readonly BackendResult[]): string {
  const file = results.find((result) => result.backend === "file");
  const rows = results.map((r) => {
    const added = file ? `${(r.p50Ms - file.p50Ms).toFixed(2)}` : "—";
    const rss = r.rssMiB.map((mib) => mib.toFixed(0)).join(" / ");
    return `| ${r.backend} | ${r.replicas} | ${r.requests} | ${r.p50Ms.toFixed(2)} | ${added} | ${r.p95Ms.toFixed(2)} | ${rss} | ${r.errors} |`;
  });
  return [
    `Many users: ${MANY_USERS} users × ${MANY_USERS_UPSTREAMS} upstreams of grants, tools/list from random users over the replicas`,
    "",
    "| store | replicas | requests | p50 ms | p50 added vs file ms | p95 ms | RSS per replica MiB | errors |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
