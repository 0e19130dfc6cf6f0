// Three `serve` replicas (dist/main.js) on one shared store (Redis, then PostgreSQL) behind a real
// haproxy running the shipped configuration, while 5 s access tokens expire and the refresh token rotates. 20 SDK
// clients keep Streamable HTTP sessions (stuck to a replica by Mcp-Session-Id) and 3 raw sessionless POST loops go
// round-robin, for 60 s (SCALE_OUT_DURATION_MS). The authorization server must see one refresh per access-token
// expiry for the whole fleet (not one per replica), no invalid_grant and no refresh token presented twice (counted
// at the AS from the refresh tokens each request presented; oidc-provider would also answer a reuse with
// invalid_grant and revoke the grant, so every later call would fail).
// Then the replica holding the refresh lease is killed (-9) while its refresh is held at the AS: the AS drops that
// request unprocessed, and another replica refreshes once the lease has ended, with the same refresh token; no call
// fails after that refresh (only calls in flight at the killed replica may fail).
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { after, before, describe, test } from "node:test";
import { PostgresTokenStore } from "../../src/store/postgres-store.ts";
import { RedisTokenStore } from "../../src/store/redis-store.ts";
import type { TokenStore } from "../../src/store/token-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { sharedServersMissing, startPostgres, startRedis, type TestServer } from "../support/store-servers.ts";
import { type Fleet, haproxyMissing, pidOwningLocalPort, startFleet } from "./support/replica-fleet.ts";
import {
  callEcho,
  countSummary,
  expiryReport,
  loop,
  newTally,
  rawInitialize,
  sdkClient,
  signInOnce,
  type Tally,
} from "./support/scale-out-load.ts";

const TTL_SECONDS = 5;
/**
 * The proxy refreshes in the last quarter of a short lifetime: one refresh per 3.75 s for the fleet. The AS counts
 * lifetimes in whole seconds, so a gap can be up to ~0.5 s shorter; three replicas on their own would make ~3×.
 */
const REFRESH_EVERY_MS = TTL_SECONDS * 750 - 500;
const DURATION_MS = Number(process.env.SCALE_OUT_DURATION_MS ?? 60_000);
const SDK_CLIENTS = 20;
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

