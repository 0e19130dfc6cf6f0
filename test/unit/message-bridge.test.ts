// The message bridge between two real SDK endpoints joined by in-memory transports:
// SDK v2 Client ⇄ [downstream | MessageBridge | upstream] ⇄ SDK v2 McpServer (the test server's tools).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, InMemoryTransport, type JSONRPCMessage, type Transport } from "@modelcontextprotocol/client";
import { ProxyError } from "../../src/lib/errors.ts";
import { MessageBridge, type MessageBridgeOptions } from "../../src/proxy/message-bridge.ts";
import { JSON_RPC_ERROR } from "../../src/proxy/relay-errors.ts";
import { ToolFilter } from "../../src/proxy/tool-filter.ts";
import { JSONRPC_URL_ELICITATION_REQUIRED } from "../../src/proxy/upstream-error.ts";
import { createTestMcpServer } from "../fixtures/mcp-tools.ts";

interface Rig {
  client: Client;
  bridge: MessageBridge;
  /** Methods of every message that reached the server, in order. */
  seenByServer: string[];
  close(): Promise<void>;
}

async function startRig(
  clientCapabilities: Record<string, unknown> = {},
  bridgeOptions: Partial<MessageBridgeOptions> = {},
): Promise<Rig> {
  const [clientSide, down] = InMemoryTransport.createLinkedPair();
  const [up, serverSide] = InMemoryTransport.createLinkedPair();
  const server = createTestMcpServer("legacy");
  await server.connect(serverSide);
  const seenByServer: string[] = [];
  const deliver = serverSide.onmessage;
  serverSide.onmessage = (message, extra) => {
    if ("method" in message) seenByServer.push(message.method);
    deliver?.(message, extra);
  };
  const bridge = new MessageBridge(down, up, { upstreamName: "memory://upstream", ...bridgeOptions });
  await bridge.start();
  const client = new Client({ name: "bridge-test", version: "1.0.0" }, { capabilities: clientCapabilities });
  await client.connect(clientSide);
  return {
    client,
    bridge,
    seenByServer,
    close: async () => {
      await client.close();
      await bridge.closed;
      await server.close();
    },
  };
}

describe("message bridge: everything passes both ways", () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ sampling: {}, elicitation: { form: {} } });
    rig.client.setRequestHandler("sampling/createMessage", async (request) => ({
      model: "test-model",
      role: "assistant",
      content: {
        type: "text",
        text: `sampled: ${(request.params.messages[0]?.content as { text?: string } | undefined)?.text}`,
      },
    }));
    rig.client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { answer: "42" } }));
  });
  after(() => rig.close());

  test("tools, resources and prompts", async () => {
    const tools = await rig.client.listTools();
    assert.ok(tools.tools.some((tool) => tool.name === "echo"));
    const echo = await rig.client.callTool({ name: "echo", arguments: { text: "hello" } });
    assert.deepEqual(echo.content, [{ type: "text", text: "hello" }]);
    const resource = await rig.client.readResource({ uri: "demo://readme" });
    assert.match(JSON.stringify(resource.contents), /Served by the test MCP server/);
    const prompt = await rig.client.getPrompt({ name: "greeting", arguments: { name: "Ada" } });
    assert.match(JSON.stringify(prompt.messages), /Say hello to Ada/);
  });

  test("progress notifications all arrive, in order, before the result", async () => {
    const seen: number[] = [];
    const result = await rig.client.callTool(
      { name: "slow_progress", arguments: { steps: 500 } },
      { onprogress: (progress) => seen.push(progress.progress) },
    );
    assert.deepEqual(result.content, [{ type: "text", text: "done 500" }]);
    assert.equal(seen.length, 500);
    assert.deepEqual(
      seen,
      Array.from({ length: 500 }, (_, i) => i + 1),
    );
  });

  test("sampling and elicitation from the server reach the client and its answers go back", async () => {
    const sampled = await rig.client.callTool({ name: "ask_sampling", arguments: { prompt: "hi" } });
    assert.deepEqual(sampled.content, [{ type: "text", text: "sampled: hi" }]);
    const elicited = await rig.client.callTool({ name: "ask_elicitation", arguments: { message: "why?" } });
    assert.deepEqual(JSON.parse((elicited.content as unknown as [{ text: string }])[0].text), {
      action: "accept",
      content: { answer: "42" },
    });
  });

  test("a cancelled request is cancelled upstream", async () => {
    const controller = new AbortController();
    const call = rig.client.callTool({ name: "sleep", arguments: { ms: 30_000 } }, { signal: controller.signal });
    setImmediate(() => controller.abort("user cancelled"));
    await assert.rejects(call);
    // The cancellation goes out after the request, on the same ordered path.
    await new Promise((resolve) => setImmediate(resolve));
    const last = rig.seenByServer.lastIndexOf("notifications/cancelled");
    assert.ok(last > rig.seenByServer.lastIndexOf("tools/call"), rig.seenByServer.slice(-3).join(","));
  });

  test("many concurrent calls all get their own answers", async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => rig.client.callTool({ name: "add", arguments: { a: i, b: 1 } })),
    );
    for (const [i, result] of results.entries()) {
      assert.deepEqual(result.content, [{ type: "text", text: String(i + 1) }]);
    }
  });
});

