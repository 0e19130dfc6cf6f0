// The ID token as the bearer (`useIdToken`, for AWS Cognito and Bedrock AgentCore): every decision of the auth core
// made on it instead of the access token. UpstreamAuth on a MemoryTokenStore with the fake authorization server of
// support/fake-oauth.ts, which issues unsigned ID tokens when told to.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { UpstreamChallenge } from "../../src/auth/auth-client.ts";
import {
  callbackFor,
  closeAll,
  fakeIdToken,
  type Harness,
  harness,
  seedSignedIn,
  tokensRecord,
} from "./support/fake-oauth.ts";

after(closeAll);

const HOUR = 3_600_000;
const refused = (usedToken: string | undefined): UpstreamChallenge => ({
  status: 401,
  wwwAuthenticate: 'Bearer error="invalid_token"',
  usedToken,
});

/** Signed in with an access token for an hour and an ID token for `idSeconds` (none: signed in without openid). */
async function signedIn(idSeconds: number | undefined, withIdTokens = true): Promise<Harness & { idToken?: string }> {
  const h = harness({ upstream: { useIdToken: true } });
  await seedSignedIn(h, { clientId: "client-known", tokens: false });
  h.network.clients.add("client-known");
  if (withIdTokens) h.network.idTokenSeconds = 3600;
  const record = tokensRecord("at-seeded", Date.now() + HOUR);
  const idToken = idSeconds === undefined ? undefined : fakeIdToken("id-seeded", idSeconds);
  if (idToken) record.tokens.id_token = idToken;
  await h.store.write(h.auth.storeKey, "tokens", record);
  return { ...h, ...(idToken ? { idToken } : {}) };
}

test("the ID token is the bearer while it lives, though the access token would be good too", async () => {
  const h = await signedIn(3600);
  assert.equal(await h.auth.getAccessToken(), h.idToken);
  assert.equal(h.network.tokenRequests.refresh_token ?? 0, 0);
  assert.equal((await h.auth.status()).signedIn, true);
});

test("an ID token near its exp is refreshed, though the access token has an hour left", async () => {
  const h = await signedIn(5);
  // Its last quarter of 5 s is the refresh window: wait into it.
  await new Promise((resolve) => setTimeout(resolve, 4_000));
  const bearer = await h.auth.getAccessToken();
  assert.equal(h.network.tokenRequests.refresh_token, 1);
  assert.match(JSON.parse(Buffer.from(bearer?.split(".")[1] ?? "", "base64url").toString()).jti, /^id-refresh_token-/);
});

test("a refused ID token is refreshed and the request retried with the new one", async () => {
  const h = await signedIn(3600);
  const outcome = await h.auth.onChallenge(refused(h.idToken));
  assert.equal(outcome.action, "retry");
  assert.equal(h.network.tokenRequests.refresh_token, 1);
  const next = await h.auth.getAccessToken();
  assert.ok(next && next !== h.idToken && next !== "at-seeded", "a new ID token, never the access token");
});

test("a refresh that returns no ID token leaves nothing to send: a sign-in, not the access token", async () => {
  const h = await signedIn(3600, false);
  const outcome = await h.auth.onChallenge(refused(h.idToken));
  assert.equal(outcome.action, "sign-in");
  assert.equal(h.network.tokenRequests.refresh_token, 1, "the refresh was tried");
  assert.equal(await h.auth.getAccessToken(), undefined);
  assert.equal((await h.auth.status()).signedIn, false);
});

test("a grant signed in without openid is not signed in for an ID-token upstream; its sign-in asks for openid", async () => {
  const h = await signedIn(undefined);
  assert.equal(await h.auth.getAccessToken(), undefined, "the access token is never sent in its place");
  assert.equal((await h.auth.status()).signedIn, false);
  await h.auth.startSignIn({ scope: "mcp:read" });
  const scope = new URL(h.printed.at(-1) ?? "http://x").searchParams.get("scope");
  assert.equal(scope, "mcp:read openid");
});

test("with no scope named anywhere, an ID-token sign-in asks for the server's scopes_supported and openid", async () => {
  const h = await signedIn(undefined);
  await h.auth.startSignIn();
  // The fake server's metadata lists no scopes_supported: openid alone.
  assert.equal(new URL(h.printed.at(-1) ?? "http://x").searchParams.get("scope"), "openid");
});

test("a sign-in whose authorization server returns no ID token fails with that reason and stores nothing", async () => {
  const h = harness({ upstream: { useIdToken: true } });
  await seedSignedIn(h, { clientId: "client-known", tokens: false });
  h.network.clients.add("client-known");
  const started = await h.auth.startSignIn();
  const result = await h.auth.handleCallback(callbackFor(started.url));
  assert.ok(!result.ok);
  assert.equal(result.error.code, "AS_ERROR");
  assert.match(result.error.message, /returned no ID token, which --use-id-token sends as the bearer/);
  assert.equal(await h.store.read(h.auth.storeKey, "tokens"), undefined, "nothing stored");
});

test("a 403 for scope on the ID token held now is a step-up, not a retry with the same token", async () => {
  const h = await signedIn(3600);
  const record = await h.store.read(h.auth.storeKey, "tokens");
  assert.ok(record);
  await h.store.write(h.auth.storeKey, "tokens", { ...record, tokens: { ...record.tokens, scope: "mcp:read" } });
  await h.auth.status(); // re-reads the store
  const challenge = (usedToken: string | undefined): UpstreamChallenge => ({
    status: 403,
    wwwAuthenticate: 'Bearer error="insufficient_scope", scope="mcp:read"',
    usedToken,
    operation: "tools/call:read",
  });
  // An older token was refused and the one held has the scope: the request goes again with it.
  assert.equal((await h.auth.onChallenge(challenge("an-older-id-token"))).action, "retry");
  // The held ID token itself was refused: a sign-in for more, never the same token again.
  assert.equal((await h.auth.onChallenge(challenge(h.idToken))).action, "sign-in");
});
