// The shared store stopped and started again under load: three `serve` replicas (dist/main.js) behind a real
// haproxy on one Redis store, and three on one PostgreSQL store, side by side. SDK clients call through haproxy all
// along. Right after a refresh the store server is stopped: calls on the access token in memory keep succeeding,
// the next refresh (the token expires while the store is down) fails with STORE_ERROR naming the store (without
// its password) and never reaches the authorization server, and a sign-in started from the status page fails with
// the same error. The server is started again (same port and data) and the replicas, never restarted, recover:
// the next refresh presents the refresh token issued before the outage (nothing lost, no new sign-in), calls
// succeed again, a sign-in can be started again.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { PostgresTokenStore } from "../../src/store/postgres-store.ts";
import { RedisTokenStore } from "../../src/store/redis-store.ts";
import type { TokenStore } from "../../src/store/token-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { sharedServersMissing, startPostgres, startRedis, type TestServer } from "../support/store-servers.ts";
import { type Fleet, haproxyMissing, startFleet } from "./support/replica-fleet.ts";
import { failureText, sdkClient, signInOnce } from "./support/scale-out-load.ts";

/** Long enough that the token refreshed just before the stop stays valid for seconds of calls while it is down. */
const TTL_SECONDS = 10;
const CLIENTS = 6;

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

type Phase = "before" | "stopping" | "down" | "restarting" | "after";

interface Outcome {
  phase: Phase;
  ok: boolean;
  /** The proxy's error code (JSON-RPC `data.proxyError`) of a failed call. */
  proxyError?: string;
  message?: string;
}

async function call(client: Client, phase: Phase, text: string): Promise<Outcome> {
  try {
    const result = await client.callTool({ name: "echo", arguments: { text } }, undefined, { timeout: 15_000 });
    const content = result.content as { type: string; text?: string }[];
    if (result.isError || content[0]?.text !== text) return { phase, ok: false, message: JSON.stringify(result) };
    return { phase, ok: true };
  } catch (error) {
    const data = error instanceof McpError ? (error.data as { proxyError?: string } | undefined) : undefined;
    return {
      phase,
      ok: false,
      message: failureText(error),
      ...(data?.proxyError ? { proxyError: data.proxyError } : {}),
    };
  }
}

