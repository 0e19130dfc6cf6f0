// GET /metrics and the JSON access log on the real face, with the real OAuth core, the test AS and an SDK MCP
// server (the face harness), behind an inbound API key: the scrape is refused without the key, and with it the
// series move with this test's own traffic (operations by method, in-flight, streams, a 401 challenge and the
// refresh it caused, sign-in pending, token expiry). Every relayed request and auth event is one JSON line, and no
// line carries a token or the API key.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createLogger } from "../../src/lib/logger.ts";
import { parsePrometheusText, type Scrape } from "../fixtures/prometheus-text.ts";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";

const API_KEY = "inbound-key-for-metrics-test-0123456789";
const KEY_HEADERS = { "x-api-key": API_KEY };
const UPSTREAM = "fixture";
const ACCEPT_BOTH = "application/json, text/event-stream";

/** A clock the test can move: the core judges expiry by it, the upstream by the real one. */
function movableClock() {
  const clock = { skewMs: 0, now: () => Date.now() + clock.skewMs };
  return clock;
}

function textOf(result: { content?: unknown }): string {
  const [block] = (result.content ?? []) as { type: string; text?: string }[];
  return block?.text ?? "";
}

/** Sum of a metric's samples for this test's upstream that match `labels`. */
function total(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  return scrape.find(name, { upstream: UPSTREAM, ...labels }).reduce((sum, sample) => sum + sample.value, 0);
}

/** Polls `check` until it returns true (bounded by count, not asserted on time). */
async function eventually(check: () => boolean | Promise<boolean>, what: string, tries = 300): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`never happened: ${what}`);
}

