import assert from "node:assert/strict";
import { test } from "node:test";
import { redact, redactText } from "../../src/lib/redact.ts";

test("masks bearer and basic credentials, JWTs and secret query parameters in free text", () => {
  const jwt = `eyJhbGciOiJSUzI1NiJ9.${"eyJzdWIiOiJhbGljZSJ9"}.c2lnbmF0dXJlLXNpZ25hdHVyZQ`;
  const text = redactText(`Authorization: Bearer abc.def-123 and Basic dXNlcjpwYXNz, token ${jwt}`);
  assert.doesNotMatch(text, /abc\.def-123|dXNlcjpwYXNz|eyJhbGci/);
  assert.equal(redactText("/cb?code=SECRET&state=S1&iss=x"), "/cb?code=[redacted]&state=[redacted]&iss=x");
  assert.doesNotMatch(redactText('{"refresh_token":"r-123","x":1}'), /r-123/);
});

test("leaves scope lists alone (mcp:basic is a scope, not a Basic credential)", () => {
  assert.equal(redactText("scope mcp:basic mcp:write"), "scope mcp:basic mcp:write");
});

test("masks secret-named keys at any depth", () => {
  const out = redact({ headers: { Authorization: "Bearer x" }, tokens: { access_token: "a", scope: "s" } });
  assert.deepEqual(out, {
    headers: { Authorization: "[redacted]" },
    tokens: { access_token: "[redacted]", scope: "s" },
  });
});
