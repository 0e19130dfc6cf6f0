// 2025-era clients (SDK v1) through the stdio face in front of a 2026-07-28-only upstream (SDK v2,
// `legacy: "reject"`): the proxy answers `initialize` from server/discover and bridges every request.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CreateMessageRequestSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { stdioCommand } from "./support/stdio-child.ts";

const textOf = (result: unknown) => ((result as { content?: Array<{ text?: string }> }).content ?? [])[0]?.text;

describe("stdio face, 2025 client (SDK v1) → 2026-07-28-only upstream", () => {
  let authServer: TestAuthServer;
  let server: TestMcpServer;
  let client: Client;
  let authDir: string;
  before(async () => {
    authServer = await startAuthServer();
    server = await startMcpServer({ authServer, transport: "2026" });
    authDir = mkdtempSync(join(tmpdir(), "stdio-era-"));
    const { command, args, env, cwd } = stdioCommand(server.url, { authDir });
    client = new Client(
      { name: "era-bridge-test", version: "1.0.0" },
      { capabilities: { sampling: {}, elicitation: {} } },
    );
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      model: "test-model",
      role: "assistant",
      content: { type: "text", text: "legacy sample" },
    }));
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { answer: "Ada" } }));
    await client.connect(new StdioClientTransport({ command, args, env, cwd, stderr: "pipe" }));
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await authServer?.close();
    rmSync(authDir, { recursive: true, force: true });
  });

  test("initialize is answered from server/discover, and every upstream request is 2026-07-28", async () => {
    assert.equal(client.getServerVersion()?.name, "mcp-u2m-proxy-test-server");
    assert.ok(client.getServerCapabilities()?.tools);
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "bridged" } })), "bridged");
    assert.ok(server.stats.methods.includes("server/discover"));
    assert.ok(server.stats.protocolVersions.every((version) => version === "2026-07-28"));
    await client.ping();
  });

  test("tools, prompts and resources", async () => {
    const tools = await client.listTools();
    assert.ok(tools.tools.some((tool) => tool.name === "add"));
    assert.equal(textOf(await client.callTool({ name: "add", arguments: { a: 2, b: 3 } })), "5");
    const prompt = await client.getPrompt({ name: "greeting", arguments: { name: "Ada" } });
    assert.ok(prompt.messages.length > 0);
    const resource = await client.readResource({ uri: "demo://readme" });
    assert.ok(resource.contents.length > 0);
  });

  test("progress notifications reach the client in order", async () => {
    const seen: number[] = [];
    const result = await client.callTool({ name: "slow_progress", arguments: { steps: 50 } }, undefined, {
      onprogress: (progress) => seen.push(progress.progress),
    });
    assert.equal(textOf(result), "done 50");
    assert.deepEqual(
      seen,
      Array.from({ length: seen.length }, (_, i) => i + 1),
    );
    assert.ok(seen.length > 0);
  });

  test("input_required becomes a real sampling request to the client, then the retry", async () => {
    assert.equal(textOf(await client.callTool({ name: "ask_sampling", arguments: { prompt: "p" } })), "legacy sample");
  });

  test("input_required becomes a real elicitation request to the client", async () => {
    const text = textOf(await client.callTool({ name: "ask_elicitation", arguments: { message: "Name?" } }));
    assert.deepEqual(JSON.parse(text ?? "null"), { action: "accept", content: { answer: "Ada" } });
  });

  test("a cancelled call settles, and the next call works", async () => {
    const controller = new AbortController();
    const call = client.callTool({ name: "sleep", arguments: { ms: 60_000 } }, undefined, {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort("test cancels"), 200);
    await assert.rejects(call);
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "after" } })), "after");
  });
});
