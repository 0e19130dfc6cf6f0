// Log levels, resource subscriptions and list-changed notifications across the revision bridge on the HTTP face,
// with real SDK clients and fixture upstreams behind the test AS. Bridge A: a 2025 client (SDK v1) on /mcp and on
// /sse in front of a 2026-07-28-only upstream: logging/setLevel becomes the per-request `_meta` log level, and
// resources/subscribe plus list-changed interest become one subscriptions/listen upstream. Bridge B: a 2026-07-28
// client (SDK v2, pinned) on /mcp in front of a 2025-only upstream: the per-request log level becomes
// logging/setLevel, and subscriptions/listen becomes resources/subscribe plus the session's GET stream.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Client as ClientV2 } from "@modelcontextprotocol/client";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  countOf,
  LOG_LEVEL_META,
  legacyClient,
  legacyTransport,
  modernClient,
  modernTransport,
  pause,
  type SeenNotifications,
  textOf,
  until,
} from "./support/era-clients.ts";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";

const README = "demo://readme";

/**
 * Announces (at most 300 times, 100 ms apart) until `seen()` holds: the listen stream a notification travels on
 * opens asynchronously after the request that asked for it.
 */
async function announceUntil(announce: () => void, seen: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !seen(); i++) {
    announce();
    await pause(100);
  }
}

for (const path of ["/mcp", "/sse"] as const) {
  describe(`HTTP face ${path}, 2025 client (SDK v1) → 2026-07-28-only upstream: logs, subscriptions, list changes`, () => {
    let h: FaceHarness;
    let client: Client;
    let seen: SeenNotifications;
    before(async () => {
      h = await startFaceHarness({ mcpServer: { transport: "2026" } });
      await h.signedIn();
      ({ client, seen } = legacyClient(`era-notifications${path}`));
      await client.connect(legacyTransport(h.face.url, path));
    });
    after(async () => {
      await client?.close();
      await h?.close();
    });

    test("logging/setLevel: messages at or above the level reach the client, none below it or before it was set", async () => {
      const log = (level: string, text: string) => client.callTool({ name: "log_message", arguments: { level, text } });
      // No level set: the proxy sends no log level, and a 2026-07-28 server then sends no log messages.
      assert.equal(textOf(await log("error", "before any level")), "logged");
      await client.setLoggingLevel("warning");
      assert.equal(countOf(h.mcp, "logging/setLevel"), 0, "answered by the proxy, not sent upstream");
      await log("info", "below the level");
      await log("warning", "at the level");
      await log("error", "above the level");
      await until(() => seen.logs().includes("above the level"));
      assert.deepEqual(seen.logs(), ["at the level", "above the level"]);
      await client.setLoggingLevel("error");
      await log("warning", "below the new level");
      await log("error", "at the new level");
      await until(() => seen.logs().includes("at the new level"));
      assert.deepEqual(seen.logs().slice(2), ["at the new level"]);
    });

    test("resources/subscribe: the upstream's resources/updated reaches the client; after unsubscribe it does not", async () => {
      const listensBefore = countOf(h.mcp, "subscriptions/listen");
      await client.subscribeResource({ uri: README });
      const updated = () => seen.has("notifications/resources/updated", (p) => p.uri === README);
      await announceUntil(() => h.mcp.notifyResourceUpdated(README), updated);
      assert.ok(updated(), "notifications/resources/updated arrived");
      assert.ok(countOf(h.mcp, "subscriptions/listen") > listensBefore, "one subscriptions/listen upstream");

      await client.unsubscribeResource({ uri: README });
      const mark = seen.list.length;
      const after = () => seen.list.slice(mark);
      // Each round says the resource changed, then the tool list: once a list change arrives on the stream that
      // replaced the subscribed one, an update sent before it on the same stream would have arrived first.
      await announceUntil(
        () => {
          h.mcp.notifyResourceUpdated(README);
          h.mcp.notifyToolsChanged();
        },
        () => after().some((n) => n.method === "notifications/tools/list_changed"),
      );
      assert.ok(after().some((n) => n.method === "notifications/tools/list_changed"));
      assert.ok(!after().some((n) => n.method === "notifications/resources/updated"), "no update after unsubscribe");
    });

    test("the upstream's tools/list_changed reaches the client, and tools/list then shows the change", async () => {
      const mark = seen.list.length;
      const changed = () => seen.list.slice(mark).some((n) => n.method === "notifications/tools/list_changed");
      await announceUntil(() => h.mcp.notifyToolsChanged(), changed);
      assert.ok(changed());
      const tools = await client.listTools();
      assert.ok(tools.tools.some((tool) => tool.name === "echo"));
      assert.ok(!seen.list.some((n) => "io.modelcontextprotocol/subscriptionId" in ((n.params._meta as object) ?? {})));
    });
  });
}

