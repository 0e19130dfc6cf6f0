// Per-upstream rate limits on the real face (startServe with two named upstreams in front of two real SDK MCP
// servers): past "a"'s limit its requests get 429 with Retry-After and a JSON-RPC RATE_LIMITED error naming the
// limit, "b" keeps being served, "a" recovers once the (injected) clock has moved by the announced wait, a reload
// changes the limit in place, and /metrics counts the refusals per upstream.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type ServeHandle, startServe } from "../../src/app/serve.ts";
import type { RuntimeOptions, UpstreamOptions } from "../../src/config/options.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { parsePrometheusText } from "../fixtures/prometheus-text.ts";

const ACCEPT_BOTH = "application/json, text/event-stream";

function upstreamOf(url: string): UpstreamOptions {
  return { url, authorizeParams: {}, headers: {}, sendResource: true };
}

const runtime: RuntimeOptions = {
  authDir: "/nonexistent-memory-store",
  port: 0,
  callbackHost: "127.0.0.1",
  openBrowser: false,
  debug: false,
  allowInsecureHttp: true,
};

function initialize(id: number) {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "rate-limit-test", version: "1" } },
  });
}

/** A session-less initialize to `/servers/<name>/mcp`; the body is read to the end. */
async function post(face: ServeHandle, name: string, id: number) {
  const response = await fetch(`${face.url}/servers/${name}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: ACCEPT_BOTH, "mcp-method": "initialize" },
    body: initialize(id),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

describe("rate limits per upstream", () => {
  let mcpA: TestMcpServer;
  let mcpB: TestMcpServer;
  let face: ServeHandle;
  let now = 5_000_000;

  before(async () => {
    mcpA = await startMcpServer({ auth: false });
    mcpB = await startMcpServer({ auth: false });
    face = await startServe({
      upstream: upstreamOf(mcpA.url),
      runtime: { ...runtime },
      upstreams: [
        { name: "a", upstream: upstreamOf(mcpA.url), rateLimit: { requestsPerMinute: 30, burst: 2 } },
        { name: "b", upstream: upstreamOf(mcpB.url), rateLimit: { requestsPerMinute: 30, burst: 2 } },
      ],
      host: "127.0.0.1",
      port: 0,
      signInAtStart: false,
      now: () => now,
    });
  });

  after(async () => {
    await face?.close();
    await mcpA?.close();
    await mcpB?.close();
  });

  test("past the burst: 429, Retry-After, a JSON-RPC error naming the limit; the other upstream is unaffected", async () => {
    assert.equal((await post(face, "a", 1)).status, 200);
    assert.equal((await post(face, "a", 2)).status, 200);
    const upstreamRequests = mcpA.stats.requests;
    const refused = await post(face, "a", 3);
    assert.equal(refused.status, 429);
    // 30 per minute: one every 2 s.
    assert.equal(refused.headers.get("retry-after"), "2");
    assert.match(refused.headers.get("content-type") ?? "", /^application\/json/);
    const body = JSON.parse(refused.text) as {
      jsonrpc: string;
      error: { code: number; message: string; data: Record<string, unknown> };
    };
    assert.equal(body.jsonrpc, "2.0");
    assert.equal(body.error.code, -32055);
    assert.match(body.error.message, /rate limit for a is reached \(30 requests per minute, burst 2\)/);
    assert.equal(body.error.data.proxyError, "RATE_LIMITED");
    assert.deepEqual(body.error.data.limit, { requestsPerMinute: 30, burst: 2 });
    assert.equal(mcpA.stats.requests, upstreamRequests, "a refused request never reaches the upstream");

    // "b" has a bucket of its own.
    assert.equal((await post(face, "b", 1)).status, 200);
    assert.equal((await post(face, "b", 2)).status, 200);
  });

  test("recovers once the clock has moved by the announced wait (one request, not a new burst)", async () => {
    assert.equal((await post(face, "a", 4)).status, 429);
    now += 1_999;
    assert.equal((await post(face, "a", 5)).status, 429, "not before the wait");
    now += 1;
    assert.equal((await post(face, "a", 6)).status, 200);
    assert.equal((await post(face, "a", 7)).status, 429);
  });

  test("/metrics counts the refusals per upstream", async () => {
    const scrape = parsePrometheusText(await (await fetch(`${face.url}/metrics`)).text());
    assert.equal(scrape.value("mcp_proxy_rate_limited_requests_total", { upstream: "a" }), 4);
    assert.equal(scrape.value("mcp_proxy_rate_limited_requests_total", { upstream: "b" }), undefined);
    const limited = scrape.value("mcp_client_operation_duration_seconds_count", {
      upstream: "a",
      mcp_method_name: "initialize",
      error_type: "RATE_LIMITED",
    });
    assert.equal(limited, 4);
  });

  test("a reload applies a new limit at once without rebuilding the face; removing it lifts the limit", async () => {
    const result = await face.reload([
      { name: "a", upstream: upstreamOf(mcpA.url), rateLimit: { requestsPerMinute: 30, burst: 3 } },
      { name: "b", upstream: upstreamOf(mcpB.url) },
    ]);
    assert.deepEqual(result.changed, [], "same upstream: the face and its sessions stay");
    // A changed limit starts with a full bucket of the new size.
    for (let id = 10; id < 13; id++) assert.equal((await post(face, "a", id)).status, 200);
    assert.equal((await post(face, "a", 13)).status, 429);
    for (let id = 10; id < 15; id++) assert.equal((await post(face, "b", id)).status, 200, "b has no limit now");
  });
});
