// TokenKeeper's check for another process's write (a `clear`, a sign-in, a refresh elsewhere): one store stamp per
// check, shared by the callers that arrive while it runs, and never a stale answer to a caller that comes after.
import assert from "node:assert/strict";
import { test } from "node:test";
import { TokenKeeper } from "../../src/auth/token-keeper.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import type { RecordKind } from "../../src/store/token-store.ts";
import { tokensRecord } from "../integration/store-helpers/records.ts";

const KEY = "0123456789abcdef0123456789abcdef";

/** A memory store that counts stamps and, while held, keeps them waiting until `release()` (so checks overlap). */
class CountingStore extends MemoryTokenStore {
  stamps = 0;
  private gate: { promise: Promise<void>; open: () => void } | undefined;
  override async stamp(key: string, kind: RecordKind): Promise<string> {
    this.stamps++;
    await this.gate?.promise;
    return super.stamp(key, kind);
  }
  hold(): void {
    let open = () => {};
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.gate = { promise, open };
  }
  /** Lets the waiting stamps go once at least one waits, and stops holding. */
  async release(): Promise<void> {
    while (this.stamps === 0) await new Promise((resolve) => setImmediate(resolve));
    this.gate?.open();
    this.gate = undefined;
  }
}

async function loadedKeeper(store: CountingStore): Promise<TokenKeeper> {
  await store.write(KEY, "tokens", tokensRecord("first"));
  const keeper = new TokenKeeper(store, KEY, "https://mcp.example.com/mcp", () => {});
  await keeper.load();
  store.stamps = 0;
  return keeper;
}

test("concurrent callers share one stamp, and all learn of the change it found", async () => {
  const store = new CountingStore();
  const keeper = await loadedKeeper(store);
  await store.write(KEY, "tokens", tokensRecord("second"));
  store.hold();
  const checks = Array.from({ length: 16 }, () => keeper.noticeStoreChange());
  await store.release();
  assert.deepEqual(await Promise.all(checks), Array(16).fill(true));
  // One stamp for the burst's check, one in the re-read it made.
  assert.equal(store.stamps, 2, "one check for the burst");
  assert.equal(keeper.bearerToken, "second");
});

test("a caller after a finished check makes a new one (a change in between is seen)", async () => {
  const store = new CountingStore();
  const keeper = await loadedKeeper(store);
  assert.equal(await keeper.noticeStoreChange(), false, "nothing changed yet");
  await store.write(KEY, "tokens", tokensRecord("second"));
  assert.equal(await keeper.noticeStoreChange(), true);
  assert.equal(keeper.bearerToken, "second");
  assert.equal(await keeper.noticeStoreChange(), false, "and read once");
});

test("the hot path's check stands for HOT_PATH_STORE_CHECK_MS: no stamp per request, a check at once without it", async () => {
  const store = new CountingStore();
  const keeper = await loadedKeeper(store);
  const hot = { maxAgeMs: 60_000 };
  assert.equal(await keeper.noticeStoreChange(hot), false, "the load's stamp is recent");
  assert.equal(store.stamps, 0, "no stamp within the window");
  await store.write(KEY, "tokens", tokensRecord("second"));
  assert.equal(await keeper.noticeStoreChange(hot), false, "a change within the window waits for the next check");
  assert.equal(keeper.bearerToken, "first");
  assert.equal(await keeper.noticeStoreChange(), true, "an unbounded check (status, a refused token) looks now");
  assert.equal(keeper.bearerToken, "second");
  assert.equal(await keeper.noticeStoreChange({ maxAgeMs: 0 }), false, "a zero window checks every time");
  assert.ok(store.stamps >= 3, "every check outside a window stamps");
});
