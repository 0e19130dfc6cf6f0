// The built CLI on the Node versions users run besides this machine's 20: the oldest `engines` allows (20.19.0),
// 22 (Databricks Apps and the Docker image) and 24. Each is npm's `node` package through npx, cached by .ci/run.
// On each: sign-in with the headless browser, status, refresh, the stdio face (same era, and a 2025 client
// through the era bridge, a large result included), `serve` with 2025 clients on /mcp and /sse and a 2026-07-28
// client on /mcp, then clear. The upstreams, the authorization server and the clients run on this process's Node.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client as ClientV2 } from "@modelcontextprotocol/client";
import { StdioClientTransport as StdioClientTransportV2 } from "@modelcontextprotocol/client/stdio";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { HEADLESS_BROWSER_PATH } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { locateNode } from "../support/other-node.ts";
import { BIN, cli, freePort } from "./support/built-cli.ts";
import { legacyClient, legacyTransport, modernClient, modernTransport, textOf } from "./support/era-clients.ts";
import { startServeChild } from "./support/serve-child.ts";

const VERSIONS = ["20.19.0", "22", "24"];

for (const spec of VERSIONS) {
  describe(`the built CLI on Node ${spec}`, () => {
    let node: string;
    let authServer: TestAuthServer;
    let legacy: TestMcpServer;
    let modern: TestMcpServer;
    let dir: string;
    let common: string[];
    const env = () => ({ MCP_AUTH_DIR: join(dir, "auth"), BROWSER: HEADLESS_BROWSER_PATH });

    before(async () => {
      const located = await locateNode(spec);
      node = located.node;
      const wanted = spec.includes(".") ? `v${spec}` : `v${spec}.`;
      assert.ok(located.version.startsWith(wanted), `npx gave Node ${located.version} for node@${spec}`);
      authServer = await startAuthServer();
      legacy = await startMcpServer({ authServer, transport: "streamable-stateful" });
      modern = await startMcpServer({ authServer, transport: "2026" });
      dir = await mkdtemp(join(tmpdir(), `node-${spec}-`));
      common = ["--auth-dir", join(dir, "auth"), "--port", String(await freePort())];
    });
    after(async () => {
      await legacy?.close();
      await modern?.close();
      await authServer?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test("auth, status and refresh", async () => {
      for (const server of [legacy, modern]) {
        const auth = await cli(["auth", server.url, ...common], env(), node);
        assert.equal(auth.code, 0, auth.stderr);
        assert.match(auth.stdout, /Signed in\./);
      }
      const status = await cli(["status", modern.url, "--json", ...common], env(), node);
      assert.equal(status.code, 0, status.stderr);
      assert.equal(JSON.parse(status.stdout).signedIn, true);
      const refreshes = authServer.stats.refreshSuccesses;
      const refresh = await cli(["refresh", modern.url, ...common], env(), node);
      assert.equal(refresh.code, 0, refresh.stderr);
      assert.equal(authServer.stats.refreshSuccesses, refreshes + 1);
    });

    test("the stdio face: an SDK v2 client to a 2025 upstream, an SDK v1 client through the era bridge", async () => {
      const childEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, ...env() };
      const same = new ClientV2({ name: `node-${spec}-v2`, version: "1.0.0" });
      await same.connect(
        new StdioClientTransportV2({ command: node, args: [BIN, "stdio", legacy.url], env: childEnv, stderr: "pipe" }),
      );
      const bridged = new Client({ name: `node-${spec}-v1`, version: "1.0.0" });
      await bridged.connect(
        new StdioClientTransport({ command: node, args: [BIN, "stdio", modern.url], env: childEnv, stderr: "pipe" }),
      );
      try {
        assert.equal(textOf(await same.callTool({ name: "echo", arguments: { text: "same era" } })), "same era");
        // Past the stdio face's streaming threshold (128 KiB), so the answer is passed on as its bytes arrive.
        const large = textOf(await same.callTool({ name: "big", arguments: { bytes: 1_000_000 } }));
        assert.equal(large?.length, 1_000_000);
        assert.equal(textOf(await bridged.callTool({ name: "echo", arguments: { text: "bridged" } })), "bridged");
        assert.equal(textOf(await bridged.callTool({ name: "big", arguments: { bytes: 300_000 } }))?.length, 300_000);
        assert.ok(modern.stats.protocolVersions.every((version) => version === "2026-07-28"));
      } finally {
        await same.close();
        await bridged.close();
      }
    });

    test("serve: 2025 clients on /mcp and /sse, a 2026-07-28 client on /mcp, in front of a 2026-07-28 upstream", async () => {
      const port = await freePort();
      const serve = await startServeChild(
        [modern.url, "--auth-dir", join(dir, "auth"), "--port", String(port)],
        env(),
        node,
      );
      const face = `http://127.0.0.1:${port}`;
      try {
        for (const path of ["/mcp", "/sse"] as const) {
          const { client } = legacyClient(`node-${spec}${path}`);
          await client.connect(legacyTransport(face, path));
          assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: path } })), path);
          await client.close();
        }
        const { client } = modernClient(`node-${spec}-modern`);
        await client.connect(modernTransport(`${face}/mcp`));
        assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "modern" } })), "modern");
        await client.close();
        const health = await fetch(`${face}/healthz`);
        assert.equal(health.status, 200);
      } finally {
        await serve.stop();
      }
      assert.doesNotMatch(serve.output(), /eyJ[A-Za-z0-9_-]{10,}\./, "no token in the output");
    });

    test("clear signs out; status then exits 1", async () => {
      for (const server of [legacy, modern]) {
        const clear = await cli(["clear", server.url, ...common], env(), node);
        assert.equal(clear.code, 0, clear.stderr);
      }
      const status = await cli(["status", modern.url, ...common], env(), node);
      assert.equal(status.code, 1);
    });
  });
}