/** An upstream that refuses every message the way the authorized fetch does when the user must sign in. */
class RefusingUpstream implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  sent: JSONRPCMessage[] = [];
  constructor(private readonly error: unknown) {}
  async start(): Promise<void> {}
  async send(message: JSONRPCMessage): Promise<void> {
    this.sent.push(message);
    throw this.error;
  }
  async close(): Promise<void> {
    this.onclose?.();
  }
}

describe("message bridge: hidden tools (--ignore-tool)", () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({}, { tools: new ToolFilter(["ADD", "slow_*"]) });
  });
  after(() => rig.close());

  test("tools/list leaves them out; their calls are answered by the bridge and never reach the server", async () => {
    const names = (await rig.client.listTools()).tools.map((tool) => tool.name);
    assert.ok(names.includes("echo"), names.join(","));
    assert.ok(!names.includes("add") && !names.includes("slow_progress"), names.join(","));
    const calls = rig.seenByServer.filter((method) => method === "tools/call").length;
    await assert.rejects(
      rig.client.callTool({ name: "add", arguments: { a: 1, b: 2 } }),
      (error: Error & { code?: number }) => {
        assert.equal(error.code, -32602);
        assert.match(error.message, /Unknown tool: add\. This proxy hides it \(--ignore-tool "ADD"\)/);
        return true;
      },
    );
    assert.equal(rig.seenByServer.filter((method) => method === "tools/call").length, calls);
    assert.deepEqual((await rig.client.callTool({ name: "echo", arguments: { text: "shown" } })).content, [
      { type: "text", text: "shown" },
    ]);
  });
});

describe("message bridge: failures become JSON-RPC errors", () => {
  const signInUrl = "http://127.0.0.1:9/authorize?client_id=x";
  const signInError = new ProxyError("SIGN_IN_REQUIRED", "Sign-in to http://up.example/mcp is required.", {
    hint: `Open ${signInUrl} in a browser to sign in, then retry.`,
    details: { signInUrl },
  });

  async function exchange(
    upstream: Transport,
    request: JSONRPCMessage,
    options: { retryAfter?: () => Promise<boolean> } = {},
  ) {
    const [clientSide, down] = InMemoryTransport.createLinkedPair();
    const bridge = new MessageBridge(down, upstream, {
      upstreamName: "http://up.example/mcp",
      ...(options.retryAfter ? { retryAfter: options.retryAfter } : {}),
    });
    await bridge.start();
    const answer = new Promise<JSONRPCMessage>((resolve) => {
      clientSide.onmessage = resolve;
    });
    await clientSide.start();
    await clientSide.send(request);
    const message = await answer;
    await clientSide.close();
    await bridge.closed;
    return message as { id: unknown; error: { code: number; message: string; data: Record<string, unknown> } };
  }

  test("sign-in needed: the request is answered with the sign-in URL", async () => {
    const answer = await exchange(new RefusingUpstream(signInError), {
      jsonrpc: "2.0",
      id: 7,
      method: "tools/list",
    });
    assert.equal(answer.id, 7);
    assert.equal(answer.error.code, JSON_RPC_ERROR.SIGN_IN_REQUIRED);
    assert.match(answer.error.message, /Sign-in to http:\/\/up\.example\/mcp is required/);
    assert.ok(answer.error.message.includes(signInUrl));
    assert.equal(answer.error.data.signInUrl, signInUrl);
  });

  test("a client that declared URL elicitation gets URLElicitationRequiredError", async () => {
    const answer = await exchange(new RefusingUpstream(signInError), {
      jsonrpc: "2.0",
      id: "init",
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: { elicitation: { url: {} } },
        clientInfo: { name: "t", version: "1" },
      },
    });
    assert.equal(answer.error.code, JSONRPC_URL_ELICITATION_REQUIRED);
    const elicitations = answer.error.data.elicitations as Array<{ mode: string; url: string }>;
    assert.equal(elicitations[0]?.mode, "url");
    assert.equal(elicitations[0]?.url, signInUrl);
    // The HTTP face's shape: the proxy's own fields kept beside the elicitation, the URL in the message too.
    assert.equal(answer.error.data.signInUrl, signInUrl);
    assert.ok(answer.error.message.includes(signInUrl));
  });

  test("URL elicitation needs protocol 2025-11-25 or later, as on the HTTP face", async () => {
    const answer = await exchange(new RefusingUpstream(signInError), {
      jsonrpc: "2.0",
      id: "init",
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: { elicitation: { url: {} } },
        clientInfo: { name: "t", version: "1" },
      },
    });
    assert.equal(answer.error.code, JSON_RPC_ERROR.SIGN_IN_REQUIRED);
    assert.equal(answer.error.data.elicitations, undefined);
  });

  test("unreachable upstream: the error names it and the cause", async () => {
    const refused = new TypeError("fetch failed", {
      cause: Object.assign(new Error("connect"), { code: "ECONNREFUSED" }),
    });
    const answer = await exchange(new RefusingUpstream(refused), { jsonrpc: "2.0", id: 1, method: "ping" });
    assert.equal(answer.error.code, JSON_RPC_ERROR.UPSTREAM_UNAVAILABLE);
    assert.match(
      answer.error.message,
      /^The MCP server http:\/\/up\.example\/mcp could not be reached: connection refused\./,
    );
  });

  test("retryAfter true: the request is sent once more", async () => {
    const upstream = new RefusingUpstream(signInError);
    let asked = 0;
    const answer = await exchange(
      upstream,
      { jsonrpc: "2.0", id: 3, method: "tools/list" },
      {
        retryAfter: async () => {
          asked++;
          return true;
        },
      },
    );
    assert.equal(asked, 1);
    assert.equal(upstream.sent.length, 2);
    assert.equal(answer.error.code, JSON_RPC_ERROR.SIGN_IN_REQUIRED);
  });
});