describe("HTTP face /mcp, 2026-07-28 client (SDK v2, pinned) → 2025-only upstream: logs, subscriptions, list changes", () => {
  let h: FaceHarness;
  let client: ClientV2;
  let seen: SeenNotifications;
  before(async () => {
    h = await startFaceHarness({ mcpServer: { transport: "streamable-stateful" } });
    await h.signedIn();
    ({ client, seen } = modernClient("era-notifications-modern"));
    await client.connect(modernTransport(h.mcpUrl));
  });
  after(async () => {
    await client?.close();
    await h?.close();
  });

  test("a request's own log level: its messages at or above it arrive, a request without one gets none", async () => {
    const log = (level: string, text: string, logLevel?: string) =>
      client.callTool({
        name: "log_message",
        arguments: { level, text },
        ...(logLevel ? { _meta: { [LOG_LEVEL_META]: logLevel } } : {}),
      });
    assert.equal(textOf(await log("warning", "asked at info", "info")), "logged");
    await until(() => seen.logs().includes("asked at info"));
    assert.ok(countOf(h.mcp, "logging/setLevel") >= 1, "the level became logging/setLevel upstream");
    await log("warning", "not asked");
    await log("info", "below the asked level", "warning");
    await log("error", "above the asked level", "warning");
    await until(() => seen.logs().includes("above the asked level"));
    assert.deepEqual(seen.logs(), ["asked at info", "above the asked level"]);
  });

  test("subscriptions/listen: acknowledged, resource updates and list changes arrive, unsubscribed upstream on close", async () => {
    const subscription = await client.listen({ resourceSubscriptions: [README], toolsListChanged: true });
    assert.deepEqual(subscription.honoredFilter.resourceSubscriptions, [README]);
    assert.equal(subscription.honoredFilter.toolsListChanged, true);
    assert.equal(countOf(h.mcp, "resources/subscribe"), 1);
    assert.equal(textOf(await client.callTool({ name: "touch_resource", arguments: { uri: README } })), "notified");
    await until(() => seen.has("notifications/resources/updated", (p) => p.uri === README));
    assert.ok(seen.has("notifications/resources/updated", (p) => p.uri === README));
    await client.callTool({ name: "add_tool", arguments: { name: "added_through_the_face" } });
    await until(() => seen.has("notifications/tools/list_changed"));
    assert.ok(seen.has("notifications/tools/list_changed"));
    assert.ok((await client.listTools()).tools.some((tool) => tool.name === "added_through_the_face"));
    await subscription.close();
    await until(() => countOf(h.mcp, "resources/unsubscribe") > 0);
    assert.equal(countOf(h.mcp, "resources/unsubscribe"), 1);
    assert.equal(
      textOf(await client.callTool({ name: "touch_resource", arguments: { uri: README } })),
      "not subscribed",
    );
  });

  test("two listens on one URI: closing one keeps the upstream subscription for the other", async () => {
    const subscribes = countOf(h.mcp, "resources/subscribe");
    const first = await client.listen({ resourceSubscriptions: [README] });
    const second = await client.listen({ resourceSubscriptions: [README] });
    assert.equal(countOf(h.mcp, "resources/subscribe"), subscribes + 1, "one upstream subscription for both");
    const unsubscribes = countOf(h.mcp, "resources/unsubscribe");
    await first.close();
    assert.equal(textOf(await client.callTool({ name: "touch_resource", arguments: { uri: README } })), "notified");
    assert.equal(countOf(h.mcp, "resources/unsubscribe"), unsubscribes, "still held by the second listen");
    await second.close();
    await until(() => countOf(h.mcp, "resources/unsubscribe") > unsubscribes);
    assert.equal(countOf(h.mcp, "resources/unsubscribe"), unsubscribes + 1);
  });
});
