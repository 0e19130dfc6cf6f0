// Two people through three `serve` replicas (dist/main.js) on one shared store (Redis and PostgreSQL side by side)
// behind a real haproxy, in each identity mode one after the other (support/fleet-identities.ts: `header:X-User`
// with the front's shared secret, `databricks-apps` behind the Apps proxy stand-in, `jwt:` with a signing front).
// Each person signs in as themselves at the test AS in a scripted browser, so a sign-in started on one replica may
// come back through another. Then each person's calls, through haproxy (sessions spread round-robin) and to each
// replica on its own, see their own subject at the upstream, never the other's; a session of one used as the other
// is refused.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { sharedServersMissing, startPostgres, startRedis, type TestServer } from "../support/store-servers.ts";
import { type Entrances, FLEET_IDENTITIES, FLEET_USERS, type IdentitySetup } from "./support/fleet-identities.ts";
import type { FrontUser } from "./support/identity-front.ts";
import { type Fleet, haproxyMissing, startFleet } from "./support/replica-fleet.ts";

/** Sessions per person through haproxy: round-robin spreads them over the three replicas. */
const SESSIONS = 6;

const backends = [
  { name: "Redis", skip: sharedServersMissing("redis") ?? haproxyMissing(), start: startRedis },
  { name: "PostgreSQL", skip: sharedServersMissing("postgres") ?? haproxyMissing(), start: startPostgres },
];

async function connect(
  base: string,
  headers: Record<string, string>,
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: "two-users", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers } });
  await client.connect(transport);
  return { client, transport };
}

async function whoami(client: Client): Promise<string | undefined> {
  const result = (await client.callTool({ name: "whoami", arguments: {} })) as { content: { text: string }[] };
  return (JSON.parse(result.content[0]?.text ?? "{}") as { sub?: string }).sub;
}

describe("two users through three replicas behind haproxy", { concurrency: false }, () => {
  for (const identity of FLEET_IDENTITIES) {
    describe(identity.name, { concurrency: true }, () => {
      for (const backend of backends) {
        describe(`on ${backend.name}`, { skip: backend.skip ?? false, concurrency: false }, () => {
          let as: TestAuthServer;
          let mcp: TestMcpServer;
          let server: TestServer;
          let fleet: Fleet;
          let setup: IdentitySetup;
          let entrances: Entrances;
          const clients: Client[] = [];
          before(async () => {
            [as, server] = await Promise.all([startAuthServer(), backend.start()]);
            mcp = await startMcpServer({ authServer: as, transport: "streamable-stateful" });
            setup = await identity.start();
            fleet = await startFleet(mcp.url, server.url, { args: setup.serveArgs, env: setup.env });
            entrances = await setup.open(fleet);
          });
          after(async () => {
            await Promise.all(clients.map((client) => client.close().catch(() => {})));
            await entrances?.close();
            await fleet?.close();
            await setup?.close();
            await mcp?.close();
            await as?.close();
            await server?.close();
          });

          test("each signs in as themselves; whoami through any replica is their own subject, never the other's", async () => {
            const { shared } = entrances;
            for (const user of FLEET_USERS) {
              // Not signed in yet: initialize through haproxy fails with the sign-in URL (-32050).
              const refused = await connect(shared, entrances.headers(user)).then(
                () => assert.fail(`${user.login} is not signed in yet, initialize must fail`),
                (failure: unknown) => failure as { code?: number; message?: string; data?: { signInUrl?: string } },
              );
              assert.equal(refused.code, -32050, String(refused.message));
              const url = refused.data?.signInUrl ?? "";
              assert.equal(new URL(url).searchParams.get("redirect_uri"), `${shared}/oauth/callback`);
              const result = await completeLoginInBrowser(url, {
                login: user.login,
                headersFor: (target) => (target.origin === shared ? entrances.headers(user) : undefined),
                isCallback: (target) => target.origin === shared && target.pathname === "/oauth/callback",
              });
              assert.equal(result.callbackStatus, 200, `${user.login}'s callback through haproxy`);
            }
            assert.deepEqual(
              as.stats.tokenGrants.filter((grant) => grant.grantType === "authorization_code").map((g) => g.accountId),
              FLEET_USERS.map((user) => user.login),
              "one code exchange per person, each for their own account",
            );

            // Through haproxy: sessions spread round-robin, each call sees the caller's own subject.
            const seen: Record<string, string[]> = { alice: [], bob: [] };
            const sessions: Record<string, StreamableHTTPClientTransport[]> = { alice: [], bob: [] };
            for (let i = 0; i < SESSIONS; i++) {
              for (const user of FLEET_USERS) {
                const { client, transport } = await connect(shared, entrances.headers(user));
                clients.push(client);
                sessions[user.login]?.push(transport);
                seen[user.login]?.push((await whoami(client)) ?? "none");
              }
            }
            // Straight to each replica too: every one of the three serves both, each as themselves.
            for (const entrance of entrances.perReplica) {
              for (const user of FLEET_USERS) {
                const { client } = await connect(entrance, entrances.headers(user));
                clients.push(client);
                seen[user.login]?.push((await whoami(client)) ?? "none");
              }
            }
            const total = SESSIONS + fleet.replicas.length;
            assert.deepEqual(seen, { alice: Array(total).fill("alice"), bob: Array(total).fill("bob") });

            // Bob on alice's session (haproxy sends it to alice's replica by its Mcp-Session-Id): refused.
            const [alice, bob] = FLEET_USERS as [FrontUser, FrontUser];
            const stolen = await fetch(`${shared}/mcp`, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                accept: "application/json, text/event-stream",
                "mcp-session-id": sessions[alice.login]?.[0]?.sessionId ?? "",
                "mcp-protocol-version": "2025-06-18",
                ...entrances.headers(bob),
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
              for (const secret of entrances.secrets) {
                assert.ok(!replica.stderr().includes(secret), `${replica.name} never prints the front's secrets`);
              }
            }
            console.log(
              `two users, ${identity.name}, on ${backend.name}: ${SESSIONS} sessions each through haproxy and one ` +
                `straight to each of 3 replicas; alice saw ${seen.alice?.join(",")}; bob saw ${seen.bob?.join(",")}; ` +
                `bob on alice's session: HTTP ${stolen.status}`,
            );
          });
        });
      }
    });
  }
});
