// Every outcome of Refresher.refresh, with a real TokenKeeper, ClientRegistry and DiscoveryCache on a MemoryTokenStore
// and the fake authorization server of support/fake-oauth.ts (an injected fetch). The fenced write (a record written
// during the refresh wins) is in refresher-fenced-write.test.ts.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ClientRegistry } from "../../src/auth/client-registry.ts";
import { DiscoveryCache } from "../../src/auth/discovery-cache.ts";
import { issuerCheck } from "../../src/auth/issuer-check.ts";
import { Refresher, type RefreshResult, TRANSIENT_RETRIES } from "../../src/auth/refresher.ts";
import { TokenKeeper } from "../../src/auth/token-keeper.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { silentLogger } from "../../src/lib/logger.ts";
import {
  AS_METADATA,
  closeAll,
  type FakeOAuth,
  harness,
  ISSUER,
  MCP_URL,
  seedSignedIn,
  tokensRecord,
  upstreamOf,
} from "./support/fake-oauth.ts";

after(closeAll);

const HOUR = 3_600_000;

/** A signed-in grant (client known to the AS) whose token expires at `expiresAt`, and a Refresher for it. */
async function setup({
  expiresAt = Date.now() + 30_000,
  fetchFn,
  issuersFor = MCP_URL,
}: {
  expiresAt?: number;
  fetchFn?: FakeOAuth["fetchFn"];
  /** The upstream URL whose issuer exceptions apply (issuer-check.ts). */
  issuersFor?: string;
} = {}) {
  const h = harness();
  await seedSignedIn(h, { clientId: "client-known", expiresAt });
  h.network.clients.add("client-known");
  const { store } = h;
  const key = h.auth.storeKey;
  const keeper = new TokenKeeper(store, key, MCP_URL, () => {});
  await keeper.load();
  const outcomes: Array<RefreshResult | "failed"> = [];
  const backoffs: number[] = [];
  const fetch = fetchFn ?? h.network.fetchFn;
  const refresher = new Refresher({
    store,
    keeper,
    clients: new ClientRegistry(store, key, MCP_URL, upstreamOf()),
    discovery: new DiscoveryCache(
      store,
      key,
      MCP_URL,
      fetch,
      Date.now,
      issuerCheck({ serverUrl: issuersFor, log: silentLogger }),
    ),
    fetchFn: fetch,
    serverUrl: MCP_URL,
    sendResource: true,
    resourceMetadataUrl: () => undefined,
    onOutcome: (outcome) => void outcomes.push(outcome),
    backoff: async (attempt) => void backoffs.push(attempt),
  });
  const stored = async () => (await store.read(key, "tokens"))?.tokens;
  return { h, keeper, refresher, outcomes, backoffs, stored, grants: () => h.network.tokenRequests.refresh_token ?? 0 };
}

test("concurrent refreshes share one request to the authorization server", async () => {
  const s = await setup();
  const results = await Promise.all([s.refresher.refresh(), s.refresher.refresh(), s.refresher.refresh()]);
  assert.deepEqual(results, ["refreshed", "refreshed", "refreshed"]);
  assert.equal(s.grants(), 1);
  assert.match(s.keeper.bearerToken ?? "", /^at-refresh_token-/);
  assert.deepEqual(s.outcomes, ["refreshed"]);
});

test("newer tokens in the store (another process refreshed) are used without a request", async () => {
  const s = await setup();
  await s.h.store.write(s.h.auth.storeKey, "tokens", tokensRecord("at-other-process", Date.now() + HOUR));
  assert.equal(await s.refresher.refresh(), "replaced");
  assert.equal(s.keeper.bearerToken, "at-other-process");
  assert.equal(s.grants(), 0);
});

test("a token far from expiry is kept unless the refresh is forced or rediscovers", async () => {
  const s = await setup({ expiresAt: Date.now() + HOUR });
  assert.equal(await s.refresher.refresh(), "replaced");
  assert.equal(s.grants(), 0);
  assert.equal(await s.refresher.refresh({ force: true }), "refreshed");
  assert.equal(await s.refresher.refresh({ rediscover: true }), "refreshed");
  assert.equal(s.grants(), 2);
});

