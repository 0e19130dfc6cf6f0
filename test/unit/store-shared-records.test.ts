// The record handling the Redis and PostgreSQL stores share (src/store/shared-records.ts): a write is checked and
// stored as JSON without its revision; stored text comes back as the record at the revision kept beside it, or,
// when it cannot be used, the backend is told which way (newer layout: left alone; unreadable: moved aside).
import assert from "node:assert/strict";
import { test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { sharedWrite, storedRecord } from "../../src/store/shared-records.ts";
import { STORE_VERSION, type TokensRecord } from "../../src/store/token-store.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const record: TokensRecord = {
  version: STORE_VERSION,
  server_url: "https://mcp.example.test/mcp",
  issuer: "https://as.example.test",
  tokens: { access_token: "at-secret-value", token_type: "Bearer" },
  obtained_at: 1_800_000_000_000,
};

function recorder() {
  const told: string[] = [];
  return {
    told,
    unusable: {
      newer: (reason: string) => void told.push(`newer: ${reason}`),
      unreadable: async (reason: string) => void told.push(`unreadable: ${reason}`),
    },
  };
}

test("a write is stored without its revision, with the compare-and-set it asked for", () => {
  const write = sharedWrite(KEY, "tokens", { ...record, revision: 7 } as TokensRecord, { expectedRevision: 7 });
  assert.deepEqual(JSON.parse(write.data), record);
  assert.equal(write.expected, 7);
  assert.equal(sharedWrite(KEY, "tokens", record, { expectedRevision: null }).expected, null);
  assert.equal(sharedWrite(KEY, "tokens", record, undefined).expected, undefined);
});

test("a bad key or a record without the documented shape is refused before anything is stored", () => {
  assert.throws(
    () => sharedWrite("../etc", "tokens", record, undefined),
    (error: unknown) => isProxyError(error),
  );
  const shapeless = { version: STORE_VERSION } as unknown as TokensRecord;
  assert.throws(
    () => sharedWrite(KEY, "tokens", shapeless, undefined),
    (error: unknown) => isProxyError(error),
  );
});

test("stored text comes back as the record at the stored revision", async () => {
  const { told, unusable } = recorder();
  const back = await storedRecord("tokens", JSON.stringify(record), 3, unusable);
  assert.deepEqual(back, { ...record, revision: 3 });
  assert.deepEqual(told, []);
});

test("unusable text: invalid JSON and a bad shape are unreadable, a newer layout is left alone", async () => {
  const { told, unusable } = recorder();
  assert.equal(await storedRecord("tokens", "{not json", 1, unusable), undefined);
  assert.equal(await storedRecord("tokens", JSON.stringify({ version: STORE_VERSION }), 1, unusable), undefined);
  assert.equal(await storedRecord("tokens", JSON.stringify({ ...record, version: 99 }), 1, unusable), undefined);
  assert.equal(told.length, 3);
  assert.equal(told[0], "unreadable: not valid JSON");
  assert.match(told[1] ?? "", /^unreadable: /);
  assert.match(told[2] ?? "", /^newer: layout version 99 is newer/);
});
