// Bad input at the revision bridge on the HTTP face's /mcp, written as raw HTTP against the real face, upstreams and
// test AS: clients that lie about their protocol version, a requestState tampered with or replayed (Bridge B), and
// an upstream that changes era between proxy restarts while the proxy keeps its verdict in the same store.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { type McpTransportMode, startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { legacyClient, legacyTransport, modernClient, modernTransport, textOf } from "./support/era-clients.ts";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";

const MODERN = "2026-07-28";
const META = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": { sampling: {} },
  "io.modelcontextprotocol/clientInfo": { name: "raw-modern", version: "1.0.0" },
};
// biome-ignore lint/suspicious/noExplicitAny: JSON-RPC answers are read field by field in the assertions.
type Answer = { status: number; id?: unknown; result?: any; error?: any };

/** One raw POST to the face's /mcp; the answer's JSON (a 2026-07-28 answer without streaming is plain JSON). */
async function post(url: string, body: Record<string, unknown>, headers: Record<string, string>): Promise<Answer> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify({ jsonrpc: "2.0", ...body }),
  });
  const text = await response.text();
  const json = response.headers.get("content-type")?.startsWith("text/event-stream")
    ? JSON.parse(
        text
          .split("\n")
          .filter((line) => line.startsWith("data: "))
          .at(-1)
          ?.slice(6) ?? "{}",
      )
    : JSON.parse(text);
  return { status: response.status, ...json };
}

/** A 2026-07-28 request as a modern client sends it: the envelope in `_meta` and the matching headers. */
function modern(url: string, id: number, method: string, params: Record<string, unknown>, meta = META) {
  const name: Record<string, string> = typeof params.name === "string" ? { "mcp-name": params.name } : {};
  const version = String(meta["io.modelcontextprotocol/protocolVersion"]);
  return post(
    url,
    { id, method, params: { ...params, _meta: meta } },
    { "mcp-protocol-version": version, "mcp-method": method, ...name },
  );
}

describe("HTTP face /mcp in front of a 2025-only upstream: a 2026-07-28 client that breaks the rules", () => {
  let h: FaceHarness;
  before(async () => {
    h = await startFaceHarness({ mcpServer: { transport: "streamable-stateful" } });
    await h.signedIn();
    const discovered = await modern(h.mcpUrl, 1, "server/discover", {});
    assert.deepEqual(discovered.result?.supportedVersions, [MODERN], JSON.stringify(discovered));
  });
  after(async () => {
    await h?.close();
  });

  test("2025 methods, an unknown version, headers that disagree with the body: clear errors, nothing lost", async () => {
    for (const method of ["initialize", "ping", "logging/setLevel"]) {
      const answer = await modern(h.mcpUrl, 2, method, {});
      assert.equal(answer.status, 404, method);
      assert.equal(answer.error?.code, -32601, method);
      assert.match(answer.error.message, /does not exist in protocol version 2026-07-28/);
    }
    // A 2025 initialize (no envelope) under a 2026-07-28 header is a 2026-07-28 request, so initialize is unknown.
    const claimed = await post(
      h.mcpUrl,
      {
        id: 3,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "liar", version: "1" } },
      },
      { "mcp-protocol-version": MODERN, "mcp-method": "initialize" },
    );
    assert.equal(claimed.error?.code, -32601);
    const future = { ...META, "io.modelcontextprotocol/protocolVersion": "2027-01-01" };
    const unknown = await modern(h.mcpUrl, 4, "tools/call", { name: "echo", arguments: { text: "x" } }, future);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.error?.code, -32022);
    assert.deepEqual(unknown.error.data?.supported, [MODERN]);
    const mismatched = await post(
      h.mcpUrl,
      { id: 5, method: "tools/call", params: { name: "echo", arguments: { text: "x" }, _meta: META } },
      { "mcp-protocol-version": MODERN, "mcp-method": "tools/list", "mcp-name": "echo" },
    );
    assert.equal(mismatched.status, 400);
    assert.equal(mismatched.error?.code, -32020);
    assert.match(mismatched.error.message, /Mcp-Method header names tools\/list/);
    const echoed = await modern(h.mcpUrl, 6, "tools/call", { name: "echo", arguments: { text: "still here" } });
    assert.equal(echoed.result?.content?.[0]?.text, "still here");
  });

  test("a requestState tampered with or replayed is refused; the genuine one completes the call once", async () => {
    const call = (id: number, extra: Record<string, unknown> = {}) =>
      modern(h.mcpUrl, id, "tools/call", { name: "ask_sampling", arguments: { prompt: "p" }, ...extra });
    const first = await call(10);
    assert.equal(first.result?.resultType, "input_required", JSON.stringify(first));
    const state = first.result.requestState as string;
    const key = Object.keys(first.result.inputRequests as object)[0] as string;
    const inputResponses = { [key]: { model: "m", role: "assistant", content: { type: "text", text: "raw sample" } } };
    const [payload, mac] = state.split(".") as [string, string];
    const forged = Buffer.from(payload, "base64url")
      .toString("utf8")
      .replace(/"e":\d+/, '"e":99999999999999');
    const tampered = await call(11, {
      inputResponses,
      requestState: `${Buffer.from(forged).toString("base64url")}.${mac}`,
    });
    assert.equal(tampered.id, 11);
    assert.equal(tampered.error?.code, -32602);
    assert.match(tampered.error.message, /integrity check/);
    const genuine = await call(12, { inputResponses, requestState: state });
    assert.equal(genuine.result?.content?.[0]?.text, "raw sample", JSON.stringify(genuine));
    const replayed = await call(13, { inputResponses, requestState: state });
    assert.equal(replayed.error?.code, -32602);
    assert.match(replayed.error.message, /already used/);
    assert.match(replayed.error.message, /Call the tool again/);
  });
});

