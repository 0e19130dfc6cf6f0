/** Whole-store migrations (src/store/store-rekey.ts): encrypt, rekey, decrypt, resume, refuse unknown keys. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { generateStoreKey, type StoreKey } from "../../src/store/record-cipher.ts";
import { SealedTokenStore } from "../../src/store/sealed-store.ts";
import { grantKey } from "../../src/store/store-key.ts";
import { censusOf, keyIdOf, listRecords, rewriteStore } from "../../src/store/store-rekey.ts";
import type { TokenStore } from "../../src/store/token-store.ts";
import { sampleRecords, tokensRecord } from "../integration/store-helpers/records.ts";

const UPSTREAMS = ["0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", "c0ffee"];

/** Three upstreams with every kind and two principals' grants each: 18 records, written through `store`. */
async function fill(store: TokenStore): Promise<void> {
  for (const upstream of UPSTREAMS) {
    for (const kind of ["client_info", "discovery", "protocol"] as const)
      await store.write(upstream, kind, sampleRecords[kind]());
    await store.write(upstream, "tokens", tokensRecord(`token-${upstream}`));
    for (const who of ["alice", "bob"]) {
      await store.write(grantKey(upstream, who), "tokens", tokensRecord(`token-${upstream}-${who}`));
    }
  }
}

/** Every record as read through a store with `keys`, revisions left out: what a rewrite must keep. */
async function contents(backend: TokenStore, keys: StoreKey[]): Promise<Record<string, unknown>> {
  const reader = new SealedTokenStore(backend, { readKeys: keys });
  const out: Record<string, unknown> = {};
  for (const { key, kind, stored } of await listRecords(backend)) {
    const { revision: _revision, ...record } = reader.open(key, kind, stored)!;
    out[`${key}_${kind}`] = record;
  }
  return out;
}

test("encrypt: every plaintext record is sealed with the key, contents unchanged; a second run does nothing", async () => {
  const backend = new MemoryTokenStore();
  await fill(backend);
  const key = generateStoreKey();
  const before = await contents(backend, []);
  assert.deepEqual(await censusOf(backend), { total: 18, plaintext: 18, byKeyId: {} });
  const result = await rewriteStore(backend, { from: [key], to: key });
  assert.deepEqual(result, { rewritten: 18, already: 0, skipped: 0 });
  assert.deepEqual(await censusOf(backend), { total: 18, plaintext: 0, byKeyId: { [key.id]: 18 } });
  assert.deepEqual(await contents(backend, [key]), before);
  assert.deepEqual(await rewriteStore(backend, { from: [key], to: key }), { rewritten: 0, already: 18, skipped: 0 });
});

test("rekey: plaintext and old-key records all move to the new key; the old key opens nothing after", async () => {
  const backend = new MemoryTokenStore();
  await fill(backend);
  const [oldKey, newKey] = [generateStoreKey(), generateStoreKey()];
  const before = await contents(backend, []);
  // Half sealed with the old key already (the store was encrypted while running), half plaintext.
  const old = new SealedTokenStore(backend, { key: oldKey });
  for (const upstream of UPSTREAMS.slice(0, 2)) await old.write(upstream, "tokens", tokensRecord(`token-${upstream}`));
  const result = await rewriteStore(backend, { from: [oldKey], to: newKey });
  assert.deepEqual(result, { rewritten: 18, already: 0, skipped: 0 });
  assert.deepEqual(await censusOf(backend), { total: 18, plaintext: 0, byKeyId: { [newKey.id]: 18 } });
  assert.deepEqual(await contents(backend, [newKey]), before);
  await assert.rejects(old.read(UPSTREAMS[0]!, "tokens"), (e: unknown) => isProxyError(e, "STORE_KEY_WRONG"));
});

test("an interrupted rekey is finished by running it again; records already on the new key are skipped", async () => {
  const backend = new MemoryTokenStore();
  const [oldKey, newKey] = [generateStoreKey(), generateStoreKey()];
  await fill(new SealedTokenStore(backend, { key: oldKey }));
  const before = await contents(backend, [oldKey]);
  // What a killed rekey leaves: some records on the new key, the rest on the old one.
  const mover = new SealedTokenStore(backend, { key: newKey, readKeys: [oldKey] });
  const records = await listRecords(backend);
  for (const { key, kind } of records.slice(0, 7)) {
    await mover.write(key, kind, (await mover.read(key, kind))!);
  }
  const census = await censusOf(backend);
  assert.deepEqual(census.byKeyId, { [oldKey.id]: 11, [newKey.id]: 7 });
  let toDo: number | undefined;
  const result = await rewriteStore(backend, { from: [oldKey], to: newKey, onStart: (_c, n) => (toDo = n) });
  assert.equal(toDo, 11);
  assert.deepEqual(result, { rewritten: 11, already: 7, skipped: 0 });
  assert.deepEqual(await contents(backend, [newKey]), before);
});

