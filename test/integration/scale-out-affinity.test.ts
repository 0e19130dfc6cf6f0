// What a replica holds in memory, through three `serve` replicas (dist/main.js) on one Redis store behind a real
// haproxy running the shipped configuration: 2025-era clients (SDK v1) in front of a 2026-07-28-only upstream, so
// every session is bridged and lives in one replica. Legacy HTTP+SSE clients on /sse (their POSTs must reach the
// replica holding the stream: haproxy learns it from the X-Mcp-Sse-Session-Id header) and Streamable HTTP clients on
// /mcp (the proxy-minted Mcp-Session-Id, learned from the initialize answer). Every call succeeds, and the sessions
// are spread over more than one replica (each replica's open sessions in its /metrics), so the affinity is what kept
// them whole.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { RedisTokenStore } from "../../src/store/redis-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { sharedServersMissing, startRedis, type TestServer } from "../support/store-servers.ts";
import { type Fleet, haproxyMissing, type Replica, startFleet } from "./support/replica-fleet.ts";
import { failureText, signInOnce } from "./support/scale-out-load.ts";

const CLIENTS = 6;
const CALLS = 8;

/** The sessions each replica holds now (mcp_proxy_open_sessions in its /metrics). */
async function sessionsPerReplica(replicas: Replica[]): Promise<number[]> {
  return Promise.all(
    replicas.map(async (replica) => {
      const text = await (await fetch(`http://127.0.0.1:${replica.port}/metrics`)).text();
      let sessions = 0;
      for (const line of text.split("\n")) {
        if (line.startsWith("mcp_proxy_open_sessions{")) sessions += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
      return sessions;
    }),
  );
}

/**
 * Connects CLIENTS SDK v1 clients with `transport`, reads where their sessions are, makes CALLS echo calls on each
 * (and a tools/list), then closes them: the sessions per replica while connected, and the failures, if any.
 */
async function callThrough(
  fleet: Fleet,
  transport: () => SSEClientTransport | StreamableHTTPClientTransport,
  { released }: { released: boolean },
): Promise<{ sessions: number[]; failures: string[] }> {
  const failures: string[] = [];
  const clients = Array.from({ length: CLIENTS }, (_, i) => new Client({ name: `affinity-${i}`, version: "1.0.0" }));
  const before = await sessionsPerReplica(fleet.replicas);
  try {
    await Promise.all(clients.map((client) => client.connect(transport())));
    const sessions = (await sessionsPerReplica(fleet.replicas)).map((n, i) => n - (before[i] ?? 0));
    await Promise.all(
      clients.map(async (client, i) => {
        try {
          for (let n = 0; n < CALLS; n++) {
            const text = `c${i}-${n}`;
            const result = await client.callTool({ name: "echo", arguments: { text } });
            const content = result.content as { text?: string }[];
            if (content[0]?.text !== text) failures.push(`client ${i}: ${JSON.stringify(result)}`);
          }
          await client.listTools();
        } catch (error) {
          failures.push(`client ${i}: ${failureText(error)}`);
        }
      }),
    );
    return { sessions, failures };
  } finally {
    await Promise.all(
      clients.map(async (client) => {
        // A Streamable HTTP client ends its session (DELETE); a legacy one by closing its stream.
        const transport = client.transport;
        if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession().catch(() => {});
        await client.close().catch(() => {});
      }),
    );
    // The replicas let the sessions go at the DELETE. (A legacy stream's end is noticed through haproxy only at the
    // stream's next write, tens of seconds later: not waited for here.)
    if (released) {
      let left: number[] = [];
      for (let i = 0; i < 600; i++) {
        left = await sessionsPerReplica(fleet.replicas);
        if (left.every((n, r) => n <= (before[r] ?? 0))) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(left, before, "the closed clients' sessions were let go");
    }
  }
}

describe("bridged sessions through three replicas behind haproxy keep their replica", {
  skip: sharedServersMissing("redis") ?? haproxyMissing() ?? false,
}, () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let redis: TestServer;
  let fleet: Fleet;
  before(async () => {
    [as, redis] = await Promise.all([startAuthServer(), startRedis()]);
    mcp = await startMcpServer({ authServer: as, transport: "2026" });
    await signInOnce(new RedisTokenStore({ url: redis.url }), mcp.url);
    fleet = await startFleet(mcp.url, redis.url);
  });
  after(async () => {
    await fleet?.close();
    await mcp?.close();
    await as?.close();
    await redis?.close();
  });

  test("legacy HTTP+SSE clients on /sse: every POST reaches the replica holding the stream", async () => {
    const { sessions, failures } = await callThrough(fleet, () => new SSEClientTransport(new URL(`${fleet.url}/sse`)), {
      released: false,
    });
    console.log(`legacy SSE through haproxy: sessions per replica ${sessions.join("/")}, ${failures.length} failed`);
    assert.deepEqual(failures, []);
    assert.equal(
      sessions.reduce((a, b) => a + b, 0),
      CLIENTS,
    );
    assert.ok(sessions.filter((n) => n > 0).length >= 2, `the streams were spread: ${sessions.join("/")}`);
  });

  test("Streamable HTTP clients on /mcp: the proxy-minted session sticks to its replica", async () => {
    const { sessions, failures } = await callThrough(
      fleet,
      () => new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`)),
      { released: true },
    );
    console.log(`bridged /mcp through haproxy: sessions per replica ${sessions.join("/")}, ${failures.length} failed`);
    assert.deepEqual(failures, []);
    assert.equal(
      sessions.reduce((a, b) => a + b, 0),
      CLIENTS,
    );
    assert.ok(sessions.filter((n) => n > 0).length >= 2, `the sessions were spread: ${sessions.join("/")}`);
  });
});
