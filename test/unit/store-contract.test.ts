/** The TokenStore contract, run against every backend. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { RECORD_KINDS } from "../../src/store/record-schemas.ts";
import type { TokenStore, TokensRecord } from "../../src/store/token-store.ts";
import { sampleRecords, tokensRecord } from "../integration/store-helpers/records.ts";

const root = mkdtempSync(join(tmpdir(), "store-contract-"));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

const backends: [string, () => TokenStore][] = [
  ["FileTokenStore", () => new FileTokenStore({ dir: join(root, `s${++dirs}`) })],
  ["MemoryTokenStore", () => new MemoryTokenStore()],
];

const KEY = "0123456789abcdef0123456789abcdef";
const OTHER = "fedcba9876543210fedcba9876543210";
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const [name, create] of backends) {
  describe(`${name} contract`, () => {
    test("reads an absent record as undefined", async () => {
      const store = create();
      for (const kind of RECORD_KINDS) assert.equal(await store.read(KEY, kind), undefined);
    });

    for (const kind of RECORD_KINDS) {
      test(`round-trips a ${kind} record`, async () => {
        const store = create();
        const record = sampleRecords[kind]();
        await store.write(KEY, kind, record);
        assert.deepEqual(await store.read(KEY, kind), record);
        assert.equal(await store.read(OTHER, kind), undefined, "other keys unaffected");
      });
    }

    test("a later write replaces the record; fields it does not know are kept", async () => {
      const store = create();
      await store.write(KEY, "tokens", tokensRecord("first"));
      const second = { ...tokensRecord("second"), added_by_a_later_version: { x: 1 } } as TokensRecord;
      await store.write(KEY, "tokens", second);
      assert.deepEqual(await store.read(KEY, "tokens"), second);
    });

    test("records are copied in and out", async () => {
      const store = create();
      const record = tokensRecord("original");
      await store.write(KEY, "tokens", record);
      record.tokens.access_token = "mutated-after-write";
      const read = await store.read(KEY, "tokens");
      assert.equal(read?.tokens.access_token, "original");
      read!.tokens.access_token = "mutated-after-read";
      assert.equal((await store.read(KEY, "tokens"))?.tokens.access_token, "original");
    });

    test("refuses to write an invalid record, naming the field but not the values", async () => {
      const store = create();
      const bad = { ...tokensRecord("secret-value-123"), tokens: { token_type: "Bearer" } } as unknown as TokensRecord;
      await assert.rejects(store.write(KEY, "tokens", bad), (error: unknown) => {
        assert.ok(isProxyError(error, "STORE_ERROR"));
        assert.match(error.message, /tokens\.access_token/);
        assert.doesNotMatch(error.message, /secret-value-123/);
        return true;
      });
      await assert.rejects(
        store.write(KEY, "tokens", { ...tokensRecord(), version: 99 }),
        (error: unknown) => isProxyError(error, "STORE_ERROR") && /version must be 1/.test(error.message),
      );
      assert.equal(await store.read(KEY, "tokens"), undefined);
    });

    test("rejects keys that are not store keys", async () => {
      const store = create();
      for (const key of ["../escape", "a/b", "", "a_b"]) {
        await assert.rejects(store.read(key, "tokens"), (e: unknown) => isProxyError(e, "INTERNAL"));
        await assert.rejects(store.write(key, "tokens", tokensRecord()), (e: unknown) => isProxyError(e, "INTERNAL"));
        await assert.rejects(store.remove(key), (e: unknown) => isProxyError(e, "INTERNAL"));
        await assert.rejects(
          store.withLock(key, "refresh", async () => 1),
          (e: unknown) => isProxyError(e, "INTERNAL"),
        );
      }
    });

    test("keys() lists every key with at least one record; remove() removes one kind or all", async () => {
      const store = create();
      assert.deepEqual(await store.keys(), []);
      await store.write(OTHER, "discovery", sampleRecords.discovery());
      for (const kind of RECORD_KINDS) await store.write(KEY, kind, sampleRecords[kind]());
      assert.deepEqual(await store.keys(), [KEY, OTHER].sort());

      await store.remove(KEY, "tokens");
      assert.equal(await store.read(KEY, "tokens"), undefined);
      assert.deepEqual(await store.read(KEY, "client_info"), sampleRecords.client_info());
      assert.deepEqual(await store.keys(), [KEY, OTHER].sort());

      await store.remove(KEY);
      for (const kind of RECORD_KINDS) assert.equal(await store.read(KEY, kind), undefined);
      assert.deepEqual(await store.keys(), [OTHER]);

      await store.remove(OTHER, "discovery");
      assert.deepEqual(await store.keys(), []);
      await store.remove(OTHER); // absent: no error
    });

    test("withLock returns fn's result, passes its error through, and releases either way", async () => {
      const store = create();
      assert.equal(await store.withLock(KEY, "refresh", async () => 42), 42);
      await assert.rejects(
        store.withLock(KEY, "refresh", async () => {
          throw new Error("boom");
        }),
        /boom/,
      );
      assert.equal(await store.withLock(KEY, "refresh", async () => "again", { waitMs: 1000 }), "again");
    });

    test("concurrent withLock calls in one process serialise (read-modify-write loses nothing)", async () => {
      const store = create();
      await store.write(KEY, "tokens", tokensRecord("0"));
      let inside = 0;
      let maxInside = 0;
      const increment = () =>
        store.withLock(KEY, "refresh", async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          const current = await store.read(KEY, "tokens");
          await delay(Math.random() * 3);
          await store.write(KEY, "tokens", tokensRecord(String(Number(current?.tokens.access_token) + 1)));
          inside--;
        });
      await Promise.all(Array.from({ length: 25 }, increment));
      assert.equal((await store.read(KEY, "tokens"))?.tokens.access_token, "25");
      assert.equal(maxInside, 1);
    });

    test("a held lock makes others wait, then time out with STORE_ERROR", async () => {
      const store = create();
      let release!: () => void;
      const held = store.withLock(KEY, "sign-in", () => new Promise<void>((resolve) => (release = resolve)));
      await delay(20);
      await assert.rejects(
        store.withLock(KEY, "sign-in", async () => "never", { waitMs: 150 }),
        (error: unknown) => {
          assert.ok(isProxyError(error, "STORE_ERROR"));
          assert.match(error.message, /Timed out after 150 ms waiting for the sign-in lock/);
          return true;
        },
      );
      // Other names and keys are independent of it.
      assert.equal(await store.withLock(KEY, "refresh", async () => "r", { waitMs: 150 }), "r");
      assert.equal(await store.withLock(OTHER, "sign-in", async () => "o", { waitMs: 150 }), "o");
      // A waiter that is still waiting gets the lock when the holder finishes.
      const waiter = store.withLock(KEY, "sign-in", async () => "got it", { waitMs: 5000 });
      await delay(20);
      release();
      await held;
      assert.equal(await waiter, "got it");
    });
  });
}

test("MemoryTokenStore has no location on disk and no sidecar files", () => {
  const store = new MemoryTokenStore();
  assert.equal(store.location, "memory");
  assert.equal(store.sidecarPath(), undefined);
});
