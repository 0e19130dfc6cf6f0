// A sign-in pending in this process whose callback another replica completed (it stored the tokens): this process
// ends it too once the store tells of the write, but only for tokens that cover its scope and were obtained after it
// started. UpstreamAuth over an in-memory store that notifies writes (as the shared ones do), the fake AS of
// support/fake-oauth.ts; "another replica" is a write to the store from the test.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import type { RecordKind, RecordTypes, StoreChange, WriteOptions } from "../../src/store/token-store.ts";
import { closeAll, harness, tokensRecord } from "./support/fake-oauth.ts";

after(closeAll);

/** A memory store that tells its watchers of every write, as Redis pub/sub and Postgres LISTEN do. */
class NotifyingStore extends MemoryTokenStore {
  readonly #listeners = new Set<(change: StoreChange) => void>();
  watch(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  override async write<K extends RecordKind>(key: string, kind: K, value: RecordTypes[K], options?: WriteOptions) {
    const revision = await super.write(key, kind, value, options);
    for (const listener of this.#listeners) listener({ key, kind });
    return revision;
  }
}

/** Tokens as another replica's completed sign-in stores them. */
function signedInElsewhere(scope: string | undefined, obtainedAt = Date.now()) {
  const record = tokensRecord("at-from-replica-2", Date.now() + 3_600_000);
  return { ...record, obtained_at: obtainedAt, ...(scope ? { requested_scope: scope } : {}) };
}

async function settledSoon(promise: Promise<void>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => {},
  );
  for (let i = 0; i < 40 && !settled; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  return settled;
}

test("tokens stored elsewhere for the pending sign-in's scope end it here: its waiters go on with them", async () => {
  const store = new NotifyingStore();
  const h = harness({ store });
  await h.auth.getAccessToken(); // loaded: nothing stored yet
  const handle = await h.auth.startSignIn({ scope: "mcp:read" });
  assert.ok(h.auth.pendingSignIn());
  await store.write(h.auth.storeKey, "tokens", signedInElsewhere("mcp:read mcp:write"));
  assert.equal(await settledSoon(handle.completed), true, "the sign-in completed");
  assert.equal(h.auth.pendingSignIn(), undefined, "no longer pending here");
  assert.equal(await h.auth.getAccessToken(), "at-from-replica-2");
});

test("tokens that do not cover the pending sign-in's scope leave it pending (a step-up still waits)", async () => {
  const store = new NotifyingStore();
  const h = harness({ store });
  await h.auth.getAccessToken();
  const handle = await h.auth.startSignIn({ scope: "mcp:admin" });
  await store.write(h.auth.storeKey, "tokens", signedInElsewhere("mcp:read"));
  assert.equal(await settledSoon(handle.completed), false);
  assert.equal(h.auth.pendingSignIn()?.url, handle.url);
});

test("tokens obtained before the sign-in started (a refresh elsewhere of an older grant) leave it pending", async () => {
  const store = new NotifyingStore();
  const h = harness({ store });
  await h.auth.getAccessToken();
  const handle = await h.auth.startSignIn({ scope: "mcp:read" });
  await store.write(h.auth.storeKey, "tokens", signedInElsewhere("mcp:read", handle.startedAt - 60_000));
  assert.equal(await settledSoon(handle.completed), false);
  assert.equal(h.auth.pendingSignIn()?.url, handle.url);
});
