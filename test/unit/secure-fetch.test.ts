import assert from "node:assert/strict";
import { test } from "node:test";
import { assertSecureUrl, secureFetch } from "../../src/auth/secure-fetch.ts";

test("https anywhere, http only on loopback unless explicitly allowed", () => {
  assert.equal(assertSecureUrl("https://mcp.example.com/mcp", false).host, "mcp.example.com");
  for (const ok of ["http://127.0.0.1:8080/mcp", "http://localhost/mcp", "http://[::1]:9/x", "http://a.localhost/"]) {
    assert.ok(assertSecureUrl(ok, false), ok);
  }
  for (const bad of ["http://mcp.example.com/mcp", "http://10.0.0.1/mcp"]) {
    assert.throws(
      () => assertSecureUrl(bad, false),
      (error: { code?: string }) => error.code === "UNSAFE_URL",
      bad,
    );
  }
  assert.ok(assertSecureUrl("http://mcp.example.com/mcp", true));
  assert.throws(
    () => assertSecureUrl("ftp://example.com/", true),
    (error: { code?: string }) => error.code === "INVALID_URL",
  );
});

test("secureFetch refuses before sending anything", async () => {
  let sent = 0;
  const fetchFn = secureFetch(async () => {
    sent++;
    return new Response("ok");
  }, false);
  await assert.rejects(fetchFn("http://as.example.com/token"), /must use https/);
  assert.equal(sent, 0);
  assert.equal(await (await fetchFn("https://as.example.com/token")).text(), "ok");
  assert.equal(sent, 1);
});
