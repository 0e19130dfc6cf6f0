// The admin view's users from the store: a grant another replica (or an earlier run) wrote is listed and can be
// deleted, though this process never saw its owner. In-memory store; the per-user cores are not exercised here.
// With the upstream's own core (revokeGrant), such a grant is revoked at the (fake) authorization server first.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { PerUserAuth, type UserAuth } from "../../src/server/identity/per-user-auth.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { grantKey } from "../../src/store/store-key.ts";
import { STORE_VERSION } from "../../src/store/token-store.ts";
import { closeAll, harness, seedSignedIn, tokensRecord } from "./support/fake-oauth.ts";

after(closeAll);

const UPSTREAM = "mcp-example-test-0123456789";

async function storeWithGrants(principals: string[]) {
  const store = new MemoryTokenStore();
  for (const [index, principal] of principals.entries()) {
    await store.write(grantKey(UPSTREAM, principal), "tokens", {
      version: STORE_VERSION,
      server_url: "https://mcp.example.test/mcp",
      issuer: "https://as.example.test",
      tokens: {
        access_token: `secret-access-${index}`,
        token_type: "Bearer",
        refresh_token: `secret-refresh-${index}`,
      },
      obtained_at: Date.now(),
      expires_at: Date.now() + 60_000,
      account: `${principal}@example.test`,
    });
  }
  return store;
}

function perUser(store: MemoryTokenStore) {
  return new PerUserAuth({
    serverUrl: "https://mcp.example.test/mcp",
    create: () => assert.fail("no caller in these tests") as unknown as UserAuth,
    store: { store, storeKey: UPSTREAM },
  });
}

describe("PerUserAuth admin view over the store's grants", () => {
  test("lists every stored grant with its account, by grant id, never a token", async () => {
    const store = await storeWithGrants(["databricks-apps:1", "databricks-apps:2"]);
    const states = await perUser(store).userStates();
    assert.equal(states.length, 2);
    const grants = states.map(({ grant }) => grant).sort();
    const expected = ["databricks-apps:1", "databricks-apps:2"]
      .map((principal) => grantKey(UPSTREAM, principal).split(".")[1])
      .sort();
    assert.deepEqual(grants, expected);
    for (const state of states) {
      assert.equal(state.label, undefined);
      assert.equal(state.user, state.grant);
      assert.equal(state.status.signedIn, true);
      assert.equal(state.status.hasRefreshToken, true);
      assert.match(state.status.account ?? "", /@example\.test$/);
    }
    assert.doesNotMatch(JSON.stringify(states), /secret-/);
  });

  test("revoking a stored grant by id deletes that grant only; unknown ids are refused", async () => {
    const store = await storeWithGrants(["databricks-apps:1", "databricks-apps:2"]);
    const auth = perUser(store);
    const target = grantKey(UPSTREAM, "databricks-apps:1");
    const other = grantKey(UPSTREAM, "databricks-apps:2");
    assert.equal(await auth.revokeUser(target.split(".")[1] ?? ""), true);
    assert.equal(await store.read(target, "tokens"), undefined);
    assert.ok(await store.read(other, "tokens"));
    assert.equal(await auth.revokeUser("u0000000000000000"), false);
    assert.equal(await auth.revokeUser("../../etc"), false);
    assert.equal((await auth.userStates()).length, 1);
  });
});

describe("PerUserAuth revoking a stored grant through the upstream's core", () => {
  test("the grant's tokens are revoked at the authorization server, then deleted; the others stay", async () => {
    const h = harness();
    await seedSignedIn(h, { tokens: false });
    const target = grantKey(h.auth.storeKey, "databricks-apps:1");
    const other = grantKey(h.auth.storeKey, "databricks-apps:2");
    await h.store.write(target, "tokens", tokensRecord("at-target", Date.now() + 60_000));
    await h.store.write(other, "tokens", tokensRecord("at-other", Date.now() + 60_000));
    const auth = new PerUserAuth({
      serverUrl: h.auth.serverUrl,
      create: () => assert.fail("no caller in these tests") as unknown as UserAuth,
      store: { store: h.store, storeKey: h.auth.storeKey },
      revokeGrant: (key) => h.auth.clearGrant(key),
    });
    assert.equal(await auth.revokeUser(target.split(".")[1] ?? ""), true);
    assert.ok(h.network.requests.includes("POST https://as.example.com/revoke"), h.network.requests.join(", "));
    assert.equal(await h.store.read(target, "tokens"), undefined);
    assert.ok(await h.store.read(other, "tokens"));
    assert.ok(await h.store.read(h.auth.storeKey, "client_info"), "the upstream's registration stays");
  });
});
