import assert from "node:assert/strict";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import type { AuthStatus } from "../../src/auth/auth-client.ts";
import { type AccessLog, createAccessLog, type RelayedRequestEntry } from "../../src/lib/access-log.ts";
import { ProxyError } from "../../src/lib/errors.ts";
import { createLogger } from "../../src/lib/logger.ts";
import { RateLimiter } from "../../src/proxy/rate-limit.ts";
import { writeErrorResponse } from "../../src/proxy/relay-errors.ts";
import { FaceTraffic } from "../../src/server/face-traffic.ts";
import { createMetricsRoute, createProxyMetrics, methodLabel } from "../../src/server/metrics.ts";
import { RequestGuard } from "../../src/server/request-guard.ts";
import { parsePrometheusText } from "../fixtures/prometheus-text.ts";

async function scrape(metrics: ReturnType<typeof createProxyMetrics>) {
  const { body, contentType } = await metrics.render();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(body);
}

function fakeAuth(status: Partial<AuthStatus>, pending = false) {
  return {
    pendingSignIn: () => (pending ? { url: "https://as.example/authorize" } : undefined),
    status: async (): Promise<AuthStatus> => ({
      serverUrl: "https://mcp.example.com/mcp",
      signedIn: false,
      hasRefreshToken: false,
      scopes: [],
      storeKey: "k",
      ...status,
    }),
  };
}

