// A refresh whose answer cannot be stored (the shared store went away between the AS's answer and the write): the
// new tokens stay in use and are written back when the store answers again, and another process that finds the
// refresh's mark on the record waits for that write instead of spending the rotated refresh token a second time.
// Two Refreshers with different holder ids on one in-memory store stand for two replicas; the store has an outage
// switch; the AS is the fake of support/fake-oauth.ts (an injected fetch).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ClientRegistry } from "../../src/auth/client-registry.ts";
import { DiscoveryCache } from "../../src/auth/discovery-cache.ts";
import { issuerCheck } from "../../src/auth/issuer-check.ts";
import { Refresher } from "../../src/auth/refresher.ts";
import { TokenKeeper } from "../../src/auth/token-keeper.ts";
import { ProxyError } from "../../src/lib/errors.ts";
import type { Logger } from "../../src/lib/logger.ts";
import { silentLogger } from "../../src/lib/logger.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import type { RecordKind, RecordTypes, WriteOptions } from "../../src/store/token-store.ts";
import { closeAll, type FakeOAuth, harness, MCP_URL, seedSignedIn, upstreamOf } from "./support/fake-oauth.ts";

after(closeAll);

/** A memory store that fails every read and write while `down`, as a shared store does while its server is away. */
class FlakyStore extends MemoryTokenStore {
  down = false;
  #check(): void {
    if (this.down) throw new ProxyError("STORE_ERROR", "The Redis token store redis://127.0.0.1:1 is unreachable.");
  }
  override async read<K extends RecordKind>(key: string, kind: K) {
    this.#check();
    return super.read(key, kind);
  }
  override async write<K extends RecordKind>(key: string, kind: K, value: RecordTypes[K], options?: WriteOptions) {
    this.#check();
    return super.write(key, kind, value, options);
  }
}

/** One replica's refresher and keeper for the grant in `store`. */
async function replica(
  store: FlakyStore,
  key: string,
  network: FakeOAuth,
  holder: string,
  foreignRefreshWaitMs = 5000,
) {
  const warnings: string[] = [];
  const log: Logger = {
    level: "debug",
    debug: () => {},
    info: () => {},
    warn: (message: string) => void warnings.push(message),
    error: () => {},
  };
  const keeper = new TokenKeeper(store, key, MCP_URL, () => {}, Date.now, log);
  await keeper.load();
  // Late-bound, so storeFailsAfterNextRefresh can wrap it after the replica is made.
  const fetchFn: FakeOAuth["fetchFn"] = (input, init) => network.fetchFn(input, init);
  const refresher = new Refresher({
    store,
    keeper,
    clients: new ClientRegistry(store, key, MCP_URL, upstreamOf()),
    discovery: new DiscoveryCache(
      store,
      key,
      MCP_URL,
      fetchFn,
      Date.now,
      issuerCheck({ serverUrl: MCP_URL, log: silentLogger }),
    ),
    fetchFn,
    serverUrl: MCP_URL,
    sendResource: true,
    resourceMetadataUrl: () => undefined,
    holder,
    foreignRefreshWaitMs,
    log,
    backoff: async () => {},
  });
  return { keeper, refresher, warnings };
}

async function signedIn() {
  const store = new FlakyStore();
  const h = harness({ store });
  await seedSignedIn(h, { clientId: "client-known", expiresAt: Date.now() + 1000 });
  h.network.clients.add("client-known");
  return { store, key: h.auth.storeKey, network: h.network };
}

