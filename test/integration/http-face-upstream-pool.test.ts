// The HTTP face's bridged message path (a legacy SSE client in front of a Streamable HTTP upstream) keeps its own
// keep-alive connections to the upstream, as the pass-through relay does: many sequential calls reuse a few sockets,
// and those sockets close when the face closes (fetch's process-wide dispatcher would keep them open).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, SSEClientTransport } from "@modelcontextprotocol/client";
import { Agent, type Dispatcher, getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { startFaceHarness } from "./support/http-face-harness.ts";

describe("HTTP face, bridged /sse: one keep-alive pool per upstream", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let processWide: Dispatcher;
  before(async () => {
    // fetch's process-wide dispatcher keeps idle sockets for 2 minutes here, and the upstream allows that: had the
    // bridges used it, their sockets would outlive the face and the wait for them below would time out.
    processWide = getGlobalDispatcher();
    setGlobalDispatcher(new Agent({ keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 }));
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as, transport: "streamable-stateful", keepAliveTimeoutMs: 180_000 });
  });
  after(async () => {
    const ours = getGlobalDispatcher();
    setGlobalDispatcher(processWide);
    await ours.destroy();
    await mcp?.close();
    await as?.close();
  });

  test("sequential calls reuse a few sockets, and they close with the face", { timeout: 60_000 }, async () => {
    const h = await startFaceHarness({ shared: { as, mcp } });
    let closed = false;
    try {
      await h.signedIn();
      // Only the connections the bridge opens from here on are watched (sign-in and discovery came before).
      mcp.resetStats();
      const client = new Client({ name: "pool-sse", version: "1.0.0" }, { versionNegotiation: { mode: "legacy" } });
      await client.connect(new SSEClientTransport(new URL(`${h.face.url}/sse`)));
      const calls = 40;
      for (let i = 0; i < calls; i++) {
        const result = await client.callTool({ name: "echo", arguments: { text: `call ${i}` } });
        assert.equal((result.content as Array<{ text?: string }>)[0]?.text, `call ${i}`);
      }
      // The upstream session's GET stream holds one connection; the POSTs share one or two more.
      assert.ok(mcp.stats.connections <= 4, `${mcp.stats.connections} connections for ${calls + 2} requests`);
      assert.ok(mcp.openConnections > 0, "the keep-alive connections are open while the session runs");
      await client.close();
      await h.close();
      closed = true;
      await mcp.connectionsClosed();
      assert.equal(mcp.openConnections, 0);
    } finally {
      if (!closed) await h.close();
    }
  });
});
