// The endpoint check against real SDK MCP servers (each wire the fixture speaks), and what the HTTP face does with
// it: the warning at start, /healthz's upstream reachability and era, the sign-in at start through the same probe.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { probeEndpoint } from "../../src/proxy/endpoint-probe.ts";
import { type McpTransportMode, startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort, startFaceHarness } from "./support/http-face-harness.ts";
import { type StaticFace, staticFace } from "./support/raw-upstream.ts";

interface Health {
  ok: boolean;
  signedIn?: boolean;
  upstream?: { url?: string; reachable?: boolean; era?: string; error?: string; checkedAt?: string };
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function mcpServer(transport: McpTransportMode): Promise<TestMcpServer> {
  const server = await startMcpServer({ auth: false, transport });
  cleanups.push(() => server.close());
  return server;
}

async function face(url: string, apiKey?: string): Promise<StaticFace> {
  const started = await staticFace(
    url,
    { Authorization: "Bearer static-test" },
    { checkUpstream: true, ...(apiKey ? { apiKey } : {}) },
  );
  cleanups.push(() => started.face.close());
  return started;
}

async function health(base: string, headers: Record<string, string> = {}): Promise<Health> {
  const response = await fetch(`${base}/healthz`, { headers });
  assert.equal(response.status, 200, "/healthz answers 200 while the proxy serves");
  return (await response.json()) as Health;
}

async function eventually(check: () => boolean, what: string, logs: string[]): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`never happened: ${what}; logs:\n${logs.join("")}`);
}

describe("the probe against SDK servers", () => {
  const expected: [McpTransportMode, string][] = [
    ["streamable-stateful", "2025"],
    ["streamable-stateless", "2025"],
    ["sse", "legacy-sse"],
    ["2026", "2026-07-28"],
    ["dual", "2025"],
  ];
  for (const [mode, era] of expected) {
    test(`${mode}: an MCP endpoint, era ${era}`, async () => {
      const server = await mcpServer(mode);
      assert.deepEqual(await probeEndpoint(server.url), { kind: "mcp", status: 200, era });
      assert.ok(!server.stats.methods.includes("tools/call"), "never a tool call");
      assert.ok(!server.stats.methods.includes("tools/list"));
    });
  }

  test("a protected server without a token asks for a sign-in", async () => {
    const h = await startFaceHarness({ browser: "ignore", serve: { signInAtStart: false } });
    cleanups.push(() => h.close());
    const verdict = await probeEndpoint(h.mcp.url);
    assert.equal(verdict.kind, "auth-required");
    assert.match((verdict as { wwwAuthenticate: string }).wwwAuthenticate, /resource_metadata=/);
  });
});

describe("the HTTP face with the upstream check", () => {
  test("a wrong path: one warning at start with the URL and the one meant; /healthz says it", async () => {
    const server = await mcpServer("streamable-stateful");
    const wrong = `${server.origin}/wrong`;
    const { face: proxy, logs } = await face(wrong);
    await eventually(() => logs.some((line) => line.includes("not an MCP endpoint")), "the warning", logs);
    const warnings = logs.filter((line) => line.includes(": warn: "));
    assert.equal(warnings.length, 1, warnings.join(""));
    assert.match(
      warnings[0] ?? "",
      new RegExp(`${wrong} is not an MCP endpoint \\(HTTP 404\\) — did you mean ${server.url}\\? Serving anyway`),
    );
    const body = await health(proxy.url);
    assert.equal(body.ok, false);
    assert.equal(body.signedIn, true, "a static Authorization header counts as signed in");
    assert.equal(body.upstream?.reachable, true, "a 404 is an answer");
    assert.match(body.upstream?.error ?? "", /not an MCP endpoint \(HTTP 404\)/);
  });

  test("an upstream that is down: a warning at start, ok false and reachable false; the key hides the details", async () => {
    const deadUrl = `http://127.0.0.1:${await freePort()}/mcp`;
    const { face: proxy, logs } = await face(deadUrl, "inbound-secret-key");
    await eventually(() => logs.some((line) => line.includes("could not be reached")), "the warning", logs);
    assert.match(
      logs.join(""),
      new RegExp(`warn: The MCP server ${deadUrl} could not be reached: connection refused\\. Serving anyway`),
    );
    const full = await health(proxy.url, { "x-api-key": "inbound-secret-key" });
    assert.equal(full.ok, false);
    assert.equal(full.upstream?.url, deadUrl);
    assert.equal(full.upstream?.reachable, false);
    assert.match(full.upstream?.error ?? "", /connection refused/);
    assert.match(full.upstream?.checkedAt ?? "", /^\d{4}-\d\d-\d\dT/);
    const keyless = await health(proxy.url);
    assert.equal(keyless.ok, false);
    assert.deepEqual(Object.keys(keyless.upstream ?? {}).sort(), ["checkedAt", "reachable"]);
  });

  test("a 2026-07-28 upstream: ok, and /healthz names the era; no warning", async () => {
    const server = await mcpServer("2026");
    const { face: proxy, logs } = await face(server.url);
    const body = await health(proxy.url);
    assert.equal(body.ok, true);
    assert.equal(body.upstream?.reachable, true);
    assert.equal(body.upstream?.era, "2026-07-28");
    assert.equal(body.upstream?.error, undefined);
    assert.ok(!logs.some((line) => line.includes(": warn: ")), logs.join(""));
  });

  test("OAuth: the start-up probe's 401 starts the sign-in; after it, /healthz probes again with the token", async () => {
    const h = await startFaceHarness({ serve: { checkUpstream: true } });
    cleanups.push(() => h.close());
    await h.signedIn();
    assert.equal(h.opened.length, 1, "one sign-in");
    // The sign-in forgot the report of the token-less probe: this one used the token and learned the era.
    const body = await health(h.face.url);
    assert.equal(body.signedIn, true);
    assert.equal(body.ok, true);
    assert.equal(body.upstream?.era, "2025");
    assert.equal(body.upstream?.url, h.mcp.url);
    assert.ok(!h.logs.some((line) => line.includes(": warn: ")), h.logs.join(""));
  });
});