/** Fails the store right after the AS answers the next refresh, before the refresher can store the answer. */
function storeFailsAfterNextRefresh(store: FlakyStore, network: FakeOAuth): void {
  const fetchFn = network.fetchFn;
  network.fetchFn = async (input, init) => {
    const response = await fetchFn(input, init);
    if (String(input instanceof Request ? input.url : input).endsWith("/token")) {
      network.fetchFn = fetchFn;
      store.down = true;
    }
    return response;
  };
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting for: ${what}`);
}

test("tokens the store could not take are used, and written back (the mark cleared) when it answers again", async () => {
  const { store, key, network } = await signedIn();
  const a = await replica(store, key, network, "replica-a");
  const old = (await store.read(key, "tokens"))?.tokens;
  storeFailsAfterNextRefresh(store, network);
  assert.equal(await a.refresher.refresh(), "refreshed");
  const fresh = a.keeper.bearerToken;
  assert.match(fresh ?? "", /^at-refresh_token-/);
  assert.notEqual(fresh, old?.access_token);
  assert.ok(a.keeper.hasUnsaved);
  assert.match(a.warnings.join("\n"), /Could not store the refreshed tokens .* storing them when the store answers/);

  store.down = false;
  await until(async () => !a.keeper.hasUnsaved, "the write-back");
  const stored = await store.read(key, "tokens");
  assert.equal(stored?.tokens.access_token, fresh);
  assert.notEqual(stored?.tokens.refresh_token, old?.refresh_token, "the rotated refresh token is stored");
  assert.equal(stored?.refreshing_by, undefined, "the mark is gone");
  assert.equal(network.tokenRequests.refresh_token, 1);
});

test("another replica that finds the mark waits for the write-back and adopts it: the refresh token is spent once", async () => {
  const { store, key, network } = await signedIn();
  const a = await replica(store, key, network, "replica-a");
  const b = await replica(store, key, network, "replica-b");
  storeFailsAfterNextRefresh(store, network);
  assert.equal(await a.refresher.refresh(), "refreshed");
  store.down = false;
  assert.equal((await store.read(key, "tokens"))?.refreshing_by, "replica-a", "a's mark is on the old tokens");
  // b asks while a's write-back is still due: it finds a's mark on the old tokens and waits.
  const fromB = b.refresher.refresh();
  assert.equal(await fromB, "replaced");
  assert.equal(b.keeper.bearerToken, a.keeper.bearerToken);
  assert.equal(network.tokenRequests.refresh_token, 1, "no second refresh at the AS");
});

test("a mark whose holder never writes back (it died) delays the next refresh once, then it refreshes", async () => {
  const { store, key, network } = await signedIn();
  const b = await replica(store, key, network, "replica-b", 400);
  const stored = await store.read(key, "tokens");
  assert.ok(stored);
  const { revision, ...record } = stored;
  await store.write(key, "tokens", { ...record, refreshing_by: "replica-gone", refreshing_since: Date.now() });
  assert.equal(await b.refresher.refresh(), "refreshed");
  assert.equal(network.tokenRequests.refresh_token, 1);
  assert.match(b.warnings.join("\n"), /Another process started refreshing .* never stored the result; refreshing here/);
  assert.equal((await store.read(key, "tokens"))?.refreshing_by, undefined);
  assert.ok(revision > 0);
});

test("a refresh that fails at the AS takes its mark off again, so nobody waits for it", async () => {
  const { store, key, network } = await signedIn();
  const a = await replica(store, key, network, "replica-a");
  network.failRefresh(1, 400, "invalid_request");
  await assert.rejects(a.refresher.refresh());
  const stored = await store.read(key, "tokens");
  assert.ok(stored, "the tokens are kept");
  assert.equal(stored.refreshing_by, undefined);
  assert.equal(stored.refreshing_since, undefined);
});

test("the refresher's own mark (this process) is not waited for", async () => {
  const { store, key, network } = await signedIn();
  const a = await replica(store, key, network, "replica-a", 60_000);
  const stored = await store.read(key, "tokens");
  assert.ok(stored);
  const { revision: _revision, ...record } = stored;
  await store.write(key, "tokens", { ...record, refreshing_by: "replica-a", refreshing_since: Date.now() });
  assert.equal(await a.refresher.refresh(), "refreshed");
  assert.deepEqual(a.warnings, []);
});
