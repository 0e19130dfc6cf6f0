// The stdio face as a real child process (`stdio-entry.ts`: the real auth core, file store and runStdio) between
// real SDK clients (v2 and v1, over their StdioClientTransport) and real SDK upstreams (Streamable HTTP with and
// without sessions, legacy HTTP+SSE) protected by the oidc-provider test authorization server. The first process of
// each upstream signs in with the headless browser at start-up; the others reuse the stored tokens.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport as StdioClientTransportV1 } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { type McpTransportMode, startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { INITIALIZE, RawStdioChild, type StdioChildEnv, stdioCommand } from "./support/stdio-child.ts";

const MODES: McpTransportMode[] = ["streamable-stateful", "streamable-stateless", "sse"];

let authServer: TestAuthServer;
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "stdio-face-"));
  dirs.push(dir);
  return dir;
}

before(async () => {
  authServer = await startAuthServer();
});
after(async () => {
  await authServer.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function connectV2(url: string, env: StdioChildEnv, capabilities: Record<string, unknown> = {}): Promise<Client> {
  const { command, args, env: childEnv, cwd } = stdioCommand(url, env);
  const transport = new StdioClientTransport({ command, args, env: childEnv, cwd, stderr: "pipe" });
  const client = new Client({ name: "stdio-face-test-v2", version: "1.0.0" }, { capabilities });
  await client.connect(transport);
  return client;
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const textOf = (result: unknown) => ((result as { content?: Array<{ text?: string }> }).content ?? [])[0]?.text;

for (const mode of MODES) {
  describe(`stdio face → ${mode} upstream`, () => {
    let server: TestMcpServer;
    let authDir: string;
    let client: Client;

    before(async () => {
      server = await startMcpServer({ authServer, transport: mode });
      authDir = tempDir();
      client = await connectV2(server.url, { authDir }, { sampling: {}, elicitation: { form: {} } });
      client.setRequestHandler("sampling/createMessage", async (request) => ({
        model: "test-model",
        role: "assistant",
        content: { type: "text", text: `sampled ${(request.params.messages[0]?.content as { text?: string })?.text}` },
      }));
      client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { answer: "yes" } }));
    });
    after(async () => {
      await client?.close();
      await server?.close();
    });

    test("tools, resources and prompts (SDK v2 client)", async () => {
      const tools = await client.listTools();
      assert.ok(tools.tools.some((tool) => tool.name === "slow_progress"));
      assert.equal(
        textOf(await client.callTool({ name: "echo", arguments: { text: "héllo\nworld" } })),
        "héllo\nworld",
      );
      const resources = await client.listResources();
      assert.ok(resources.resources.some((resource) => resource.uri === "demo://readme"));
      const readme = await client.readResource({ uri: "demo://readme" });
      assert.match(JSON.stringify(readme.contents), /Served by the test MCP server/);
      const prompt = await client.getPrompt({ name: "greeting", arguments: { name: "Ada" } });
      assert.match(JSON.stringify(prompt.messages), /Say hello to Ada/);
      // Every upstream request carried the bearer token.
      assert.ok(server.stats.authorizationKinds.slice(-3).every((kind) => kind === "bearer"));
    });

    test("progress notifications all arrive, in order", async () => {
      const seen: number[] = [];
      const result = await client.callTool(
        { name: "slow_progress", arguments: { steps: 1000 } },
        { onprogress: (progress) => seen.push(progress.progress) },
      );
      assert.equal(textOf(result), "done 1000");
      assert.equal(seen.length, 1000);
      assert.ok(
        seen.every((value, i) => value === i + 1),
        "progress out of order",
      );
    });

    test("a 2 MB result comes through whole", async () => {
      const result = await client.callTool({ name: "big", arguments: { bytes: 2_000_000 } });
      assert.equal(textOf(result)?.length, 2_000_000);
    });

    if (mode !== "streamable-stateless") {
      // (A stateless server cannot receive the client's answer: it arrives in a new POST, at a new server instance.)
      test("sampling and elicitation from the server reach the client and back", async () => {
        assert.equal(
          textOf(await client.callTool({ name: "ask_sampling", arguments: { prompt: "hi" } })),
          "sampled hi",
        );
        const elicited = await client.callTool({ name: "ask_elicitation", arguments: { message: "ok?" } });
        assert.deepEqual(JSON.parse(textOf(elicited) ?? ""), { action: "accept", content: { answer: "yes" } });
      });
    }

    test("cancelling a request sends notifications/cancelled upstream", async () => {
      const calls = () => server.stats.methods.filter((method) => method === "tools/call").length;
      const before = calls();
      const controller = new AbortController();
      const call = client.callTool({ name: "sleep", arguments: { ms: 60_000 } }, { signal: controller.signal });
      await waitFor(() => calls() > before, "the call to reach the upstream");
      controller.abort("test cancels");
      await assert.rejects(call);
      await waitFor(() => server.stats.methods.includes("notifications/cancelled"), "the cancellation upstream");
    });

    test("an SDK v1 client in a second process uses the stored sign-in", async () => {
      const authorizations = authServer.stats.authorizationRequests;
      const { command, args, env, cwd } = stdioCommand(server.url, { authDir, browser: "none" });
      const transport = new StdioClientTransportV1({ command, args, env, cwd, stderr: "pipe" });
      const v1 = new ClientV1({ name: "stdio-face-test-v1", version: "1.0.0" }, { capabilities: { sampling: {} } });
      v1.setRequestHandler(CreateMessageRequestSchema, async () => ({
        model: "v1-model",
        role: "assistant" as const,
        content: { type: "text" as const, text: "from v1" },
      }));
      await v1.connect(transport);
      try {
        const echo = await v1.callTool({ name: "echo", arguments: { text: "v1" } });
        assert.equal(textOf(echo), "v1");
        const seen: number[] = [];
        await v1.callTool({ name: "slow_progress", arguments: { steps: 200 } }, undefined, {
          onprogress: (progress) => seen.push(progress.progress),
        });
        assert.equal(seen.length, 200);
        if (mode !== "streamable-stateless") {
          assert.equal(textOf(await v1.callTool({ name: "ask_sampling", arguments: { prompt: "x" } })), "from v1");
        }
      } finally {
        await v1.close();
      }
      assert.equal(authServer.stats.authorizationRequests, authorizations, "no new sign-in");
    });
  });
}

