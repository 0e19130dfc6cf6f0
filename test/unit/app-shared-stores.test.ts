// The shared stores of a process (one per server URL, app/context.ts) and their close at the graceful stop of
// `serve`: every one is closed once, its later operations fail, and the next caller gets a fresh one. No server is
// needed: the Redis and PostgreSQL stores connect on their first operation only.
import assert from "node:assert/strict";
import { test } from "node:test";
import { closeSharedStores, createBackendStore } from "../../src/app/context.ts";
import type { RuntimeOptions } from "../../src/config/options.ts";
import { isProxyError } from "../../src/lib/errors.ts";

const runtime = (storeUrl: string) => ({ authDir: "/nonexistent", storeUrl }) as RuntimeOptions;

test("closeSharedStores closes each shared store once (passwords masked in what it returns) and forgets it", async () => {
  await closeSharedStores();
  const redis = createBackendStore(runtime("redis://127.0.0.1:1"));
  assert.equal(createBackendStore(runtime("redis://127.0.0.1:1")), redis, "one store per server URL");
  const postgres = createBackendStore(runtime("postgres://proxy:s3cret@127.0.0.1:1/tokens"));
  const closed = await closeSharedStores();
  assert.deepEqual(closed.sort(), ["postgres://proxy:***@127.0.0.1:1/tokens", "redis://127.0.0.1:1"]);
  for (const store of [redis, postgres]) {
    await assert.rejects(
      store.read("k", "tokens"),
      (error: unknown) => isProxyError(error) && /closed/.test(error.message),
    );
  }
  assert.deepEqual(await closeSharedStores(), [], "nothing left to close");
  const fresh = createBackendStore(runtime("redis://127.0.0.1:1"));
  assert.notEqual(fresh, redis, "a store asked for after the close is a new one");
  assert.deepEqual(await closeSharedStores(), ["redis://127.0.0.1:1"]);
});
