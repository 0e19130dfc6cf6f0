// Every branch of ChallengePolicy.decide (what an upstream's 401 or 403 leads to), with a real TokenKeeper on a
// MemoryTokenStore, a scripted refresh and a recording signInForRequest: no network, no authorization server.
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import type { ChallengeOutcome, UpstreamChallenge } from "../../src/auth/auth-client.ts";
import { ChallengePolicy, MAX_STEP_UPS, STEP_UP_WINDOW_MS } from "../../src/auth/challenge-policy.ts";
import type { RefreshRequest, RefreshResult } from "../../src/auth/refresher.ts";
import { loadSdk } from "../../src/auth/sdk.ts";
import { TokenKeeper } from "../../src/auth/token-keeper.ts";
import { isProxyError, ProxyError } from "../../src/lib/errors.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { MCP_URL, tokensRecord } from "./support/fake-oauth.ts";

const KEY = "grant-key";
const HOUR = 3_600_000;

interface Setup {
  policy: ChallengePolicy;
  keeper: TokenKeeper;
  store: MemoryTokenStore;
  refreshes: RefreshRequest[];
  signIns: Array<{ scope?: string | undefined; force?: boolean }>;
  clock: { now: number };
}

/**
 * A policy over a keeper holding `held` (an access token with `scope`, a refresh token unless `refreshToken` is
 * false). `refresh` runs when the policy refreshes: it may store new tokens and says what the refresh came to.
 */
async function setup({
  held,
  scope,
  refreshToken = true,
  refresh = async () => "no-refresh-token" as RefreshResult,
}: {
  held?: string;
  scope?: string;
  refreshToken?: boolean;
  refresh?: (s: Setup) => Promise<RefreshResult>;
} = {}): Promise<Setup> {
  const store = new MemoryTokenStore();
  const clock = { now: Date.now() };
  if (held) {
    const record = tokensRecord(held, clock.now + HOUR);
    if (!refreshToken) delete record.tokens.refresh_token;
    if (scope) record.tokens.scope = scope;
    await store.write(KEY, "tokens", record);
  }
  const keeper = new TokenKeeper(store, KEY, MCP_URL, () => {});
  const s = { keeper, store, refreshes: [], signIns: [], clock } as unknown as Setup;
  s.policy = new ChallengePolicy({
    serverUrl: MCP_URL,
    keeper,
    refresh: async (request) => {
      s.refreshes.push(request);
      return refresh(s);
    },
    signInForRequest: async (request) => {
      s.signIns.push(request);
      return { action: "sign-in", error: new ProxyError("SIGN_IN_REQUIRED", "sign in") };
    },
    now: () => clock.now,
  });
  return s;
}

/** Stores `accessToken` as if a refresh (or another process) had produced it. */
async function storeNew(s: Setup, accessToken: string, scope?: string): Promise<void> {
  const record = tokensRecord(accessToken, s.clock.now + HOUR);
  if (scope) record.tokens.scope = scope;
  await s.store.write(KEY, "tokens", record);
  await s.keeper.reload();
}

const unauthorized = (usedToken: string | undefined, header = 'Bearer error="invalid_token"'): UpstreamChallenge => ({
  status: 401,
  wwwAuthenticate: header,
  usedToken,
});

const insufficientScope = (usedToken: string, scope: string, operation = "tools/call:write"): UpstreamChallenge => ({
  status: 403,
  wwwAuthenticate: `Bearer error="insufficient_scope", scope="${scope}"`,
  usedToken,
  operation,
});

function failed(outcome: ChallengeOutcome, code: string): void {
  assert.equal(outcome.action, "fail");
  assert.ok(outcome.action === "fail" && isProxyError(outcome.error), "a ProxyError");
  assert.equal(outcome.error.code, code);
}

