// TokenKeeper when its store is unreachable (a shared store's outage): a failed first read is not remembered, and a
// re-read after a change notice that fails keeps the tokens held in memory. In-memory store with an outage switch.
import assert from "node:assert/strict";
import { test } from "node:test";
import { TokenKeeper } from "../../src/auth/token-keeper.ts";
import { ProxyError } from "../../src/lib/errors.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import type { RecordKind } from "../../src/store/token-store.ts";
import { tokensRecord } from "../integration/store-helpers/records.ts";

const KEY = "0123456789abcdef0123456789abcdef";

/** A memory store whose reads fail while `down`, as a shared store's do while its server is unreachable. */
class FlakyStore extends MemoryTokenStore {
  down = false;
  override async read<K extends RecordKind>(key: string, kind: K) {
    if (this.down) throw new ProxyError("STORE_ERROR", "The Redis token store redis://127.0.0.1:1 is unreachable.");
    return super.read(key, kind);
  }
}

test("a first read that failed is tried again by the next load()", async () => {
  const store = new FlakyStore();
  await store.write(KEY, "tokens", tokensRecord("held"));
  const keeper = new TokenKeeper(store, KEY, "https://mcp.example.com/mcp", () => {});
  store.down = true;
  await assert.rejects(keeper.load(), /unreachable/);
  store.down = false;
  await keeper.load();
  assert.equal(keeper.bearerToken, "held");
});

test("a change noticed while the store is down keeps the tokens in memory, and is read once it is back", async () => {
  const store = new FlakyStore();
  await store.write(KEY, "tokens", tokensRecord("first"));
  let changes = 0;
  const keeper = new TokenKeeper(store, KEY, "https://mcp.example.com/mcp", () => changes++);
  await keeper.load();
  // Another process writes (the stamp changes), then the store goes down before this one re-reads.
  await store.write(KEY, "tokens", tokensRecord("second"));
  store.down = true;
  await keeper.noticeStoreChange();
  assert.equal(keeper.bearerToken, "first", "still serving what it holds");
  assert.equal(changes, 0);
  store.down = false;
  await keeper.noticeStoreChange();
  assert.equal(keeper.bearerToken, "second", "the change is picked up once the store answers");
  assert.equal(changes, 1);
});
