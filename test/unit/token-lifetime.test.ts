// Which token is the bearer and when it needs refreshing: the access token by its stored expiry, or (useIdToken)
// the OpenID Connect ID token by its own `exp` claim, which may differ from the access token's.
import assert from "node:assert/strict";
import { test } from "node:test";
import { bearerExpiresAt, bearerOf, expiresSoon, isDead } from "../../src/auth/token-lifetime.ts";
import type { TokensRecord } from "../../src/store/token-store.ts";

const NOW = 1_800_000_000_000;
/** An unsigned JWT with these claims (the proxy reads an ID token's `exp`; it never verifies it). */
const jwt = (claims: Record<string, unknown>) =>
  `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;

function record(tokens: Partial<TokensRecord["tokens"]>, expiresInMs?: number): TokensRecord {
  return {
    version: 1,
    server_url: "https://mcp.example.com/mcp",
    issuer: "https://as.example.com",
    tokens: { access_token: "at", token_type: "Bearer", ...tokens },
    obtained_at: NOW,
    ...(expiresInMs === undefined ? {} : { expires_at: NOW + expiresInMs }),
  } as TokensRecord;
}

test("the bearer is the access token, or the ID token when asked for", () => {
  const held = record({ id_token: "the-id-token" }, 3_600_000);
  assert.equal(bearerOf(held, "access"), "at");
  assert.equal(bearerOf(held, "id"), "the-id-token");
  assert.equal(bearerOf(record({}), "id"), undefined, "a grant without an ID token has no ID bearer");
  assert.equal(bearerOf(undefined, "access"), undefined);
});

test("the ID token's expiry is its exp claim; an unreadable one has none", () => {
  const exp = Math.floor(NOW / 1000) + 300;
  assert.equal(bearerExpiresAt(record({ id_token: jwt({ exp }) }, 3_600_000), "id"), exp * 1000);
  assert.equal(bearerExpiresAt(record({ id_token: jwt({ exp }) }, 3_600_000), "access"), NOW + 3_600_000);
  for (const idToken of ["opaque", "a.%%%.c", jwt({ exp: "soon" }), jwt({})]) {
    assert.equal(bearerExpiresAt(record({ id_token: idToken }, 3_600_000), "id"), undefined, idToken);
  }
});

test("refresh is due by the bearer's own expiry: a short ID token under a long access token, and the reverse", () => {
  const shortId = record({ id_token: jwt({ exp: Math.floor(NOW / 1000) + 5 }), refresh_token: "rt" }, 3_600_000);
  // Five seconds of life: due in its last quarter (1.25 s), not before.
  assert.equal(expiresSoon(shortId, NOW + 3_000, "id"), false);
  assert.equal(expiresSoon(shortId, NOW + 4_000, "id"), true);
  assert.equal(expiresSoon(shortId, NOW + 4_000, "access"), false, "the access token has an hour left");
  const longId = record({ id_token: jwt({ exp: Math.floor(NOW / 1000) + 3_600 }), refresh_token: "rt" }, 5_000);
  assert.equal(expiresSoon(longId, NOW + 4_000, "access"), true);
  assert.equal(expiresSoon(longId, NOW + 4_000, "id"), false);
  assert.equal(
    expiresSoon(record({ id_token: "opaque" }, 5_000), NOW + 4_000, "id"),
    false,
    "no exp: used until refused",
  );
});

test("dead: no ID token at all when it is the bearer, or expired without a refresh token", () => {
  assert.equal(isDead(record({}, 3_600_000), NOW, "id"), true, "signed in without openid: sign in again");
  assert.equal(isDead(record({}, 3_600_000), NOW, "access"), false);
  const expiredId = record({ id_token: jwt({ exp: Math.floor(NOW / 1000) - 1 }) }, 3_600_000);
  assert.equal(isDead(expiredId, NOW, "id"), true);
  assert.equal(isDead({ ...expiredId, tokens: { ...expiredId.tokens, refresh_token: "rt" } }, NOW, "id"), false);
  assert.equal(isDead(expiredId, NOW, "access"), false);
});
