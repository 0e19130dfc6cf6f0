/**
 * The TokenStore contract (test/support/store-contract.ts) against the file and memory backends, also under the
 * encryption-at-rest decorator, and what encryption promises over each (test/support/sealed-contract.ts); the
 * factory.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { createStore } from "../../src/store/create-store.ts";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { PostgresTokenStore } from "../../src/store/postgres-store.ts";
import { generateStoreKey } from "../../src/store/record-cipher.ts";
import { RedisTokenStore } from "../../src/store/redis-store.ts";
import { SealedTokenStore } from "../../src/store/sealed-store.ts";
import type { TokenStore } from "../../src/store/token-store.ts";
import { sealedContract } from "../support/sealed-contract.ts";
import { type ContractBackend, storeContract } from "../support/store-contract.ts";

const root = mkdtempSync(join(tmpdir(), "store-contract-"));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

const file: ContractBackend = {
  create: () => createStore({ backend: "file", dir: join(root, `s${++dirs}`) }),
  plantWithoutRevision: (store, key, kind, record) =>
    writeFileSync((store as FileTokenStore).recordPath(key, kind), JSON.stringify(record), { mode: 0o600 }),
};
const memory: ContractBackend = { create: () => createStore({ backend: "memory" }) };
storeContract("FileTokenStore", file);
storeContract("MemoryTokenStore", memory);

// The same contract for each encrypted: plaintext records planted in the backend are read through the decorator.
const backendOf = new WeakMap<TokenStore, TokenStore>();
const contractKey = generateStoreKey();
function encrypted({ create, plantWithoutRevision }: ContractBackend): ContractBackend {
  return {
    create: () => {
      const backend = create();
      const store = new SealedTokenStore(backend, { key: contractKey });
      backendOf.set(store, backend);
      return store;
    },
    ...(plantWithoutRevision
      ? {
          plantWithoutRevision: (store, key, kind, record) =>
            plantWithoutRevision(backendOf.get(store)!, key, kind, record),
        }
      : {}),
  };
}
storeContract("FileTokenStore encrypted", encrypted(file));
storeContract("MemoryTokenStore encrypted", encrypted(memory));
sealedContract("FileTokenStore", file.create);
sealedContract("MemoryTokenStore", memory.create);
// Redis and PostgreSQL run the same suite against real servers: test/integration/store-contract-shared.test.ts.

test("createStore builds each backend and refuses what it cannot build", () => {
  assert.ok(createStore({ backend: "memory" }) instanceof MemoryTokenStore);
  const file = createStore({ backend: "file", dir: join(root, "factory") });
  assert.ok(file instanceof FileTokenStore);
  assert.equal(file.location, join(root, "factory"));
  assert.throws(
    () => createStore({ backend: "file" }),
    (e: unknown) => isProxyError(e, "USAGE") && /needs a directory/.test(e.message),
  );
  assert.throws(
    () => createStore({ backend: "keychain" as "file", dir: root }),
    (e: unknown) =>
      isProxyError(e, "USAGE") &&
      /Unknown token store backend "keychain"/.test(e.message) &&
      /file, memory, redis, postgres/.test(e.hint ?? ""),
  );
  // The shared backends are built without connecting (that happens at the first operation), and need a URL.
  assert.ok(createStore({ backend: "redis", url: "redis://127.0.0.1:1" }) instanceof RedisTokenStore);
  const postgres = createStore({ backend: "postgres", url: "postgres://u:secret-pw@127.0.0.1:1/db" });
  assert.ok(postgres instanceof PostgresTokenStore);
  assert.equal(postgres.location, "postgres://u:***@127.0.0.1:1/db", "named without its password");
  for (const backend of ["redis", "postgres"] as const) {
    assert.throws(
      () => createStore({ backend }),
      (e: unknown) => isProxyError(e, "USAGE") && /needs a URL/.test(e.message),
    );
  }
});

test("MemoryTokenStore has no location on disk and no sidecar files", () => {
  const store = new MemoryTokenStore();
  assert.equal(store.location, "memory");
  assert.equal(store.sidecarPath(), undefined);
});