test("nothing to refresh with: no tokens, or tokens without a refresh token", async () => {
  const s = await setup();
  const record = tokensRecord("at-no-rt", Date.now() + 30_000);
  delete record.tokens.refresh_token;
  await s.h.store.write(s.h.auth.storeKey, "tokens", record);
  await s.keeper.reload();
  assert.equal(await s.refresher.refresh({ force: true }), "no-refresh-token");
  await s.keeper.forget();
  assert.equal(await s.refresher.refresh({ force: true }), "no-refresh-token");
  assert.equal(s.grants(), 0);
});

test("a resource that moved to another authorization server: invalid-grant, tokens removed, nothing sent", async () => {
  const s = await setup();
  const client = await s.h.store.read(s.h.auth.storeKey, "client_info");
  assert.ok(client);
  await s.h.store.write(s.h.auth.storeKey, "client_info", { ...client, issuer: "https://old-as.example.com" });
  assert.equal(await s.refresher.refresh({ force: true }), "invalid-grant");
  assert.equal(await s.stored(), undefined);
  assert.equal(s.grants(), 0, "the refresh token never goes to another server");
});

test("a server that alternates between two issuer names (Slack) keeps its grant; without the exception it is a move", async () => {
  for (const [issuersFor, expected] of [
    ["https://mcp.slack.com/mcp", "refreshed"],
    [MCP_URL, "invalid-grant"],
  ] as const) {
    const s = await setup({ issuersFor });
    const key = s.h.auth.storeKey;
    // Signed in while the metadata named https://slack.com; it now names its own URL (the fake endpoints stay).
    const client = await s.h.store.read(key, "client_info");
    await s.h.store.write(key, "client_info", { ...client!, issuer: "https://slack.com" });
    const discovery = await s.h.store.read(key, "discovery");
    const state = discovery!.state as { authorizationServerMetadata: Record<string, unknown> };
    await s.h.store.write(key, "discovery", {
      ...discovery!,
      state: {
        ...state,
        authorizationServerUrl: "https://mcp.slack.com/",
        authorizationServerMetadata: { ...AS_METADATA, issuer: "https://mcp.slack.com" },
      },
    });
    await s.h.store.write(key, "tokens", {
      ...tokensRecord("at-seeded", Date.now() + 30_000),
      issuer: "https://slack.com",
    });
    await s.keeper.reload();
    assert.equal(await s.refresher.refresh({ force: true }), expected, issuersFor);
    assert.equal(s.grants(), expected === "refreshed" ? 1 : 0, issuersFor);
  }
});

test("invalid_grant: the tokens are removed", async () => {
  const s = await setup();
  s.h.network.failRefresh(1, 400, "invalid_grant");
  assert.equal(await s.refresher.refresh(), "invalid-grant");
  assert.equal(await s.stored(), undefined);
  assert.equal(s.keeper.current, undefined);
});

test("invalid_client: the registration and the tokens are removed", async () => {
  const s = await setup();
  s.h.network.clients.clear();
  assert.equal(await s.refresher.refresh(), "invalid-client");
  assert.equal(await s.stored(), undefined);
  assert.equal(await s.h.store.read(s.h.auth.storeKey, "client_info"), undefined);
});

test(`transient failures are retried ${TRANSIENT_RETRIES} times with a back-off, then the refresh succeeds`, async () => {
  const s = await setup();
  s.h.network.failRefresh(1, 503, "temporarily_unavailable");
  const s2 = await setup();
  s2.h.network.failRefresh(TRANSIENT_RETRIES, "network");
  assert.equal(await s.refresher.refresh(), "refreshed");
  assert.deepEqual(s.backoffs, [0]);
  assert.equal(await s2.refresher.refresh(), "refreshed");
  assert.deepEqual(s2.backoffs, [0, 1]);
  assert.equal(s2.grants(), TRANSIENT_RETRIES + 1);
});

