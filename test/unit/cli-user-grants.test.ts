// The per-user grants `list` and `status` show, read from the in-memory store: the state of each (valid,
// refreshable, expired), the stored label, what --user matches, and that the upstream's default grant and other
// upstreams' grants are not listed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isUsable, matchesUser, userGrantsOf } from "../../src/cli/user-grants.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { grantKey } from "../../src/store/store-key.ts";
import { STORE_VERSION, type TokensRecord } from "../../src/store/token-store.ts";

const UPSTREAM = "0123456789abcdef0123456789abcdef";
const OTHER = "fedcba9876543210fedcba9876543210";
const NOW = 1_800_000_000_000;

function tokens(extra: Partial<TokensRecord> & { refresh?: boolean }): TokensRecord {
  const { refresh, ...rest } = extra;
  return {
    version: STORE_VERSION,
    server_url: "https://mcp.example.test/mcp",
    issuer: "https://as.example.test",
    tokens: { access_token: "at-secret", token_type: "Bearer", ...(refresh ? { refresh_token: "rt-secret" } : {}) },
    obtained_at: NOW - 1000,
    ...rest,
  };
}

test("each user's grant with its state, label and expiry; never a token", async () => {
  const store = new MemoryTokenStore();
  await store.write(UPSTREAM, "tokens", tokens({ expires_at: NOW + 60_000 }));
  await store.write(grantKey(UPSTREAM, "p:valid"), "tokens", tokens({ expires_at: NOW + 60_000, user_label: "a@x" }));
  await store.write(grantKey(UPSTREAM, "p:refresh"), "tokens", tokens({ expires_at: NOW - 1, refresh: true }));
  await store.write(
    grantKey(UPSTREAM, "p:expired"),
    "tokens",
    tokens({ expires_at: NOW - 120_000, requested_scope: "a b" }),
  );
  await store.write(grantKey(UPSTREAM, "p:forever"), "tokens", tokens({ account: "someone" }));
  await store.write(grantKey(OTHER, "p:valid"), "tokens", tokens({ user_label: "elsewhere" }));

  const grants = await userGrantsOf(store, UPSTREAM, NOW);
  assert.equal(grants.length, 4, "the default grant and the other upstream's are not per-user grants of this one");
  const byId = new Map(grants.map((grant) => [grant.grant, grant]));
  const of = (principal: string) => byId.get(grantKey(UPSTREAM, principal).split(".")[1] ?? "");
  assert.deepEqual(
    [of("p:valid")?.state, of("p:refresh")?.state, of("p:expired")?.state, of("p:forever")?.state],
    ["valid", "refreshable", "expired", "valid"],
  );
  assert.equal(of("p:valid")?.label, "a@x");
  assert.equal(of("p:refresh")?.label, null);
  assert.equal(of("p:valid")?.expiresInSeconds, 60);
  assert.equal(of("p:expired")?.expiresInSeconds, -120);
  assert.deepEqual(of("p:expired")?.scopes, ["a", "b"]);
  assert.equal(of("p:forever")?.expiresAt, null);
  assert.equal(of("p:forever")?.account, "someone");
  assert.deepEqual(
    grants.map(isUsable).filter(Boolean).length,
    3,
    "valid and refreshable grants are usable, an expired one without a refresh token is not",
  );
  assert.doesNotMatch(JSON.stringify(grants), /secret|p:valid/, "no token and no principal in what is listed");
});

test("--user matches the grant id exactly, or the label whatever its case", async () => {
  const store = new MemoryTokenStore();
  await store.write(grantKey(UPSTREAM, "p:alice"), "tokens", tokens({ user_label: "Alice@Example.test" }));
  const [grant] = await userGrantsOf(store, UPSTREAM, NOW);
  assert.ok(grant);
  assert.ok(matchesUser(grant, grant.grant));
  assert.ok(matchesUser(grant, " alice@example.TEST "));
  assert.ok(!matchesUser(grant, grant.grant.toUpperCase()));
  assert.ok(!matchesUser(grant, "alice"));
});
