// Legacy HTTP+SSE clients (SDK v1 SSEClientTransport on /sse) through the shipped haproxy configuration in front of
// three `serve` replicas on one Redis store and a 2025 (Streamable HTTP) upstream, not bridged: the replica that
// holds a client's event stream must get its `POST /message?sessionId=…` too (the session lives in that replica's
// memory). haproxy learns the session from the stream's X-Mcp-Sse-Session-Id answer header; each client connects
// from its own loopback address (127.0.0.2, …), as distinct clients would (the configuration before placed
// streams by address, and every client from 127.0.0.1 on one replica). The streams spread over the replicas, and every call of every client must still succeed.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { Agent, fetch as undiciFetch } from "undici";
import { RedisTokenStore } from "../../src/store/redis-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { sharedServersMissing, startRedis, type TestServer } from "../support/store-servers.ts";
import { type Fleet, haproxyMissing, startFleet } from "./support/replica-fleet.ts";
import { callEcho, newTally, signInOnce } from "./support/scale-out-load.ts";

const CLIENTS = 12;
const CALLS_EACH = 5;

/**
 * A fetch whose connections leave from `address` (haproxy's `balance source` hashes it). Its own connect: undici
 * ignored `connect: { localAddress }` here (the server saw 127.0.0.1).
 */
function fetchFrom(address: string): typeof fetch {
  const dispatcher = new Agent({
    connect: (options, done) => {
      const socket = connect({ host: options.hostname, port: Number(options.port), localAddress: address });
      socket.once("connect", () => done(null, socket));
      socket.once("error", (error) => done(error, null));
    },
  });
  return ((url, init) => undiciFetch(url as string, { ...(init as object), dispatcher })) as typeof fetch;
}

/** `mcp_proxy_open_streams` summed over upstream labels, from a replica's own /metrics. */
async function openStreams(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let total = 0;
  for (const match of text.matchAll(/^mcp_proxy_open_streams(?:\{[^}]*\})? (\d+)/gm)) total += Number(match[1]);
  return total;
}

describe("scale out: legacy HTTP+SSE clients through haproxy", {
  skip: sharedServersMissing("redis") ?? haproxyMissing() ?? false,
}, () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let server: TestServer;
  let fleet: Fleet;
  before(async () => {
    [as, server] = await Promise.all([startAuthServer(), startRedis()]);
    mcp = await startMcpServer({ authServer: as, transport: "streamable-stateful" });
    await signInOnce(new RedisTokenStore({ url: server.url }), mcp.url);
    fleet = await startFleet(mcp.url, server.url);
  });
  after(async () => {
    await fleet?.close();
    await mcp?.close();
    await as?.close();
    await server?.close();
  });

  test(`${CLIENTS} /sse clients from ${CLIENTS} addresses, ${CALLS_EACH} calls each: every /message lands on its stream's replica`, async () => {
    const clients: Client[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const client = new Client({ name: `legacy-sse-${i}`, version: "1.0.0" });
      const fetchImpl = fetchFrom(`127.0.0.${i + 2}`);
      await client.connect(new SSEClientTransport(new URL(`${fleet.url}/sse`), { fetch: fetchImpl }));
      clients.push(client);
    }
    const streamsBy = await Promise.all(fleet.replicas.map((replica) => openStreams(replica.port)));
    const tally = newTally();
    for (let round = 0; round < CALLS_EACH; round++) {
      await Promise.all(clients.map((client, i) => callEcho(client, tally, `s${i}r${round}`)));
    }
    await Promise.all(clients.map((client) => client.close()));
    console.log(
      `legacy SSE through haproxy: ${CLIENTS} clients, open streams per replica [${streamsBy.join(" ")}], ` +
        `${tally.calls} calls, ${tally.failures.length} failed`,
    );
    assert.equal(
      streamsBy.reduce((a, b) => a + b, 0),
      CLIENTS,
      "each client's stream is open on one replica",
    );
    assert.ok(streamsBy.filter((n) => n > 0).length > 1, `streams spread over more than one replica [${streamsBy}]`);
    assert.deepEqual(tally.failures.slice(0, 5), [], `${tally.failures.length} failed; haproxy: ${fleet.log()}`);
    assert.equal(tally.calls, CLIENTS * CALLS_EACH);
  });
});
