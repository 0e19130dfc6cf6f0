import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { StreamLimits } from "../../src/proxy/stream-limits.ts";

describe("StreamLimits", () => {
  test("counts open streams, refuses above the total with PROXY_BUSY, and frees slots on release", () => {
    const limits = new StreamLimits({ maxStreams: 2, maxStreamsPerSession: 5 });
    const a = limits.acquire(undefined);
    const b = limits.acquire("s1");
    assert.equal(typeof a, "function");
    assert.equal(typeof b, "function");
    assert.equal(limits.size, 2);
    const refused = limits.acquire(undefined);
    assert.ok(isProxyError(refused, "PROXY_BUSY"));
    assert.match(refused.message, /limit of 2 open streams/);
    (a as () => void)();
    (a as () => void)(); // idempotent
    assert.equal(limits.size, 1);
    assert.equal(typeof limits.acquire(undefined), "function");
  });

  test("caps streams per session without affecting other sessions", () => {
    const limits = new StreamLimits({ maxStreams: 10, maxStreamsPerSession: 1 });
    const first = limits.acquire("s1");
    assert.equal(typeof first, "function");
    const second = limits.acquire("s1");
    assert.ok(isProxyError(second, "PROXY_BUSY"));
    assert.match(second.message, /limit per session is 1/);
    assert.equal(typeof limits.acquire("s2"), "function");
    (first as () => void)();
    assert.equal(typeof limits.acquire("s1"), "function");
  });
});
