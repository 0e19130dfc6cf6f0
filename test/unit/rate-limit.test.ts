import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { type RateDecision, RateLimiter, rateLimitedError } from "../../src/proxy/rate-limit.ts";
import { httpStatusOf, JSON_RPC_ERROR, jsonRpcErrorOf } from "../../src/proxy/relay-errors.ts";

/** A clock the test steps by hand. */
function fakeClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function takeMany(limiter: RateLimiter, key: string, count: number): RateDecision[] {
  return Array.from({ length: count }, () => limiter.take(key));
}

describe("RateLimiter (token bucket per upstream)", () => {
  test("allows a burst, then refuses with a Retry-After of whole seconds until the next token", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ now: clock.now });
    limiter.configure("jira", { requestsPerMinute: 60, burst: 3 });
    const decisions = takeMany(limiter, "jira", 4);
    assert.deepEqual(
      decisions.map((decision) => decision.allowed),
      [true, true, true, false],
    );
    const refused = decisions[3];
    assert.ok(refused && !refused.allowed);
    // 60 per minute = one per second: the next token is 1 s away.
    assert.equal(refused.retryAfterSeconds, 1);
    assert.equal(refused.requestsPerMinute, 60);
    assert.equal(refused.burst, 3);
  });

  test("refills at requestsPerMinute: after the announced wait one more request passes, not two", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ now: clock.now });
    limiter.configure("slow", { requestsPerMinute: 6, burst: 1 });
    assert.equal(limiter.take("slow").allowed, true);
    const refused = limiter.take("slow");
    assert.ok(!refused.allowed);
    assert.equal(refused.retryAfterSeconds, 10); // 6 per minute: one every 10 s
    clock.advance(9_999);
    const early = limiter.take("slow");
    assert.ok(!early.allowed);
    assert.equal(early.retryAfterSeconds, 1, "never 0: a client told 0 would retry at once");
    clock.advance(1);
    assert.equal(limiter.take("slow").allowed, true);
    assert.equal(limiter.take("slow").allowed, false);
  });

  test("a long quiet spell refills up to the burst, never beyond", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ now: clock.now });
    limiter.configure("a", { requestsPerMinute: 120, burst: 5 });
    takeMany(limiter, "a", 5);
    clock.advance(60 * 60_000);
    const decisions = takeMany(limiter, "a", 6);
    assert.equal(decisions.filter((decision) => decision.allowed).length, 5);
  });

  test("keys are independent: one upstream at its limit leaves another untouched", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ now: clock.now });
    limiter.configure("a", { requestsPerMinute: 60, burst: 2 });
    limiter.configure("b", { requestsPerMinute: 60, burst: 2 });
    assert.deepEqual(
      takeMany(limiter, "a", 3).map((decision) => decision.allowed),
      [true, true, false],
    );
    assert.deepEqual(
      takeMany(limiter, "b", 2).map((decision) => decision.allowed),
      [true, true],
    );
    // A key without a limit is never refused.
    assert.ok(takeMany(limiter, "unlimited", 1000).every((decision) => decision.allowed));
  });

  test("burst defaults to requestsPerMinute; a clock stepping back neither refills nor fails", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ now: clock.now });
    limiter.configure("a", { requestsPerMinute: 3 });
    assert.equal(takeMany(limiter, "a", 4).filter((decision) => decision.allowed).length, 3);
    clock.advance(-60_000);
    assert.equal(limiter.take("a").allowed, false);
  });

  test("reconfiguring with the same limit keeps the level (a reload hands out no fresh burst); a new limit starts full", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ now: clock.now });
    limiter.configure("a", { requestsPerMinute: 60, burst: 2 });
    takeMany(limiter, "a", 2);
    limiter.configure("a", { requestsPerMinute: 60, burst: 2 });
    assert.equal(limiter.take("a").allowed, false);
    limiter.configure("a", { requestsPerMinute: 60, burst: 4 });
    assert.equal(takeMany(limiter, "a", 5).filter((decision) => decision.allowed).length, 4);
    limiter.configure("a", undefined);
    assert.equal(limiter.has("a"), false);
    assert.equal(limiter.take("a").allowed, true);
  });

  test("refuses a limit that could never allow a request", () => {
    const limiter = new RateLimiter();
    assert.throws(
      () => limiter.configure("a", { requestsPerMinute: 0 }),
      (error) => isProxyError(error, "USAGE"),
    );
    assert.throws(
      () => limiter.configure("a", { requestsPerMinute: 10, burst: 0.5 }),
      (error) => isProxyError(error, "USAGE"),
    );
  });

  test("the refusal is RATE_LIMITED: HTTP 429 and a JSON-RPC error that names the limit and when to retry", () => {
    const error = rateLimitedError("jira", {
      allowed: false,
      retryAfterSeconds: 7,
      requestsPerMinute: 120,
      burst: 20,
    });
    assert.equal(error.code, "RATE_LIMITED");
    assert.equal(httpStatusOf(error), 429);
    const rpc = jsonRpcErrorOf(error);
    assert.equal(rpc.code, JSON_RPC_ERROR.RATE_LIMITED);
    assert.match(rpc.message, /rate limit for jira is reached \(120 requests per minute, burst 20\)/);
    assert.match(rpc.message, /Retry in 7 s/);
    assert.deepEqual(rpc.data.limit, { requestsPerMinute: 120, burst: 20 });
    assert.equal(rpc.data.retryAfterSeconds, 7);
    assert.equal(rpc.data.proxyError, "RATE_LIMITED");
  });
});