describe("message bridge: progress barrier", () => {
  test("a response that followed progress waits until the client answered a ping sent after the progress", async () => {
    const [client, down] = InMemoryTransport.createLinkedPair();
    const [up, server] = InMemoryTransport.createLinkedPair();
    const bridge = new MessageBridge(down, up, { upstreamName: "memory://upstream", progressBarrier: true });
    await bridge.start();
    const toClient: JSONRPCMessage[] = [];
    let onClientMessage: (message: JSONRPCMessage) => void = () => {};
    client.onmessage = (message) => {
      toClient.push(message);
      onClientMessage(message);
    };
    await client.start();
    const upstreamSaw: JSONRPCMessage[] = [];
    server.onmessage = (message) => upstreamSaw.push(message);
    await server.start();

    // Without a progress token nothing is held back.
    await client.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo" } });
    await server.send({ jsonrpc: "2.0", id: 1, result: { content: [] } });
    assert.deepEqual(toClient.at(-1), { jsonrpc: "2.0", id: 1, result: { content: [] } });

    const ping = new Promise<JSONRPCMessage>((resolve) => {
      onClientMessage = (message) => {
        if ("method" in message && message.method === "ping") resolve(message);
      };
    });
    await client.send({
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: "slow_progress", _meta: { progressToken: "t" } },
    });
    for (let progress = 1; progress <= 3; progress++) {
      await server.send({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "t", progress } });
    }
    await server.send({ jsonrpc: "2.0", id: 2, result: { content: [] } });
    const pingMessage = (await ping) as { id: string };
    assert.match(pingMessage.id, /^mcp-u2m-proxy:ping-/);
    assert.ok(!toClient.some((message) => "id" in message && message.id === 2), "response held until the pong");
    const beforePong = toClient.length;
    await client.send({ jsonrpc: "2.0", id: pingMessage.id, result: {} });
    assert.deepEqual(toClient.slice(beforePong), [{ jsonrpc: "2.0", id: 2, result: { content: [] } }]);
    // The pong is the proxy's own business: it never reaches the upstream.
    assert.deepEqual(
      upstreamSaw.map((message) => ("id" in message ? message.id : undefined)),
      [1, 2],
    );
    await client.close();
    await bridge.closed;
  });
});

test("progress barrier: a client that does not answer ping still gets the response, and no more pings", async () => {
  const [client, down] = InMemoryTransport.createLinkedPair();
  const [up, server] = InMemoryTransport.createLinkedPair();
  const bridge = new MessageBridge(down, up, {
    upstreamName: "memory://upstream",
    progressBarrier: true,
    progressBarrierTimeoutMs: 50,
    progressBarrierDelayMs: 1,
  });
  await bridge.start();
  const toClient: JSONRPCMessage[] = [];
  const arrived = new Map<unknown, () => void>();
  client.onmessage = (message) => {
    toClient.push(message);
    if ("id" in message && !("method" in message)) arrived.get(message.id)?.();
  };
  await client.start();
  await server.start();
  for (const id of [1, 2]) {
    const answered = new Promise<void>((resolve) => arrived.set(id, resolve));
    await client.send({ jsonrpc: "2.0", id, method: "tools/call", params: { _meta: { progressToken: id } } });
    await server.send({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: id, progress: 1 } });
    await server.send({ jsonrpc: "2.0", id, result: {} });
    await answered;
  }
  const pings = toClient.filter((message) => "method" in message && message.method === "ping");
  assert.equal(pings.length, 1, "one unanswered ping, then the delay fallback");
  await client.close();
  await bridge.closed;
});