describe("HTTP face /mcp in front of a 2026-07-28-only upstream: a 2025 client that claims another version", () => {
  let h: FaceHarness;
  before(async () => {
    h = await startFaceHarness({ mcpServer: { transport: "2026" } });
    await h.signedIn();
  });
  after(async () => {
    await h?.close();
  });

  test("initialize asking for 2026-07-28 (or nonsense) gets the bridge's 2025 version and a working session", async () => {
    for (const asked of [MODERN, "banana"]) {
      const response = await fetch(h.mcpUrl, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { protocolVersion: asked, capabilities: {}, clientInfo: { name: "liar", version: "1" } },
        }),
      });
      const session = response.headers.get("mcp-session-id");
      const text = await response.text();
      assert.equal(response.status, 200, text);
      assert.ok(session, "the proxy minted a session");
      assert.match(text, /"protocolVersion":"2025-11-25"/, asked);
      const call = await post(
        h.mcpUrl,
        { id: 2, method: "tools/call", params: { name: "echo", arguments: { text: asked } } },
        { "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" },
      );
      assert.equal(call.result?.content?.[0]?.text, asked);
    }
  });
});

describe("HTTP face: an upstream that changes era between proxy restarts (the same store keeps the verdict)", () => {
  let as: TestAuthServer;
  let port: number;
  let upstream: TestMcpServer | undefined;
  const eraStore = { store: new MemoryTokenStore(), key: "era-change" };
  before(async () => {
    as = await startAuthServer();
    port = await freePort();
  });
  after(async () => {
    await upstream?.close();
    await as?.close();
  });

  const storedEra = async () => ((await eraStore.store.read(eraStore.key, "protocol")) as { era?: string })?.era;

  /**
   * One proxy process's life in front of the upstream restarted as `mode`: a 2026-07-28 client on /mcp (unless
   * `path` is /sse), then a 2025 client on `path`, one call each.
   */
  async function run(mode: McpTransportMode, path: "/mcp" | "/sse" = "/mcp"): Promise<string[]> {
    await upstream?.close();
    upstream = await startMcpServer({ authServer: as, transport: mode, port });
    // No wait for the start-up sign-in: the first request waits for it (it reaches a server that just restarted).
    const h = await startFaceHarness({ shared: { as, mcp: upstream }, serve: { eraStore } });
    const outcomes: string[] = [];
    try {
      if (path === "/mcp") {
        const modernOne = modernClient("era-change-modern").client;
        await modernOne.connect(modernTransport(h.mcpUrl));
        outcomes.push(textOf(await modernOne.callTool({ name: "echo", arguments: { text: "modern" } })) ?? "");
        await modernOne.close();
      }
      // A 2025 client: a wrong stored verdict may cost it one refused connection with a clear error, not more.
      for (let attempt = 0; attempt < 2; attempt++) {
        const legacyOne = legacyClient("era-change-legacy").client;
        try {
          await legacyOne.connect(legacyTransport(h.face.url, path));
          outcomes.push(textOf(await legacyOne.callTool({ name: "echo", arguments: { text: "legacy" } })) ?? "");
          break;
        } catch (error) {
          assert.match(String(error), /no longer answers as a 2026-07-28 MCP server.*Reconnect the MCP client/s);
          outcomes.push("reconnect");
        } finally {
          await legacyOne.close().catch(() => {});
        }
      }
    } finally {
      await h.close();
    }
    return outcomes;
  }

  test("2025-only, then 2026-07-28-only, then 2025-only again on the same URL: the stored verdict is re-probed", async () => {
    assert.deepEqual(await run("streamable-stateful"), ["modern", "legacy"]);
    assert.equal(await storedEra(), "legacy");

    // The stored legacy verdict is wrong now: both clients work at once.
    assert.deepEqual(await run("2026"), ["modern", "legacy"]);
    assert.equal(await storedEra(), "modern");
    assert.ok(upstream?.stats.methods.includes("server/discover"), "probed");

    // The stored modern verdict is wrong again: the 2026-07-28 client's probe notices it first.
    assert.deepEqual(await run("streamable-stateful"), ["modern", "legacy"]);
    assert.equal(await storedEra(), "legacy");
  });

  test("/sse only: a wrong stored 2026-07-28 verdict costs the 2025 client one clear error, then it works", async () => {
    await eraStore.store.remove(eraStore.key, "protocol");
    assert.deepEqual(await run("2026", "/sse"), ["legacy"]);
    assert.equal(await storedEra(), "modern");
    // The 2025 client's bridged initialize is refused the way a 2025 server answers: the verdict is forgotten.
    assert.deepEqual(await run("streamable-stateful", "/sse"), ["reconnect", "legacy"]);
    assert.equal(await storedEra(), undefined);
    assert.deepEqual(await run("2026", "/sse"), ["legacy"]);
    assert.equal(await storedEra(), "modern");
  });
});
