import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CACHEABLE_METHODS, type CacheCaller, cacheCallerOf, ResultCache } from "../../src/proxy/result-cache.ts";

const alice: CacheCaller = { upstream: "https://mcp.example/mcp", grant: "alice" };
const bob: CacheCaller = { upstream: "https://mcp.example/mcp", grant: "bob" };
const otherUpstream: CacheCaller = { upstream: "https://other.example/mcp", grant: "alice" };

const tools = (scope: string, ttlMs: unknown = 60_000) => ({
  tools: [{ name: "echo", inputSchema: { type: "object" } }],
  resultType: "complete",
  ttlMs,
  cacheScope: scope,
});

function harness(options: { maxEntries?: number; maxResultChars?: number; maxTtlMs?: number } = {}) {
  let now = 1_000;
  const lookups: Array<[string, string, boolean]> = [];
  const cache = new ResultCache({
    ...options,
    now: () => now,
    onLookup: (upstream, method, hit) => lookups.push([upstream, method, hit]),
  });
  return { cache, lookups, advance: (ms: number) => (now += ms) };
}

describe("ResultCache", () => {
  test("the cacheable methods are the six the 2026-07-28 caching page names", () => {
    assert.deepEqual(
      [...CACHEABLE_METHODS].sort(),
      [
        "prompts/list",
        "resources/list",
        "resources/read",
        "resources/templates/list",
        "server/discover",
        "tools/list",
      ].sort(),
    );
  });

  test("a public result is reused for every grant of the same upstream, never for another upstream", () => {
    const { cache, lookups } = harness();
    assert.equal(cache.lookup(alice, "tools/list", {}), undefined);
    cache.store(alice, "tools/list", {}, tools("public"));
    assert.deepEqual(cache.lookup(alice, "tools/list", {}), tools("public"));
    assert.deepEqual(cache.lookup(bob, "tools/list", {}), tools("public"));
    assert.equal(cache.lookup(otherUpstream, "tools/list", {}), undefined);
    assert.deepEqual(
      lookups.map(([upstream, , hit]) => `${upstream === alice.upstream ? "same" : "other"}:${hit}`),
      ["same:false", "same:true", "same:true", "other:false"],
    );
  });

  test("a private result is reused only for the grant that got it", () => {
    const { cache } = harness();
    cache.store(alice, "resources/read", { uri: "file:///a" }, { contents: [], ttlMs: 5_000, cacheScope: "private" });
    assert.ok(cache.lookup(alice, "resources/read", { uri: "file:///a" }));
    assert.equal(cache.lookup(bob, "resources/read", { uri: "file:///a" }), undefined);
    assert.equal(cache.lookup(alice, "resources/read", { uri: "file:///b" }), undefined, "another resource");
  });

  test("a private entry of one grant is preferred over the public one, and neither leaks to the other grant", () => {
    const { cache } = harness();
    cache.store(alice, "prompts/list", {}, { prompts: [{ name: "mine" }], ttlMs: 1_000, cacheScope: "private" });
    cache.store(bob, "prompts/list", {}, { prompts: [{ name: "everyone" }], ttlMs: 1_000, cacheScope: "public" });
    assert.deepEqual((cache.lookup(alice, "prompts/list", {}) as { prompts: unknown }).prompts, [{ name: "mine" }]);
    assert.deepEqual((cache.lookup(bob, "prompts/list", {}) as { prompts: unknown }).prompts, [{ name: "everyone" }]);
  });

  test("fresh for ttlMs, then gone; the server's ttlMs is capped by maxTtlMs", () => {
    const { cache, advance } = harness({ maxTtlMs: 10_000 });
    cache.store(alice, "tools/list", {}, tools("public", 2_000));
    advance(1_999);
    assert.ok(cache.lookup(alice, "tools/list", {}));
    advance(1);
    assert.equal(cache.lookup(alice, "tools/list", {}), undefined);
    assert.equal(cache.size, 0, "an expired entry is dropped when met");
    cache.store(alice, "tools/list", {}, tools("public", 3_600_000));
    advance(10_000);
    assert.equal(cache.lookup(alice, "tools/list", {}), undefined);
  });

  test("not kept: ttlMs 0, missing or invalid; cacheScope missing or unknown; input_required; not an object", () => {
    const { cache } = harness();
    cache.store(alice, "tools/list", {}, tools("public", 0));
    cache.store(alice, "tools/list", { cursor: "1" }, { tools: [], cacheScope: "public" });
    cache.store(alice, "tools/list", { cursor: "2" }, tools("public", "60000"));
    cache.store(alice, "tools/list", { cursor: "3" }, tools("public", -5));
    cache.store(alice, "tools/list", { cursor: "4" }, tools("public", Number.POSITIVE_INFINITY));
    cache.store(alice, "tools/list", { cursor: "5" }, { tools: [], ttlMs: 1_000 });
    cache.store(alice, "tools/list", { cursor: "6" }, tools("shared"));
    cache.store(
      alice,
      "resources/read",
      { uri: "x" },
      { resultType: "input_required", ttlMs: 1_000, cacheScope: "public" },
    );
    cache.store(alice, "tools/list", { cursor: "7" }, null);
    assert.equal(cache.size, 0);
  });

  test("methods that are not cacheable are neither kept nor counted", () => {
    const { cache, lookups } = harness();
    cache.store(alice, "tools/call", { name: "echo" }, { content: [], ttlMs: 60_000, cacheScope: "public" });
    assert.equal(cache.size, 0);
    assert.equal(cache.lookup(alice, "tools/call", { name: "echo" }), undefined);
    assert.equal(lookups.length, 0);
  });

  test("requests differ by params (cursor, uri) and protocol version, not by other _meta or key order", () => {
    const { cache } = harness();
    const meta = (extra: Record<string, unknown>) => ({
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      ...extra,
    });
    cache.store(alice, "tools/list", { cursor: "a", _meta: meta({ progressToken: 1 }) }, tools("public"));
    assert.ok(cache.lookup(alice, "tools/list", { _meta: meta({ progressToken: 2, traceparent: "t" }), cursor: "a" }));
    assert.equal(cache.lookup(alice, "tools/list", { cursor: "b", _meta: meta({}) }), undefined);
    assert.equal(
      cache.lookup(alice, "tools/list", { cursor: "a", _meta: { "io.modelcontextprotocol/protocolVersion": "2027" } }),
      undefined,
    );
    cache.store(alice, "resources/templates/list", { x: { b: 1, a: 2 } }, tools("public"));
    assert.ok(cache.lookup(alice, "resources/templates/list", { x: { a: 2, b: 1 } }));
    cache.store(alice, "server/discover", undefined, { supportedVersions: [], ttlMs: 1, cacheScope: "public" });
    assert.ok(cache.lookup(alice, "server/discover", undefined));
  });

  test("list-changed notifications drop that list for every grant of that upstream only", () => {
    const { cache } = harness();
    cache.store(alice, "tools/list", {}, tools("private"));
    cache.store(bob, "tools/list", {}, tools("public"));
    cache.store(otherUpstream, "tools/list", {}, tools("public"));
    cache.store(alice, "prompts/list", {}, { prompts: [], ttlMs: 1_000, cacheScope: "public" });
    cache.notified(alice.upstream, "notifications/tools/list_changed");
    assert.equal(cache.lookup(alice, "tools/list", {}), undefined);
    assert.equal(cache.lookup(bob, "tools/list", {}), undefined);
    assert.ok(cache.lookup(otherUpstream, "tools/list", {}), "another upstream's list is its own");
    assert.ok(cache.lookup(alice, "prompts/list", {}), "another list stays");
    cache.notified(alice.upstream, "notifications/prompts/list_changed");
    assert.equal(cache.lookup(alice, "prompts/list", {}), undefined);
  });

  test("resources/list_changed drops resource and template lists; resources/updated the reads of that uri", () => {
    const { cache } = harness();
    const read = (uri: string) => ({ contents: [{ uri, text: "x" }], ttlMs: 1_000, cacheScope: "public" });
    cache.store(alice, "resources/list", {}, { resources: [], ttlMs: 1_000, cacheScope: "public" });
    cache.store(alice, "resources/templates/list", {}, { resourceTemplates: [], ttlMs: 1_000, cacheScope: "public" });
    cache.store(alice, "resources/read", { uri: "file:///a" }, read("file:///a"));
    cache.store(alice, "resources/read", { uri: "file:///b" }, read("file:///b"));
    cache.notified(alice.upstream, "notifications/resources/updated", { uri: "file:///a" });
    assert.equal(cache.lookup(alice, "resources/read", { uri: "file:///a" }), undefined);
    assert.ok(cache.lookup(alice, "resources/read", { uri: "file:///b" }));
    assert.ok(cache.lookup(alice, "resources/list", {}));
    cache.notified(alice.upstream, "notifications/resources/list_changed");
    assert.equal(cache.lookup(alice, "resources/list", {}), undefined);
    assert.equal(cache.lookup(alice, "resources/templates/list", {}), undefined);
    assert.ok(cache.lookup(alice, "resources/read", { uri: "file:///b" }), "a list change does not change a read");
    cache.notified(alice.upstream, "notifications/progress", { progress: 1 });
    assert.equal(cache.size, 1);
  });

  test("a caller that changes the result it got does not change the cache", () => {
    const { cache } = harness();
    cache.store(alice, "tools/list", {}, tools("public"));
    const first = cache.lookup(alice, "tools/list", {}) as { tools: unknown[]; resultType?: string };
    first.tools.length = 0;
    delete first.resultType;
    assert.deepEqual(cache.lookup(alice, "tools/list", {}), tools("public"));
  });

  test("bounded: the oldest entry goes past maxEntries; a result above maxResultChars is not kept", () => {
    const { cache } = harness({ maxEntries: 2, maxResultChars: 500 });
    cache.store(alice, "tools/list", { cursor: "1" }, tools("public"));
    cache.store(alice, "tools/list", { cursor: "2" }, tools("public"));
    cache.store(alice, "tools/list", { cursor: "3" }, tools("public"));
    assert.equal(cache.size, 2);
    assert.equal(cache.lookup(alice, "tools/list", { cursor: "1" }), undefined);
    assert.ok(cache.lookup(alice, "tools/list", { cursor: "3" }));
    cache.store(
      alice,
      "resources/read",
      { uri: "big" },
      { contents: "z".repeat(600), ttlMs: 1_000, cacheScope: "public" },
    );
    assert.equal(cache.lookup(alice, "resources/read", { uri: "big" }), undefined);
  });

  test("clear drops one upstream's entries, or all", () => {
    const { cache } = harness();
    cache.store(alice, "tools/list", {}, tools("public"));
    cache.store(otherUpstream, "tools/list", {}, tools("public"));
    cache.clear(alice.upstream);
    assert.equal(cache.size, 1);
    cache.clear();
    assert.equal(cache.size, 0);
  });
});

describe("cacheCallerOf: who a transport's request is cached for", () => {
  test("the grant the cache names now (the face's sign-in, or the caller's own behind --identity)", () => {
    let grant: string | undefined = "alice";
    const cache = { results: new ResultCache(), upstream: "https://mcp.example/mcp", grant: () => grant };
    assert.deepEqual(cacheCallerOf(cache), { upstream: "https://mcp.example/mcp", grant: "alice" });
    grant = "bob";
    assert.deepEqual(cacheCallerOf(cache), { upstream: "https://mcp.example/mcp", grant: "bob" });
  });

  test("no known grant (no caller behind --identity), or no cache: nothing is looked up or kept", () => {
    const cache = { results: new ResultCache(), upstream: "https://mcp.example/mcp", grant: () => undefined };
    assert.equal(cacheCallerOf(cache), undefined);
    assert.equal(cacheCallerOf(undefined), undefined);
  });
});
