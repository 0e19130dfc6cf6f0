// Bridge B's subscriptions/listen relay: the acknowledgement names only what the 2025 upstream can honour,
// notifications are tagged with the listen's id and go only to listens that asked, and resources/subscribe is
// reference-counted across listens. The upstream calls are recorded functions here (the relay's only I/O).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JSONRPCMessage } from "@modelcontextprotocol/client";
import { silentLogger } from "../../src/lib/logger.ts";
import { SubscriptionRelay } from "../../src/proxy/era/subscription-relay.ts";

const SUB_ID = "io.modelcontextprotocol/subscriptionId";

function relayWith(accept: (uri: string) => boolean = () => true) {
  const calls: string[] = [];
  const delivered: JSONRPCMessage[] = [];
  const relay = new SubscriptionRelay({
    subscribe: async (uri) => {
      calls.push(`subscribe ${uri}`);
      return accept(uri);
    },
    unsubscribe: async (uri) => {
      calls.push(`unsubscribe ${uri}`);
    },
    deliver: (message) => delivered.push(message),
    logger: silentLogger,
  });
  return { relay, calls, delivered };
}

const ALL = { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { subscribe: true } };
const params = (message: JSONRPCMessage | undefined) => (message as { params?: Record<string, unknown> }).params;
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe("SubscriptionRelay", () => {
  test("the acknowledgement comes first and lists only the honoured subset", async () => {
    const { relay, delivered } = relayWith((uri) => uri !== "demo://refused");
    const honoured = await relay.open(
      7,
      {
        toolsListChanged: true,
        promptsListChanged: true,
        resourcesListChanged: true,
        resourceSubscriptions: ["demo://a", "demo://refused"],
      },
      ALL,
    );
    // resources.listChanged is not advertised; demo://refused was refused upstream.
    assert.deepEqual(honoured, {
      toolsListChanged: true,
      promptsListChanged: true,
      resourceSubscriptions: ["demo://a"],
    });
    assert.equal(delivered.length, 1);
    assert.equal((delivered[0] as { method?: string }).method, "notifications/subscriptions/acknowledged");
    assert.deepEqual(params(delivered[0])?.notifications, honoured);
    assert.deepEqual(params(delivered[0])?._meta, { [SUB_ID]: 7 });
  });

  test("a server without resources.subscribe is never asked to subscribe", async () => {
    const { relay, calls } = relayWith();
    const honoured = await relay.open(1, { resourceSubscriptions: ["demo://a"] }, { tools: { listChanged: true } });
    assert.deepEqual(honoured, {});
    assert.deepEqual(calls, []);
  });

  test("notifications go only to the listens that asked, tagged with each listen's id", async () => {
    const { relay, delivered } = relayWith();
    await relay.open("a", { toolsListChanged: true }, ALL);
    await relay.open("b", { resourceSubscriptions: ["demo://x"] }, ALL);
    delivered.length = 0;
    assert.ok(relay.deliver({ jsonrpc: "2.0", method: "notifications/tools/list_changed" }));
    assert.ok(
      relay.deliver({ jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: "demo://x" } }),
    );
    assert.equal(
      relay.deliver({ jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: "demo://y" } }),
      false,
    );
    assert.equal(relay.deliver({ jsonrpc: "2.0", method: "notifications/prompts/list_changed" }), false);
    assert.deepEqual(
      delivered.map((m) => [
        (m as { method: string }).method,
        (params(m)?._meta as Record<string, unknown> | undefined)?.[SUB_ID],
      ]),
      [
        ["notifications/tools/list_changed", "a"],
        ["notifications/resources/updated", "b"],
      ],
    );
  });

  test("one upstream subscription per URI, unsubscribed only when the last listen holding it closes", async () => {
    const { relay, calls } = relayWith();
    await relay.open(1, { resourceSubscriptions: ["demo://x"] }, ALL);
    await relay.open(2, { resourceSubscriptions: ["demo://x", "demo://y"] }, ALL);
    assert.deepEqual(calls, ["subscribe demo://x", "subscribe demo://y"]);
    relay.close(1);
    await settled();
    assert.deepEqual(calls, ["subscribe demo://x", "subscribe demo://y"]);
    assert.deepEqual(relay.heldUris().sort(), ["demo://x", "demo://y"]);
    relay.close(2);
    await settled();
    assert.deepEqual(calls.slice(2).sort(), ["unsubscribe demo://x", "unsubscribe demo://y"]);
    assert.deepEqual(relay.heldUris(), []);
    assert.equal(relay.has(2), false);
  });

  test("a URI refused upstream is not unsubscribed later and not held", async () => {
    const { relay, calls } = relayWith(() => false);
    await relay.open(1, { resourceSubscriptions: ["demo://x"] }, ALL);
    relay.close(1);
    await settled();
    assert.deepEqual(calls, ["subscribe demo://x"]);
    assert.deepEqual(relay.heldUris(), []);
  });
});
