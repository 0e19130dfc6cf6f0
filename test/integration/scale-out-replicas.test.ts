// Three `serve` replicas (dist/main.js) on one shared store (Redis, then PostgreSQL) behind a real haproxy running
// the shipped configuration, while 5 s access tokens expire and the refresh token rotates. SDK clients keep
// Streamable HTTP sessions (stuck to a replica by Mcp-Session-Id) and a few raw sessionless POSTs go round-robin.
// The authorization server must see one refresh per expiry window for the whole fleet, never a spent refresh token
// (oidc-provider answers a reused one with invalid_grant and revokes the grant, so every later call would fail).
// Then the replica holding the refresh lease is killed (-9) while its refresh is held at the AS: the AS drops that
// request unprocessed, and another replica refreshes once the lease has ended, with the same refresh token.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UpstreamAuth } from "../../src/auth/upstream-auth.ts";
import { PostgresTokenStore } from "../../src/store/postgres-store.ts";
import { RedisTokenStore } from "../../src/store/redis-store.ts";
import type { TokenStore } from "../../src/store/token-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { sharedServersMissing, startPostgres, startRedis, type TestServer } from "../support/store-servers.ts";
import { type Fleet, haproxyMissing, pidOwningLocalPort, startFleet } from "./support/replica-fleet.ts";

const TTL_SECONDS = 5;
/**
 * The proxy refreshes in the last quarter of a short lifetime: one refresh per 3.75 s for the fleet. The AS counts
 * lifetimes in whole seconds, so a gap can be up to ~0.5 s shorter; three replicas on their own would make ~3×.
 */
const REFRESH_EVERY_MS = TTL_SECONDS * 750 - 500;
const DURATION_MS = Number(process.env.SCALE_OUT_DURATION_MS ?? 30_000);
const SDK_CLIENTS = 17;
const RAW_CLIENTS = 3;

const backends = [
  {
    name: "Redis",
    skip: sharedServersMissing("redis") ?? haproxyMissing(),
    start: startRedis,
    open: (url: string): TokenStore => new RedisTokenStore({ url }),
  },
  {
    name: "PostgreSQL",
    skip: sharedServersMissing("postgres") ?? haproxyMissing(),
    start: startPostgres,
    open: (url: string): TokenStore => new PostgresTokenStore({ url }),
  },
];

async function signInOnce(store: TokenStore, mcpUrl: string): Promise<void> {
  const auth = new UpstreamAuth(
    { url: mcpUrl, authorizeParams: {}, headers: {}, sendResource: true },
    {
      authDir: "/nonexistent",
      port: 0,
      callbackHost: "127.0.0.1",
      openBrowser: true,
      debug: false,
      allowInsecureHttp: false,
    },
    {
      store,
      callback: "own-listener",
      printSignInUrl: () => {},
      openUrl: async (url) => void completeLoginInBrowser(url),
    },
  );
  await auth.signIn();
  await auth.close();
  await store.close?.();
}

interface Tally {
  calls: number;
  failures: string[];
}

