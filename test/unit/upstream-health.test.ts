// /healthz's view of the upstream: probed at most once per TTL however often it is asked, one probe at a time.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { forgetRememberedSecrets, rememberSecret } from "../../src/lib/known-secrets.ts";
import type { EndpointVerdict, ProbeOptions } from "../../src/proxy/endpoint-probe.ts";
import { UpstreamHealth } from "../../src/proxy/upstream-health.ts";

function setup(verdicts: EndpointVerdict[]) {
  let now = 1_000_000;
  const calls: ProbeOptions[] = [];
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const health = new UpstreamHealth({
    url: "http://up/mcp",
    token: async () => "tok-abcdefgh",
    ttlMs: 10_000,
    now: () => now,
    probe: async (_url, options = {}) => {
      calls.push(options);
      await gate;
      return verdicts[Math.min(calls.length - 1, verdicts.length - 1)] as EndpointVerdict;
    },
  });
  return {
    health,
    calls,
    advance: (ms: number) => {
      now += ms;
    },
    hold: () => {
      gate = new Promise((resolve) => {
        release = resolve;
      });
    },
    release: () => release?.(),
  };
}

describe("UpstreamHealth", () => {
  test("reports unreachable, then reuses that report within the TTL, then probes again", async () => {
    const h = setup([
      { kind: "unreachable", reason: "connection refused" },
      { kind: "mcp", status: 200, era: "2026-07-28" },
    ]);
    const first = await h.health.current();
    assert.equal(first.reachable, false);
    assert.equal(first.usable, false);
    assert.equal(first.error, "The MCP server http://up/mcp could not be reached: connection refused");
    assert.equal(first.checkedAt, new Date(1_000_000).toISOString());
    assert.equal(h.calls[0]?.token, "tok-abcdefgh", "probed with the token");

    h.advance(9_999);
    assert.deepEqual(await h.health.current(), first);
    assert.equal(h.calls.length, 1);

    h.advance(1);
    const second = await h.health.current();
    assert.deepEqual(
      { reachable: second.reachable, usable: second.usable, era: second.era, error: second.error },
      { reachable: true, usable: true, era: "2026-07-28", error: undefined },
    );
    assert.equal(h.calls.length, 2);
  });

  test("concurrent askers share one probe", async () => {
    const h = setup([{ kind: "mcp", status: 200, era: "2025" }]);
    h.hold();
    const asks = Promise.all([h.health.current(), h.health.current(), h.health.current()]);
    await new Promise((resolve) => setImmediate(resolve));
    h.release();
    const reports = await asks;
    assert.equal(h.calls.length, 1);
    assert.ok(reports.every((report) => report.era === "2025"));
  });

  test("a recorded verdict (the start-up check) is the current report; invalidate forgets it", async () => {
    const h = setup([{ kind: "mcp", status: 200, era: "legacy-sse" }]);
    h.health.record({ kind: "not-mcp", status: 404, found: "HTTP 404" });
    const recorded = await h.health.current();
    assert.equal(recorded.reachable, true, "a 404 is an answer");
    assert.equal(recorded.usable, false);
    assert.equal(recorded.error, "http://up/mcp is not an MCP endpoint (HTTP 404)");
    assert.equal(h.calls.length, 0);
    h.health.invalidate();
    assert.equal((await h.health.current()).era, "legacy-sse");
    assert.equal(h.calls.length, 1);
  });

  test("a sign-in challenge is usable: the URL is right, the era is not known yet", async () => {
    const h = setup([{ kind: "auth-required", status: 401, wwwAuthenticate: "Bearer" }]);
    const report = await h.health.current();
    assert.deepEqual(
      { reachable: report.reachable, usable: report.usable, era: report.era, error: report.error },
      { reachable: true, usable: true, era: undefined, error: undefined },
    );
  });

  test("a secret the process holds never reaches /healthz, even when the server quotes it", async () => {
    rememberSecret("held-access-token-5f2c9a");
    try {
      const h = setup([{ kind: "not-mcp", status: 200, found: "a redirect to https://x/held-access-token-5f2c9a" }]);
      const report = await h.health.current();
      assert.ok(report.error?.includes("not an MCP endpoint"), report.error);
      assert.ok(!report.error?.includes("held-access-token-5f2c9a"), report.error);
    } finally {
      forgetRememberedSecrets();
    }
  });
});
