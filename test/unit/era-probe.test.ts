// The era probe's verdicts (which answers prove a 2026-07-28 server) and the request headers it stamps, with a
// fake fetch: every branch of the decision.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FetchLike } from "../../src/auth/authorized-fetch.ts";
import { ProxyError } from "../../src/lib/errors.ts";
import { probeEra } from "../../src/proxy/era/era-probe.ts";
import { encodeHeaderValue, modernRequestHeaders, scanToolHeaders } from "../../src/proxy/era/mcp-request-headers.ts";

const URL_ = new URL("http://127.0.0.1:1/mcp");
const answering =
  (status: number, body: unknown, type = "application/json"): FetchLike =>
  async () =>
    new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers: { "content-type": type } });
const rpc = (payload: Record<string, unknown>) => ({ jsonrpc: "2.0", id: "mcp-u2m-proxy:era-probe", ...payload });

describe("probeEra", () => {
  test("a valid server/discover result naming only 2026-07-28 is a modern server", async () => {
    const verdict = await probeEra(
      URL_,
      answering(200, rpc({ result: { supportedVersions: ["2026-07-28"], capabilities: {} } })),
    );
    assert.equal(verdict.era, "modern");
    assert.deepEqual(verdict.supportedVersions, ["2026-07-28"]);
  });
  test("a discover result that also names 2025 revisions is dual", async () => {
    const result = { supportedVersions: ["2025-11-25", "2026-07-28"], capabilities: {} };
    assert.equal((await probeEra(URL_, answering(200, rpc({ result })))).era, "dual");
  });
  test("a result that is not a DiscoverResult proves nothing modern: legacy", async () => {
    assert.equal((await probeEra(URL_, answering(200, rpc({ result: {} })))).era, "legacy");
  });
  test("-32022 naming 2026-07-28 in an HTTP 400 is modern; naming only 2025 revisions is legacy", async () => {
    const modern = rpc({ error: { code: -32022, message: "x", data: { supported: ["2026-07-28"] } } });
    assert.equal((await probeEra(URL_, answering(400, modern))).era, "modern");
    const legacy = rpc({ error: { code: -32022, message: "x", data: { supported: ["2025-11-25"] } } });
    assert.equal((await probeEra(URL_, answering(400, legacy))).era, "legacy");
  });
  test("a 2025 server's 400 'not initialized' and a 404 are legacy", async () => {
    const notInitialized = rpc({ error: { code: -32000, message: "Bad Request: Server not initialized" } });
    assert.equal((await probeEra(URL_, answering(400, notInitialized))).era, "legacy");
    assert.equal((await probeEra(URL_, answering(404, "Not Found", "text/plain"))).era, "legacy");
  });
  test("a 5xx, a network failure and a sign-in needed prove nothing: they reject", async () => {
    await assert.rejects(probeEra(URL_, answering(503, "busy", "text/plain")));
    await assert.rejects(
      probeEra(URL_, async () => {
        throw new TypeError("fetch failed");
      }),
    );
    await assert.rejects(
      probeEra(URL_, async () => {
        throw new ProxyError("SIGN_IN_REQUIRED", "sign in");
      }),
      (error: unknown) => error instanceof ProxyError && error.code === "SIGN_IN_REQUIRED",
    );
  });
});

describe("modern request headers", () => {
  test("Mcp-Method, Mcp-Name and Mcp-Param-* from x-mcp-header annotations; unsafe values in base64 form", () => {
    const scan = scanToolHeaders({
      type: "object",
      properties: { region: { type: "string", "x-mcp-header": "Region" }, n: { type: "integer" } },
    });
    assert.ok(scan.valid);
    const headers = modernRequestHeaders(
      "tools/call",
      { name: "lookup", arguments: { region: "eu west ✓", n: 1 } },
      scan.valid ? scan.declarations : [],
    );
    assert.equal(headers["mcp-protocol-version"], "2026-07-28");
    assert.equal(headers["mcp-method"], "tools/call");
    assert.equal(headers["mcp-name"], "lookup");
    assert.equal(headers["mcp-param-region"], encodeHeaderValue("eu west ✓"));
    assert.match(headers["mcp-param-region"] ?? "", /^=\?base64\?.+\?=$/);
  });
  test("annotations that break the rules make the tool invalid", () => {
    assert.equal(
      scanToolHeaders({ type: "object", properties: { a: { type: "object", "x-mcp-header": "A" } } }).valid,
      false,
    );
    const twice = {
      type: "object",
      properties: { a: { type: "string", "x-mcp-header": "A" }, b: { type: "string", "x-mcp-header": "a" } },
    };
    assert.equal(scanToolHeaders(twice).valid, false);
    const nested = {
      type: "object",
      properties: { a: { type: "array", items: { type: "string", "x-mcp-header": "A" } } },
    };
    assert.equal(scanToolHeaders(nested).valid, false);
  });
});
