import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  connectionListed,
  filterRequestHeaders,
  filterResponseHeaders,
  headerValue,
} from "../../src/proxy/header-filter.ts";

const pairs = (flat: string[]) => {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
};

describe("filterRequestHeaders (downstream → upstream)", () => {
  test("forwards the MCP headers untouched, with their case and order", () => {
    const raw = [
      "Mcp-Session-Id",
      "abc-123",
      "MCP-Protocol-Version",
      "2025-11-25",
      "Mcp-Method",
      "tools/call",
      "Mcp-Name",
      "search",
      "Mcp-Param-Region",
      "=?base64?ZXUtd2VzdA==?=",
      "mcp-param-unknown-thing",
      "x",
      "Last-Event-ID",
      "42",
      "Accept",
      "application/json, text/event-stream",
      "Content-Type",
      "application/json",
      "Accept-Encoding",
      "gzip",
      "User-Agent",
      "test",
    ];
    assert.deepEqual(filterRequestHeaders(raw), raw);
  });

  test("drops the client's credentials, cookies, Host, Content-Length and browser context", () => {
    const raw = [
      "Host",
      "127.0.0.1:8000",
      "Authorization",
      "Bearer client-token",
      "Cookie",
      "a=b",
      "Proxy-Authorization",
      "Basic x",
      "X-API-Key",
      "inbound",
      "Content-Length",
      "12",
      "Origin",
      "http://localhost:3000",
      "Referer",
      "http://localhost:3000/page",
      "Expect",
      "100-continue",
      "X-Forwarded-For",
      "10.0.0.1",
      "Forwarded",
      "for=10.0.0.1",
      "Content-Type",
      "application/json",
    ];
    assert.deepEqual(pairs(filterRequestHeaders(raw)), [["Content-Type", "application/json"]]);
  });

  test("drops every hop-by-hop field (RFC 9110 §7.6.1) and the fields Connection names", () => {
    const raw = [
      "Connection",
      "keep-alive, X-Hop, Upgrade",
      "Keep-Alive",
      "timeout=5",
      "Proxy-Connection",
      "keep-alive",
      "Transfer-Encoding",
      "chunked",
      "TE",
      "trailers",
      "Trailer",
      "X-Checksum",
      "Upgrade",
      "websocket",
      "X-Hop",
      "per-connection",
      "X-End-To-End",
      "kept",
    ];
    assert.deepEqual(pairs(filterRequestHeaders(raw)), [["X-End-To-End", "kept"]]);
  });

  test("drops extra configured names in any case", () => {
    const raw = ["X-Proxy-Key", "secret", "Accept", "*/*"];
    const drop = new Set(["x-proxy-key"]);
    assert.deepEqual(pairs(filterRequestHeaders(raw, { drop })), [["Accept", "*/*"]]);
  });
});

describe("filterResponseHeaders (upstream → downstream)", () => {
  test("keeps the session id, content headers and other end-to-end fields", () => {
    const flat = filterResponseHeaders({
      "mcp-session-id": "s-1",
      "content-type": "text/event-stream",
      "content-length": "10",
      "content-encoding": "gzip",
      "cache-control": "no-cache",
      "x-request-id": "r-1",
    });
    assert.equal(headerValue(flat, "mcp-session-id"), "s-1");
    assert.equal(headerValue(flat, "content-type"), "text/event-stream");
    assert.equal(headerValue(flat, "content-length"), "10");
    assert.equal(headerValue(flat, "content-encoding"), "gzip");
    assert.equal(headerValue(flat, "x-request-id"), "r-1");
  });

  test("never passes the upstream's challenge, cookies, hop-by-hop fields or origin statements", () => {
    const flat = filterResponseHeaders({
      "www-authenticate": 'Bearer resource_metadata="https://x/.well-known/oauth-protected-resource"',
      "set-cookie": ["a=1", "b=2"],
      connection: "keep-alive, x-hop",
      "keep-alive": "timeout=5",
      "transfer-encoding": "chunked",
      "x-hop": "1",
      "alt-svc": 'h3=":443"',
      "strict-transport-security": "max-age=1",
      "access-control-allow-origin": "*",
      "proxy-authenticate": "Basic",
      "content-type": "application/json",
    });
    assert.deepEqual(pairs(flat), [["content-type", "application/json"]]);
  });

  test("repeats multi-valued headers", () => {
    const flat = filterResponseHeaders({ link: ["<a>; rel=x", "<b>; rel=y"] });
    assert.deepEqual(pairs(flat), [
      ["link", "<a>; rel=x"],
      ["link", "<b>; rel=y"],
    ]);
  });
});

test("connectionListed parses comma lists and arrays", () => {
  assert.deepEqual([...(connectionListed("Close, X-A ,x-b") ?? [])], ["close", "x-a", "x-b"]);
  assert.deepEqual([...(connectionListed(["a", "B"]) ?? [])], ["a", "b"]);
  assert.equal(connectionListed(undefined), undefined);
  assert.equal(connectionListed(" , "), undefined);
});
