// Revision bridging on the HTTP face, with real SDK clients and fixture upstreams behind the test AS:
// 2025-era clients (SDK v1, Streamable HTTP on /mcp and legacy SSE on /sse) in front of a 2026-07-28-only upstream
// (SDK v2, `legacy: "reject"`). The proxy answers `initialize` from server/discover, owns the session (its id, GET
// stream and DELETE) and sends every request on the stateless wire. And the reverse: a 2026-07-28 client (SDK v2,
// pinned) in front of a 2025-only upstream (SDK v1 wire, stateful), answered from a 2025 session the proxy holds.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as StreamableHTTPClientTransportV2,
} from "@modelcontextprotocol/client";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { legacyClient, pause, textOf } from "./support/era-clients.ts";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";

/**
 * Repeats the upstream's notification until `seen` settles: the listen stream it travels on opens asynchronously.
 * Bounded (300 announcements), so a notification that never arrives fails the test instead of hanging it.
 */
async function notifyUntilSeen(h: FaceHarness, seen: Promise<unknown>): Promise<void> {
  let done = false;
  void seen.then(() => {
    done = true;
  });
  for (let announced = 0; !done; announced++) {
    if (announced === 300) throw new Error("the client never saw notifications/tools/list_changed (300 announced)");
    h.mcp.notifyToolsChanged();
    await pause(100);
  }
}

describe("HTTP face /mcp, 2025 client (SDK v1) → 2026-07-28-only upstream", () => {
  let h: FaceHarness;
  let client: Client;
  let transport: StreamableHTTPClientTransport;
  before(async () => {
    h = await startFaceHarness({ mcpServer: { transport: "2026" } });
    await h.signedIn();
    client = legacyClient("http-era-bridge-test").client;
    transport = new StreamableHTTPClientTransport(new URL(h.mcpUrl));
    await client.connect(transport);
  });
  after(async () => {
    await client?.close();
    await h?.close();
  });

  test("initialize is answered from server/discover; the proxy owns the session; upstream requests are 2026-07-28", async () => {
    assert.equal(client.getServerVersion()?.name, "mcp-u2m-proxy-test-server");
    assert.ok(client.getServerCapabilities()?.tools);
    assert.ok(transport.sessionId, "the proxy minted a session id");
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "bridged" } })), "bridged");
    assert.ok(h.mcp.stats.methods.includes("server/discover"));
    assert.ok(!h.mcp.stats.methods.slice(h.mcp.stats.methods.indexOf("server/discover")).includes("initialize"));
    assert.ok(h.mcp.stats.protocolVersions.every((version) => version === "2026-07-28"));
    await client.ping();
  });

  test("tools, prompts and resources", async () => {
    const tools = await client.listTools();
    assert.ok(tools.tools.some((tool) => tool.name === "add"));
    assert.equal(textOf(await client.callTool({ name: "add", arguments: { a: 2, b: 3 } })), "5");
    const prompt = await client.getPrompt({ name: "greeting", arguments: { name: "Ada" } });
    assert.ok(prompt.messages.length > 0);
    const resource = await client.readResource({ uri: "demo://readme" });
    assert.ok(resource.contents.length > 0);
  });

  test("progress notifications reach the client in order", async () => {
    const seen: number[] = [];
    const result = await client.callTool({ name: "slow_progress", arguments: { steps: 30 } }, undefined, {
      onprogress: (progress) => seen.push(progress.progress),
    });
    assert.equal(textOf(result), "done 30");
    assert.deepEqual(
      seen,
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
  });

  test("input_required becomes real sampling and elicitation requests to the client, then the retry", async () => {
    assert.equal(textOf(await client.callTool({ name: "ask_sampling", arguments: { prompt: "p" } })), "legacy sample");
    const text = textOf(await client.callTool({ name: "ask_elicitation", arguments: { message: "Name?" } }));
    assert.deepEqual(JSON.parse(text ?? "null"), { action: "accept", content: { answer: "Ada" } });
  });

  test("a cancelled call settles, and the next call works", async () => {
    const controller = new AbortController();
    const call = client.callTool({ name: "sleep", arguments: { ms: 60_000 } }, undefined, {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort("test cancels"), 200);
    await assert.rejects(call);
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "after" } })), "after");
  });

  test("the upstream's tools/list_changed reaches the client (subscriptions/listen upstream, the GET stream here)", async () => {
    const changed = new Promise<void>((resolve) => {
      client.setNotificationHandler(ToolListChangedNotificationSchema, async () => resolve());
    });
    await notifyUntilSeen(h, changed);
    assert.ok(h.mcp.stats.methods.includes("subscriptions/listen"));
  });

  test("after DELETE the session id is refused; a new initialize is bridged again", async () => {
    const other = legacyClient("http-era-bridge-delete").client;
    const otherTransport = new StreamableHTTPClientTransport(new URL(h.mcpUrl));
    await other.connect(otherTransport);
    const sessionId = otherTransport.sessionId;
    assert.ok(sessionId);
    await otherTransport.terminateSession();
    await other.close();
    const refused = await fetch(h.mcpUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": sessionId,
        "mcp-protocol-version": "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
    });
    assert.equal(refused.status, 404);
    await refused.body?.cancel();
    const again = legacyClient("http-era-bridge-again").client;
    await again.connect(new StreamableHTTPClientTransport(new URL(h.mcpUrl)));
    assert.equal(textOf(await again.callTool({ name: "echo", arguments: { text: "new session" } })), "new session");
    await again.close();
  });
});

