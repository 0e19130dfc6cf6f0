// The result cache on the HTTP face's pass-through relay: 2026-07-28 clients (SDK v2, pinned) in front of a
// 2026-07-28-only upstream (SDK v2, `legacy: "reject"`, with cache hints) behind the test AS. Each SDK v2 client
// caches hinted results by itself, so what the proxy adds is shown across clients: a `tools/list` the upstream
// marks cacheable is asked upstream once for all of them, a method without a hint every time, a tool call is never
// cached, and a list-changed notification passing on a client's `subscriptions/listen` stream makes the list stale.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { CacheHints } from "../fixtures/mcp-server.ts";
import { countOf, modernClient, modernTransport, pause, textOf } from "./support/era-clients.ts";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";

const HINTS: CacheHints = { "tools/list": { ttlMs: 600_000, cacheScope: "private" } };

describe("HTTP face /mcp pass-through, 2026-07-28 clients → 2026-07-28 upstream: the result cache", () => {
  let h: FaceHarness;
  const clients: Array<ReturnType<typeof modernClient>["client"]> = [];
  const connected = async (name: string) => {
    const made = modernClient(name);
    await made.client.connect(modernTransport(h.mcpUrl));
    clients.push(made.client);
    return made;
  };
  before(async () => {
    h = await startFaceHarness({ mcpServer: { transport: "2026", cacheHints: HINTS } });
    await h.signedIn();
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await h?.close();
  });

  test("a cacheable tools/list goes upstream once for every client; unhinted and non-list requests always go", async () => {
    const first = await connected("cache-pass-1");
    const tools = (await first.client.listTools()).tools.map((tool) => tool.name);
    assert.ok(tools.includes("echo"));
    const asked = countOf(h.mcp, "tools/list");
    assert.ok(asked >= 1, "the first tools/list went upstream");
    for (const name of ["cache-pass-2", "cache-pass-3"]) {
      const other = await connected(name);
      assert.deepEqual(
        (await other.client.listTools()).tools.map((tool) => tool.name),
        tools,
      );
    }
    assert.equal(countOf(h.mcp, "tools/list"), asked, "the other clients were answered by the proxy's cache");

    const prompts = countOf(h.mcp, "prompts/list");
    await first.client.listPrompts();
    await first.client.listPrompts();
    assert.equal(countOf(h.mcp, "prompts/list"), prompts + 2, "no hint: asked every time");
    const calls = countOf(h.mcp, "tools/call");
    assert.equal(textOf(await first.client.callTool({ name: "echo", arguments: { text: "a" } })), "a");
    assert.equal(textOf(await first.client.callTool({ name: "echo", arguments: { text: "a" } })), "a");
    assert.equal(countOf(h.mcp, "tools/call"), calls + 2);
  });

  test("tools/list_changed on a listen stream through the relay makes the cached list stale", async () => {
    const listener = await connected("cache-pass-listener");
    const subscription = await listener.client.listen({ toolsListChanged: true });
    const asked = countOf(h.mcp, "tools/list");
    // Announced until the client hears it (bounded, no timing assumed): the listen stream opens asynchronously.
    const heard = () => listener.seen.has("notifications/tools/list_changed");
    for (let i = 0; i < 300 && !heard(); i++) {
      h.mcp.notifyToolsChanged();
      await pause(100);
    }
    assert.ok(heard(), "the notification passed through");
    // The stream is read as it passes: the entry is gone by the time the client has the event.
    const fresh = await connected("cache-pass-after-change");
    assert.ok((await fresh.client.listTools()).tools.some((tool) => tool.name === "echo"));
    assert.equal(countOf(h.mcp, "tools/list"), asked + 1, "asked upstream again once");
    const another = await connected("cache-pass-after-change-2");
    await another.client.listTools();
    assert.equal(countOf(h.mcp, "tools/list"), asked + 1, "and cached again");
    await subscription.close();
  });
});
