// The one upstream-call policy (challenge test, replay budget, the error past it), through authorized fetch with
// a fake fetch and a fake auth core. The HTTP relay calls the same answerChallenge (see http-relay.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AuthClient, ChallengeOutcome, UpstreamChallenge } from "../../src/auth/auth-client.ts";
import { createAuthorizedFetch } from "../../src/auth/authorized-fetch.ts";
import { answerChallenge, isAuthChallenge, MAX_CHALLENGE_REPLAYS } from "../../src/auth/upstream-call-policy.ts";
import { isProxyError, ProxyError } from "../../src/lib/errors.ts";

function fakeAuth(answer: (challenge: UpstreamChallenge) => ChallengeOutcome) {
  const challenges: UpstreamChallenge[] = [];
  let token = 0;
  const auth = {
    serverUrl: "https://mcp.example.com/mcp",
    getAccessToken: async () => `token-${token}`,
    onChallenge: async (challenge: UpstreamChallenge) => {
      challenges.push(challenge);
      token++;
      return answer(challenge);
    },
  } as unknown as AuthClient;
  return { auth, challenges };
}

test("401 and 403 insufficient_scope are challenges; other 403s and statuses are answers", () => {
  assert.equal(isAuthChallenge(401, null), true);
  assert.equal(isAuthChallenge(403, 'Bearer error="insufficient_scope", scope="a b"'), true);
  assert.equal(isAuthChallenge(403, 'Bearer error="invalid_token"'), false);
  assert.equal(isAuthChallenge(403, undefined), false);
  assert.equal(isAuthChallenge(200, null), false);
});

test("within the budget the auth core decides; past it the request fails without asking it", async () => {
  const { auth, challenges } = fakeAuth(() => ({ action: "retry" }));
  const challenge = { status: 401, wwwAuthenticate: null, usedToken: "t" };
  assert.deepEqual(await answerChallenge(auth, challenge, MAX_CHALLENGE_REPLAYS - 1), { action: "retry" });
  const past = await answerChallenge(auth, challenge, MAX_CHALLENGE_REPLAYS);
  assert.equal(past.action, "fail");
  assert.equal(challenges.length, 1);
});

test("a 401 that keeps coming back is a refused sign-in (not a missing scope), and says how to sign in again", async () => {
  const { auth, challenges } = fakeAuth(() => ({ action: "retry" }));
  let calls = 0;
  const fetch = createAuthorizedFetch(auth, {
    fetch: async () => {
      calls++;
      return new Response("no", { status: 401, headers: { "www-authenticate": "Bearer" } });
    },
  });
  await assert.rejects(
    fetch("https://mcp.example.com/mcp", { method: "POST", body: "{}" }),
    (error: unknown) =>
      isProxyError(error, "SIGN_IN_REQUIRED") &&
      /kept refusing/.test(error.message) &&
      /--force/.test(error.hint ?? ""),
  );
  assert.equal(calls, 1 + MAX_CHALLENGE_REPLAYS);
  assert.equal(challenges.length, MAX_CHALLENGE_REPLAYS);
});

test("a 403 insufficient_scope that keeps coming back fails as INSUFFICIENT_SCOPE after the same budget", async () => {
  const { auth } = fakeAuth(() => ({ action: "retry" }));
  let calls = 0;
  const fetch = createAuthorizedFetch(auth, {
    fetch: async () => {
      calls++;
      return new Response("no", {
        status: 403,
        headers: { "www-authenticate": 'Bearer error="insufficient_scope", scope="admin"' },
      });
    },
  });
  await assert.rejects(fetch("https://mcp.example.com/mcp"), (error: unknown) =>
    isProxyError(error, "INSUFFICIENT_SCOPE"),
  );
  assert.equal(calls, 1 + MAX_CHALLENGE_REPLAYS);
});

test("the auth core's refusal ends the request at once with its error", async () => {
  const { auth } = fakeAuth(() => ({
    action: "sign-in",
    error: new ProxyError("SIGN_IN_REQUIRED", "Sign-in to https://mcp.example.com/mcp is required."),
  }));
  let calls = 0;
  const fetch = createAuthorizedFetch(auth, {
    fetch: async () => {
      calls++;
      return new Response("no", { status: 401 });
    },
  });
  await assert.rejects(fetch("https://mcp.example.com/mcp"), (error: unknown) =>
    isProxyError(error, "SIGN_IN_REQUIRED"),
  );
  assert.equal(calls, 1);
});

test("a plain 403 passes through to the caller untouched", async () => {
  const { auth, challenges } = fakeAuth(() => ({ action: "retry" }));
  const fetch = createAuthorizedFetch(auth, { fetch: async () => new Response("forbidden", { status: 403 }) });
  const response = await fetch("https://mcp.example.com/mcp");
  assert.equal(response.status, 403);
  assert.equal(challenges.length, 0);
});

test("a challenge the core cannot act on (its store unreachable) fails the request with the core's error", async () => {
  const unreachable = new ProxyError("STORE_ERROR", "The Redis token store redis://127.0.0.1:6379 is unreachable.");
  const auth = {
    serverUrl: "https://mcp.example.com/mcp",
    onChallenge: async () => {
      throw unreachable;
    },
  } as unknown as AuthClient;
  const outcome = await answerChallenge(auth, { status: 401, wwwAuthenticate: null, usedToken: "t" }, 0);
  assert.deepEqual(outcome, { action: "fail", error: unreachable });
});
