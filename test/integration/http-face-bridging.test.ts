// Transport bridging in the HTTP face, with real SDK clients and fixture upstreams behind the test AS:
// a legacy HTTP+SSE client in front of a Streamable-HTTP-only upstream, and a Streamable HTTP client in front of a
// legacy-SSE-only upstream. The upstream's transport is detected once and remembered.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport as SSEClientTransportV1 } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport as StreamableHTTPClientTransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";

function textOf(result: { content?: unknown }): string {
  const [block] = (result.content ?? []) as { type: string; text?: string }[];
  return block?.text ?? "";
}

describe("legacy SSE clients in front of a Streamable HTTP upstream", () => {
  let h: FaceHarness;
  before(async () => {
    h = await startFaceHarness({ mcpServer: { transport: "streamable-stateful" } });
    await h.signedIn();
  });
  after(async () => {
    await h?.close();
  });

  test("SDK v1 SSE client: tools, progress and elicitation through the bridge", async () => {
    const client = new ClientV1({ name: "v1-legacy", version: "1.0.0" }, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { answer: "bridged" } }));
    await client.connect(new SSEClientTransportV1(new URL(`${h.face.url}/sse`)));
    try {
      assert.equal(textOf((await client.callTool({ name: "add", arguments: { a: 4, b: 5 } })) as never), "9");
      const seen: number[] = [];
      await client.callTool({ name: "slow_progress", arguments: { steps: 30 } }, undefined, {
        onprogress: (p) => seen.push(p.progress),
      });
      assert.deepEqual(
        seen,
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
      const elicited = await client.callTool({ name: "ask_elicitation", arguments: { message: "?" } });
      assert.equal(JSON.parse(textOf(elicited as never)).content.answer, "bridged");
      const me = JSON.parse(textOf((await client.callTool({ name: "whoami", arguments: {} })) as never));
      assert.equal(me.sub, "alice");
    } finally {
      await client.close();
    }
  });

  test("SDK v2 SSE client, and the upstream's transport is remembered (no second probe)", async () => {
    h.mcp.resetStats();
    const client = new Client({ name: "v2-legacy", version: "1.0.0" }, { versionNegotiation: { mode: "legacy" } });
    await client.connect(new SSEClientTransport(new URL(`${h.face.url}/sse`)));
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "again" } })), "again");
    await client.close();
    // Every upstream request was a Streamable HTTP POST/GET/DELETE with the token; none was a bare GET probe.
    assert.ok(h.mcp.stats.authorizationKinds.every((kind) => kind === "bearer"));
    assert.ok(h.mcp.stats.methods.includes("initialize"));
  });

  test("a POST to an unknown bridged session gets 404", async () => {
    const response = await fetch(`${h.face.url}/message?sessionId=00000000-0000-0000-0000-000000000000`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    assert.equal(response.status, 404);
    await response.text();
  });
});

describe("Streamable HTTP clients in front of a legacy-SSE-only upstream", () => {
  let h: FaceHarness;
  before(async () => {
    h = await startFaceHarness({ mcpServer: { transport: "sse" } });
    await h.signedIn();
  });
  after(async () => {
    await h?.close();
  });

  test("SDK v2 client on /mcp: initialize is detected as refused, then bridged; tools, progress, big results", async () => {
    const client = new Client({ name: "v2-modern", version: "1.0.0" }, { versionNegotiation: { mode: "legacy" } });
    const transport = new StreamableHTTPClientTransport(new URL(h.mcpUrl));
    await client.connect(transport);
    try {
      assert.ok(transport.sessionId, "the proxy gave the bridged session an id");
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "to legacy" } })), "to legacy");
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => client.callTool({ name: "add", arguments: { a: i, b: 1 } })),
      );
      assert.deepEqual(
        results.map(textOf),
        Array.from({ length: 20 }, (_, i) => String(i + 1)),
      );
      const big = await client.callTool({ name: "big", arguments: { bytes: 1024 * 1024 } });
      assert.equal(textOf(big).length, 1024 * 1024);
      // Progress travels on the POST's own stream (matched by progress token), in order.
      const progress: number[] = [];
      await client.callTool(
        { name: "slow_progress", arguments: { steps: 25 } },
        { onprogress: (p) => progress.push(p.progress) },
      );
      assert.deepEqual(
        progress,
        Array.from({ length: 25 }, (_, i) => i + 1),
      );
      const readme = await client.readResource({ uri: "demo://readme" });
      assert.match(String((readme.contents[0] as { text?: string }).text), /^# Demo/);
    } finally {
      await client.close();
    }
  });

  test("SDK v1 client on /mcp; DELETE ends the session and its id is then unknown", async () => {
    const client = new ClientV1({ name: "v1-modern", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransportV1(new URL(h.mcpUrl));
    await client.connect(transport);
    assert.equal(textOf((await client.callTool({ name: "add", arguments: { a: 1, b: 1 } })) as never), "2");
    const session = transport.sessionId;
    assert.ok(session);
    await transport.terminateSession();
    const stale = await fetch(h.mcpUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": session,
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
    });
    assert.equal(stale.status, 404);
    await stale.text();
    await client.close();
  });

  test("malformed bodies and session-less non-initialize POSTs get clear 4xx answers", async () => {
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const malformed = await fetch(h.mcpUrl, { method: "POST", headers, body: "{oops" });
    assert.equal(malformed.status, 400);
    assert.match(await malformed.text(), /Parse error/);
    for (const body of ['{"jsonrpc":"2.0","id":1}', '[{"jsonrpc":"1.0","method":"x"}]', "42"]) {
      const notJsonRpc = await fetch(h.mcpUrl, { method: "POST", headers, body });
      assert.equal(notJsonRpc.status, 400, body);
      assert.match(await notJsonRpc.text(), /not a JSON-RPC message/, body);
    }
    const noSession = await fetch(h.mcpUrl, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    assert.equal(noSession.status, 400);
    await noSession.text();
  });
});