test("a record sealed with a key not given stops the migration before anything changes, naming that key", async () => {
  const backend = new MemoryTokenStore();
  const [oldKey, newKey, stray] = [generateStoreKey(), generateStoreKey(), generateStoreKey()];
  await fill(new SealedTokenStore(backend, { key: oldKey }));
  await new SealedTokenStore(backend, { key: stray }).write("0a0b", "tokens", tokensRecord("stray"));
  const before = await listRecords(backend);
  await assert.rejects(rewriteStore(backend, { from: [oldKey], to: newKey }), (error: unknown) => {
    assert.ok(isProxyError(error, "STORE_KEY_WRONG"));
    assert.match(error.message, new RegExp(`1 with store key ${stray.id}\\); nothing was changed`));
    assert.match(error.hint ?? "", new RegExp(`key whose id is ${stray.id}`));
    return true;
  });
  await assert.rejects(
    rewriteStore(backend, { from: [], to: newKey }),
    (error: unknown) =>
      isProxyError(error, "STORE_KEY_WRONG") && error.message.includes(`18 with store key ${oldKey.id}`),
  );
  assert.deepEqual(await listRecords(backend), before, "not one record rewritten");
});

test("decrypt: every record back to plaintext", async () => {
  const backend = new MemoryTokenStore();
  const key = generateStoreKey();
  await fill(new SealedTokenStore(backend, { key }));
  const before = await contents(backend, [key]);
  assert.deepEqual(await rewriteStore(backend, { from: [key], to: undefined }), {
    rewritten: 18,
    already: 0,
    skipped: 0,
  });
  for (const { stored } of await listRecords(backend)) assert.equal(keyIdOf(stored), undefined);
  assert.deepEqual(await contents(backend, []), before);
});

test("a record a running proxy writes during the rekey is re-read and rewritten: its new value is kept", async () => {
  const inner = new MemoryTokenStore();
  const [oldKey, newKey] = [generateStoreKey(), generateStoreKey()];
  const proxy = new SealedTokenStore(inner, { key: oldKey });
  await fill(proxy);
  const target = UPSTREAMS[1]!;
  let interfered = false;
  // The backend as the rekey sees it: just before its first rewrite of the target's tokens, the proxy refreshes.
  const racing: TokenStore = Object.assign(Object.create(inner) as TokenStore, {
    write: async (...args: Parameters<TokenStore["write"]>) => {
      if (!interfered && args[0] === target && args[1] === "tokens") {
        interfered = true;
        await proxy.write(target, "tokens", tokensRecord("refreshed-meanwhile"));
      }
      return inner.write(...args);
    },
    read: inner.read.bind(inner),
    keys: inner.keys.bind(inner),
    grantKeys: inner.grantKeys.bind(inner),
  });
  const result = await rewriteStore(racing, { from: [oldKey], to: newKey });
  assert.ok(interfered);
  assert.equal(result.rewritten, 18);
  const after = new SealedTokenStore(inner, { key: newKey });
  assert.equal((await after.read(target, "tokens"))?.tokens.access_token, "refreshed-meanwhile");
  assert.deepEqual((await censusOf(inner)).byKeyId, { [newKey.id]: 18 });
});

test("a record that does not open is left as it is and counted, with a warning", async () => {
  const backend = new MemoryTokenStore();
  const [key, newKey] = [generateStoreKey(), generateStoreKey()];
  const store = new SealedTokenStore(backend, { key });
  await store.write(UPSTREAMS[0]!, "tokens", tokensRecord());
  const { revision: _revision, ...copied } = (await backend.read(UPSTREAMS[0]!, "tokens"))!;
  await backend.write(UPSTREAMS[1]!, "tokens", copied);
  const warnings: string[] = [];
  const result = await rewriteStore(backend, { from: [key], to: newKey, onWarning: (m) => warnings.push(m) });
  assert.deepEqual(result, { rewritten: 1, already: 0, skipped: 1 });
  assert.equal(warnings.length, 1);
  assert.equal(keyIdOf(await backend.read(UPSTREAMS[1]!, "tokens")), key.id, "left as it was");
});
