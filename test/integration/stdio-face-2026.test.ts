// 2026-07-28 clients through the stdio face: an SDK v2 client that negotiates the modern era talks to a
// 2026-07-28-only upstream and to a dual-era upstream, through the real proxy process.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { type McpTransportMode, startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { assertProgressInOrder } from "./support/best-effort-progress.ts";
import { stdioCommand } from "./support/stdio-child.ts";

let authServer: TestAuthServer;
const dirs: string[] = [];
before(async () => {
  authServer = await startAuthServer();
});
after(async () => {
  await authServer.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const textOf = (result: unknown) => ((result as { content?: Array<{ text?: string }> }).content ?? [])[0]?.text;

const CASES: Array<{ mode: McpTransportMode; negotiation: "auto" | { pin: string } }> = [
  { mode: "2026", negotiation: { pin: "2026-07-28" } },
  { mode: "dual", negotiation: "auto" },
];

for (const { mode, negotiation } of CASES) {
  describe(`stdio face, 2026-07-28 client (${typeof negotiation === "string" ? negotiation : "pinned"}) → ${mode} upstream`, () => {
    let server: TestMcpServer;
    let client: Client;
    before(async () => {
      server = await startMcpServer({ authServer, transport: mode });
      const authDir = mkdtempSync(join(tmpdir(), "stdio-2026-"));
      dirs.push(authDir);
      const { command, args, env, cwd } = stdioCommand(server.url, { authDir });
      client = new Client(
        { name: "stdio-2026-test", version: "1.0.0" },
        { capabilities: { sampling: {}, elicitation: { form: {} } }, versionNegotiation: { mode: negotiation } },
      );
      client.setRequestHandler("sampling/createMessage", async () => ({
        model: "test-model",
        role: "assistant",
        content: { type: "text", text: "modern sample" },
      }));
      await client.connect(new StdioClientTransport({ command, args, env, cwd, stderr: "pipe" }));
    });
    after(async () => {
      await client?.close();
      await server?.close();
    });

    test("the modern era is negotiated and requests carry its headers upstream", async () => {
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "modern" } })), "modern");
      assert.ok(server.stats.methods.includes("server/discover"));
      assert.ok(!server.stats.methods.includes("initialize"), "no 2025 handshake");
      assert.ok(server.stats.protocolVersions.every((version) => version === "2026-07-28"));
    });

    test("progress arrives in order (the tail is best effort for clients that cannot answer ping)", async () => {
      await assertProgressInOrder(async () => {
        const seen: number[] = [];
        const result = await client.callTool(
          { name: "slow_progress", arguments: { steps: 300 } },
          { onprogress: (progress) => seen.push(progress.progress) },
        );
        assert.equal(textOf(result), "done 300");
        return seen;
      });
    });

    test("server input requests (input_required) round-trip through the client", async () => {
      assert.equal(
        textOf(await client.callTool({ name: "ask_sampling", arguments: { prompt: "p" } })),
        "modern sample",
      );
    });

    test("cancelling a request settles it at once", async () => {
      const controller = new AbortController();
      const call = client.callTool({ name: "sleep", arguments: { ms: 60_000 } }, { signal: controller.signal });
      setTimeout(() => controller.abort("test cancels"), 200);
      await assert.rejects(call);
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "after" } })), "after");
    });
  });
}
