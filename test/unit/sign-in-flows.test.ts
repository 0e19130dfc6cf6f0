// SignInFlows' decisions (join or supersede a pending sign-in, single-use state, the RFC 9207 `iss` check, the error
// response, the own callback listener's lifetime, shutdown), through UpstreamAuth over a MemoryTokenStore and the
// fake authorization server of support/fake-oauth.ts; the own-listener cases bind a real loopback port.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import {
  callbackFor,
  closeAll,
  discoveryDown,
  fakeOAuth,
  harness,
  ISSUER,
  ownListenerAuth,
  until,
} from "./support/fake-oauth.ts";

after(closeAll);

const scopeOf = (url: string) => (new URL(url).searchParams.get("scope") ?? "").split(" ").sort();
const authorizationCodes = (h: ReturnType<typeof harness>) => h.network.tokenRequests.authorization_code ?? 0;

test("a sign-in that asks for no more than the pending one joins it: one URL, shown once", async () => {
  const h = harness();
  const first = await h.auth.startSignIn({ scope: "mcp:read mcp:write" });
  const again = await h.auth.startSignIn({ scope: "mcp:read" });
  const plain = await h.auth.startSignIn();
  assert.equal(again.url, first.url);
  assert.equal(plain.url, first.url);
  assert.equal(h.printed.length, 1);
});

test("two sign-ins started at once (the start-up one and the page's button) register once and share one URL", async () => {
  const h = harness();
  const [first, second] = await Promise.all([h.auth.startSignIn(), h.auth.startSignIn()]);
  assert.equal(second.url, first.url);
  assert.equal(h.network.registrations(), 1);
  assert.equal(h.printed.length, 1);
});

test("a sign-in that asks for more supersedes the pending one: the union, the old state refused, its waiters follow", async () => {
  const h = harness();
  const first = await h.auth.startSignIn({ scope: "mcp:read" });
  const wider = await h.auth.startSignIn({ scope: "mcp:write" });
  assert.notEqual(wider.url, first.url);
  assert.deepEqual(scopeOf(wider.url), ["mcp:read", "mcp:write"]);
  assert.equal(h.auth.pendingSignIn()?.url, wider.url);
  const oldState = new URL(first.url).searchParams.get("state") ?? "";
  assert.equal(h.auth.ownsSignIn(oldState), false);

  const stale = await h.auth.handleCallback(callbackFor(first.url));
  assert.ok(!stale.ok && stale.error.code === "STATE_MISMATCH");
  assert.equal(authorizationCodes(h), 0, "no code of a superseded sign-in is exchanged");
  assert.equal((await h.auth.handleCallback(callbackFor(wider.url))).ok, true);
  await first.completed; // settles with the new sign-in's outcome
  await wider.completed;
});

test("the callback signs in once: a replay, or one without state, is refused before any token request", async () => {
  const h = harness();
  const handle = await h.auth.startSignIn();
  const state = new URL(handle.url).searchParams.get("state") ?? "";
  assert.equal(h.auth.ownsSignIn(state), true);
  const result = await h.auth.handleCallback(callbackFor(handle.url));
  assert.equal(result.ok, true);
  await handle.completed;
  assert.ok(await h.auth.getAccessToken());
  assert.equal(h.auth.pendingSignIn(), undefined);
  assert.equal(h.auth.ownsSignIn(state), false);

  const replay = await h.auth.handleCallback(callbackFor(handle.url));
  assert.ok(!replay.ok && replay.error.code === "STATE_MISMATCH");
  const missing = await h.auth.handleCallback(new URLSearchParams({ code: "c" }));
  assert.ok(!missing.ok && missing.error.code === "STATE_MISMATCH");
  assert.equal(authorizationCodes(h), 1);
});

test("two callbacks with the same state at once (a double-click): one exchange, the other refused", async () => {
  const h = harness();
  const handle = await h.auth.startSignIn();
  const results = await Promise.all([
    h.auth.handleCallback(callbackFor(handle.url)),
    h.auth.handleCallback(callbackFor(handle.url)),
  ]);
  assert.deepEqual(results.map((r) => r.ok).sort(), [false, true]);
  assert.equal(authorizationCodes(h), 1);
});

test("an `iss` of another authorization server is refused before the code is exchanged (RFC 9207)", async () => {
  const h = harness();
  const handle = await h.auth.startSignIn();
  const query = callbackFor(handle.url);
  query.set("iss", "https://evil.example.com");
  const result = await h.auth.handleCallback(query);
  assert.ok(!result.ok && result.error.code === "ISSUER_MISMATCH");
  assert.equal(authorizationCodes(h), 0);
  await assert.rejects(handle.completed, (error) => isProxyError(error));
  assert.equal(await h.auth.getAccessToken(), undefined);

  const right = await h.auth.startSignIn();
  const ok = callbackFor(right.url);
  ok.set("iss", ISSUER);
  assert.equal((await h.auth.handleCallback(ok)).ok, true, "the right issuer passes");
});

test("an error response ends the sign-in: access_denied is SIGN_IN_DENIED", async () => {
  const h = harness();
  const handle = await h.auth.startSignIn();
  const state = new URL(handle.url).searchParams.get("state") ?? "";
  const result = await h.auth.handleCallback(new URLSearchParams({ error: "access_denied", state }));
  assert.ok(!result.ok && result.error.code === "SIGN_IN_DENIED");
  await assert.rejects(handle.completed, (error) => isProxyError(error) && error.code === "SIGN_IN_DENIED");
  assert.equal(h.auth.pendingSignIn(), undefined);
});

test("the own callback listener is bound while a sign-in waits and closed once it completed", async () => {
  const auth = ownListenerAuth(fakeOAuth().fetchFn);
  assert.equal(auth.listening, false, "nothing is bound before a sign-in");
  const handle = await auth.startSignIn();
  assert.equal(auth.listening, true);
  const port = Number(new URL(new URL(handle.url).searchParams.get("redirect_uri") ?? "").port);
  assert.ok(port > 0, "the redirect URI names the port the listener got");
  // The browser's redirect, through the real listener.
  const response = await fetch(`http://127.0.0.1:${port}/oauth/callback?${callbackFor(handle.url)}`);
  assert.equal(response.status, 200);
  await handle.completed;
  await until(() => !auth.listening, "the listener to close");
});

test("the own callback listener is closed when the sign-in fails to start (its AS metadata answers 500)", async () => {
  const auth = ownListenerAuth(discoveryDown(fakeOAuth()));
  await assert.rejects(auth.startSignIn(), (error) => isProxyError(error));
  assert.equal(auth.listening, false);
  assert.equal(auth.pendingSignIn(), undefined);
});

test("close() abandons a pending sign-in: its waiters hear SIGN_IN_TIMEOUT", async () => {
  const h = harness();
  const handle = await h.auth.startSignIn();
  await h.auth.close();
  await assert.rejects(handle.completed, (error) => isProxyError(error) && error.code === "SIGN_IN_TIMEOUT");
  assert.equal(h.auth.pendingSignIn(), undefined);
});
