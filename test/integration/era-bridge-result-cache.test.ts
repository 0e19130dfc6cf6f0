// The result cache on the era bridge (a 2025 client, SDK v1, in front of a 2026-07-28-only upstream, SDK v2 with
// `legacy: "reject"`), through the stdio face and the HTTP face's /mcp: a `tools/list` the upstream marks cacheable
// (`ttlMs`, `cacheScope: "private"`) is asked upstream once, served from the cache after that, and asked again once
// the upstream's list-changed notification made it stale. A method without a hint is always asked upstream.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { type CacheHints, startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";
import { stdioCommand } from "./support/stdio-child.ts";

const HINTS: CacheHints = { "tools/list": { ttlMs: 600_000, cacheScope: "private" } };

const count = (server: TestMcpServer, method: string) => server.stats.methods.filter((m) => m === method).length;

/** A client whose every tools/list_changed notification resolves the next `changed()` promise. */
function listeningClient(name: string) {
  const client = new Client({ name, version: "1.0.0" });
  let notified: (() => void) | undefined;
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => notified?.());
  return {
    client,
    changed: () => new Promise<void>((resolve) => (notified = resolve)),
  };
}

/** The checks both faces share, on a connected client. */
async function cachedUntilListChanged(
  server: TestMcpServer,
  { client, changed }: ReturnType<typeof listeningClient>,
): Promise<void> {
  // The proxy's listen stream must be open before the change is announced (it opens after initialized).
  const first = await client.listTools();
  assert.ok(first.tools.some((tool) => tool.name === "echo"));
  const asked = count(server, "tools/list");
  assert.ok(asked >= 1, "the first tools/list went upstream");
  for (let i = 0; i < 3; i++) {
    const again = await client.listTools();
    assert.deepEqual(
      again.tools.map((tool) => tool.name),
      first.tools.map((tool) => tool.name),
    );
  }
  assert.equal(count(server, "tools/list"), asked, "repeats were answered from the cache");
  // prompts/list carries no hint (ttlMs 0): it is asked every time.
  const prompts = count(server, "prompts/list");
  await client.listPrompts();
  await client.listPrompts();
  assert.equal(count(server, "prompts/list"), prompts + 2);

  // The upstream's list changes: the cached list is dropped, and the next tools/list goes upstream again.
  // Announced until the client hears it (the listen stream may still be opening); bounded, no timing assumed.
  const heard = changed();
  let announced = false;
  void heard.then(() => (announced = true));
  for (let i = 0; i < 300 && !announced; i++) {
    server.notifyToolsChanged();
    await Promise.race([heard, new Promise((resolve) => setTimeout(resolve, 100))]);
  }
  assert.ok(announced, "the client heard tools/list_changed");
  await client.listTools();
  assert.equal(count(server, "tools/list"), asked + 1, "stale after list_changed: asked upstream once more");
  await client.listTools();
  assert.equal(count(server, "tools/list"), asked + 1, "and cached again");
}

describe("era bridge result cache", () => {
  let authServer: TestAuthServer;
  let server: TestMcpServer;
  before(async () => {
    authServer = await startAuthServer();
    server = await startMcpServer({ authServer, transport: "2026", cacheHints: HINTS });
  });
  after(async () => {
    await server?.close();
    await authServer?.close();
  });

  test("stdio face: cacheable tools/list asked once, again after list_changed", async () => {
    const authDir = mkdtempSync(join(tmpdir(), "era-cache-"));
    const { command, args, env, cwd } = stdioCommand(server.url, { authDir });
    const listening = listeningClient("era-cache-stdio");
    try {
      await listening.client.connect(new StdioClientTransport({ command, args, env, cwd, stderr: "pipe" }));
      await cachedUntilListChanged(server, listening);
    } finally {
      await listening.client.close();
      rmSync(authDir, { recursive: true, force: true });
    }
  });

  describe("HTTP face /mcp", () => {
    let h: FaceHarness;
    before(async () => {
      h = await startFaceHarness({ shared: { as: authServer, mcp: server } });
      await h.signedIn();
    });
    after(async () => {
      await h?.close();
    });

    test("cacheable tools/list asked once, again after list_changed", async () => {
      const listening = listeningClient("era-cache-http");
      try {
        await listening.client.connect(new StreamableHTTPClientTransport(new URL(h.mcpUrl)));
        await cachedUntilListChanged(server, listening);
      } finally {
        await listening.client.close();
      }
    });
  });
});