describe("HTTP face /sse, legacy SSE client (SDK v1) → 2026-07-28-only upstream", () => {
  let h: FaceHarness;
  before(async () => {
    h = await startFaceHarness({ mcpServer: { transport: "2026" } });
    await h.signedIn();
  });
  after(async () => {
    await h?.close();
  });

  test("tools, progress, sampling and elicitation through the same bridge", async () => {
    const client = legacyClient("sse-era-bridge-test").client;
    await client.connect(new SSEClientTransport(new URL(`${h.face.url}/sse`)));
    try {
      assert.equal(client.getServerVersion()?.name, "mcp-u2m-proxy-test-server");
      assert.equal(textOf(await client.callTool({ name: "add", arguments: { a: 4, b: 5 } })), "9");
      const seen: number[] = [];
      await client.callTool({ name: "slow_progress", arguments: { steps: 20 } }, undefined, {
        onprogress: (progress) => seen.push(progress.progress),
      });
      assert.deepEqual(
        seen,
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.equal(
        textOf(await client.callTool({ name: "ask_sampling", arguments: { prompt: "p" } })),
        "legacy sample",
      );
      const text = textOf(await client.callTool({ name: "ask_elicitation", arguments: { message: "Name?" } }));
      assert.deepEqual(JSON.parse(text ?? "null"), { action: "accept", content: { answer: "Ada" } });
      assert.ok(h.mcp.stats.protocolVersions.every((version) => version === "2026-07-28"));
    } finally {
      await client.close();
    }
  });
});

describe("HTTP face /mcp, 2026-07-28 client (SDK v2, pinned) → 2025-only upstream", () => {
  let h: FaceHarness;
  let client: ClientV2;
  before(async () => {
    h = await startFaceHarness({ mcpServer: { transport: "streamable-stateful" } });
    await h.signedIn();
    client = new ClientV2(
      { name: "http-era-bridge-modern", version: "1.0.0" },
      {
        capabilities: { sampling: {}, elicitation: { form: {} } },
        versionNegotiation: { mode: { pin: "2026-07-28" } },
      },
    );
    client.setRequestHandler("sampling/createMessage", async () => ({
      model: "test-model",
      role: "assistant",
      content: { type: "text", text: "modern sample" },
    }));
    client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { answer: "Grace" } }));
    await client.connect(new StreamableHTTPClientTransportV2(new URL(h.mcpUrl)));
  });
  after(async () => {
    await client?.close();
    await h?.close();
  });

  test("server/discover is answered from the upstream's initialize; tools, prompts and resources", async () => {
    assert.equal(client.getServerVersion()?.name, "mcp-u2m-proxy-test-server");
    assert.ok(h.mcp.stats.methods.includes("initialize"), "the proxy opened a 2025 session upstream");
    assert.ok(!h.mcp.stats.methods.includes("server/discover") || h.mcp.stats.methods.indexOf("initialize") >= 0);
    assert.equal(textOf(await client.callTool({ name: "add", arguments: { a: 2, b: 3 } })), "5");
    const tools = await client.listTools();
    assert.ok(tools.tools.some((tool) => tool.name === "echo"));
    const prompt = await client.getPrompt({ name: "greeting", arguments: { name: "Ada" } });
    assert.ok(prompt.messages.length > 0);
    const resource = await client.readResource({ uri: "demo://readme" });
    assert.ok(resource.contents.length > 0);
  });

  test("progress notifications reach the client in order", async () => {
    const seen: number[] = [];
    const result = await client.callTool(
      { name: "slow_progress", arguments: { steps: 20 } },
      {
        onprogress: (progress) => seen.push(progress.progress),
      },
    );
    assert.equal(textOf(result), "done 20");
    assert.deepEqual(
      seen,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  test("upstream sampling and elicitation requests come back as input_required, and the retries finish the calls", async () => {
    assert.equal(textOf(await client.callTool({ name: "ask_sampling", arguments: { prompt: "p" } })), "modern sample");
    const text = textOf(await client.callTool({ name: "ask_elicitation", arguments: { message: "Name?" } }));
    assert.deepEqual(JSON.parse(text ?? "null"), { action: "accept", content: { answer: "Grace" } });
  });

  test("a cancelled call settles, and the next call works", async () => {
    const controller = new AbortController();
    const call = client.callTool({ name: "sleep", arguments: { ms: 60_000 } }, { signal: controller.signal });
    setTimeout(() => controller.abort("test cancels"), 200);
    await assert.rejects(call);
    assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "after" } })), "after");
  });

  test("the upstream's tools/list_changed reaches a listening client (its GET stream upstream, listen here)", async () => {
    // The SDK refreshes tools/list (through the bridge too) before it calls onChanged with the new list.
    let seen: (refreshed: { error: Error | null; tools: Array<{ name: string }> | null }) => void = () => {};
    const changed = new Promise<{ error: Error | null; tools: Array<{ name: string }> | null }>((resolve) => {
      seen = resolve;
    });
    const listener = new ClientV2(
      { name: "http-era-bridge-listener", version: "1.0.0" },
      {
        versionNegotiation: { mode: { pin: "2026-07-28" } },
        // No debounce: the SDK's default (300 ms) restarts on every announcement, and they come every 100 ms here,
        // so onChanged would never run.
        listChanged: { tools: { debounceMs: 0, onChanged: (error, tools) => seen({ error, tools }) } },
      },
    );
    await listener.connect(new StreamableHTTPClientTransportV2(new URL(h.mcpUrl)));
    try {
      await notifyUntilSeen(h, changed);
      const refreshed = await changed;
      assert.equal(refreshed.error, null);
      assert.ok(refreshed.tools?.some((tool) => tool.name === "echo"));
    } finally {
      await listener.close();
    }
  });

  test("two clients sharing one upstream session (same name and capabilities) never get each other's answers or progress", async () => {
    const twins = [0, 1].map(
      () =>
        new ClientV2(
          { name: "http-era-bridge-twin", version: "1.0.0" },
          { versionNegotiation: { mode: { pin: "2026-07-28" } } },
        ),
    );
    for (const twin of twins) await twin.connect(new StreamableHTTPClientTransportV2(new URL(h.mcpUrl)));
    try {
      // Both clients number their requests (and so their progress tokens) alike.
      const seen: number[][] = [[], []];
      const results = await Promise.all(
        twins.map((twin, i) =>
          twin.callTool(
            { name: "slow_progress", arguments: { steps: 10 + i * 5 } },
            {
              onprogress: (progress) => seen[i]?.push(progress.progress),
            },
          ),
        ),
      );
      assert.deepEqual(results.map(textOf), ["done 10", "done 15"]);
      assert.deepEqual(
        seen[0],
        Array.from({ length: 10 }, (_, i) => i + 1),
      );
      assert.deepEqual(
        seen[1],
        Array.from({ length: 15 }, (_, i) => i + 1),
      );
    } finally {
      for (const twin of twins) await twin.close();
    }
  });

  test("a tampered requestState is refused with a clear error", async () => {
    const response = await fetch(h.mcpUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "ask_sampling",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 7,
        method: "tools/call",
        params: {
          name: "ask_sampling",
          arguments: { prompt: "p" },
          requestState: "forged",
          inputResponses: {},
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": { sampling: {} },
          },
        },
      }),
    });
    const body = (await response.json()) as { id?: unknown; error?: { code?: number; message?: string } };
    assert.equal(body.id, 7);
    assert.equal(body.error?.code, -32602);
    assert.match(body.error?.message ?? "", /requestState/);
  });
});

