// Regression tests for the auth-core defects the rebuild fixed (each failed on the old single-object design), through
// UpstreamAuth with a MemoryTokenStore and the fake authorization server of support/fake-oauth.ts; the own-listener
// case binds a real loopback port.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { UpstreamChallenge } from "../../src/auth/auth-client.ts";
import { MAX_STEP_UPS, STEP_UP_WINDOW_MS } from "../../src/auth/challenge-policy.ts";
import { answerChallenge } from "../../src/auth/upstream-call-policy.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { canBind, freePort } from "../fixtures/ports.ts";
import {
  callbackFor,
  closeAll,
  discoveryDown,
  fakeOAuth,
  harness,
  ownListenerAuth,
  seedSignedIn,
  until,
} from "./support/fake-oauth.ts";

after(closeAll);

const refused = (usedToken: string | undefined): UpstreamChallenge => ({
  status: 401,
  wwwAuthenticate: 'Bearer error="invalid_token"',
  usedToken,
});

const lacksScope = (
  usedToken: string | undefined,
  scope: string,
  operation = "tools/call:write",
): UpstreamChallenge => ({
  status: 403,
  wwwAuthenticate: `Bearer error="insufficient_scope", scope="${scope}"`,
  usedToken,
  operation,
});

const scopeOf = (url: string | undefined) => new URL(url ?? "http://x").searchParams.get("scope") ?? "";

test("a 401 whose refresh is refused for another reason than the grant answers sign-in and never hands out the refused token", async () => {
  const h = harness();
  await seedSignedIn(h, { clientId: "client-known" });
  h.network.clients.add("client-known");
  assert.equal(await h.auth.getAccessToken(), "at-seeded");
  h.network.failRefresh(1, 400, "invalid_scope");
  const outcome = await h.auth.onChallenge(refused("at-seeded"));
  assert.equal(outcome.action, "sign-in");
  assert.equal(h.network.tokenRequests.refresh_token, 1, "the refresh was tried");
  assert.notEqual(await h.auth.getAccessToken(), "at-seeded", "the refused token is not sent again");
});

test("the step-up budget of an operation starts again after it succeeded, and after the window", async () => {
  let now = Date.now();
  const h = harness({ deps: { now: () => now } });
  await seedSignedIn(h, { clientId: "client-known" });
  h.network.clients.add("client-known");
  const stepUp = () => h.auth.onChallenge(lacksScope("at-seeded", "mcp:write"));
  for (let i = 0; i < MAX_STEP_UPS; i++) assert.equal((await stepUp()).action, "sign-in");
  const spent = await stepUp();
  assert.ok(spent.action === "fail" && isProxyError(spent.error) && spent.error.code === "INSUFFICIENT_SCOPE");

  h.auth.accepted("tools/call:write");
  assert.equal((await stepUp()).action, "sign-in", "a success resets the budget");
  for (let i = 1; i < MAX_STEP_UPS; i++) await stepUp();
  assert.equal((await stepUp()).action, "fail");
  now += STEP_UP_WINDOW_MS + 1;
  assert.equal((await stepUp()).action, "sign-in", "an old budget starts again");
});

test("the own callback listener is closed when a sign-in fails after it started listening", async () => {
  const port = await freePort();
  const auth = ownListenerAuth(discoveryDown(fakeOAuth()), port);
  await assert.rejects(auth.signIn());
  assert.equal(auth.listening, false);
  // The port is really released (the close is deferred briefly so a result page can finish).
  for (const deadline = Date.now() + 10_000; !(await canBind(port)); ) {
    if (Date.now() > deadline) assert.fail(`port ${port} is still bound`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
});

test("a request that needs a sign-in hears at once where to sign in, and a caller that waits retries after it", async () => {
  const h = harness();
  const started = await h.auth.startSignIn();
  const outcome = await h.auth.onChallenge(refused(undefined));
  assert.equal(outcome.action, "sign-in");
  assert.ok(outcome.action === "sign-in" && outcome.completed, "with a promise of the sign-in's end");
  assert.equal(outcome.error.details?.signInUrl, h.auth.pendingSignIn()?.url);
  assert.equal(h.auth.pendingSignIn()?.url, started.url, "the pending sign-in was joined, not restarted");

  const waiting = answerChallenge(h.auth, refused(undefined), 0, { ms: 60_000 });
  await until(() => h.printed.length > 0);
  const result = await h.auth.handleCallback(callbackFor(started.url));
  assert.equal(result.ok, true);
  assert.deepEqual(await waiting, { action: "retry" });
  assert.ok(await h.auth.getAccessToken());
});

test("a step-up while a sign-in waits in the browser restarts it for both scopes; the first waiters follow it", async () => {
  const h = harness();
  const first = h.auth.signIn({ scope: "mcp:read" });
  await until(() => h.auth.pendingSignIn() !== undefined, "the first sign-in's URL");
  const firstUrl = h.auth.pendingSignIn()?.url ?? "";
  assert.equal(scopeOf(firstUrl), "mcp:read");

  const outcome = await h.auth.onChallenge(lacksScope(undefined, "mcp:write"));
  assert.equal(outcome.action, "sign-in");
  const secondUrl = h.auth.pendingSignIn()?.url ?? "";
  assert.notEqual(secondUrl, firstUrl);
  assert.deepEqual(scopeOf(secondUrl).split(" ").sort(), ["mcp:read", "mcp:write"]);
  assert.equal(outcome.action === "sign-in" && outcome.error.details?.signInUrl, secondUrl);

  const stale = await h.auth.handleCallback(callbackFor(firstUrl));
  assert.ok(!stale.ok && stale.error.code === "STATE_MISMATCH", "the superseded sign-in's state no longer works");
  assert.equal((await h.auth.handleCallback(callbackFor(secondUrl))).ok, true);
  await first; // the sign-in for mcp:read settles with the new sign-in's outcome
  assert.ok(outcome.action === "sign-in" && outcome.completed);
  await outcome.completed;
  assert.ok(await h.auth.getAccessToken());
});