async function until(check: () => boolean, what: string, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A POST of the status page's sign-in form through haproxy: the answer's status, Location and body. */
async function startSignIn(fleet: Fleet, csrf: string): Promise<{ status: number; location: string; body: string }> {
  const res = await fetch(`${fleet.url}/oauth/sign-in`, {
    method: "POST",
    redirect: "manual",
    headers: { origin: fleet.url, "content-type": "application/x-www-form-urlencoded" },
    body: `csrf=${encodeURIComponent(csrf)}`,
  });
  return { status: res.status, location: res.headers.get("location") ?? "", body: await res.text() };
}

describe("the shared store restarted under load behind haproxy", { concurrency: true }, () => {
  for (const backend of backends) {
    describe(`on ${backend.name}`, { skip: backend.skip ?? false, concurrency: false }, () => {
      let as: TestAuthServer;
      let mcp: TestMcpServer;
      let server: TestServer;
      let fleet: Fleet;
      before(async () => {
        [as, server] = await Promise.all([
          startAuthServer({ accessTokenTtlSeconds: TTL_SECONDS, rotateRefreshToken: true }),
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

      test("calls on valid tokens go on, refresh and sign-in fail clearly while it is down, recovery after, nothing lost", async () => {
        const pids = fleet.replicas.map((replica) => replica.child.pid);
        const page = await fetch(`${fleet.url}/`);
        const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1];
        assert.ok(csrf, "the status page has a form token");
        const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => sdkClient(fleet, i)));
        const outcomes: Outcome[] = [];
        let phase: Phase = "before";
        let stop = false;
        const load = Promise.all(
          clients.map(async (client, i) => {
            while (!stop) {
              const startedIn = phase;
              const outcome = await call(client, phase, `r${i}`);
              // A call still under way when the store was stopped may have needed it (its replica reading the token
              // another one just refreshed, more likely on a loaded machine): a call "while stopping", not one made
              // with the store up.
              if (startedIn === "before" && phase !== "before") outcome.phase = "stopping";
              outcomes.push(outcome);
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          }),
        );
        const ofPhase = (wanted: Phase) => outcomes.filter((outcome) => outcome.phase === wanted);
        try {
          // A refresh under load with the store up; the store goes down right after it (a fresh token in memory).
          await until(() => as.stats.refreshSuccesses >= 1, "a refresh with the store up");
          const lastIssued = as.stats.tokenGrants.at(-1);
          assert.ok(lastIssued?.issuedRefreshToken && lastIssued.expiresIn);
          const grantsAtStop = as.stats.tokenGrants.length;
          phase = "stopping";
          await server.stop();
          phase = "down";
          // Down until the access token has expired and a call needed a refresh that could not happen.
          const expiry = lastIssued.at + lastIssued.expiresIn * 1000;
          await until(
            () => Date.now() > expiry + 1000 && ofPhase("down").some((outcome) => !outcome.ok),
            "a call failing on the expired token while the store is down",
          );
          const signInWhileDown = await startSignIn(fleet, csrf);
          const grantsWhileDown = as.stats.tokenGrants.length - grantsAtStop;
          phase = "restarting";
          await server.start();
          phase = "after";
          // Recovery without restarting a replica: a refresh at the AS, then every client's call succeeds (each
          // replica reconnects on its own, within its back-off of at most 2 s).
          await until(() => as.stats.tokenGrants.length > grantsAtStop, "a refresh after the restart");
          stop = true;
          await load;
          let round: Outcome[] = [];
          const giveUp = Date.now() + 60_000;
          while (Date.now() < giveUp) {
            round = await Promise.all(clients.map((client, i) => call(client, "after", `w${i}`)));
            outcomes.push(...round);
            if (round.every((outcome) => outcome.ok)) break;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          const final: Outcome[] = [];
          for (let n = 0; n < 3; n++) {
            final.push(...(await Promise.all(clients.map((client, i) => call(client, "after", `f${i}`)))));
          }
          const signInAfter = await startSignIn(fleet, csrf);

          const summary = (wanted: Phase) => {
            const all = ofPhase(wanted);
            return `${all.filter((o) => o.ok).length} ok/${all.filter((o) => !o.ok).length} failed`;
          };
          const downFailure = ofPhase("down").find((outcome) => !outcome.ok);
          console.log(
            `store restart on ${backend.name}: before ${summary("before")}, while stopping ${summary("stopping")}, ` +
              `down ${summary("down")}, restarting ${summary("restarting")}, after ${summary("after")}, final ` +
              `${final.filter((o) => o.ok).length}/${final.length} ok; failure while down: ${downFailure?.proxyError} ` +
              `"${downFailure?.message}"; sign-in while down: HTTP ${signInWhileDown.status}, after: HTTP ` +
              `${signInAfter.status}; ${as.stats.refreshSuccesses} refreshes, ${as.stats.invalidGrants} invalid_grant, ` +
              `${as.stats.reusedRefreshTokens} reused refresh tokens`,
          );

          assert.deepEqual(
            ofPhase("before").filter((outcome) => !outcome.ok),
            [],
            "every call succeeds with the store up",
          );
          // The token in memory keeps serving while the store is down.
          assert.ok(
            ofPhase("down").some((outcome) => outcome.ok),
            "calls on the valid token succeeded while the store was down",
          );
          // Failures while it is down (or coming back) are the store's, said clearly, without the password.
          for (const outcome of outcomes.filter((o) => !o.ok && o.phase !== "before")) {
            assert.equal(outcome.proxyError, "STORE_ERROR", outcome.message);
            assert.match(outcome.message ?? "", /token store .* is unreachable/, outcome.message);
            assert.doesNotMatch(outcome.message ?? "", /not-the-password/);
          }
          assert.equal(grantsWhileDown, 0, "no refresh reached the AS without the lease");
          assert.equal(signInWhileDown.status, 502, signInWhileDown.body);
          assert.match(signInWhileDown.body, /token store .* is unreachable/);
          assert.doesNotMatch(signInWhileDown.body, /not-the-password/);
          // Back: the refresh presents the refresh token issued before the outage; calls and sign-ins work again.
          const firstAfter = as.stats.tokenGrants[grantsAtStop];
          assert.equal(firstAfter?.grantType, "refresh_token");
          assert.equal(firstAfter?.status, 200);
          assert.equal(firstAfter?.presentedRefreshToken, lastIssued.issuedRefreshToken, "the stored grant survived");
          assert.deepEqual(
            final.filter((outcome) => !outcome.ok),
            [],
            "every call succeeds after the restart",
          );
          assert.equal(signInAfter.status, 303, signInAfter.body);
          assert.ok(signInAfter.location.startsWith(as.issuer), signInAfter.location);
          assert.equal(as.stats.tokenRequests.authorization_code, 0, "no new sign-in was needed");
          assert.equal(as.stats.invalidGrants, 0);
          assert.equal(as.stats.reusedRefreshTokens, 0);
          assert.deepEqual(
            fleet.replicas.map((replica) => [replica.child.pid, replica.child.exitCode]),
            pids.map((pid) => [pid, null]),
            "the replicas were never restarted",
          );
        } catch (error) {
          // What the replicas said is what explains a failure here (their store errors, refreshes, sign-ins).
          for (const replica of fleet.replicas)
            console.log(`${replica.name} stderr:\n${replica.stderr().slice(-4000)}`);
          console.log(`haproxy: ${fleet.log().slice(-2000)}`);
          throw error;
        } finally {
          stop = true;
          await load;
          await Promise.all(clients.map((client) => client.close().catch(() => {})));
        }
      });
    });
  }
});