// The two backends run one after the other (about 3 min in all): side by side, 46 clients and 6 replicas on a
// 2-core machine that also runs another test file made single calls take longer than the 5 s tokens live.
describe("scale out: three serve replicas behind haproxy", { concurrency: false }, () => {
  for (const backend of backends) {
    // One test after the other within a backend (the kill test must not run during the load test).
    describe(`on ${backend.name}`, { skip: backend.skip ?? false, concurrency: false }, () => {
      let as: TestAuthServer;
      let mcp: TestMcpServer;
      let server: TestServer;
      let fleet: Fleet;
      /** Set by the kill test: the next token request is handed to it (and dropped when it resolves false). */
      let holdNextTokenRequest: ((req: IncomingMessage) => Promise<boolean>) | undefined;
      /** Token requests per replica (found by the request's socket), while `attribute` is on. */
      const tokenRequestsBy = new Map<string, number>();
      let attribute = false;
      before(async () => {
        [as, server] = await Promise.all([
          startAuthServer({
            accessTokenTtlSeconds: TTL_SECONDS,
            rotateRefreshToken: true,
            beforeTokenRequest: async (req) => {
              if (attribute) {
                const pid = pidOwningLocalPort(req.socket.remotePort ?? 0, req.socket.localPort);
                const name = fleet?.replicas.find((replica) => replica.child.pid === pid)?.name ?? `pid ${pid}`;
                tokenRequestsBy.set(name, (tokenRequestsBy.get(name) ?? 0) + 1);
              }
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

      test(`${SDK_CLIENTS} SDK clients and ${RAW_CLIENTS} sessionless POST loops for ${DURATION_MS / 1000} s: every call succeeds, one refresh per expiry, no refresh token reused`, async () => {
        const clients = await Promise.all(Array.from({ length: SDK_CLIENTS }, (_, i) => sdkClient(fleet, i)));
        const tally: Tally = newTally();
        const started = Date.now();
        attribute = true;
        const done = () => Date.now() - started >= DURATION_MS;
        await Promise.all([
          ...clients.map((client, i) => loop(done, () => callEcho(client, tally, `c${i}`))),
          ...Array.from({ length: RAW_CLIENTS }, () => loop(done, () => rawInitialize(fleet.url, tally))),
        ]);
        attribute = false;
        const elapsed = Date.now() - started;
        await Promise.all(clients.map((client) => client.close()));
        const grants = [...as.stats.tokenGrants];
        const report = expiryReport(grants);
        const refreshes = grants.filter((grant) => grant.grantType === "refresh_token");
        const by = [...tokenRequestsBy].map(([name, count]) => `${name} ${count}`).join(", ");
        console.log(
          `scale-out on ${backend.name}: 3 replicas, ${SDK_CLIENTS}+${RAW_CLIENTS} clients, ${tally.calls} calls in ` +
            `${elapsed} ms, ${tally.failures.length} failed; ${as.stats.refreshSuccesses} refreshes at the AS (${by}); ` +
            `refresh requests per refresh token (per expiry) [${report.refreshesPerToken.join(" ")}]; refreshes ` +
            `within each access token's lifetime [${report.refreshesPerLifetime.join(" ")}] ` +
            `(${countSummary(report.refreshesPerLifetime)}); ${as.stats.invalidGrants} invalid_grant, ` +
            `${as.stats.reusedRefreshTokens} reused refresh tokens`,
        );

        assert.deepEqual(
          tally.failures.slice(0, 5),
          [],
          `${tally.failures.length} failed calls; haproxy: ${fleet.log()}`,
        );
        assert.equal(as.stats.invalidGrants, 0, "no invalid_grant");
        assert.equal(as.stats.reusedRefreshTokens, 0, "no refresh token was presented twice");
        assert.equal(as.stats.refreshFailures, 0);
        assert.ok(
          refreshes.every((grant) => grant.status === 200),
          "every refresh succeeded",
        );
        assert.equal(grants.length, refreshes.length, "no sign-in during the run");
        // Tokens expired during the run, so refreshes happened.
        assert.ok(refreshes.length >= 2, `expiries happened (${refreshes.length} refreshes)`);
        // Exactly one refresh per expiry: every refresh token was presented once, but the newest (not yet due).
        assert.deepEqual(
          report.refreshesPerToken,
          [...Array(report.refreshesPerToken.length - 1).fill(1), 0],
          "one refresh request per refresh token (access-token lifetime)",
        );
        // Not one per replica: never two refreshes within one access token's lifetime (a late refresh only ever
        // makes the gaps longer, so a busy machine cannot break this).
        assert.ok(Math.max(...report.refreshesPerLifetime) <= 1, "at most one refresh per access-token lifetime");
        const window = elapsed - ((refreshes[0]?.at ?? started + elapsed) - started);
        const maxRefreshes = Math.ceil(window / REFRESH_EVERY_MS) + 1;
        assert.ok(
          refreshes.length <= maxRefreshes,
          `${refreshes.length} refreshes for 3 replicas over ${window} ms; at most ${maxRefreshes} expected`,
        );
        // Every replica stayed up.
        for (const replica of fleet.replicas) {
          assert.equal(replica.child.exitCode, null, `${replica.name} is running: ${replica.stderr().slice(-1000)}`);
        }
      });

      test("kill -9 of the replica holding the refresh lease mid-refresh: another refreshes after the lease, no token lost", async () => {
        const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => sdkClient(fleet, 100 + i)));
        const start = { ...as.stats, tokenRequests: { ...as.stats.tokenRequests } };
        let killed: { name: string; pid: number; at: number } | undefined;
        let dropped = false;
        holdNextTokenRequest = async (req) => {
          const pid = pidOwningLocalPort(req.socket.remotePort ?? 0, req.socket.localPort);
          const replica = fleet.replicas.find((candidate) => candidate.child.pid === pid);
          if (!replica) throw new Error(`token request from pid ${pid}, not a replica`);
          killed = { name: replica.name, pid: replica.child.pid ?? 0, at: Date.now() };
          const gone = new Promise<void>((resolve) => req.socket.once("close", () => resolve()));
          replica.child.kill("SIGKILL");
          await gone;
          dropped = true;
          return false;
        };
        // Calls keep going across the expiry: some wait for the lease (or hit the dying replica) and may fail.
        const during: Tally = newTally();
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
        const afterwards: Tally = newTally();
        for (let round = 0; round < 5; round++) {
          await Promise.all(clients.map((client, i) => callEcho(client, afterwards, `a${i}`)));
        }
        stop = true;
        await load;
        await Promise.all(clients.map((client) => client.close().catch(() => {})));
        assert.deepEqual(afterwards.failures, []);
        assert.equal(afterwards.calls, 5 * clients.length);
        assert.equal(
          as.stats.invalidGrants,
          start.invalidGrants,
          "the dropped refresh token was still good: none lost",
        );
        assert.equal(as.stats.refreshFailures, start.refreshFailures);
        assert.equal(
          as.stats.reusedRefreshTokens,
          start.reusedRefreshTokens,
          "the replacement refresh was the first use",
        );
        const killedReplica = fleet.replicas.find((replica) => replica.name === killed?.name);
        assert.equal(killedReplica?.child.signalCode, "SIGKILL");
        // The failure window is bounded by events, not by a clock: only calls in flight at the killed replica can
        // fail (haproxy redispatches the refused connections; calls at the other replicas wait for the lease), so
        // no call fails after the replacement refresh was issued.
        const killedAt = killed?.at ?? 0;
        const replacement = as.stats.tokenGrants.find(
          (grant) => grant.grantType === "refresh_token" && grant.status === 200 && grant.at > killedAt,
        );
        assert.ok(replacement, "the replacement refresh is recorded at the AS");
        const late = during.failures.filter((_, i) => (during.failedAt[i] ?? 0) > replacement.at);
        assert.deepEqual(late, [], "no call failed after the replacement refresh");
        const lastFailure = Math.max(killedAt, ...during.failedAt);
        console.log(
          `kill -9 on ${backend.name}: ${killed?.name} killed mid-refresh; ${as.stats.refreshSuccesses - start.refreshSuccesses} ` +
            `refresh(es) after it (the first ${replacement.at - killedAt} ms after the kill), ${during.calls} calls ok and ` +
            `${during.failures.length} failed while it happened (the last ${lastFailure - killedAt} ms after the kill), 0 invalid_grant`,
        );
      });
    });
  }
});
