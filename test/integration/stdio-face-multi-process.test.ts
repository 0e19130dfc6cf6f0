// Several stdio face processes for one upstream and one token store, started together the way hosts start one per
// window: they sign in once (one browser invocation, one authorization request), and every client gets through.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { stdioCommand } from "./support/stdio-child.ts";

const PROCESSES = 3;

let authServer: TestAuthServer;
let server: TestMcpServer;
let dir: string;

before(async () => {
  authServer = await startAuthServer();
  server = await startMcpServer({ authServer, transport: "streamable-stateful" });
  dir = mkdtempSync(join(tmpdir(), "stdio-multi-"));
});
after(async () => {
  await server.close();
  await authServer.close();
  rmSync(dir, { recursive: true, force: true });
});

test(`${PROCESSES} stdio processes for one upstream sign in once`, async () => {
  const authDir = join(dir, "auth");
  const browserLog = join(dir, "browser.log");
  const clients = Array.from({ length: PROCESSES }, (_, i) => {
    const { command, args, env, cwd } = stdioCommand(server.url, { authDir, browserLog });
    const transport = new StdioClientTransport({ command, args, env, cwd, stderr: "pipe" });
    return { client: new Client({ name: `window-${i}`, version: "1.0.0" }), transport };
  });
  try {
    await Promise.all(clients.map(({ client, transport }) => client.connect(transport)));
    const answers = await Promise.all(
      clients.map(({ client }, i) => client.callTool({ name: "echo", arguments: { text: `window ${i}` } })),
    );
    answers.forEach((answer, i) => {
      assert.deepEqual(answer.content, [{ type: "text", text: `window ${i}` }]);
    });
  } finally {
    await Promise.all(clients.map(({ client }) => client.close()));
  }
  assert.ok(existsSync(browserLog), "the browser was opened");
  const invocations = readFileSync(browserLog, "utf8").trim().split("\n");
  assert.equal(invocations.length, 1, `one browser invocation, got ${invocations.length}`);
  assert.equal(authServer.stats.authorizationRequests, 1, "one authorization request");
  assert.equal(authServer.stats.registrations, 1, "one client registration");
});
