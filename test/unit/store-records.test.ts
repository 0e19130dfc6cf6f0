/** Record validation and the upgrade path (migration hook) between layout versions. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseStoredRecord } from "../../src/store/record-schemas.ts";
import { clientInfoRecord, discoveryRecord, tokensRecord } from "../integration/store-helpers/records.ts";

const none = { tokens: {}, client_info: {}, discovery: {}, protocol: {}, sign_in: {}, page_secret: {} };

describe("parseStoredRecord", () => {
  test("accepts current records unchanged", () => {
    assert.deepEqual(parseStoredRecord("tokens", tokensRecord()), { ok: true, value: tokensRecord() });
    assert.deepEqual(parseStoredRecord("client_info", clientInfoRecord()), { ok: true, value: clientInfoRecord() });
    assert.deepEqual(parseStoredRecord("discovery", discoveryRecord()), { ok: true, value: discoveryRecord() });
  });

  test("optional fields may be absent", () => {
    const minimal = {
      version: 1,
      server_url: "https://x.example",
      issuer: "https://as.example",
      tokens: { access_token: "a", token_type: "Bearer" },
      obtained_at: 1,
    };
    assert.equal(parseStoredRecord("tokens", minimal).ok, true);
  });

  test("rejects wrong shapes with a reason naming the field", () => {
    const bad = parseStoredRecord("client_info", { ...clientInfoRecord(), source: "stolen" });
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.reason : "", /^source: /);
  });

  test("marks a newer version as newer (not corrupt)", () => {
    const result = parseStoredRecord("tokens", { ...tokensRecord(), version: 7 });
    assert.deepEqual(result, { ok: false, newer: true, reason: "layout version 7 is newer than this program's 1" });
  });

  // What a future v2/v3 looks like: the same function, given a migration table and a higher current version.
  const v1ToV2 = (record: Record<string, unknown>) => ({ ...record, issuer: String(record.issuer).toLowerCase() });
  const v2ToV3 = (record: Record<string, unknown>) => ({ ...record, account: record.account ?? "unknown" });

  test("upgrades an older record step by step instead of discarding it", () => {
    const v1 = { ...tokensRecord(), issuer: "HTTPS://AUTH.EXAMPLE.COM", account: undefined };
    const result = parseStoredRecord("tokens", v1, { ...none, tokens: { 1: v1ToV2, 2: v2ToV3 } }, 3);
    assert.ok(result.ok);
    assert.equal(result.migratedFrom, 1);
    assert.equal(result.value.version, 3);
    assert.equal(result.value.issuer, "https://auth.example.com");
    assert.equal(result.value.account, "unknown");
  });

  test("an older record without a migration step is reported, not guessed", () => {
    const result = parseStoredRecord("tokens", tokensRecord(), { ...none, tokens: { 2: v2ToV3 } }, 3);
    assert.deepEqual(result, { ok: false, reason: "no upgrade from layout version 1" });
  });

  test("a migration that throws is a failed read, not a crash", () => {
    const broken = () => {
      throw new Error("cannot");
    };
    const result = parseStoredRecord("tokens", tokensRecord(), { ...none, tokens: { 1: broken } }, 2);
    assert.deepEqual(result, { ok: false, reason: "upgrade from layout version 1 failed: cannot" });
  });
});
