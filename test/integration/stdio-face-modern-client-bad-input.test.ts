// Bad input at Bridge B on the stdio face (a 2026-07-28 client in front of a 2025-only upstream), written and read
// line by line against the real proxy process: a client that lies about its version, a requestState tampered with
// or replayed, and an upstream that changes era between proxy restarts (the remembered verdict is wrong).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { type McpTransportMode, startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { RawStdioChild } from "./support/stdio-child.ts";

const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": { sampling: {} },
  "io.modelcontextprotocol/clientInfo": { name: "raw-modern", version: "1.0.0" },
};
const countOf = (server: TestMcpServer, method: string) => server.stats.methods.filter((m) => m === method).length;
// biome-ignore lint/suspicious/noExplicitAny: JSON-RPC errors are read field by field in the assertions.
type Answer = { result?: Record<string, unknown> & { content?: Array<{ text?: string }> }; error?: any };

let authServer: TestAuthServer;
const dirs: string[] = [];
const children: RawStdioChild[] = [];
before(async () => {
  authServer = await startAuthServer();
});
after(async () => {
  for (const child of children) child.kill();
  await authServer.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "stdio-bridge-b-bad-"));
  dirs.push(dir);
  return dir;
}

/** A proxy process with a request helper: each call gets a fresh id and resolves with the answer. */
function proxy(url: string, authDir: string) {
  const child = new RawStdioChild(url, { authDir });
  children.push(child);
  let seq = 0;
  const request = async (method: string, params: Record<string, unknown> = {}) => {
    const id = ++seq;
    child.send({ jsonrpc: "2.0", id, method, params });
    return (await child.response(id)) as Answer;
  };
  const call = (name: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    request("tools/call", { name, arguments: args, _meta: META, ...extra });
  const stop = async () => {
    child.endInput();
    return child.exited;
  };
  return { child, request, call, stop };
}

describe("a 2026-07-28 client that breaks the rules, in front of a 2025-only upstream", () => {
  let server: TestMcpServer;
  let p: ReturnType<typeof proxy>;
  before(async () => {
    server = await startMcpServer({ authServer, transport: "streamable-stateful" });
    p = proxy(server.url, tempDir());
    const discovered = await p.request("server/discover", { _meta: META });
    assert.deepEqual(discovered.result?.supportedVersions, ["2026-07-28"]);
  });
  after(async () => {
    await p.stop();
    await server.close();
  });

  test("lying about its version: 2025 methods, another version or no envelope get clear errors", async () => {
    const initialize = await p.request("initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "liar", version: "1" },
      _meta: META,
    });
    assert.equal(initialize.error?.code, -32601);
    assert.match(initialize.error.message, /does not exist in protocol version 2026-07-28/);
    assert.equal((await p.request("ping", { _meta: META })).error?.code, -32601);
    const older = await p.call(
      "echo",
      { text: "x" },
      {
        _meta: { ...META, "io.modelcontextprotocol/protocolVersion": "2025-11-25" },
      },
    );
    assert.equal(older.error?.code, -32022);
    assert.deepEqual(older.error.data, { supported: ["2026-07-28"], requested: "2025-11-25" });
    const bare = await p.request("tools/list", {});
    assert.equal(bare.error?.code, -32602);
    assert.match(bare.error.message, /protocolVersion/);
    // Nothing was lost: the connection still works.
    assert.equal((await p.call("echo", { text: "still here" })).result?.content?.[0]?.text, "still here");
  });

  test("a requestState tampered with or replayed is refused; the genuine one completes the call once", async () => {
    const first = await p.call("ask_sampling", { prompt: "p" });
    assert.equal(first.result?.resultType, "input_required");
    const state = first.result?.requestState as string;
    const key = Object.keys(first.result?.inputRequests as object)[0] as string;
    const responses = { [key]: { model: "m", role: "assistant", content: { type: "text", text: "raw sample" } } };
    const [payload, mac] = state.split(".") as [string, string];
    const forged = Buffer.from(payload, "base64url")
      .toString("utf8")
      .replace(/"e":\d+/, '"e":99999999999999');
    const tampered = await p.call(
      "ask_sampling",
      { prompt: "p" },
      {
        inputResponses: responses,
        requestState: `${Buffer.from(forged).toString("base64url")}.${mac}`,
      },
    );
    assert.equal(tampered.error?.code, -32602);
    assert.match(tampered.error.message, /integrity check/);
    const genuine = await p.call("ask_sampling", { prompt: "p" }, { inputResponses: responses, requestState: state });
    assert.equal(genuine.result?.content?.[0]?.text, "raw sample");
    const replayed = await p.call("ask_sampling", { prompt: "p" }, { inputResponses: responses, requestState: state });
    assert.equal(replayed.error?.code, -32602);
    assert.match(replayed.error.message, /already used/);
    assert.match(replayed.error.message, /Call the tool again/);
  });
});

describe("an upstream that changes era between proxy restarts", () => {
  let port: number;
  let authDir: string;
  let server: TestMcpServer | undefined;
  const serve = async (transport: McpTransportMode) => {
    await server?.close();
    server = await startMcpServer({ authServer, transport, port });
    return server;
  };
  before(async () => {
    port = await freePort();
    authDir = tempDir();
  });
  after(async () => {
    await server?.close();
  });

  /** One proxy process's life: discover, one tool call, clean exit. */
  async function session(url: string): Promise<Answer> {
    const p = proxy(url, authDir);
    const discovered = await p.request("server/discover", { _meta: META });
    const echoed = await p.call("echo", { text: "era" });
    assert.equal(echoed.result?.content?.[0]?.text, "era", JSON.stringify(echoed));
    assert.equal((await p.stop()).code, 0);
    return discovered;
  }

  test("legacy, then 2026-07-28-only, then legacy again: each wrong verdict is noticed, re-probed and replaced", async () => {
    let upstream = await serve("streamable-stateful");
    await session(upstream.url); // probes: legacy, remembered
    assert.equal(countOf(upstream, "initialize"), 1, "bridged: the proxy opened a 2025 session");

    upstream = await serve("2026");
    const modern = await session(upstream.url);
    assert.deepEqual(modern.result?.supportedVersions, ["2026-07-28"]);
    // The remembered legacy verdict led to one refused initialize; then a probe, and the client's own discover.
    assert.equal(countOf(upstream, "initialize"), 1);
    assert.equal(countOf(upstream, "server/discover"), 2);
    upstream.resetStats();
    await session(upstream.url);
    assert.equal(countOf(upstream, "initialize"), 0, "the new verdict (modern) was remembered");
    assert.equal(countOf(upstream, "server/discover"), 1);

    upstream = await serve("streamable-stateful");
    const legacy = await session(upstream.url);
    assert.equal(legacy.result?.resultType, "complete");
    // The remembered modern verdict led to one refused discover passed through; then a probe; then the bridge.
    assert.equal(countOf(upstream, "server/discover"), 2);
    assert.equal(countOf(upstream, "initialize"), 1);
    upstream.resetStats();
    await session(upstream.url);
    assert.equal(countOf(upstream, "server/discover"), 0, "the new verdict (legacy) was remembered: no probe");
    assert.equal(countOf(upstream, "initialize"), 1);
  });
});
