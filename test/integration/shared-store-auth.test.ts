// The auth core on a shared store (real Redis and PostgreSQL servers), as two replicas of one upstream: a refresh by
// one reaches the other through the store's notifications before it makes a request, and a store outage keeps the
// tokens in memory serving while refreshes fail with a clear error, then recover without a restart.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { UpstreamAuth } from "../../src/auth/upstream-auth.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { PostgresTokenStore } from "../../src/store/postgres-store.ts";
import { RedisTokenStore } from "../../src/store/redis-store.ts";
import type { TokenStore } from "../../src/store/token-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { sharedServersMissing, startPostgres, startRedis, type TestServer } from "../support/store-servers.ts";

const backends = [
  {
    name: "Redis",
    skip: sharedServersMissing("redis"),
    start: startRedis,
    open: (url: string): TokenStore => new RedisTokenStore({ url }),
  },
  {
    name: "PostgreSQL",
    skip: sharedServersMissing("postgres"),
    start: startPostgres,
    open: (url: string): TokenStore => new PostgresTokenStore({ url }),
  },
];

/** Waits (bounded) until `check` holds; the bound only turns a hang into a failure, it asserts no timing. */
async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const until = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const backend of backends) {
  describe(`the auth core on ${backend.name}`, { skip: backend.skip ?? false }, () => {
    let as: TestAuthServer;
    let mcp: TestMcpServer;
    let server: TestServer;
    const stores: TokenStore[] = [];
    const replicas: UpstreamAuth[] = [];
    const replica = (callback: "own-listener" | "external") => {
      const store = backend.open(server.url);
      stores.push(store);
      const auth = new UpstreamAuth(
        { url: mcp.url, authorizeParams: {}, headers: {}, sendResource: true },
        {
          authDir: "/nonexistent",
          port: 0,
          callbackHost: "127.0.0.1",
          openBrowser: true,
          debug: false,
          allowInsecureHttp: false,
        },
        { store, callback, printSignInUrl: () => {}, openUrl: async (url) => void completeLoginInBrowser(url) },
      );
      replicas.push(auth);
      return auth;
    };
    before(async () => {
      [as, server] = await Promise.all([startAuthServer({ rotateRefreshToken: true }), backend.start()]);
      mcp = await startMcpServer({ authServer: as, transport: "streamable-stateless" });
    });
    after(async () => {
      await Promise.all(replicas.map((auth) => auth.close()));
      await Promise.all(stores.map((store) => store.close?.()));
      await mcp?.close();
      await as?.close();
      await server?.close();
    });

    test("a refresh on one replica reaches the other without a request; an outage keeps tokens serving, then recovers", async () => {
      const one = replica("own-listener");
      const two = replica("external");
      await one.signIn();
      const first = await one.getAccessToken();
      assert.ok(first);
      assert.equal(await two.getAccessToken(), first, "the other replica reads the shared sign-in");

      let heard = 0;
      two.onStateChange(() => heard++);
      as.resetStats();
      await one.refresh();
      const second = await one.getAccessToken();
      assert.notEqual(second, first);
      // Replica two hears of it through the store's notification and re-reads before any request of its own.
      await eventually(() => heard > 0, "replica two was told of the new tokens");
      assert.equal(await two.getAccessToken(), second);
      assert.equal(as.stats.refreshSuccesses, 1, "one refresh at the AS, not one per replica");

      await server.stop();
      try {
        // Tokens held in memory keep serving on both replicas while the store is down.
        assert.equal(await one.getAccessToken(), second);
        assert.equal(await two.getAccessToken(), second);
        await assert.rejects(one.refresh(), (error: unknown) => {
          assert.ok(isProxyError(error, "STORE_ERROR"), String(error));
          assert.match(error.message, /token store .*127\.0\.0\.1:\d+.* is unreachable/);
          assert.doesNotMatch(error.message, /not-the-password/);
          return true;
        });
        assert.equal(await one.getAccessToken(), second, "a failed refresh loses nothing");
      } finally {
        await server.start();
      }
      // Back: the same replica refreshes again without a restart, and the other one follows.
      await eventually(
        () =>
          one.refresh().then(
            () => true,
            () => false,
          ),
        "a refresh works again",
      );
      const third = await one.getAccessToken();
      assert.notEqual(third, second);
      await eventually(async () => (await two.getAccessToken()) === third, "replica two uses the newest tokens");
      assert.equal(as.stats.invalidGrants, 0);
    });
  });
}
