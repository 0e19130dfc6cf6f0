// Two people through three `serve --identity header:X-User` replicas (dist/main.js) on one shared store (Redis and
// PostgreSQL side by side) behind a real haproxy. The test plays the identity-aware front: every request it sends
// through haproxy carries X-User (who is calling) and the front's shared secret (--api-key). Each person signs in
// as themselves at the test AS in a scripted browser, with one --public-url (haproxy's), so a sign-in started on
// one replica may come back through another. Then each person's calls, through haproxy (sessions spread
// round-robin) and straight to each replica, see their own subject at the upstream, never the other's; a session
// of one used with the other's header is refused.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { sharedServersMissing, startPostgres, startRedis, type TestServer } from "../support/store-servers.ts";
import { type Fleet, haproxyMissing, startFleet } from "./support/replica-fleet.ts";

const HEADER = "X-User";
const FRONT_SECRET = "front-shared-secret-for-the-two-users-test";
const USERS = ["alice", "bob"] as const;
/** Sessions per person through haproxy: round-robin spreads them over the three replicas. */
const SESSIONS = 6;

const backends = [
  { name: "Redis", skip: sharedServersMissing("redis") ?? haproxyMissing(), start: startRedis },
  { name: "PostgreSQL", skip: sharedServersMissing("postgres") ?? haproxyMissing(), start: startPostgres },
];

/** What the front adds to every request of `user`'s. */
const fromFront = (user: string) => ({ [HEADER]: `${user}@example.test`, "x-api-key": FRONT_SECRET });

async function connect(
  base: string,
  user: string,
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: `two-users-${user}`, version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    requestInit: { headers: fromFront(user) },
  });
  await client.connect(transport);
  return { client, transport };
}

async function whoami(client: Client): Promise<string | undefined> {
  const result = (await client.callTool({ name: "whoami", arguments: {} })) as { content: { text: string }[] };
  return (JSON.parse(result.content[0]?.text ?? "{}") as { sub?: string }).sub;
}

describe("two users through three replicas behind haproxy", { concurrency: true }, () => {
  for (const backend of backends) {
    describe(`on ${backend.name}`, { skip: backend.skip ?? false, concurrency: false }, () => {
      let as: TestAuthServer;
      let mcp: TestMcpServer;
      let server: TestServer;
      let fleet: Fleet;
      const clients: Client[] = [];
      before(async () => {
        [as, server] = await Promise.all([startAuthServer(), backend.start()]);
        mcp = await startMcpServer({ authServer: as, transport: "streamable-stateful" });
        fleet = await startFleet(mcp.url, server.url, {
          args: (front) => ["--identity", `header:${HEADER}`, "--public-url", front, "--no-browser"],
          env: { MCP_PROXY_API_KEY: FRONT_SECRET },
        });
      });
      after(async () => {
        await Promise.all(clients.map((client) => client.close().catch(() => {})));
        await fleet?.close();
        await mcp?.close();
        await as?.close();
        await server?.close();
      });

      test("each signs in as themselves; whoami through any replica is their own subject, never the other's", async () => {
        for (const user of USERS) {
          // Not signed in yet: initialize through haproxy fails with the sign-in URL (-32050).
          const refused = await connect(fleet.url, user).then(
            () => assert.fail(`${user} is not signed in yet, initialize must fail`),
            (failure: unknown) => failure as { code?: number; message?: string; data?: { signInUrl?: string } },
          );
          assert.equal(refused.code, -32050, String(refused.message));
          const url = refused.data?.signInUrl ?? "";
          assert.equal(new URL(url).searchParams.get("redirect_uri"), `${fleet.url}/oauth/callback`);
          const result = await completeLoginInBrowser(url, {
            login: user,
            headersFor: (target) => (target.origin === fleet.url ? fromFront(user) : undefined),
            isCallback: (target) => target.origin === fleet.url && target.pathname === "/oauth/callback",
          });
          assert.equal(result.callbackStatus, 200, `${user}'s callback through haproxy`);
        }
        assert.deepEqual(
          as.stats.tokenGrants.filter((grant) => grant.grantType === "authorization_code").map((g) => g.accountId),
          [...USERS],
          "one code exchange per person, each for their own account",
        );

        // Through haproxy: sessions spread round-robin, each call sees the caller's own subject.
        const seen: Record<string, string[]> = { alice: [], bob: [] };
        const sessions: Record<string, StreamableHTTPClientTransport[]> = { alice: [], bob: [] };
        for (let i = 0; i < SESSIONS; i++) {
          for (const user of USERS) {
            const { client, transport } = await connect(fleet.url, user);
            clients.push(client);
            sessions[user]?.push(transport);
            seen[user]?.push((await whoami(client)) ?? "none");
          }
        }
        // Straight to each replica too: every one of the three serves both, each as themselves.
        for (const replica of fleet.replicas) {
          for (const user of USERS) {
            const { client } = await connect(`http://127.0.0.1:${replica.port}`, user);
            clients.push(client);
            seen[user]?.push((await whoami(client)) ?? "none");
          }
        }
        const total = SESSIONS + fleet.replicas.length;
        assert.deepEqual(seen, { alice: Array(total).fill("alice"), bob: Array(total).fill("bob") });

        // Bob's header on alice's session (haproxy sends it to alice's replica by its Mcp-Session-Id): refused.
        const stolen = await fetch(`${fleet.url}/mcp`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "mcp-session-id": sessions.alice?.[0]?.sessionId ?? "",
            "mcp-protocol-version": "2025-06-18",
            ...fromFront("bob"),
          },
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 1,
            method: "tools/call",
            params: { name: "whoami", arguments: {} },
          }),
        });
        assert.equal(stolen.status, 403, await stolen.text());
        assert.equal(as.stats.tokenRequests.authorization_code, 2, "no further sign-in was needed on any replica");
        for (const replica of fleet.replicas) {
          assert.ok(!replica.stderr().includes(FRONT_SECRET), `${replica.name} never prints the front's secret`);
        }
        console.log(
          `two users on ${backend.name}: ${SESSIONS} sessions each through haproxy and one straight to each of 3 ` +
            `replicas; alice saw ${seen.alice?.join(",")}; bob saw ${seen.bob?.join(",")}; bob on alice's session: ` +
            `HTTP ${stolen.status}`,
        );
      });
    });
  }
});