async function sdkClient(fleet: Fleet, i: number): Promise<Client> {
  const client = new Client({ name: `scale-out-${i}`, version: "1.0.0" });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`)));
  } catch (error) {
    throw new Error(`client ${i} could not connect through haproxy: ${String(error)}\nhaproxy: ${fleet.log()}`);
  }
  return client;
}

async function callEcho(client: Client, tally: Tally, text: string): Promise<void> {
  try {
    const result = await client.callTool({ name: "echo", arguments: { text } });
    const content = result.content as { type: string; text?: string }[];
    if (result.isError || content[0]?.text !== text) tally.failures.push(`bad result ${JSON.stringify(result)}`);
    else tally.calls++;
  } catch (error) {
    tally.failures.push(error instanceof Error ? error.message : String(error));
  }
}

/** A sessionless POST (initialize): no Mcp-Session-Id, so haproxy balances it round-robin. */
async function rawInitialize(frontUrl: string, tally: Tally): Promise<void> {
  try {
    const res = await fetch(`${frontUrl}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
      }),
    });
    const body = await res.text();
    const session = res.headers.get("mcp-session-id");
    if (res.status !== 200 || !body.includes("serverInfo")) tally.failures.push(`raw ${res.status}: ${body}`);
    else tally.calls++;
    // End the session it opened upstream (the DELETE goes to the replica that answered, by the header).
    if (session) {
      const end = await fetch(`${frontUrl}/mcp`, { method: "DELETE", headers: { "mcp-session-id": session } });
      await end.body?.cancel();
    }
  } catch (error) {
    tally.failures.push(`raw: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function loop(until: () => boolean, step: () => Promise<void>): Promise<void> {
  while (!until()) {
    await step();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

for (const backend of backends) {
  describe(`three serve replicas behind haproxy on ${backend.name}`, { skip: backend.skip ?? false }, () => {
    let as: TestAuthServer;
    let mcp: TestMcpServer;
    let server: TestServer;
    let fleet: Fleet;
    /** Set by the kill test: the next token request is handed to it (and dropped when it resolves false). */
    let holdNextTokenRequest: ((req: IncomingMessage) => Promise<boolean>) | undefined;
    before(async () => {
      [as, server] = await Promise.all([
        startAuthServer({
          accessTokenTtlSeconds: TTL_SECONDS,
          rotateRefreshToken: true,
          beforeTokenRequest: async (req) => {
            const hold = holdNextTokenRequest;
            holdNextTokenRequest = undefined;
            return hold ? hold(req) : true;
          },
        }),
        backend.start(),
      ]);
      mcp = await startMcpServer({ authServer: as, transport: "streamable-stateful" });
      await signInOnce(backend.open(server.url), mcp.url);
      fleet = await startFleet(mcp.url, server.url);
      as.resetStats();
    });
    after(async () => {
      await fleet?.close();
      await mcp?.close();
      await as?.close();
      await server?.close();
    });

    test(`${SDK_CLIENTS} SDK clients and ${RAW_CLIENTS} sessionless POSTs for ${DURATION_MS / 1000} s: every call succeeds, one refresh per expiry`, async () => {
      const clients = await Promise.all(Array.from({ length: SDK_CLIENTS }, (_, i) => sdkClient(fleet, i)));
      const tally: Tally = { calls: 0, failures: [] };
      const started = Date.now();
      const refreshTimes: number[] = [];
      const poll = setInterval(() => {
        while (refreshTimes.length < as.stats.refreshSuccesses) refreshTimes.push(Date.now() - started);
      }, 20);
      const done = () => Date.now() - started >= DURATION_MS;
      await Promise.all([
        ...clients.map((client, i) => loop(done, () => callEcho(client, tally, `c${i}`))),
        ...Array.from({ length: RAW_CLIENTS }, () => loop(done, () => rawInitialize(fleet.url, tally))),
      ]);
      clearInterval(poll);
      const elapsed = Date.now() - started;
      await Promise.all(clients.map((client) => client.close()));

      assert.deepEqual(tally.failures.slice(0, 5), [], `${tally.failures.length} failed calls`);
      assert.equal(as.stats.invalidGrants, 0, "no refresh token was spent twice");
      assert.equal(as.stats.refreshFailures, 0);
      assert.equal(as.stats.tokenRequests.refresh_token, as.stats.refreshSuccesses, "every refresh succeeded");
      // Tokens expired during the run, so refreshes happened; three replicas refreshing on their own would make
      // about three times the bound.
      const window = elapsed - (refreshTimes[0] ?? elapsed);
      const maxRefreshes = Math.ceil(window / REFRESH_EVERY_MS) + 1;
      assert.ok(as.stats.refreshSuccesses >= 2, `expiries happened (${as.stats.refreshSuccesses} refreshes)`);
      assert.ok(
        as.stats.refreshSuccesses <= maxRefreshes,
        `${as.stats.refreshSuccesses} refreshes for 3 replicas over ${window} ms; at most ${maxRefreshes} expected`,
      );
      // Every replica served calls (round-robin reached all three) and stayed up.
      for (const replica of fleet.replicas) {
        assert.equal(replica.child.exitCode, null, `${replica.name} is running: ${replica.stderr().slice(-1000)}`);
      }
      console.log(
        `scale-out on ${backend.name}: 3 replicas, ${tally.calls} calls, ${as.stats.refreshSuccesses} refreshes at ` +
          `the AS over ${window} ms (bound ${maxRefreshes}), 0 invalid_grant, 0 failed calls`,
      );
    });

    test("kill -9 of the replica holding the refresh lease mid-refresh: another refreshes after the lease, no token lost", async () => {
      const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => sdkClient(fleet, 100 + i)));
      const start = { ...as.stats, tokenRequests: { ...as.stats.tokenRequests } };
      let killed: { name: string; pid: number } | undefined;
      let dropped = false;
      holdNextTokenRequest = async (req) => {
        const pid = pidOwningLocalPort(req.socket.remotePort ?? 0);
        const replica = fleet.replicas.find((candidate) => candidate.child.pid === pid);
        if (!replica) throw new Error(`token request from pid ${pid}, not a replica`);
        killed = { name: replica.name, pid: replica.child.pid ?? 0 };
        const gone = new Promise<void>((resolve) => req.socket.once("close", () => resolve()));
        replica.child.kill("SIGKILL");
        await gone;
        dropped = true;
        return false;
      };
      // Calls keep going across the expiry: some wait for the lease (or hit the dying replica) and may fail.
      const during: Tally = { calls: 0, failures: [] };
      let stop = false;
      const load = Promise.all(
        clients.map((client, i) =>
          loop(
            () => stop,
            () => callEcho(client, during, `k${i}`),
          ),
        ),
      );
      for (let i = 0; i < 2400 && !(dropped && as.stats.refreshSuccesses > start.refreshSuccesses); i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.ok(killed, "a replica sent a refresh and was killed while the AS held it");
      assert.ok(as.stats.refreshSuccesses > start.refreshSuccesses, "another replica refreshed after the lease");
      // After the replacement refresh, every call through the two replicas left succeeds.
      const afterwards: Tally = { calls: 0, failures: [] };
      for (let round = 0; round < 5; round++) {
        await Promise.all(clients.map((client, i) => callEcho(client, afterwards, `a${i}`)));
      }
      stop = true;
      await load;
      await Promise.all(clients.map((client) => client.close().catch(() => {})));
      assert.deepEqual(afterwards.failures, []);
      assert.equal(afterwards.calls, 5 * clients.length);
      assert.equal(as.stats.invalidGrants, start.invalidGrants, "the dropped refresh token was still good: none lost");
      assert.equal(as.stats.refreshFailures, start.refreshFailures);
      const killedReplica = fleet.replicas.find((replica) => replica.name === killed?.name);
      assert.equal(killedReplica?.child.signalCode, "SIGKILL");
      console.log(
        `kill -9 on ${backend.name}: ${killed?.name} killed mid-refresh; ${as.stats.refreshSuccesses - start.refreshSuccesses} ` +
          `refresh(es) after it, ${during.calls} calls ok and ${during.failures.length} failed while it happened, 0 invalid_grant`,
      );
    });
  });
}
