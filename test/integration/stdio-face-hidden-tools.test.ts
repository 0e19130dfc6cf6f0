// Hidden tools on the stdio face, through the built CLI as a host runs it: `stdio <url> --ignore-tool …`, and a
// Claude Desktop mcp-remote entry with mcp-remote's own --ignore-tool read from a config file. An SDK v1 client
// (what such hosts run) lists the tools and calls them over stdio; the upstream is the fixture 2025 session server.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { HEADLESS_BROWSER_PATH } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { BIN, cli, freePort } from "./support/built-cli.ts";
import { countOf, rejectsAsHidden, textOf } from "./support/era-clients.ts";

describe("stdio face with hidden tools", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let dir: string;
  const env = () => ({
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    MCP_AUTH_DIR: join(dir, "auth"),
    BROWSER: HEADLESS_BROWSER_PATH,
  });

  before(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    dir = await mkdtemp(join(tmpdir(), "stdio-hidden-tools-"));
    const signIn = await cli(["auth", mcp.url, "--port", String(await freePort())], env());
    assert.equal(signIn.code, 0, signIn.stderr);
  });
  after(async () => {
    await mcp?.close();
    await as?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function overStdio(args: string[], check: (client: Client) => Promise<void>): Promise<void> {
    const client = new Client({ name: "stdio-hidden-tools", version: "1.0.0" });
    await client.connect(
      new StdioClientTransport({ command: process.execPath, args: [BIN, ...args], env: env(), stderr: "pipe" }),
    );
    try {
      await check(client);
    } finally {
      await client.close();
    }
  }

  test("stdio <url> --ignore-tool: not listed, calls refused without reaching the upstream, others work", async () => {
    await overStdio(["stdio", mcp.url, "--ignore-tool", "ADD", "--ignore-tool", "slow_*"], async (client) => {
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      assert.ok(names.includes("echo") && !names.includes("add") && !names.includes("slow_progress"), names.join(","));
      const calls = countOf(mcp, "tools/call");
      await rejectsAsHidden(client.callTool({ name: "add", arguments: { a: 1, b: 2 } }), "add", "ADD");
      assert.equal(countOf(mcp, "tools/call"), calls);
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "shown" } })), "shown");
    });
  });

  test("an mcp-remote entry's --ignore-tool, read from the config file, hides the tool the same way; status names it", async () => {
    const config = join(dir, "claude_desktop_config.json");
    await writeFile(
      config,
      JSON.stringify({
        mcpServers: { tools: { command: "npx", args: ["-y", "mcp-remote", mcp.url, "--ignore-tool", "ad*"] } },
      }),
    );
    await overStdio(["--config", config, "stdio", "tools"], async (client) => {
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      assert.ok(names.includes("echo") && !names.includes("add") && !names.includes("admin_action"), names.join(","));
      await assert.rejects(client.callTool({ name: "admin_action", arguments: {} }), /--ignore-tool "ad\*"/);
    });
    // `status` says so too, as text and in --json, for the named server and in the list of every server.
    const named = await cli(["--config", config, "status", "tools"], env());
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stdout, /^ {2}hidden tools: {9}ad\* \(--ignore-tool\)$/m);
    const json = await cli(["--config", config, "status", "tools", "--json"], env());
    assert.deepEqual(JSON.parse(json.stdout).hiddenTools, ["ad*"]);
    const every = await cli(["--config", config, "status", "--json"], env());
    const listed = (JSON.parse(every.stdout).servers as Array<{ name?: string; hiddenTools?: string[] }>).find(
      (server) => server.name === "tools",
    );
    assert.deepEqual(listed?.hiddenTools, ["ad*"]);
  });
});
