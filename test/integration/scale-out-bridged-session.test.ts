// SDK v1 (2025 wire) Streamable HTTP clients through the shipped haproxy configuration in front of three `serve`
// replicas on one Redis store, with a 2026-07-28-only upstream: each replica bridges its clients' sessions in memory
// and mints their Mcp-Session-Id, so haproxy's stick table (learned from the initialize answer) must send every
// later request of a session to the replica that minted it. Every call of every client must succeed.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { RedisTokenStore } from "../../src/store/redis-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { sharedServersMissing, startRedis, type TestServer } from "../support/store-servers.ts";
import { type Fleet, haproxyMissing, startFleet } from "./support/replica-fleet.ts";
import { callEcho, newTally, sdkClient, signInOnce } from "./support/scale-out-load.ts";

const CLIENTS = 12;
const CALLS_EACH = 5;

/** `mcp_proxy_open_sessions` (bridged sessions count) summed over upstream labels, from a replica's /metrics. */
async function openSessions(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let total = 0;
  for (const match of text.matchAll(/^mcp_proxy_open_sessions(?:\{[^}]*\})? (\d+)/gm)) total += Number(match[1]);
  return total;
}

describe("scale out: bridged 2025 sessions in front of a 2026-07-28-only upstream", {
  skip: sharedServersMissing("redis") ?? haproxyMissing() ?? false,
}, () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let server: TestServer;
  let fleet: Fleet;
  before(async () => {
    [as, server] = await Promise.all([startAuthServer(), startRedis()]);
    mcp = await startMcpServer({ authServer: as, transport: "2026" });
    await signInOnce(new RedisTokenStore({ url: server.url }), mcp.url);
    fleet = await startFleet(mcp.url, server.url);
  });
  after(async () => {
    await fleet?.close();
    await mcp?.close();
    await as?.close();
    await server?.close();
  });

  test(`${CLIENTS} SDK v1 clients, ${CALLS_EACH} calls each: every request of a bridged session reaches its replica`, async () => {
    const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => sdkClient(fleet, i)));
    const sessionsBy = await Promise.all(fleet.replicas.map((replica) => openSessions(replica.port)));
    const tally = newTally();
    for (let round = 0; round < CALLS_EACH; round++) {
      await Promise.all(clients.map((client, i) => callEcho(client, tally, `b${i}r${round}`)));
    }
    await Promise.all(clients.map((client) => client.close()));
    console.log(
      `bridged sessions through haproxy: ${CLIENTS} clients, bridged sessions per replica [${sessionsBy.join(" ")}], ${tally.calls} calls ok, ${tally.failures.length} failed`,
    );
    assert.deepEqual(tally.failures.slice(0, 5), [], `${tally.failures.length} failed; haproxy: ${fleet.log()}`);
    assert.equal(tally.calls, CLIENTS * CALLS_EACH);
    assert.equal(
      sessionsBy.reduce((a, b) => a + b, 0),
      CLIENTS,
      "each session is bridged by one replica",
    );
    assert.ok(sessionsBy.filter((n) => n > 0).length > 1, `sessions spread over the replicas [${sessionsBy}]`);
  });
});