describe("stdio face: process behaviour", () => {
  test("stdout carries only JSON-RPC; stdin closing ends the session (DELETE) and the process exits 0", async () => {
    const server = await startMcpServer({ authServer, transport: "streamable-stateful" });
    const child = new RawStdioChild(server.url, { authDir: tempDir(), logLevel: "debug" });
    try {
      child.send(INITIALIZE);
      const init = await child.response(0);
      assert.equal((init.result as { protocolVersion: string }).protocolVersion, "2025-11-25");
      child.send({ jsonrpc: "2.0", method: "notifications/initialized" });
      child.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } });
      assert.deepEqual(await child.response(1), {
        jsonrpc: "2.0",
        id: 1,
        result: { content: [{ type: "text", text: "x" }] },
      });
      // A line that is not JSON gets a parse error, and the proxy carries on.
      child.child.stdin.write("this is not json\n");
      const parseError = await child.next((message) => message.id === null);
      assert.equal((parseError.error as { code: number }).code, -32700);
      child.send({ jsonrpc: "2.0", id: 2, method: "ping" });
      assert.deepEqual((await child.response(2)).result, {});
      // The negotiated protocol version went upstream on the requests after initialize.
      assert.ok(server.stats.protocolVersions.includes("2025-11-25"));

      const requestsBefore = server.stats.requests;
      child.endInput();
      const exit = await child.exited;
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.equal(server.stats.requests - requestsBefore, 1, "one more request after stdin closed: the DELETE");
      for (const line of child.stdoutLines) assert.doesNotThrow(() => JSON.parse(line), `not JSON on stdout: ${line}`);
      assert.match(child.stderr, /Not signed in/); // logs went to stderr
      assert.doesNotMatch(child.stderr, /eyJ[A-Za-z0-9_-]{10,}\./, "no token in the logs");
    } finally {
      child.kill();
      await server.close();
    }
  });

  test("not signed in and the sign-in is not completed: requests get a JSON-RPC error with the sign-in URL", async () => {
    const server = await startMcpServer({ authServer, transport: "streamable-stateful" });
    const child = new RawStdioChild(server.url, { authDir: tempDir(), browser: "none", signInWaitMs: 1_000 });
    try {
      child.send(INITIALIZE);
      const answer = await child.response(0);
      const error = answer.error as { code: number; message: string; data: { signInUrl?: string } };
      assert.equal(error.code, -32050);
      assert.ok(error.data.signInUrl?.startsWith(`${authServer.issuer}/authorize?`), error.data.signInUrl);
      assert.ok(error.message.includes(error.data.signInUrl ?? "-"), error.message);
      assert.match(error.message, new RegExp(server.url.replace(/[.]/g, "\\.")));
      assert.match(child.stderr, /Sign in to .* by opening this URL/);
      child.endInput();
      assert.equal((await child.exited).code, 0);
    } finally {
      child.kill();
      await server.close();
    }
  });

  test("an initialize sent while the start-up sign-in runs waits for it, then succeeds (no early 401)", async () => {
    const server = await startMcpServer({ authServer, transport: "streamable-stateful" });
    const child = new RawStdioChild(server.url, { authDir: tempDir(), browser: "none", signInWaitMs: 120_000 });
    try {
      child.send(INITIALIZE);
      await waitFor(() => /\/authorize\?\S+/.test(child.stderr), "the sign-in URL on stderr");
      const url = child.stderr.match(/https?:\/\/\S+\/authorize\?\S+/)?.[0] ?? "";
      assert.ok(url.startsWith(`${authServer.issuer}/authorize?`), url);
      // The person has not signed in yet: the initialize is still waiting, not answered with an error.
      assert.ok(!child.stdoutLines.some((line) => line.includes('"id":0')), child.stdoutLines.join("\n"));
      await completeLoginInBrowser(url, { login: "waiting-user" });
      const answer = await child.response(0);
      assert.equal(answer.error, undefined, JSON.stringify(answer.error));
      assert.ok((answer.result as { serverInfo?: unknown }).serverInfo, "an initialize result");
      child.send({ jsonrpc: "2.0", method: "notifications/initialized" });
      child.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } });
      const call = await child.response(1);
      assert.equal(call.error, undefined, JSON.stringify(call.error));
      assert.equal(JSON.parse(textOf(call.result) ?? "{}").sub, "waiting-user");
      child.endInput();
      assert.equal((await child.exited).code, 0);
    } finally {
      child.kill();
      await server.close();
    }
  });

  test("an unreachable upstream: the request gets an error naming it", async () => {
    const server = await startMcpServer({ authServer, transport: "streamable-stateful" });
    const authDir = tempDir();
    const client = await connectV2(server.url, { authDir });
    try {
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "up" } })), "up");
      await server.close();
      await assert.rejects(client.callTool({ name: "echo", arguments: { text: "down" } }), (error: Error) => {
        assert.match(error.message, /could not be reached/);
        assert.ok(error.message.includes(server.url), error.message);
        return true;
      });
    } finally {
      await client.close();
    }
  });

  test("an upstream killed mid-response: the running request gets an error instead of hanging", async () => {
    const server = await startMcpServer({ authServer, transport: "streamable-stateless" });
    const client = await connectV2(server.url, { authDir: tempDir() });
    try {
      const calls = () => server.stats.methods.filter((method) => method === "tools/call").length;
      const call = client.callTool({ name: "sleep", arguments: { ms: 60_000 } });
      await waitFor(() => calls() > 0, "the call to reach the upstream");
      await server.close();
      await assert.rejects(call, (error: Error) => {
        assert.match(error.message, /ended the response to tools\/call without an answer/);
        return true;
      });
    } finally {
      await client.close();
    }
  });

  test("an upstream that lost the session (restart): a new session is started transparently", async () => {
    let server = await startMcpServer({ authServer, transport: "streamable-stateful" });
    const client = await connectV2(server.url, { authDir: tempDir() });
    try {
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "one" } })), "one");
      const port = server.port;
      await server.close();
      server = await startMcpServer({ authServer, transport: "streamable-stateful", port });
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "two" } })), "two");
      assert.deepEqual(server.stats.methods.slice(0, 2), ["tools/call", "initialize"]);
      assert.ok(server.stats.methods.includes("notifications/initialized"));
    } finally {
      await client.close();
      await server.close();
    }
  });
});
