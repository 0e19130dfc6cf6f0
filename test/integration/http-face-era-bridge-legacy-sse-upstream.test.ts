// A 2026-07-28 client (SDK v2, pinned) on the HTTP face's /mcp in front of a 2025 upstream that speaks only the
// legacy HTTP+SSE transport (the fixture's SSEServerTransport behind the test AS): the bridge answers
// server/discover from the upstream's initialize, runs its 2025 session over the legacy SSE stream, turns the
// upstream's server requests into input_required, and serves subscriptions/listen from resources/subscribe and
// that same SSE stream (the legacy transport has no GET stream of its own to open).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { countOf, textOf, until } from "./support/era-clients.ts";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";

describe("HTTP face /mcp, 2026-07-28 client (SDK v2, pinned) → 2025 legacy HTTP+SSE upstream", () => {
  let h: FaceHarness;
  let client: Client;
  const notifications: Array<{ method: string; params: Record<string, unknown> }> = [];
  const saw = (method: string, match: (params: Record<string, unknown>) => boolean = () => true) =>
    notifications.some((n) => n.method === method && match(n.params));

  before(async () => {
    h = await startFaceHarness({ mcpServer: { transport: "sse" } });
    await h.signedIn();
    client = new Client(
      { name: "http-bridge-b-sse", version: "1.0.0" },
      { capabilities: { sampling: {} }, versionNegotiation: { mode: { pin: "2026-07-28" } } },
    );
    client.setRequestHandler("sampling/createMessage", async () => ({
      model: "test-model",
      role: "assistant",
      content: { type: "text", text: "sse sample" },
    }));
    for (const method of ["notifications/tools/list_changed", "notifications/resources/updated"] as const) {
      client.setNotificationHandler(method, (notification) => {
        notifications.push({ method, params: (notification.params ?? {}) as Record<string, unknown> });
      });
    }
    await client.connect(new StreamableHTTPClientTransport(new URL(h.mcpUrl)));
  });
  after(async () => {
    await client?.close();
    await h?.close();
  });

  test("the modern era is negotiated; the upstream saw a 2025 session over its SSE transport", async () => {
    assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "over sse" } })), "over sse");
    assert.ok(h.mcp.stats.methods.includes("initialize"), "the proxy opened a 2025 session upstream");
    assert.ok(!h.mcp.stats.methods.includes("server/discover"), "no 2026-07-28 request reached a 2025 server");
  });

  test("an upstream sampling request comes back as input_required, and the retry finishes the call", async () => {
    assert.equal(textOf(await client.callTool({ name: "ask_sampling", arguments: { prompt: "p" } })), "sse sample");
  });

  test("subscriptions/listen: acknowledged, resource updates and list changes arrive, unsubscribed on close", async () => {
    const subscription = await client.listen({ resourceSubscriptions: ["demo://readme"], toolsListChanged: true });
    assert.deepEqual(subscription.honoredFilter.resourceSubscriptions, ["demo://readme"]);
    assert.equal(subscription.honoredFilter.toolsListChanged, true);
    assert.equal(countOf(h.mcp, "resources/subscribe"), 1);
    assert.equal(
      textOf(await client.callTool({ name: "touch_resource", arguments: { uri: "demo://readme" } })),
      "notified",
    );
    await until(() => saw("notifications/resources/updated", (p) => p.uri === "demo://readme"));
    assert.ok(
      saw("notifications/resources/updated", (p) => p.uri === "demo://readme"),
      "the resource update",
    );
    await client.callTool({ name: "add_tool", arguments: { name: "added_over_sse" } });
    await until(() => saw("notifications/tools/list_changed"));
    assert.ok(saw("notifications/tools/list_changed"), "the tools list change");
    assert.ok((await client.listTools()).tools.some((tool) => tool.name === "added_over_sse"));
    await subscription.close();
    await until(() => h.mcp.stats.methods.includes("resources/unsubscribe"));
    assert.ok(h.mcp.stats.methods.includes("resources/unsubscribe"), "unsubscribed upstream when the listen closed");
    assert.equal(
      textOf(await client.callTool({ name: "touch_resource", arguments: { uri: "demo://readme" } })),
      "not subscribed",
    );
  });
});
