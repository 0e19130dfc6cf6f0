// The ID token as the bearer (--use-id-token), end to end: the oidc-provider authorization server issues ID tokens
// that live 6 s (the access token an hour), and the MCP server accepts only ID tokens from it (as servers behind
// AWS Cognito, such as Bedrock AgentCore, do) and refuses its access tokens. The built CLI signs in through the
// scripted browser; the stdio face then calls tools with the ID token and refreshes it by its own expiry.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { HEADLESS_BROWSER_PATH } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { BIN, cli, freePort } from "./support/built-cli.ts";
import { textOf } from "./support/era-clients.ts";
import { startServeChild } from "./support/serve-child.ts";

describe("--use-id-token against an MCP server that takes only ID tokens", () => {
  let authServer: TestAuthServer;
  let server: TestMcpServer;
  let dir: string;
  const authDir = () => join(dir, "auth");
  const env = () => ({ MCP_AUTH_DIR: authDir(), BROWSER: HEADLESS_BROWSER_PATH });
  const storedTokens = async () => {
    const file = (await readdir(authDir())).find((name) => name.endsWith("_tokens.json"));
    return JSON.parse(await readFile(join(authDir(), file ?? "missing"), "utf8")).tokens as Record<string, string>;
  };
  const callWith = (token: string) =>
    fetch(server.url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "probe", version: "1" } },
      }),
    });

  before(async () => {
    authServer = await startAuthServer({ idTokenTtlSeconds: 6 });
    server = await startMcpServer({ authServer, acceptIdTokens: true });
    dir = await mkdtemp(join(tmpdir(), "id-token-"));
  });
  after(async () => {
    await server?.close();
    await authServer?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("auth --use-id-token asks for openid and stores an ID token; the server takes it and refuses the access token", async () => {
    const auth = await cli(["auth", server.url, "--use-id-token", "--port", String(await freePort())], env());
    assert.equal(auth.code, 0, auth.stderr);
    const scope = new URL(/http\S+\/authorize\?\S+/.exec(auth.stderr)?.[0] ?? "http://x").searchParams.get("scope");
    assert.deepEqual(scope?.split(" ").sort(), ["mcp:admin", "mcp:read", "mcp:write", "offline_access", "openid"]);
    const tokens = await storedTokens();
    assert.ok(tokens.id_token, "an ID token is stored");
    assert.equal((await callWith(tokens.id_token as string)).status, 200, "the ID token is accepted");
    assert.equal((await callWith(tokens.access_token as string)).status, 401, "the access token is refused");
    const status = await cli(["status", server.url, "--use-id-token", "--json"], env());
    assert.equal(status.code, 0, status.stderr);
    const reported = JSON.parse(status.stdout);
    assert.equal(reported.signedIn, true);
    assert.equal(reported.bearer, "id_token");
    assert.ok(reported.expiresInSeconds <= 6, "the ID token's expiry, not the access token's hour");
    const text = await cli(["status", server.url, "--use-id-token"], env());
    assert.match(text.stdout, /ID token expires: /);
  });

  test("the stdio face sends the ID token, and refreshes it before its exp though the access token lives on", async () => {
    const client = new Client({ name: "id-token", version: "1.0.0" });
    const childEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, ...env() };
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, "stdio", server.url, "--use-id-token"],
        env: childEnv,
        stderr: "pipe",
      }),
    );
    try {
      const first = JSON.parse(textOf(await client.callTool({ name: "whoami", arguments: {} })) ?? "{}");
      assert.equal(typeof first.sub, "string");
      const refreshes = authServer.stats.refreshSuccesses;
      // Into the ID token's last quarter (6 s lifetime): the next call refreshes first.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "later" } })), "later");
      assert.ok(authServer.stats.refreshSuccesses > refreshes, "refreshed by the ID token's expiry");
    } finally {
      await client.close();
    }
  });

  test("serve --use-id-token: tool calls on /mcp carry the ID token; the status page says it is the bearer", async () => {
    const port = await freePort();
    const serve = await startServeChild([server.url, "--use-id-token", "--port", String(port)], env());
    try {
      const client = new Client({ name: "id-token-http", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "over http" } })), "over http");
      await client.close();
      const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      assert.match(page, /ID token expires \(sent as the bearer\)/);
    } finally {
      await serve.stop();
    }
  });
});
