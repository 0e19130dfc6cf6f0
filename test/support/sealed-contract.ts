/**
 * What encryption at rest promises over any TokenStore backend (src/store/sealed-store.ts): called by the store
 * contract test for each backend in its list, so a new backend is checked against it too.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { isSealedEnvelope, type SealedEnvelope, StoreKey } from "../../src/store/record-cipher.ts";
import { RECORD_KINDS } from "../../src/store/record-schemas.ts";
import { SealedTokenStore } from "../../src/store/sealed-store.ts";
import { grantKey } from "../../src/store/store-key.ts";
import type { TokenStore } from "../../src/store/token-store.ts";
import { asStored, sampleRecords, tokensRecord } from "../integration/store-helpers/records.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const OTHER = "fedcba9876543210fedcba9876543210";

/** Every string in a record (values, not field names), for "none of them is in what the backend holds". */
function stringsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (value && typeof value === "object") for (const item of Object.values(value)) stringsIn(item, out);
  return out;
}

export function sealedContract(name: string, createBackend: () => TokenStore): void {
  describe(`${name} encryption at rest`, () => {
    const keyBytes = randomBytes(32);
    const key = new StoreKey(keyBytes);
    const otherKey = new StoreKey(randomBytes(32));
    const setUp = () => {
      const backend = createBackend();
      const warnings: string[] = [];
      const store = new SealedTokenStore(backend, { key, onWarning: (message) => warnings.push(message) });
      return { backend, store, warnings };
    };

    test("the backend holds an envelope naming the key id, with no value of the record and not the key", async () => {
      const { backend, store } = setUp();
      for (const kind of RECORD_KINDS) {
        const record = sampleRecords[kind]();
        await store.write(KEY, kind, record);
        const held = await backend.read(KEY, kind);
        assert.ok(isSealedEnvelope(held), kind);
        const envelope = held as unknown as SealedEnvelope;
        assert.deepEqual(Object.keys(envelope).sort(), ["revision", "sealed", "version"]);
        assert.equal(envelope.sealed.kid, key.id);
        assert.equal(envelope.sealed.alg, "A256GCM");
        const text = JSON.stringify(held);
        for (const value of stringsIn(record).filter((v) => v.length >= 4)) {
          assert.ok(!text.includes(value), `${kind}: ${value} is in what the backend holds`);
        }
        for (const form of [keyBytes.toString("hex"), keyBytes.toString("base64"), keyBytes.toString("base64url")]) {
          assert.ok(!text.includes(form), "the key itself is never stored");
        }
        assert.deepEqual(await store.read(KEY, kind), asStored(record));
      }
    });

    test("a wrong key is refused with STORE_KEY_WRONG naming both key ids; nothing read, changed or lost", async () => {
      const { backend, store } = setUp();
      await store.write(KEY, "tokens", tokensRecord("the-real-token"));
      const before = await backend.read(KEY, "tokens");
      const warnings: string[] = [];
      const wrong = new SealedTokenStore(backend, { key: otherKey, onWarning: (m) => warnings.push(m) });
      const wrongKey = (error: unknown) => {
        assert.ok(isProxyError(error, "STORE_KEY_WRONG"), String(error));
        assert.match(
          error.message,
          new RegExp(`encrypted with store key ${key.id}, not with the given key ${otherKey.id}`),
        );
        assert.match(error.hint ?? "", new RegExp(`key whose id is ${key.id}.*nothing was read or changed`));
        assert.doesNotMatch(`${error.message} ${error.hint}`, /the-real-token/);
        assert.deepEqual(error.details, { key: KEY, kind: "tokens", keyId: key.id, configuredKeyId: otherKey.id });
        return true;
      };
      await assert.rejects(wrong.read(KEY, "tokens"), wrongKey);
      await assert.rejects(wrong.write(KEY, "tokens", tokensRecord("overwrite")), wrongKey);
      await assert.rejects(wrong.write(KEY, "tokens", tokensRecord("cas"), { expectedRevision: 1 }), wrongKey);
      assert.deepEqual(await backend.read(KEY, "tokens"), before, "the record is untouched");
      assert.equal((await store.read(KEY, "tokens"))?.tokens.access_token, "the-real-token");
      assert.deepEqual(warnings, []);
      // Other records are the wrong store's own business: it writes and reads them with its key.
      await wrong.write(OTHER, "tokens", tokensRecord("other"));
      assert.equal((await wrong.read(OTHER, "tokens"))?.tokens.access_token, "other");
    });

    test("no key: STORE_KEY_MISSING names the key id needed; plaintext records still work", async () => {
      const { backend, store } = setUp();
      await store.write(KEY, "client_info", sampleRecords.client_info());
      const before = await backend.read(KEY, "client_info");
      const keyless = new SealedTokenStore(backend);
      const missing = (error: unknown) =>
        isProxyError(error, "STORE_KEY_MISSING") &&
        error.message.includes(`encrypted with store key ${key.id}, and no store key was given`) &&
        /MCP_PROXY_STORE_KEY/.test(error.hint ?? "");
      await assert.rejects(keyless.read(KEY, "client_info"), missing);
      await assert.rejects(keyless.write(KEY, "client_info", sampleRecords.client_info()), missing);
      assert.deepEqual(await backend.read(KEY, "client_info"), before);
      await keyless.write(OTHER, "tokens", tokensRecord("plain"));
      assert.ok(!isSealedEnvelope(await backend.read(OTHER, "tokens")), "without a key, records stay plaintext");
      assert.equal((await keyless.read(OTHER, "tokens"))?.tokens.access_token, "plain");
    });

    test("an envelope moved to another key, grant or kind is refused: absent, with a warning, left in place", async () => {
      const { backend, store, warnings } = setUp();
      const alice = grantKey(KEY, "alice@example.com");
      const bob = grantKey(KEY, "bob@example.com");
      await store.write(KEY, "tokens", tokensRecord("default-token"));
      await store.write(alice, "tokens", tokensRecord("alice-token"));
      await store.write(KEY, "client_info", sampleRecords.client_info());
      const { revision: _r1, ...tokens } = (await backend.read(KEY, "tokens"))!;
      const { revision: _r2, ...alices } = (await backend.read(alice, "tokens"))!;
      const { revision: _r3, ...clientInfo } = (await backend.read(KEY, "client_info"))!;
      await backend.write(OTHER, "tokens", tokens); // another upstream
      await backend.write(bob, "tokens", alices); // another principal
      await backend.write(KEY, "discovery", clientInfo as never); // another kind
      for (const [where, kind] of [
        [OTHER, "tokens"],
        [bob, "tokens"],
        [KEY, "discovery"],
      ] as const) {
        assert.equal(await store.read(where, kind), undefined, `${where} ${kind}`);
        assert.ok(isSealedEnvelope(await backend.read(where, kind)), "left in place");
      }
      assert.equal(warnings.length, 3, warnings.join("\n"));
      for (const warning of warnings) assert.match(warning, /does not authenticate .* copied from another record/);
      // The originals are fine, and a later write replaces the refused copy.
      assert.equal((await store.read(alice, "tokens"))?.tokens.access_token, "alice-token");
      await store.write(bob, "tokens", tokensRecord("bob-token"));
      assert.equal((await store.read(bob, "tokens"))?.tokens.access_token, "bob-token");
    });

    test("a changed envelope is refused the same way", async () => {
      const { backend, store, warnings } = setUp();
      await store.write(KEY, "tokens", tokensRecord());
      const held = (await backend.read(KEY, "tokens")) as unknown as SealedEnvelope & { revision: number };
      const data = Buffer.from(held.sealed.data, "base64url");
      data[0]! ^= 1;
      const { revision: _revision, ...rest } = held;
      await backend.write(KEY, "tokens", {
        ...rest,
        sealed: { ...held.sealed, data: data.toString("base64url") },
      } as never);
      assert.equal(await store.read(KEY, "tokens"), undefined);
      assert.equal(warnings.length, 1);
    });

    test("plaintext records (a store from before encryption) are read with a key given, sealed on their next write", async () => {
      const { backend, store } = setUp();
      await backend.write(KEY, "tokens", tokensRecord("plain"));
      assert.deepEqual(await store.read(KEY, "tokens"), asStored(tokensRecord("plain"), 1));
      assert.equal(await store.write(KEY, "tokens", tokensRecord("sealed"), { expectedRevision: 1 }), 2);
      const held = await backend.read(KEY, "tokens");
      assert.ok(isSealedEnvelope(held));
      assert.equal(held.revision, 2, "the backend's revision carries on");
      assert.deepEqual(await store.read(KEY, "tokens"), asStored(tokensRecord("sealed"), 2));
    });

    test("with a read key (the old one) records of either key are read; writes seal with the current key", async () => {
      const { backend, store } = setUp();
      await store.write(KEY, "tokens", tokensRecord("old-key"));
      const both = new SealedTokenStore(backend, { key: otherKey, readKeys: [key] });
      assert.equal((await both.read(KEY, "tokens"))?.tokens.access_token, "old-key");
      await both.write(KEY, "tokens", tokensRecord("new-key"));
      const held = (await backend.read(KEY, "tokens")) as unknown as SealedEnvelope;
      assert.equal(held.sealed.kid, otherKey.id);
      await assert.rejects(store.read(KEY, "tokens"), (e: unknown) => isProxyError(e, "STORE_KEY_WRONG"));
    });
  });
}
