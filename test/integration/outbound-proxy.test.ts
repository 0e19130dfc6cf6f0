// Corporate networks: with HTTP_PROXY set, every outbound request of the built CLI goes through that proxy (a real
// forward proxy on 127.0.0.1, test/fixtures/forward-proxy.ts): the sign-in's discovery, registration and token
// requests, `serve`'s relay and bridges, the stdio face and its era bridge. NO_PROXY exempts hosts. The scripted
// browser and the clients talk to the proxy and the authorization server directly, as a user's would.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client as ClientV2, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startForwardProxy, type TestForwardProxy } from "../fixtures/forward-proxy.ts";
import { HEADLESS_BROWSER_PATH } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { BIN, cli, freePort } from "./support/built-cli.ts";
import { textOf } from "./support/era-clients.ts";
import { startServeChild } from "./support/serve-child.ts";

describe("HTTP_PROXY and NO_PROXY", () => {
  let authServer: TestAuthServer;
  let legacy: TestMcpServer;
  let modern: TestMcpServer;
  let forward: TestForwardProxy;
  let dir: string;
  const hostOf = (url: string) => new URL(url).host;
  /** The child's environment: the forward proxy for every outbound request unless `noProxy` names the host. */
  const env = (noProxy = "") => ({
    MCP_AUTH_DIR: join(dir, "auth"),
    BROWSER: HEADLESS_BROWSER_PATH,
    HTTP_PROXY: forward.url,
    HTTPS_PROXY: forward.url,
    NO_PROXY: noProxy,
    // undici reads the lower-case names first, and an empty one counts as set: both cases say the same.
    http_proxy: forward.url,
    https_proxy: forward.url,
    no_proxy: noProxy,
  });
  /** The targets the forward proxy saw while `run` ran. */
  async function seenDuring(run: () => Promise<void>): Promise<string[]> {
    const before = forward.targets.length;
    await run();
    return forward.targets.slice(before);
  }

  before(async () => {
    authServer = await startAuthServer();
    legacy = await startMcpServer({ authServer, transport: "streamable-stateful" });
    modern = await startMcpServer({ authServer, transport: "2026" });
    forward = await startForwardProxy();
    dir = await mkdtemp(join(tmpdir(), "outbound-proxy-"));
  });
  after(async () => {
    await legacy?.close();
    await modern?.close();
    await forward?.close();
    await authServer?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("auth: discovery, registration and the token request go through the proxy", async () => {
    for (const server of [legacy, modern]) {
      const seen = await seenDuring(async () => {
        const auth = await cli(["auth", server.url, "--port", String(await freePort())], env());
        assert.equal(auth.code, 0, auth.stderr);
      });
      assert.ok(seen.includes(hostOf(server.url)), `the MCP server through the proxy (saw ${seen.join(", ")})`);
      assert.ok(seen.includes(hostOf(authServer.issuer)), `the authorization server through the proxy (saw ${seen})`);
    }
  });

  test("serve: tool calls on /mcp, same era and through the era bridge, go through the proxy", async () => {
    for (const server of [legacy, modern]) {
      const port = await freePort();
      const serve = await startServeChild([server.url, "--port", String(port)], env());
      try {
        const seen = await seenDuring(async () => {
          const client = new ClientV2({ name: "outbound-proxy", version: "1.0.0" });
          await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
          assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "via" } })), "via");
          await client.close();
        });
        assert.ok(seen.includes(hostOf(server.url)), `the upstream through the proxy (saw ${seen.join(", ")})`);
      } finally {
        await serve.stop();
      }
    }
  });

  test("the stdio face: a 2025 client through the era bridge goes through the proxy; NO_PROXY exempts the host", async () => {
    const callThroughStdio = async (noProxy: string) => {
      const client = new Client({ name: "outbound-proxy-stdio", version: "1.0.0" });
      const childEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, ...env(noProxy) };
      await client.connect(
        new StdioClientTransport({ command: process.execPath, args: [BIN, "stdio", modern.url], env: childEnv }),
      );
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "stdio" } })), "stdio");
      await client.close();
    };
    const proxied = await seenDuring(() => callThroughStdio(""));
    assert.ok(proxied.includes(hostOf(modern.url)), `the upstream through the proxy (saw ${proxied.join(", ")})`);
    const exempt = await seenDuring(() => callThroughStdio("127.0.0.1"));
    assert.deepEqual(exempt, [], "NO_PROXY=127.0.0.1: nothing through the proxy");
  });
});