test("past the retries the refresh rejects with a ProxyError and keeps the tokens", async () => {
  for (const [failure, code] of [
    [503, "AS_ERROR"],
    ["network", "NETWORK"],
  ] as const) {
    const s = await setup();
    s.h.network.failRefresh(TRANSIENT_RETRIES + 1, failure, "temporarily_unavailable");
    await assert.rejects(s.refresher.refresh(), (error) => isProxyError(error, code), String(failure));
    assert.equal(s.grants(), TRANSIENT_RETRIES + 1);
    assert.deepEqual(s.backoffs, [0, 1]);
    assert.equal((await s.stored())?.access_token, "at-seeded", "the refresh token may work later");
    assert.deepEqual(s.outcomes, ["failed"]);
  }
});

test("any other refusal rejects at once, without retries, and keeps the tokens", async () => {
  const s = await setup();
  s.h.network.failRefresh(1, 400, "invalid_scope");
  await assert.rejects(s.refresher.refresh(), (error) => isProxyError(error, "AS_ERROR"));
  assert.equal(s.grants(), 1);
  assert.deepEqual(s.backoffs, []);
  assert.ok(await s.stored());
});

test("the refresh token is kept when the answer carries none (RFC 6749 §6)", async () => {
  const plain = await setup();
  const fetchFn: FakeOAuth["fetchFn"] = async (input, init) => {
    const response = await plain.h.network.fetchFn(input, init);
    if (!String(init?.body ?? "").includes("grant_type=refresh_token")) return response;
    const { refresh_token: _dropped, ...rest } = (await response.json()) as Record<string, unknown>;
    return new Response(JSON.stringify(rest), { status: 200, headers: { "content-type": "application/json" } });
  };
  const s = await setup({ fetchFn });
  s.h.network.clients.add("client-known");
  // The custom fetch answers from `plain`'s AS, which knows the same client id.
  assert.equal(await s.refresher.refresh(), "refreshed");
  const stored = await s.stored();
  assert.match(stored?.access_token ?? "", /^at-refresh_token-/);
  assert.equal(stored?.refresh_token, "rt-for-at-seeded");
});

test("onOutcome hears every outcome, once per refresh", async () => {
  const s = await setup({ expiresAt: Date.now() + HOUR });
  await s.refresher.refresh(); // far from expiry: replaced
  await s.refresher.refresh({ force: true });
  s.h.network.failRefresh(1, 400, "invalid_grant");
  await s.refresher.refresh({ force: true });
  await s.refresher.refresh(); // the tokens are gone
  await s.h.store.write(s.h.auth.storeKey, "tokens", tokensRecord("at-signed-in-again", Date.now() + 30_000));
  s.h.network.clients.clear();
  await s.refresher.refresh();
  assert.deepEqual(s.outcomes, ["replaced", "refreshed", "invalid-grant", "no-refresh-token", "invalid-client"]);
});

test("the refresh request carries the resource, except at Microsoft Entra (provider-defaults.ts), which refuses it", async () => {
  const entra = "https://login.microsoftonline.com/2f4a9c1e-0000-4000-8000-000000000001/v2.0";
  for (const issuer of [ISSUER, entra]) {
    const sent: URLSearchParams[] = [];
    const s = await setup({
      fetchFn: async (input, init) => {
        if (String(input).endsWith("/token")) sent.push(new URLSearchParams(String(init?.body ?? "")));
        return s.h.network.fetchFn(input, init);
      },
    });
    const key = s.h.auth.storeKey;
    // The same fake endpoints, under the issuer being tested.
    const client = await s.h.store.read(key, "client_info");
    await s.h.store.write(key, "client_info", { ...client!, issuer });
    const discovery = await s.h.store.read(key, "discovery");
    const state = discovery!.state as { authorizationServerMetadata: Record<string, unknown> };
    await s.h.store.write(key, "discovery", {
      ...discovery!,
      state: { ...state, authorizationServerUrl: issuer, authorizationServerMetadata: { ...AS_METADATA, issuer } },
    });
    await s.h.store.write(key, "tokens", { ...tokensRecord("at-seeded", Date.now() + 30_000), issuer });
    await s.keeper.reload();
    assert.equal(await s.refresher.refresh(), "refreshed", issuer);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.get("resource"), issuer === entra ? null : MCP_URL, issuer);
  }
});
