// A 2026-07-28 client (SDK v2, pinned) through the stdio face in front of a 2025-only upstream (the stateful
// Streamable HTTP fixture, behind the real test AS with 5 s access tokens): the proxy answers server/discover from
// its own initialize, holds one 2025 session, turns server requests into input_required and serves
// subscriptions/listen from resources/subscribe and the session's GET stream. The same bridge in front of a legacy
// HTTP+SSE upstream runs its 2025 session over that transport.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client, ProtocolError } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { assertProgressInOrder } from "./support/best-effort-progress.ts";
import { stdioCommand } from "./support/stdio-child.ts";

const LOG_LEVEL = "io.modelcontextprotocol/logLevel";
const textOf = (result: unknown) => ((result as { content?: Array<{ text?: string }> }).content ?? [])[0]?.text;
const countOf = (server: TestMcpServer, method: string) => server.stats.methods.filter((m) => m === method).length;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until `done()` holds; the assertion after it says what was expected. */
async function until(done: () => boolean, rounds = 300): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) await pause(20);
}

describe("stdio face, 2026-07-28 client (SDK v2, pinned) → 2025-only upstream", () => {
  let authServer: TestAuthServer;
  let server: TestMcpServer;
  let client: Client;
  let authDir: string;
  const notifications: Array<{ method: string; params: Record<string, unknown> }> = [];
  const saw = (method: string, match: (params: Record<string, unknown>) => boolean = () => true) =>
    notifications.some((n) => n.method === method && match(n.params));

  before(async () => {
    authServer = await startAuthServer({ accessTokenTtlSeconds: 5 });
    server = await startMcpServer({ authServer, transport: "streamable-stateful" });
    authDir = mkdtempSync(join(tmpdir(), "stdio-bridge-b-"));
    const { command, args, env, cwd } = stdioCommand(server.url, { authDir });
    client = new Client(
      { name: "bridge-b-test", version: "1.0.0" },
      {
        capabilities: { sampling: {}, elicitation: { form: {} } },
        versionNegotiation: { mode: { pin: "2026-07-28" } },
      },
    );
    client.setRequestHandler("sampling/createMessage", async () => ({
      model: "test-model",
      role: "assistant",
      content: { type: "text", text: "bridged sample" },
    }));
    client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { answer: "Ada" } }));
    for (const method of [
      "notifications/message",
      "notifications/tools/list_changed",
      "notifications/resources/updated",
    ] as const) {
      client.setNotificationHandler(method, (notification) => {
        notifications.push({ method, params: (notification.params ?? {}) as Record<string, unknown> });
      });
    }
    await client.connect(new StdioClientTransport({ command, args, env, cwd, stderr: "pipe" }));
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await authServer?.close();
    rmSync(authDir, { recursive: true, force: true });
  });

  test("the modern era is negotiated; the upstream only ever saw the 2025 handshake and 2025 requests", async () => {
    assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
    assert.equal(client.getServerVersion()?.name, "mcp-u2m-proxy-test-server");
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "bridged" } })), "bridged");
    // One 2025 session for the SDK's disposable probe process (it sends only server/discover), one for this one.
    assert.equal(countOf(server, "initialize"), 2);
    assert.ok(server.stats.methods.includes("notifications/initialized"));
  });

  test("tools, resources and prompts", async () => {
    const tools = await client.listTools();
    assert.ok(tools.tools.some((tool) => tool.name === "add"));
    assert.equal(textOf(await client.callTool({ name: "add", arguments: { a: 2, b: 3 } })), "5");
    const resources = await client.listResources();
    assert.ok(resources.resources.some((resource) => resource.uri === "demo://readme"));
    const resource = await client.readResource({ uri: "demo://readme" });
    assert.match(String((resource.contents[0] as { text?: string }).text), /Demo/);
    const prompt = await client.getPrompt({ name: "greeting", arguments: { name: "Ada" } });
    assert.ok(prompt.messages.length > 0);
  });

  test("a resource that does not exist is -32602 (the 2026-07-28 code), not -32002", async () => {
    await assert.rejects(client.readResource({ uri: "demo://missing" }), (error: unknown) => {
      assert.ok(error instanceof ProtocolError, String(error));
      assert.equal(error.code, -32602);
      return true;
    });
  });

  test("progress notifications reach the client in order", async () => {
    await assertProgressInOrder(async () => {
      const seen: number[] = [];
      const result = await client.callTool(
        { name: "slow_progress", arguments: { steps: 20 } },
        { onprogress: (progress) => seen.push(progress.progress) },
      );
      assert.equal(textOf(result), "done 20");
      return seen;
    });
  });

  test("log messages reach a request that asked for them (logLevel → logging/setLevel), not one that did not", async () => {
    const asked = await client.callTool({
      name: "log_message",
      arguments: { level: "warning", text: "wanted log" },
      _meta: { [LOG_LEVEL]: "info" },
    });
    assert.equal(textOf(asked), "logged");
    await until(() => saw("notifications/message", (p) => p.data === "wanted log"));
    assert.ok(saw("notifications/message", (p) => p.data === "wanted log"));
    assert.ok(server.stats.methods.includes("logging/setLevel"));
    await client.callTool({ name: "log_message", arguments: { level: "warning", text: "unasked log" } });
    await client.callTool({ name: "echo", arguments: { text: "after the log" } });
    assert.ok(!saw("notifications/message", (p) => p.data === "unasked log"));
  });

  test("sampling and elicitation: the upstream's server requests come back as input_required and are answered", async () => {
    assert.equal(textOf(await client.callTool({ name: "ask_sampling", arguments: { prompt: "p" } })), "bridged sample");
    const elicited = textOf(await client.callTool({ name: "ask_elicitation", arguments: { message: "Name?" } }));
    assert.deepEqual(JSON.parse(elicited ?? "null"), { action: "accept", content: { answer: "Ada" } });
    const twice = textOf(await client.callTool({ name: "ask_twice", arguments: {} }));
    assert.deepEqual(JSON.parse(twice ?? "null"), ["Ada", "Ada"]);
  });

  test("subscriptions/listen: acknowledged, resource updates and list changes arrive, unsubscribed on close", async () => {
    const subscription = await client.listen({ resourceSubscriptions: ["demo://readme"], toolsListChanged: true });
    assert.deepEqual(subscription.honoredFilter.resourceSubscriptions, ["demo://readme"]);
    assert.equal(subscription.honoredFilter.toolsListChanged, true);
    assert.equal(countOf(server, "resources/subscribe"), 1);
    assert.equal(
      textOf(await client.callTool({ name: "touch_resource", arguments: { uri: "demo://readme" } })),
      "notified",
    );
    await until(() => saw("notifications/resources/updated", (p) => p.uri === "demo://readme"));
    assert.ok(saw("notifications/resources/updated", (p) => p.uri === "demo://readme"));
    await client.callTool({ name: "add_tool", arguments: { name: "added_at_run_time" } });
    await until(() => saw("notifications/tools/list_changed"));
    assert.ok(saw("notifications/tools/list_changed"));
    const tools = await client.listTools();
    assert.ok(tools.tools.some((tool) => tool.name === "added_at_run_time"));
    await subscription.close();
    await until(() => server.stats.methods.includes("resources/unsubscribe"));
    assert.ok(server.stats.methods.includes("resources/unsubscribe"));
    assert.equal(
      textOf(await client.callTool({ name: "touch_resource", arguments: { uri: "demo://readme" } })),
      "not subscribed",
    );
  });

  test("a cancelled call settles, the upstream hears notifications/cancelled, and the next call works", async () => {
    const before = countOf(server, "notifications/cancelled");
    const callsBefore = countOf(server, "tools/call");
    const controller = new AbortController();
    const call = client.callTool({ name: "sleep", arguments: { ms: 60_000 } }, { signal: controller.signal });
    await until(() => countOf(server, "tools/call") > callsBefore);
    controller.abort("test cancels");
    await assert.rejects(call);
    await until(() => countOf(server, "notifications/cancelled") > before);
    assert.ok(countOf(server, "notifications/cancelled") > before);
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "after" } })), "after");
  });

  test("5 s access tokens: calls keep working across refreshes, in the same upstream session", async () => {
    const refreshesBefore = authServer.stats.refreshSuccesses;
    const sessionsBefore = countOf(server, "initialize");
    for (let i = 0; i < 40 && authServer.stats.refreshSuccesses < refreshesBefore + 2; i++) {
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: `call ${i}` } })), `call ${i}`);
      await pause(500);
    }
    assert.ok(authServer.stats.refreshSuccesses >= refreshesBefore + 2, "two refreshes happened meanwhile");
    assert.equal(countOf(server, "initialize"), sessionsBefore, "the upstream session outlived the tokens");
    assert.equal(
      textOf(await client.callTool({ name: "ask_sampling", arguments: { prompt: "after refresh" } })),
      "bridged sample",
    );
  });
});

