/** The record cipher: store keys (parsing, ids, never printed), envelopes, and what the authenticated data binds. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { inspect } from "node:util";
import { isProxyError } from "../../src/lib/errors.ts";
import {
  generateStoreKey,
  isSealedEnvelope,
  openRecord,
  parseStoreKey,
  StoreKey,
  sealRecord,
  storeKeyId,
} from "../../src/store/record-cipher.ts";
import { assertWritableRecord, parseStoredRecord } from "../../src/store/record-schemas.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const bytes = Buffer.from("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "hex");

test("a store key is read from 64 hex characters or the base64 (either alphabet, padding optional) of 32 bytes", () => {
  const id = new StoreKey(bytes).id;
  for (const text of [
    bytes.toString("hex"),
    bytes.toString("hex").toUpperCase(),
    bytes.toString("base64"),
    bytes.toString("base64url"),
    ` ${bytes.toString("base64")}\n`,
  ]) {
    assert.equal(parseStoreKey(text, "MCP_PROXY_STORE_KEY").id, id, text);
  }
});

test("anything else is a usage error naming the source and the expected forms, never the text", () => {
  const secretish = "not-a-key-but-maybe-a-password";
  for (const text of [
    secretish,
    "",
    bytes.toString("hex").slice(2),
    randomBytes(16).toString("base64"),
    "00".repeat(33),
  ]) {
    assert.throws(
      () => parseStoreKey(text, "MCP_PROXY_STORE_KEY"),
      (error: unknown) =>
        isProxyError(error, "USAGE") &&
        /^MCP_PROXY_STORE_KEY is not a store key: expected 32 bytes as 64 hex characters or 44 base64/.test(
          error.message,
        ) &&
        /openssl rand -base64 32/.test(error.hint ?? "") &&
        (text === "" || !error.toLine().includes(text)),
      text,
    );
  }
});

test("the key id is a short hash: stable, different per key, and never the key", () => {
  const key = new StoreKey(bytes);
  assert.match(key.id, /^[0-9a-f]{12}$/);
  assert.equal(key.id, storeKeyId(bytes));
  // Pinned: a changed derivation would make every stored envelope name a key nobody has.
  assert.equal(key.id, storeKeyId(Buffer.from(bytes)));
  assert.equal(new StoreKey(Buffer.from(bytes)).id, key.id);
  assert.notEqual(generateStoreKey().id, key.id);
  assert.ok(!bytes.toString("hex").includes(key.id));
});

test("a key prints, inspects and serialises as its id only", () => {
  const key = new StoreKey(bytes);
  const shown = [String(key), `${key}`, JSON.stringify({ runtime: { storeKey: key } }), inspect({ key }, { depth: 5 })];
  for (const text of shown) {
    assert.match(text, new RegExp(`store key ${key.id}`));
    for (const form of [bytes.toString("hex"), bytes.toString("base64"), "00 01 02 03"]) {
      assert.ok(!text.includes(form), text);
    }
  }
  assert.ok(key.equals(new StoreKey(Buffer.from(bytes))));
  assert.ok(!key.equals(generateStoreKey()));
  assert.throws(
    () => new StoreKey(randomBytes(31)),
    (e: unknown) => isProxyError(e, "USAGE"),
  );
});

test("seal and open round-trip; each seal uses a fresh nonce", () => {
  const key = generateStoreKey();
  const plaintext = JSON.stringify({ tokens: { access_token: "fake-access-token" } });
  const a = sealRecord(key, KEY, "tokens", plaintext);
  const b = sealRecord(key, KEY, "tokens", plaintext);
  assert.equal(a.alg, "A256GCM");
  assert.equal(a.kid, key.id);
  assert.notEqual(a.iv, b.iv);
  assert.notEqual(a.data, b.data);
  assert.equal(openRecord(key, KEY, "tokens", a), plaintext);
  assert.equal(openRecord(key, KEY, "tokens", b), plaintext);
  assert.ok(!JSON.stringify(a).includes("fake-access-token"));
});

test("the authenticated data binds the store key, the kind and the key id: a swapped envelope does not open", () => {
  const key = generateStoreKey();
  const box = sealRecord(key, KEY, "tokens", "{}");
  assert.equal(openRecord(key, "fedcba9876543210fedcba9876543210", "tokens", box), undefined, "another store key");
  assert.equal(openRecord(key, `${KEY}.u0123456789abcdef`, "tokens", box), undefined, "another principal's grant");
  assert.equal(openRecord(key, KEY, "client_info", box), undefined, "another kind");
  assert.equal(openRecord(key, KEY, "tokens", { ...box, kid: "000000000000" }), undefined, "another key id");
  assert.equal(openRecord(generateStoreKey(), KEY, "tokens", box), undefined, "another key");
  const tag = Buffer.from(box.tag, "base64url");
  tag[0]! ^= 0x80;
  assert.equal(openRecord(key, KEY, "tokens", { ...box, tag: tag.toString("base64url") }), undefined, "changed tag");
  assert.equal(openRecord(key, KEY, "tokens", { ...box, iv: "short" }), undefined, "bad nonce");
  assert.equal(openRecord(key, KEY, "tokens", box), "{}");
});

test("the record layer passes envelopes through as opaque (never corrupt) and checks their form on write", () => {
  const envelope = { version: 1, revision: 4, sealed: sealRecord(generateStoreKey(), KEY, "tokens", "{}") };
  assert.ok(isSealedEnvelope(envelope));
  for (const kind of ["tokens", "client_info", "discovery", "protocol"] as const) {
    const parsed = parseStoredRecord(kind, envelope);
    assert.ok(parsed.ok && parsed.sealed, kind);
    assert.doesNotThrow(() => assertWritableRecord(kind, { version: 1, sealed: envelope.sealed }));
  }
  // Even one this program could not open (a later algorithm) is passed through, not moved aside.
  assert.ok(parseStoredRecord("tokens", { version: 1, sealed: { alg: "XC20P" } }).ok);
  assert.throws(
    () => assertWritableRecord("tokens", { version: 1, sealed: { alg: "A256GCM", kid: "k" } }),
    (error: unknown) => isProxyError(error, "STORE_ERROR") && /sealed\.iv/.test(error.message),
  );
  assert.ok(!isSealedEnvelope({ version: 1, sealed: "text" }));
  assert.ok(!isSealedEnvelope(null));
});