/** Serves `listener` on 127.0.0.1:0 for one test. */
async function serve(listener: RequestListener) {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("proxy metrics", () => {
  test("operations, challenges, refreshes and rate-limited requests are counted per upstream, never mixed", async () => {
    const metrics = createProxyMetrics();
    const a = metrics.forUpstream("a");
    const b = metrics.forUpstream("b");
    a.observeOperation("tools/call", 0.03);
    a.observeOperation("tools/call", 0.4, "UPSTREAM_TIMEOUT");
    b.observeOperation(undefined, 0.001);
    a.authChallenge(401);
    a.authChallenge(401);
    b.authChallenge(403);
    a.tokenRefresh("success");
    b.rateLimited();
    const text = await scrape(metrics);
    const count = "mcp_client_operation_duration_seconds_count";
    assert.equal(
      text.value(count, { upstream: "a", mcp_method_name: "tools/call", error_type: "UPSTREAM_TIMEOUT" }),
      1,
    );
    const success = text.find(count, { upstream: "a", mcp_method_name: "tools/call" });
    assert.equal(success.filter((sample) => sample.labels.error_type === undefined)[0]?.value, 1);
    assert.equal(text.value(count, { upstream: "b", mcp_method_name: "" }), 1);
    assert.equal(text.types.get("mcp_client_operation_duration_seconds"), "histogram");
    // The 0.05 s bucket holds the 30 ms call, not the 400 ms one.
    const buckets = text.find("mcp_client_operation_duration_seconds_bucket", {
      upstream: "a",
      mcp_method_name: "tools/call",
      le: "0.05",
    });
    assert.equal(buckets.find((sample) => sample.labels.error_type === undefined)?.value, 1);
    assert.equal(buckets.find((sample) => sample.labels.error_type === "UPSTREAM_TIMEOUT")?.value, 0);
    assert.equal(text.value("mcp_proxy_upstream_auth_challenges_total", { upstream: "a", status: "401" }), 2);
    assert.equal(text.value("mcp_proxy_upstream_auth_challenges_total", { upstream: "b", status: "403" }), 1);
    assert.equal(text.value("mcp_proxy_token_refresh_total", { upstream: "a", outcome: "success" }), 1);
    assert.equal(text.value("mcp_proxy_rate_limited_requests_total", { upstream: "b" }), 1);
    assert.equal(text.value("mcp_proxy_rate_limited_requests_total", { upstream: "a" }), undefined);
    // The process's default metrics come along.
    assert.ok(text.find("process_cpu_user_seconds_total").length === 1);
    assert.ok(text.find("nodejs_heap_size_used_bytes").length === 1);
  });

  test("a method name a client makes up is labelled 'other', so clients cannot grow the series", () => {
    assert.equal(methodLabel("tools/call"), "tools/call");
    assert.equal(methodLabel("subscriptions/listen"), "subscriptions/listen");
    assert.equal(methodLabel("x-random-1234"), "other");
    assert.equal(methodLabel("tools/call\nevil"), "other");
    assert.equal(methodLabel(undefined), "");
  });

  test("in-flight and stream gauges go up and down; releasing twice counts once", async () => {
    const metrics = createProxyMetrics();
    const a = metrics.forUpstream("a");
    const first = a.requestStarted();
    const second = a.requestStarted();
    const stream = a.streamOpened();
    let text = await scrape(metrics);
    assert.equal(text.value("mcp_proxy_requests_in_flight", { upstream: "a" }), 2);
    assert.equal(text.value("mcp_proxy_open_streams", { upstream: "a" }), 1);
    first();
    first();
    stream();
    text = await scrape(metrics);
    assert.equal(text.value("mcp_proxy_requests_in_flight", { upstream: "a" }), 1);
    assert.equal(text.value("mcp_proxy_open_streams", { upstream: "a" }), 0);
    second();
  });

  test("sessions, sign-in pending and token expiry are read at scrape time; a closed handle stops reporting", async () => {
    const metrics = createProxyMetrics();
    const a = metrics.forUpstream("a");
    const b = metrics.forUpstream("b");
    let open = 2;
    a.countSessions(() => open);
    a.countSessions(() => 1);
    a.watchAuth(fakeAuth({ signedIn: true, expiresInSeconds: 3599 }));
    b.watchAuth(fakeAuth({ signedIn: false }, true));
    let text = await scrape(metrics);
    assert.equal(text.value("mcp_proxy_open_sessions", { upstream: "a" }), 3);
    assert.equal(text.value("mcp_proxy_signin_pending", { upstream: "a" }), 0);
    assert.equal(text.value("mcp_proxy_signin_pending", { upstream: "b" }), 1);
    assert.equal(text.value("mcp_proxy_token_expiry_seconds", { upstream: "a" }), 3599);
    assert.equal(text.value("mcp_proxy_token_expiry_seconds", { upstream: "b" }), undefined, "not signed in");
    open = 0;
    a.close();
    text = await scrape(metrics);
    assert.equal(text.value("mcp_proxy_open_sessions", { upstream: "a" }), undefined);
    assert.equal(text.value("mcp_proxy_token_expiry_seconds", { upstream: "a" }), undefined);
    assert.equal(text.value("mcp_proxy_signin_pending", { upstream: "b" }), 1);
  });

  test("two faces in one process have registries of their own", async () => {
    const one = createProxyMetrics();
    const two = createProxyMetrics();
    one.forUpstream("a").rateLimited();
    assert.equal((await scrape(one)).value("mcp_proxy_rate_limited_requests_total", { upstream: "a" }), 1);
    assert.equal((await scrape(two)).value("mcp_proxy_rate_limited_requests_total", { upstream: "a" }), undefined);
  });
});

describe("GET /metrics is guarded like the MCP routes", () => {
  test("with an API key: 401 with a Basic challenge without it, 200 with Bearer, Basic or X-API-Key", async () => {
    const metrics = createProxyMetrics();
    const guard = new RequestGuard({ bindHost: "127.0.0.1", apiKey: "metrics-key-123" });
    const server = await serve(createMetricsRoute({ metrics, guard }));
    try {
      const refused = await fetch(`${server.url}/metrics`);
      assert.equal(refused.status, 401);
      assert.match(refused.headers.get("www-authenticate") ?? "", /^Basic realm=/);
      assert.doesNotMatch(await refused.text(), /mcp_proxy/);
      const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: "Bearer nope" } });
      assert.equal(wrong.status, 401);
      const accepted: Record<string, string>[] = [
        { authorization: "Bearer metrics-key-123" },
        { authorization: `Basic ${Buffer.from("prometheus:metrics-key-123").toString("base64")}` },
        { "x-api-key": "metrics-key-123" },
      ];
      for (const headers of accepted) {
        const ok = await fetch(`${server.url}/metrics`, { headers });
        assert.equal(ok.status, 200);
        assert.match(await ok.text(), /# TYPE mcp_client_operation_duration_seconds histogram/);
      }
    } finally {
      await server.close();
    }
  });

  test("refuses a foreign Host or Origin (DNS rebinding) and other methods", async () => {
    const metrics = createProxyMetrics();
    const server = await serve(createMetricsRoute({ metrics, guard: new RequestGuard({ bindHost: "127.0.0.1" }) }));
    try {
      assert.equal((await fetch(`${server.url}/metrics`)).status, 200, "loopback without a key: open like /mcp");
      const foreign = await fetch(`${server.url}/metrics`, { headers: { origin: "https://evil.example" } });
      assert.equal(foreign.status, 403);
      const post = await fetch(`${server.url}/metrics`, { method: "POST" });
      assert.equal(post.status, 405);
    } finally {
      await server.close();
    }
  });

  test("a non-loopback bind cannot start without a key at all", () => {
    assert.throws(() => new RequestGuard({ bindHost: "0.0.0.0" }));
  });
});