describe("HTTP face, sign-in at start while a 2025 client's initialize waits (2026-07-28-only upstream)", () => {
  let h: FaceHarness;
  before(async () => {
    h = await startFaceHarness({ mcpServer: { transport: "2026" }, browser: "ignore" });
  });
  after(async () => {
    await h?.close();
  });

  test("the initialize waits for the start-up sign-in, then is bridged (no 401 reaches the client)", async () => {
    while (h.opened.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    const client = legacyClient("http-era-bridge-sign-in").client;
    const connected = client.connect(new StreamableHTTPClientTransport(new URL(h.mcpUrl)));
    // The initialize is inside the proxy, waiting for the sign-in (the in-flight gauge counts it).
    while (!/mcp_proxy_requests_in_flight\{[^}]*\} 1\b/.test(await (await fetch(`${h.face.url}/metrics`)).text())) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal((await h.auth.status()).signedIn, false);
    await completeLoginInBrowser(h.opened[0] as string);
    await connected;
    try {
      assert.equal(client.getServerVersion()?.name, "mcp-u2m-proxy-test-server");
      const me = JSON.parse(textOf(await client.callTool({ name: "whoami", arguments: {} })) ?? "{}");
      assert.equal(me.sub, "alice");
      assert.ok(h.mcp.stats.methods.includes("server/discover"));
    } finally {
      await client.close();
    }
  });
});
