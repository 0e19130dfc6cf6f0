// The Mcp-Method / Mcp-Name cross-check the HTTP face makes for a 2026-07-28 client it answers from a 2025 upstream.
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkModernHeaders, checkParamHeaders } from "../../src/proxy/era/modern-header-check.ts";

const HEADER_MISMATCH = -32020;

test("headers that agree with the body pass", () => {
  assert.equal(checkModernHeaders({ "mcp-method": "tools/list" }, "tools/list", {}), undefined);
  const call = { name: "test_simple_text", arguments: {} };
  assert.equal(
    checkModernHeaders({ "mcp-method": "tools/call", "mcp-name": "test_simple_text" }, "tools/call", call),
    undefined,
  );
  // Optional whitespace around a field value is not part of it (RFC 9110 §5.5).
  assert.equal(
    checkModernHeaders({ "mcp-method": "tools/call", "mcp-name": "  test_simple_text " }, "tools/call", call),
    undefined,
  );
  const uri = "test://caf\u00e9";
  const encoded = `=?base64?${Buffer.from(uri, "utf8").toString("base64")}?=`;
  assert.equal(
    checkModernHeaders({ "mcp-method": "resources/read", "mcp-name": encoded }, "resources/read", { uri }),
    undefined,
  );
});

test("a missing or different Mcp-Method is a -32020 mismatch; values are case-sensitive", () => {
  for (const headers of [{}, { "mcp-method": "prompts/list" }, { "mcp-method": "TOOLS/LIST" }]) {
    const mismatch = checkModernHeaders(headers, "tools/list", {});
    assert.equal(mismatch?.code, HEADER_MISMATCH, JSON.stringify(headers));
    assert.match(mismatch.message, /headers and body disagree.*tools\/list/);
  }
});

test("a missing or different Mcp-Name where the body names a tool, prompt or resource is a mismatch", () => {
  const absent = checkModernHeaders({ "mcp-method": "tools/call" }, "tools/call", { name: "test_simple_text" });
  assert.equal(absent?.code, HEADER_MISMATCH);
  assert.match(absent.message, /Mcp-Name header is absent/);
  const wrong = checkModernHeaders({ "mcp-method": "prompts/get", "mcp-name": "other" }, "prompts/get", { name: "p" });
  assert.equal(wrong?.code, HEADER_MISMATCH);
  const uri = checkModernHeaders({ "mcp-method": "resources/read", "mcp-name": "test://a" }, "resources/read", {
    uri: "test://b",
  });
  assert.equal(uri?.code, HEADER_MISMATCH);
  // Methods without a name parameter need no Mcp-Name.
  assert.equal(checkModernHeaders({ "mcp-method": "resources/list" }, "resources/list", { name: "x" }), undefined);
});

test("an MCP-Protocol-Version header naming another version than the body's _meta is a -32020 mismatch", () => {
  const meta = (version: string) => ({ _meta: { "io.modelcontextprotocol/protocolVersion": version } });
  const headers = { "mcp-method": "server/discover", "mcp-protocol-version": "2026-07-28" };
  const mismatch = checkModernHeaders(headers, "server/discover", meta("v999.0.0"));
  assert.equal(mismatch?.code, HEADER_MISMATCH);
  assert.match(mismatch.message, /protocol version v999\.0\.0.*MCP-Protocol-Version header names 2026-07-28/);
  // Agreeing (even on a version the proxy does not support: that is -32022, answered later) is no mismatch.
  assert.equal(checkModernHeaders(headers, "server/discover", meta("2026-07-28")), undefined);
  const both = { "mcp-method": "server/discover", "mcp-protocol-version": "v999.0.0" };
  assert.equal(checkModernHeaders(both, "server/discover", meta("v999.0.0")), undefined);
});

test("Mcp-Param-* headers: each annotated argument the body carries must be mirrored, Base64 only when canonical", () => {
  const declarations = [
    { path: ["region"], headerName: "Region" },
    { path: ["limits", "count"], headerName: "Count" },
  ];
  const args = { region: "Hello", limits: { count: 42 } };
  const check = (headers: Record<string, string>, body: unknown = args) =>
    checkParamHeaders(headers, declarations, body);
  assert.equal(check({ "mcp-param-region": "Hello", "mcp-param-count": "42" }), undefined);
  assert.equal(check({ "mcp-param-region": "=?base64?SGVsbG8=?=", "mcp-param-count": " 42.0 " }), undefined);
  // Without both halves of the sentinel the value is literal.
  assert.equal(check({ "mcp-param-region": "=?base64?SGVsbG8" }, { region: "=?base64?SGVsbG8" }), undefined);
  for (const [headers, reason] of [
    [{ "mcp-param-count": "42" }, /Mcp-Param-Region header is absent/],
    [{ "mcp-param-region": "=?base64?SGVsbG8?=", "mcp-param-count": "42" }, /invalid Base64/],
    [{ "mcp-param-region": "=?base64?SGVs!!!bG8=?=", "mcp-param-count": "42" }, /invalid Base64/],
    [{ "mcp-param-region": "Hello", "mcp-param-count": "41" }, /Mcp-Param-Count header names "41"/],
  ] as const) {
    const mismatch = check(headers);
    assert.equal(mismatch?.code, HEADER_MISMATCH, JSON.stringify(headers));
    assert.match(mismatch.message, reason);
  }
  // An argument that is absent or null needs no header (a header sent anyway is ignored).
  assert.equal(check({ "mcp-param-count": "42" }, { region: null, limits: { count: 42 } }), undefined);
  assert.equal(check({}, {}), undefined);
});