describe("FaceTraffic: what each relayed request leaves behind", () => {
  function recordingLog(): AccessLog & { entries: RelayedRequestEntry[] } {
    const entries: RelayedRequestEntry[] = [];
    return { enabled: true, entries, request: (entry) => void entries.push(entry), authEvent: () => {} };
  }

  test("duration by Mcp-Method, the proxy's error code as error_type, 429 past the rate limit", async () => {
    const metrics = createProxyMetrics();
    const log = recordingLog();
    let now = 0;
    const limiter = new RateLimiter({ now: () => now });
    limiter.configure("a", { requestsPerMinute: 60, burst: 2 });
    const traffic = new FaceTraffic({
      upstream: "a",
      metrics: metrics.forUpstream("a"),
      accessLog: log,
      rateLimit: () => limiter.take("a"),
    });
    const server = await serve((req, res) => {
      if (!traffic.admit(req, res, "mcp", false)) return;
      if (req.headers["mcp-method"] === "tools/list") {
        res.writeHead(200, { "content-type": "application/json" }).end('{"jsonrpc":"2.0","id":1,"result":{}}');
        return;
      }
      writeErrorResponse(res, new ProxyError("UPSTREAM_TIMEOUT", "slow"), { ids: [1] });
    });
    try {
      const call = (method: string) =>
        fetch(`${server.url}/mcp`, {
          method: "POST",
          headers: { "mcp-method": method, "x-request-id": "req-1", "content-type": "application/json" },
          body: '{"jsonrpc":"2.0","id":1,"method":"x"}',
        });
      assert.equal((await call("tools/list")).status, 200);
      assert.equal((await call("tools/call")).status, 200, "a JSON-RPC error at HTTP 200");
      const limited = await call("tools/list");
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get("retry-after"), "1");
      const body = (await limited.json()) as { error: { code: number; message: string } };
      assert.equal(body.error.code, -32055);
      assert.match(body.error.message, /60 requests per minute, burst 2/);
      now += 1000;
      assert.equal((await call("tools/list")).status, 200, "one more after the announced second");

      const text = await scrape(metrics);
      const count = "mcp_client_operation_duration_seconds_count";
      const list = text.find(count, { upstream: "a", mcp_method_name: "tools/list" });
      assert.equal(list.find((sample) => sample.labels.error_type === undefined)?.value, 2);
      assert.equal(list.find((sample) => sample.labels.error_type === "RATE_LIMITED")?.value, 1);
      assert.equal(text.value(count, { mcp_method_name: "tools/call", error_type: "UPSTREAM_TIMEOUT" }), 1);
      assert.equal(text.value("mcp_proxy_rate_limited_requests_total", { upstream: "a" }), 1);
      assert.equal(text.value("mcp_proxy_requests_in_flight", { upstream: "a" }), 0);

      // Responses close before the client reads them; wait for the fourth line (no timing assumed).
      while (log.entries.length < 4) await new Promise((resolve) => setImmediate(resolve));
      const [first, , third] = log.entries;
      assert.equal(first?.requestId, "req-1");
      assert.equal(first?.upstream, "a");
      assert.equal(first?.mcpMethod, "tools/list");
      assert.equal(first?.status, 200);
      assert.equal(first?.bytesIn, '{"jsonrpc":"2.0","id":1,"method":"x"}'.length);
      assert.ok((first?.bytesOut ?? 0) > '{"jsonrpc":"2.0","id":1,"result":{}}'.length, "head and body");
      assert.equal(typeof first?.durationMs, "number");
      assert.equal(first?.errorType, undefined);
      assert.equal(third?.status, 429);
      assert.equal(third?.errorType, "RATE_LIMITED");
    } finally {
      await server.close();
    }
  });

  test("a request id that is not a plain token is replaced, not logged", async () => {
    const log = recordingLog();
    const traffic = new FaceTraffic({ upstream: "a", accessLog: log });
    const server = await serve((req, res) => {
      traffic.admit(req, res, "relay", false);
      res.end("ok");
    });
    try {
      await (await fetch(`${server.url}/x`, { headers: { "x-request-id": "evil value\twith spaces" } })).text();
      while (log.entries.length < 1) await new Promise((resolve) => setImmediate(resolve));
      assert.match(log.entries[0]?.requestId ?? "", /^[0-9a-f-]{36}$/);
    } finally {
      await server.close();
    }
  });
});

