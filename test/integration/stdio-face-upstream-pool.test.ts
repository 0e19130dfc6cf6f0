// The stdio face's message path keeps its own keep-alive connections to the upstream (not fetch's process-wide
// dispatcher): many sequential calls reuse a few sockets, and those sockets close when the proxy's bridge ends.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import { Agent, type Dispatcher, getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { runStdio } from "../../src/app/stdio.ts";
import { silentLogger } from "../../src/lib/logger.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";

/** A JSON-lines client over the stdio face's streams: each answer by id. */
function lineClient(input: PassThrough, output: PassThrough) {
  const waiting = new Map<number, (message: Record<string, unknown>) => void>();
  let buffered = "";
  output.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    for (let newline = buffered.indexOf("\n"); newline !== -1; newline = buffered.indexOf("\n")) {
      const message = JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>;
      buffered = buffered.slice(newline + 1);
      if (typeof message.id === "number" && !("method" in message)) waiting.get(message.id)?.(message);
    }
  });
  return {
    request(id: number, method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
      const answer = new Promise<Record<string, unknown>>((resolve) => waiting.set(id, resolve));
      input.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
      return answer;
    },
    notify(method: string): void {
      input.write(`${JSON.stringify({ jsonrpc: "2.0", method })}\n`);
    },
  };
}

describe("stdio face: one keep-alive pool per upstream", () => {
  let server: TestMcpServer;
  let processWide: Dispatcher;
  before(async () => {
    // fetch's process-wide dispatcher keeps idle sockets for 2 minutes here, and the upstream allows that: had the
    // stdio face used it, its sockets would outlive the bridge and the wait for them below would time out.
    processWide = getGlobalDispatcher();
    setGlobalDispatcher(new Agent({ keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 }));
    // An unprotected upstream: the connections are the subject here, not the token.
    server = await startMcpServer({ auth: false, keepAliveTimeoutMs: 180_000 });
  });
  after(async () => {
    const ours = getGlobalDispatcher();
    setGlobalDispatcher(processWide);
    await ours.destroy();
    await server?.close();
  });

  test("sequential calls reuse a few sockets, and they close with the bridge", { timeout: 30_000 }, async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const running = runStdio({
      upstream: { url: server.url, authorizeParams: {}, headers: {}, sendResource: true },
      runtime: {
        authDir: "/nonexistent",
        port: 0,
        callbackHost: "localhost",
        openBrowser: false,
        debug: false,
        allowInsecureHttp: true,
      },
      auth: undefined,
      logger: silentLogger,
      input,
      output,
      transport: "streamable-http",
    });
    const client = lineClient(input, output);
    const initialized = await client.request(1, "initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "pool-test", version: "1.0.0" },
    });
    assert.ok(initialized.result, "initialize answered");
    client.notify("notifications/initialized");
    const calls = 40;
    for (let id = 2; id < 2 + calls; id++) {
      const answer = await client.request(id, "tools/call", { name: "echo", arguments: { text: `call ${id}` } });
      const content = (answer.result as { content?: Array<{ text?: string }> } | undefined)?.content;
      assert.equal(content?.[0]?.text, `call ${id}`);
    }
    // The session's GET stream holds one connection; the POSTs share one or two more.
    assert.ok(server.stats.connections <= 4, `${server.stats.connections} connections for ${calls + 2} requests`);
    assert.ok(server.openConnections > 0, "the keep-alive connections are still open while the bridge runs");

    input.end();
    await running;
    // Closed by the proxy when its bridge ended: with fetch's global dispatcher this would time out.
    await server.connectionsClosed();
    assert.equal(server.openConnections, 0);
  });
});