describe("stdio face, 2026-07-28 client (SDK v2, pinned) → 2025 legacy HTTP+SSE upstream", () => {
  let authServer: TestAuthServer;
  let server: TestMcpServer;
  let client: Client;
  let authDir: string;
  const updated: string[] = [];
  before(async () => {
    authServer = await startAuthServer();
    server = await startMcpServer({ authServer, transport: "sse" });
    authDir = mkdtempSync(join(tmpdir(), "stdio-bridge-b-sse-"));
    const { command, args, env, cwd } = stdioCommand(server.url, { authDir });
    client = new Client(
      { name: "bridge-b-sse-test", version: "1.0.0" },
      { capabilities: { sampling: {} }, versionNegotiation: { mode: { pin: "2026-07-28" } } },
    );
    client.setRequestHandler("sampling/createMessage", async () => ({
      model: "test-model",
      role: "assistant",
      content: { type: "text", text: "sse sample" },
    }));
    client.setNotificationHandler("notifications/resources/updated", (notification) => {
      updated.push(String(notification.params?.uri));
    });
    await client.connect(new StdioClientTransport({ command, args, env, cwd, stderr: "pipe" }));
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await authServer?.close();
    rmSync(authDir, { recursive: true, force: true });
  });

  test("the bridge's 2025 session runs over the legacy SSE transport: calls and input_required work", async () => {
    assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "over sse" } })), "over sse");
    assert.equal(textOf(await client.callTool({ name: "ask_sampling", arguments: { prompt: "p" } })), "sse sample");
    assert.ok(server.stats.methods.includes("initialize"));
  });

  test("subscriptions/listen over the legacy SSE stream: updates arrive, unsubscribed on close", async () => {
    const subscription = await client.listen({ resourceSubscriptions: ["demo://readme"] });
    assert.deepEqual(subscription.honoredFilter.resourceSubscriptions, ["demo://readme"]);
    await client.callTool({ name: "touch_resource", arguments: { uri: "demo://readme" } });
    await until(() => updated.includes("demo://readme"));
    assert.ok(updated.includes("demo://readme"), "the resource update reached the listening client");
    await subscription.close();
    await until(() => server.stats.methods.includes("resources/unsubscribe"));
    assert.ok(server.stats.methods.includes("resources/unsubscribe"));
  });
});