describe("--log-format json", () => {
  test("one JSON object per line with time, level and msg; secrets masked; fields cannot overwrite them", () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "info", format: "json", write: (line) => void lines.push(line) });
    logger.info("request", { upstream: "a", status: 200, level: "forged", authorization: "Bearer abc.def.ghi" });
    logger.warn("refresh failed for token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-part-here");
    logger.debug("not at info level");
    assert.equal(lines.length, 2);
    for (const line of lines) assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
    const first = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.equal(first.level, "info");
    assert.equal(first.msg, "request");
    assert.equal(first.upstream, "a");
    assert.equal(first.status, 200);
    assert.equal(first.authorization, "[redacted]");
    assert.ok(!Number.isNaN(Date.parse(first.time as string)));
    const second = JSON.parse(lines[1] as string) as Record<string, unknown>;
    assert.equal(second.level, "warn");
    assert.doesNotMatch(second.msg as string, /eyJ/);
  });

  test("the access log writes request and auth lines at info in json, at debug only in text", () => {
    const json: string[] = [];
    const jsonLog = createAccessLog(createLogger({ format: "json", write: (line) => void json.push(line) }), "json");
    const entry: RelayedRequestEntry = {
      requestId: "r1",
      upstream: "a",
      mcpMethod: "tools/call",
      httpMethod: "POST",
      route: "mcp",
      status: 200,
      durationMs: 1.5,
      bytesIn: 10,
      bytesOut: 20,
    };
    jsonLog.request(entry);
    jsonLog.authEvent({ upstream: "a", event: "token-refresh", outcome: "success" });
    assert.deepEqual(
      json.map((line) => (JSON.parse(line) as { msg: string }).msg),
      ["request", "auth"],
    );
    assert.equal((JSON.parse(json[1] as string) as { outcome: string }).outcome, "success");

    const text: string[] = [];
    const quiet = createAccessLog(createLogger({ level: "info", write: (line) => void text.push(line) }), "text");
    assert.equal(quiet.enabled, false);
    quiet.authEvent({ upstream: "a", event: "sign-in-started" });
    assert.equal(text.length, 0);
    const verbose = createAccessLog(createLogger({ level: "debug", write: (line) => void text.push(line) }), "text");
    verbose.request(entry);
    assert.match(text[0] ?? "", /a: POST mcp tools\/call → 200 in 1\.5 ms, 10\/20 bytes \[r1\]/);
  });
});

describe("result cache counters", () => {
  test("hits and misses per upstream and MCP method; a method name a client made up is 'other'", async () => {
    const metrics = createProxyMetrics();
    const a = metrics.forUpstream("a");
    a.resultCacheLookup("tools/list", false);
    a.resultCacheLookup("tools/list", true);
    a.resultCacheLookup("tools/list", true);
    a.resultCacheLookup("made/up", false);
    metrics.forUpstream("b").resultCacheLookup("resources/read", true);
    const text = await scrape(metrics);
    assert.equal(text.value("mcp_proxy_result_cache_hits_total", { upstream: "a", mcp_method_name: "tools/list" }), 2);
    assert.equal(
      text.value("mcp_proxy_result_cache_misses_total", { upstream: "a", mcp_method_name: "tools/list" }),
      1,
    );
    assert.equal(
      text.value("mcp_proxy_result_cache_misses_total", { upstream: "a", mcp_method_name: methodLabel("made/up") }),
      1,
    );
    assert.equal(
      text.value("mcp_proxy_result_cache_hits_total", { upstream: "b", mcp_method_name: "resources/read" }),
      1,
    );
    assert.equal(text.value("mcp_proxy_result_cache_misses_total", { upstream: "b" }), undefined);
  });
});