describe("a 403", () => {
  test("without insufficient_scope is an answer: the request fails (UPSTREAM_ERROR), nothing else happens", async () => {
    const s = await setup({ held: "at-1" });
    const outcome = await s.policy.decide({ status: 403, wwwAuthenticate: null, usedToken: "at-1" });
    failed(outcome, "UPSTREAM_ERROR");
    assert.equal(s.signIns.length + s.refreshes.length, 0);
    assert.equal(s.policy.isRefused("at-1"), false, "a 403 does not refuse the token");
  });

  test("insufficient_scope asks for a step-up sign-in for the union of the scopes, forced", async () => {
    const s = await setup({ held: "at-1", scope: "mcp:read" });
    const outcome = await s.policy.decide(insufficientScope("at-1", "mcp:write"));
    assert.equal(outcome.action, "sign-in");
    assert.deepEqual(s.signIns, [{ scope: "mcp:read mcp:write", force: true }]);
    assert.equal(s.refreshes.length, 0, "a refresh cannot widen the scope");
  });

  test("insufficient_scope is retried when another request already holds a token with the scope", async () => {
    const s = await setup({ held: "at-1", scope: "mcp:read" });
    await storeNew(s, "at-2", "mcp:read mcp:write");
    const outcome = await s.policy.decide(insufficientScope("at-1", "mcp:write"));
    assert.deepEqual(outcome, { action: "retry" });
    assert.equal(s.signIns.length, 0);
  });

  test("the held token is not a reason to retry when it is the one refused, or lacks the scope", async () => {
    const same = await setup({ held: "at-1", scope: "mcp:read mcp:write" });
    assert.equal((await same.policy.decide(insufficientScope("at-1", "mcp:write"))).action, "sign-in");
    const narrower = await setup({ held: "at-1", scope: "mcp:read" });
    await storeNew(narrower, "at-2", "mcp:read");
    assert.equal((await narrower.policy.decide(insufficientScope("at-1", "mcp:write"))).action, "sign-in");
  });
});

describe("the step-up budget", () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup({ held: "at-1", scope: "mcp:read" });
  });

  test(`${MAX_STEP_UPS} step-ups per operation and scope, then INSUFFICIENT_SCOPE`, async () => {
    for (let i = 0; i < MAX_STEP_UPS; i++) {
      assert.equal((await s.policy.decide(insufficientScope("at-1", "mcp:write"))).action, "sign-in");
    }
    failed(await s.policy.decide(insufficientScope("at-1", "mcp:write")), "INSUFFICIENT_SCOPE");
    assert.equal(s.signIns.length, MAX_STEP_UPS);
    // Another operation has a budget of its own.
    assert.equal((await s.policy.decide(insufficientScope("at-1", "mcp:write", "tools/call:other"))).action, "sign-in");
  });

  test("a success of the operation starts its budget again (and only its own)", async () => {
    for (let i = 0; i < MAX_STEP_UPS; i++) await s.policy.decide(insufficientScope("at-1", "mcp:write", "a"));
    for (let i = 0; i < MAX_STEP_UPS; i++) await s.policy.decide(insufficientScope("at-1", "mcp:write", "b"));
    s.policy.accepted("a");
    assert.equal((await s.policy.decide(insufficientScope("at-1", "mcp:write", "a"))).action, "sign-in");
    failed(await s.policy.decide(insufficientScope("at-1", "mcp:write", "b")), "INSUFFICIENT_SCOPE");
  });

  test(`a budget older than ${STEP_UP_WINDOW_MS / 60_000} minutes starts again`, async () => {
    for (let i = 0; i < MAX_STEP_UPS; i++) await s.policy.decide(insufficientScope("at-1", "mcp:write"));
    s.clock.now += STEP_UP_WINDOW_MS - 1;
    failed(await s.policy.decide(insufficientScope("at-1", "mcp:write")), "INSUFFICIENT_SCOPE");
    s.clock.now += STEP_UP_WINDOW_MS;
    assert.equal((await s.policy.decide(insufficientScope("at-1", "mcp:write"))).action, "sign-in");
  });
});

