// Where `serve` listens, from the built bin: with --identity databricks-apps and no --host/--port it binds
// 0.0.0.0:$DATABRICKS_APP_PORT (the Apps proxy connects from outside the container's loopback) without an API key,
// answers /healthz, and refuses a request the platform's proxy did not vouch for (no X-Forwarded-User). Without that
// mode the same non-loopback bind without a key is refused (serve exits naming the key), also with DATABRICKS_APP_PORT
// set; header:NAME (a front that is not authenticated by the platform) is refused without a key too.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { listeningAddresses, listensOnAllInterfaces } from "../support/listening.ts";
import { serveRefusal, startServeChild } from "./support/serve-child.ts";

describe("serve --identity databricks-apps binds 0.0.0.0:$DATABRICKS_APP_PORT without a key; nothing else does", () => {
  let upstream: TestMcpServer;
  let dir: string;

  before(async () => {
    upstream = await startMcpServer({ auth: false, transport: "streamable-stateful" });
    dir = await mkdtemp(join(tmpdir(), "identity-apps-bind-"));
  });

  after(async () => {
    await upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("databricks-apps: 0.0.0.0 on DATABRICKS_APP_PORT, no key, /healthz open, an unvouched request 403", async () => {
    const port = await freePort();
    const serve = await startServeChild(
      [upstream.url, "--identity", "databricks-apps", "--auth-dir", join(dir, "apps"), "--no-browser"],
      { DATABRICKS_APP_PORT: String(port) },
    );
    try {
      assert.ok(listensOnAllInterfaces(port), `bound to 0.0.0.0:${port}: ${listeningAddresses(port).join(", ")}`);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      const unvouched = await fetch(`http://127.0.0.1:${port}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
      });
      assert.equal(unvouched.status, 403);
      assert.match(await unvouched.text(), /X-Forwarded-User/);
      assert.doesNotMatch(serve.output(), /API key/i, "no key asked for, none generated");
    } finally {
      await serve.stop();
    }
  });

  test("without the mode, 0.0.0.0 without a key is refused, also with DATABRICKS_APP_PORT set", async () => {
    const port = await freePort();
    const appPort = await freePort();
    const refused = await serveRefusal(
      [upstream.url, "--host", "0.0.0.0", "--port", String(port), "--auth-dir", join(dir, "none"), "--no-browser"],
      { DATABRICKS_APP_PORT: String(appPort) },
    );
    assert.notEqual(refused.code, 0, refused.output);
    assert.match(refused.output, /API key/);
  });

  test("header:NAME on 0.0.0.0 without a key is refused too: only the platform's own proxy is trusted so", async () => {
    const port = await freePort();
    const refused = await serveRefusal([
      upstream.url,
      "--identity",
      "header:X-Forwarded-Email",
      "--host",
      "0.0.0.0",
      "--port",
      String(port),
      "--auth-dir",
      join(dir, "header"),
      "--no-browser",
    ]);
    assert.notEqual(refused.code, 0, refused.output);
    assert.match(refused.output, /api-key|API key/);
  });
});
