// `clear` tells the truth: a refused or failed revocation is an outcome with what the AS said (never a token), the
// local records go either way; and a running proxy notices that its tokens were cleared (or replaced) elsewhere.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { HOT_PATH_STORE_CHECK_MS } from "../../src/auth/token-keeper.ts";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { RECORD_KINDS } from "../../src/store/record-schemas.ts";
import type { TokenStore } from "../../src/store/token-store.ts";
import { AS_METADATA, closeAll, fakeOAuth, harness, seedSignedIn, tokensRecord } from "./support/fake-oauth.ts";

const root = mkdtempSync(join(tmpdir(), "u2m-clear-truth-"));
after(async () => {
  await closeAll();
  rmSync(root, { recursive: true, force: true });
});

async function remaining(store: TokenStore, key: string): Promise<string[]> {
  const kinds: string[] = [];
  for (const kind of RECORD_KINDS) if (await store.read(key, kind)) kinds.push(kind);
  return kinds;
}

describe("clear", () => {
  test("a revocation the AS refuses (400) is reported with what it said; the records go anyway", async () => {
    const h = harness();
    await seedSignedIn(h, { expiresAt: Date.parse("2030-01-02T03:04:05Z") });
    h.network.refuseRevocation(400, "invalid_request");
    const outcome = await h.auth.clear();
    assert.equal(outcome.revocation, "failed");
    assert.equal(outcome.revoked, false);
    assert.equal(outcome.hadRecords, true);
    assert.equal(
      outcome.failure,
      "https://as.example.com/revoke: it answered HTTP 400 invalid_request (revocation is unavailable)",
    );
    assert.equal(outcome.expiresAt, "2030-01-02T03:04:05.000Z");
    assert.equal(outcome.clientUnknown, undefined);
    assert.deepEqual(await remaining(h.store, h.auth.storeKey), []);
    assert.doesNotMatch(JSON.stringify(outcome), /at-seeded|rt-for/);
  });

  test("invalid_client at the revocation endpoint is recorded in the outcome", async () => {
    const h = harness();
    await seedSignedIn(h);
    h.network.refuseRevocation(401, "invalid_client");
    const outcome = await h.auth.clear();
    assert.equal(outcome.revocation, "failed");
    assert.equal(outcome.clientUnknown, true);
    assert.match(outcome.failure ?? "", /HTTP 401 invalid_client/);
    assert.deepEqual(await remaining(h.store, h.auth.storeKey), []);
  });

  test("an AS that cannot be reached: failed, with the cause", async () => {
    const network = fakeOAuth();
    const fetchFn = network.fetchFn;
    network.fetchFn = async (input, init) => {
      if (String(input).endsWith("/revoke")) throw new TypeError("fetch failed");
      return fetchFn(input, init);
    };
    const h = harness({ network });
    await seedSignedIn(h);
    const outcome = await h.auth.clear();
    assert.equal(outcome.revocation, "failed");
    assert.match(outcome.failure ?? "", /could not be reached/);
    assert.deepEqual(await remaining(h.store, h.auth.storeKey), []);
  });

  test("revoked; nothing stored; no revocation endpoint; no tokens", async () => {
    const revoked = harness();
    await seedSignedIn(revoked);
    assert.deepEqual(await revoked.auth.clear(), { hadRecords: true, revoked: true, revocation: "revoked" });
    assert.ok(revoked.network.requests.includes("POST https://as.example.com/revoke"));

    const never = harness();
    assert.equal((await never.auth.clear()).hadRecords, false);
    assert.equal(never.network.requests.length, 0, "nothing is sent for a server never signed in");

    const noEndpoint = harness();
    await seedSignedIn(noEndpoint);
    const { revocation_endpoint: _none, ...metadata } = AS_METADATA;
    const discovery = await noEndpoint.store.read(noEndpoint.auth.storeKey, "discovery");
    assert.ok(discovery);
    await noEndpoint.store.write(noEndpoint.auth.storeKey, "discovery", {
      ...discovery,
      state: { ...discovery.state, authorizationServerMetadata: metadata },
    });
    assert.equal((await noEndpoint.auth.clear()).revocation, "unsupported");

    const noTokens = harness();
    await seedSignedIn(noTokens, { tokens: false });
    assert.deepEqual(await noTokens.auth.clear(), { hadRecords: true, revoked: false, revocation: "no-tokens" });
  });
});

describe("a running proxy notices a clear elsewhere", () => {
  for (const [name, create] of [
    ["MemoryTokenStore", () => new MemoryTokenStore()],
    ["FileTokenStore", () => new FileTokenStore({ dir: join(root, `store-${Math.random().toString(36).slice(2)}`) })],
  ] as const) {
    test(`${name}: the next request carries no token after another process cleared it, the new one after a sign-in`, async () => {
      const store = create();
      // Two processes on one token directory: `serve` (running) and the CLI's `clear` / `auth`.
      const serve = harness({ store });
      await seedSignedIn(serve);
      assert.equal(await serve.auth.getAccessToken(), "at-seeded");

      const cli = harness({ store: name === "FileTokenStore" ? create2(store) : store });
      await cli.auth.clear();
      // A request uses the tokens held for up to HOT_PATH_STORE_CHECK_MS before it asks the store again.
      await sleep(HOT_PATH_STORE_CHECK_MS + 5);
      assert.equal(await serve.auth.getAccessToken(), undefined, "the cleared token is not used");
      assert.equal((await serve.auth.status()).signedIn, false);

      await cli.store.write(cli.auth.storeKey, "tokens", tokensRecord("at-new", Date.now() + 3_600_000));
      await sleep(HOT_PATH_STORE_CHECK_MS + 5);
      assert.equal(await serve.auth.getAccessToken(), "at-new");
    });
  }

  test("a record's stamp changes when another store instance writes or removes it, not when it reads", async () => {
    const dir = join(root, "stamps");
    const a = new FileTokenStore({ dir });
    const b = new FileTokenStore({ dir });
    const key = "0123456789abcdef0123456789abcdef";
    assert.equal(await a.stamp(key, "tokens"), "absent");
    await b.write(key, "tokens", tokensRecord("one", Date.now() + 60_000));
    const written = await a.stamp(key, "tokens");
    assert.notEqual(written, "absent");
    await a.read(key, "tokens");
    assert.equal(await a.stamp(key, "tokens"), written);
    await b.write(key, "tokens", tokensRecord("two", Date.now() + 60_000));
    assert.notEqual(await a.stamp(key, "tokens"), written);
    await b.remove(key, "tokens");
    assert.equal(await a.stamp(key, "tokens"), "absent");

    const memory = new MemoryTokenStore();
    assert.equal(await memory.stamp(key, "tokens"), "absent");
    await memory.write(key, "tokens", tokensRecord("one", Date.now() + 60_000));
    const first = await memory.stamp(key, "tokens");
    await memory.write(key, "tokens", tokensRecord("one", Date.now() + 60_000));
    assert.notEqual(await memory.stamp(key, "tokens"), first, "every write is a change");
  });
});

/** A second FileTokenStore on the same directory (another process's view). */
function create2(store: TokenStore): TokenStore {
  return new FileTokenStore({ dir: store.location });
}