describe("a 401", () => {
  test("refuses the token it carried for good; other tokens stay usable", async () => {
    const s = await setup({ held: "at-1" });
    assert.equal(s.policy.isRefused("at-1"), false);
    await s.policy.decide(unauthorized("at-1"));
    assert.equal(s.policy.isRefused("at-1"), true);
    assert.equal(s.policy.isRefused("at-2"), false);
    assert.equal(s.policy.isRefused(undefined), false);
  });

  test("the 32 most recently refused tokens are remembered", async () => {
    const s = await setup();
    for (let i = 0; i <= 32; i++) await s.policy.decide(unauthorized(`at-${i}`));
    assert.equal(s.policy.isRefused("at-0"), false, "the oldest is dropped");
    assert.equal(s.policy.isRefused("at-1"), true);
    assert.equal(s.policy.isRefused("at-32"), true);
  });

  test("remembers the challenge's resource metadata URL and scope (discovery and the next sign-in use them)", async () => {
    const s = await setup();
    await s.policy.decide(
      unauthorized(
        undefined,
        'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:read"',
      ),
    );
    assert.equal(s.policy.resourceMetadataUrl, "https://mcp.example.com/.well-known/oauth-protected-resource/mcp");
    assert.equal(s.policy.challengedScope, "mcp:read");
    assert.deepEqual(s.signIns, [{ scope: "mcp:read" }]);
  });

  test("is retried at once when a different, unrefused token is held (another caller refreshed)", async () => {
    const s = await setup({ held: "at-1" });
    await storeNew(s, "at-2");
    assert.deepEqual(await s.policy.decide(unauthorized("at-1")), { action: "retry" });
    assert.equal(s.refreshes.length + s.signIns.length, 0);
  });

  test("a token refused earlier is no reason to retry", async () => {
    const s = await setup({ held: "at-1", refreshToken: false });
    await s.policy.decide(unauthorized("at-2")); // at-2 refused
    await storeNew(s, "at-2");
    const outcome = await s.policy.decide(unauthorized("at-1"));
    assert.equal(outcome.action, "sign-in");
  });

  test("with a refresh token: a refresh that discovers again, then retry with the new token", async () => {
    for (const result of ["refreshed", "replaced"] as const) {
      const s = await setup({
        held: "at-1",
        refresh: async (setup) => {
          await storeNew(setup, "at-2");
          return result;
        },
      });
      assert.deepEqual(await s.policy.decide(unauthorized("at-1")), { action: "retry" }, result);
      assert.deepEqual(s.refreshes, [{ rediscover: true }]);
      assert.equal(s.signIns.length, 0);
    }
  });

  test("a refresh that hands back the refused token leads to a sign-in, and the dead tokens are removed", async () => {
    const s = await setup({ held: "at-1", refresh: async () => "refreshed" });
    assert.equal((await s.policy.decide(unauthorized("at-1"))).action, "sign-in");
    assert.equal(s.keeper.current, undefined);
    assert.equal(await s.store.read(KEY, "tokens"), undefined);
  });

  for (const result of ["invalid-grant", "invalid-client", "no-refresh-token"] as const) {
    test(`a refresh that comes to ${result} leads to a sign-in for the challenged scope`, async () => {
      const s = await setup({ held: "at-1", refresh: async () => result });
      const outcome = await s.policy.decide(unauthorized("at-1", 'Bearer error="invalid_token", scope="mcp:read"'));
      assert.equal(outcome.action, "sign-in");
      assert.deepEqual(s.signIns, [{ scope: "mcp:read" }]);
    });
  }

  test("a transient refresh failure (network, server_error, temporarily_unavailable) fails the request", async () => {
    const { OAuthError } = await loadSdk();
    const transient = [
      new TypeError("fetch failed"),
      new ProxyError("NETWORK", "unreachable"),
      new OAuthError("server_error", "boom"),
      new OAuthError("temporarily_unavailable", "later"),
    ];
    for (const error of transient) {
      const s = await setup({
        held: "at-1",
        refresh: async () => {
          throw error;
        },
      });
      const outcome = await s.policy.decide(unauthorized("at-1"));
      assert.equal(outcome.action, "fail", error.message);
      assert.equal(s.signIns.length, 0, "a sign-in would fail the same way");
      assert.ok(s.keeper.current, "the refresh token is kept: it may work later");
    }
  });

  test("a token store that cannot be reached during the refresh fails the request and keeps the tokens", async () => {
    // A shared store restarting: the grant is good, only unreachable; removing it would lose the refresh token.
    const s = await setup({
      held: "at-1",
      refresh: async () => {
        throw new ProxyError("STORE_ERROR", "The Postgres token store postgres://db/x is unreachable (57P03).");
      },
    });
    const outcome = await s.policy.decide(unauthorized("at-1"));
    assert.equal(outcome.action, "fail");
    assert.ok(outcome.action === "fail" && isProxyError(outcome.error) && outcome.error.code === "STORE_ERROR");
    assert.equal(s.signIns.length, 0);
    assert.equal((await s.store.read(KEY, "tokens"))?.tokens.access_token, "at-1", "the stored grant is kept");
  });

  test("any other refresh failure (invalid_scope, a malformed answer) leads to a sign-in without the dead tokens", async () => {
    const { OAuthError } = await loadSdk();
    for (const error of [new OAuthError("invalid_scope", "no"), new Error("malformed")]) {
      const s = await setup({
        held: "at-1",
        refresh: async () => {
          throw error;
        },
      });
      assert.equal((await s.policy.decide(unauthorized("at-1"))).action, "sign-in", error.message);
      assert.equal(s.keeper.current, undefined, "the refused token is not kept to be handed out again");
    }
  });

  test("without a refresh token: no refresh, the tokens are removed, a sign-in", async () => {
    const s = await setup({ held: "at-1", refreshToken: false });
    assert.equal((await s.policy.decide(unauthorized("at-1"))).action, "sign-in");
    assert.equal(s.refreshes.length, 0);
    assert.equal(s.keeper.current, undefined);
  });

  test("with no tokens at all: a sign-in", async () => {
    const s = await setup();
    assert.equal((await s.policy.decide(unauthorized(undefined))).action, "sign-in");
    assert.equal(s.refreshes.length, 0);
    assert.deepEqual(s.signIns, [{ scope: undefined }]);
  });
});