describe("GET /metrics and --log-format json on the HTTP face", () => {
  let h: FaceHarness;
  const clock = movableClock();
  const lines: string[] = [];

  const scrape = async (): Promise<Scrape> => {
    const response = await fetch(`${h.face.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(await response.text());
  };

  const connect = async () => {
    const client = new Client({ name: "metrics-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(h.mcpUrl), { requestInit: { headers: KEY_HEADERS } }),
    );
    return client;
  };

  /** The JSON lines of the access log (other lines of the face, such as warnings, are JSON too). */
  const jsonLines = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

  before(async () => {
    h = await startFaceHarness({
      authServer: { accessTokenTtlSeconds: 2 },
      deps: { now: clock.now },
      serve: {
        apiKey: API_KEY,
        name: UPSTREAM,
        logFormat: "json",
        logger: createLogger({ level: "info", format: "json", write: (line) => void lines.push(line) }),
      },
    });
    await h.signedIn();
  });

  after(async () => {
    await h?.close();
  });

  test("without the API key the scrape is refused (401, Basic challenge) and shows nothing", async () => {
    const refused = await fetch(`${h.face.url}/metrics`);
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get("www-authenticate") ?? "", /^Basic realm="mcp-u2m-proxy"/);
    assert.doesNotMatch(await refused.text(), /mcp_client|process_cpu/);
    assert.equal((await fetch(`${h.face.url}/metrics`, { headers: { "x-api-key": "wrong" } })).status, 401);
  });

  test("operations, in-flight, streams and the auth gauges move with this test's traffic", async () => {
    const before = await scrape();
    assert.equal(before.types.get("mcp_client_operation_duration_seconds"), "histogram");
    assert.equal(before.value("mcp_proxy_signin_pending", { upstream: UPSTREAM }), 0);
    const expiry = before.value("mcp_proxy_token_expiry_seconds", { upstream: UPSTREAM });
    assert.ok(expiry !== undefined && expiry > 0 && expiry <= 2, `token expiry ${expiry}`);
    const operationsBefore = total(before, "mcp_client_operation_duration_seconds_count");

    const client = await connect();
    for (let i = 0; i < 3; i++) {
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: `m${i}` } })), `m${i}`);
    }
    // The SDK client's GET stream of its session is an open stream of this upstream.
    await eventually(async () => total(await scrape(), "mcp_proxy_open_streams") >= 1, "the session's GET stream");

    // A 2026-07-28-style request names its method in Mcp-Method: that is the label, without reading the body.
    const session = (client.transport as StreamableHTTPClientTransport).sessionId;
    assert.ok(session);
    const listed = await fetch(h.mcpUrl, {
      method: "POST",
      headers: {
        ...KEY_HEADERS,
        "content-type": "application/json",
        accept: ACCEPT_BOTH,
        "mcp-session-id": session,
        "mcp-protocol-version": "2025-11-25",
        "mcp-method": "tools/list",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 99, method: "tools/list" }),
    });
    assert.equal(listed.status, 200);
    await listed.text();

    const during = await scrape();
    // initialize, notifications/initialized, 3 calls and the tools/list: at least 6 operations more.
    assert.ok(total(during, "mcp_client_operation_duration_seconds_count") >= operationsBefore + 6);
    assert.equal(
      total(during, "mcp_client_operation_duration_seconds_count", { mcp_method_name: "tools/list" }) -
        total(before, "mcp_client_operation_duration_seconds_count", { mcp_method_name: "tools/list" }),
      1,
    );
    assert.equal(during.value("mcp_proxy_requests_in_flight", { upstream: UPSTREAM }), 0);
    for (const sample of during.find("mcp_client_operation_duration_seconds_count", { upstream: UPSTREAM })) {
      assert.equal(sample.labels.error_type, undefined, `no failures: ${JSON.stringify(sample.labels)}`);
    }

    await client.close();
    await eventually(async () => total(await scrape(), "mcp_proxy_open_streams") === 0, "the stream closed");
  });

  test("a 401 from the upstream is counted as a challenge, and the refresh it causes by its outcome", async () => {
    const client = await connect();
    const before = await scrape();
    // The core now believes its token is fresh for an hour; the upstream will say otherwise once it expires.
    clock.skewMs = -3_600_000;
    const unauthorized = h.mcp.stats.unauthorized;
    while (h.mcp.stats.unauthorized === unauthorized) {
      assert.equal(textOf(await client.callTool({ name: "add", arguments: { a: 20, b: 22 } })), "42");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await client.close();
    clock.skewMs = 0;
    const after = await scrape();
    const challenges = (scrape: Scrape) => total(scrape, "mcp_proxy_upstream_auth_challenges_total", { status: "401" });
    assert.ok(challenges(after) >= challenges(before) + 1, "the 401 is counted");
    const refreshed = (scrape: Scrape) => total(scrape, "mcp_proxy_token_refresh_total", { outcome: "success" });
    assert.ok(refreshed(after) >= refreshed(before) + 1, "the refresh it caused is counted");
    for (const sample of after.find("mcp_proxy_token_refresh_total")) {
      assert.deepEqual(Object.keys(sample.labels).sort(), ["outcome", "upstream"], "labelled by upstream, not user");
    }
  });

  test("one JSON line per relayed request and per auth event, with no token and no API key in any line", async () => {
    const entries = jsonLines();
    const requests = entries.filter((entry) => entry.msg === "request");
    assert.ok(requests.length >= 6, `request lines: ${requests.length}`);
    const listed = requests.find((entry) => entry.mcpMethod === "tools/list");
    assert.ok(listed, "the tools/list request has its line");
    assert.equal(listed.upstream, UPSTREAM);
    assert.equal(listed.httpMethod, "POST");
    assert.equal(listed.route, "mcp");
    assert.equal(listed.status, 200);
    assert.equal(typeof listed.durationMs, "number");
    assert.equal(typeof listed.requestId, "string");
    assert.ok((listed.bytesIn as number) > 0 && (listed.bytesOut as number) > 0);
    assert.ok(!Number.isNaN(Date.parse(listed.time as string)));
    assert.equal(listed.level, "info");

    const auth = entries
      .filter((entry) => entry.msg === "auth")
      .map((entry) => `${entry.event}:${entry.outcome ?? ""}`);
    assert.ok(auth.includes("sign-in-started:"), auth.join(", "));
    assert.ok(auth.includes("sign-in-completed:"), auth.join(", "));
    assert.ok(auth.includes("token-refresh:success"), auth.join(", "));

    const tokens = await h.store.read(h.auth.storeKey, "tokens");
    assert.ok(tokens?.tokens.access_token);
    const all = lines.join("");
    for (const secret of [API_KEY, tokens.tokens.access_token, tokens.tokens.refresh_token ?? "no-refresh-token"]) {
      assert.ok(!all.includes(secret), "no secret in the log");
    }
  });
});
