import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Router, splitTarget } from "../../src/server/router.ts";

const noop = () => {};

describe("Router", () => {
  const router = new Router()
    .add(["GET", "POST", "DELETE"], "/mcp", "mcp", noop)
    .add("GET", "/", "home", noop)
    .add("POST", "/oauth/sign-in", "sign-in", noop)
    .fallback("relay", noop);

  test("matches exact paths and methods", () => {
    assert.equal((router.match("POST", "/mcp") as { name: string }).name, "mcp");
    assert.equal((router.match("DELETE", "/mcp") as { name: string }).name, "mcp");
    assert.equal((router.match("GET", "/") as { name: string }).name, "home");
  });

  test("serves HEAD with the GET route", () => {
    assert.equal((router.match("HEAD", "/") as { name: string }).name, "home");
  });

  test("answers the allowed methods for a known path with another method", () => {
    assert.deepEqual(router.match("PUT", "/mcp"), { allow: ["GET", "POST", "DELETE", "HEAD"] });
    assert.deepEqual(router.match("GET", "/oauth/sign-in"), { allow: ["POST"] });
  });

  test("sends unknown paths to the fallback, never near-misses to a route", () => {
    for (const path of ["/mcp/", "/MCP", "/api/tools", "//mcp", "/%6Dcp"]) {
      assert.equal((router.match("GET", path) as { name: string }).name, "relay", path);
    }
  });

  test("without a fallback, unknown paths match nothing", () => {
    assert.equal(new Router().match("GET", "/x"), undefined);
  });
});

test("splitTarget splits path and query without decoding", () => {
  assert.deepEqual(splitTarget("/mcp?a=1&b=%20"), { path: "/mcp", query: "a=1&b=%20" });
  assert.deepEqual(splitTarget("/mcp"), { path: "/mcp", query: "" });
  assert.deepEqual(splitTarget(undefined), { path: "/", query: "" });
  assert.deepEqual(splitTarget("/x?"), { path: "/x", query: "" });
});
