// Bridge B (a 2026-07-28 client in front of a 2025-only upstream), driven message by message as the message bridge
// drives it, against the real test MCP server in its 2025 stateful Streamable HTTP mode (no authorization: the
// bridge's job here is the wire translation, not the token) over the SDK's client transport.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  type JSONRPCMessage,
  StreamableHTTPClientTransport,
  type TransportSendOptions,
} from "@modelcontextprotocol/client";
import { ModernClientBridge, type ModernClientBridgeOptions } from "../../src/proxy/era/modern-client-bridge.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";

const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const SUB_ID = "io.modelcontextprotocol/subscriptionId";
const DECLARED = { sampling: {}, elicitation: { form: {} } };

// biome-ignore lint/suspicious/noExplicitAny: JSON-RPC answers are read field by field in the assertions.
type Json = any;
type Message = Record<string, unknown> & { id?: unknown; method?: string; result?: Json; error?: Json; params?: Json };

const meta = (extra: Record<string, unknown> = {}, capabilities: Record<string, unknown> = DECLARED) => ({
  [PV]: "2026-07-28",
  [CAPS]: capabilities,
  "io.modelcontextprotocol/clientInfo": { name: "bridge-b-unit", version: "1" },
  ...extra,
});

/** One client connection: the bridge, what it sent to the client, and the upstream transports it opened. */
class Connection {
  readonly bridge: ModernClientBridge;
  readonly out: Message[] = [];
  readonly transports: StreamableHTTPClientTransport[] = [];
  private waiters: Array<{ match: (m: Message) => boolean; resolve: (m: Message) => void }> = [];
  private seq = 0;

  constructor(url: string, options: Partial<ModernClientBridgeOptions> = {}) {
    this.bridge = new ModernClientBridge({
      openLegacy: () => {
        const transport = new StreamableHTTPClientTransport(new URL(url));
        this.transports.push(transport);
        return transport;
      },
      upstreamName: url,
      ...options,
    });
    this.bridge.onmessage = (message) => {
      const m = message as Message;
      this.out.push(m);
      const waiter = this.waiters.find((w) => w.match(m));
      if (waiter) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(m);
      }
    };
  }

  next(match: (m: Message) => boolean): Promise<Message> {
    const seen = this.out.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** Sends a request and resolves with its answer (and the send's own settling). */
  async request(method: string, params: Record<string, unknown> = {}, options?: TransportSendOptions) {
    const id = `req-${++this.seq}`;
    const answer = this.next((m) => m.id === id && !("method" in m));
    await this.bridge.send({ jsonrpc: "2.0", id, method, params } as JSONRPCMessage, options);
    return answer;
  }

  call(name: string, args: Record<string, unknown> = {}, extraMeta: Record<string, unknown> = {}) {
    return this.request("tools/call", { name, arguments: args, _meta: meta(extraMeta) });
  }
}

const textOf = (answer: Message) => answer.result?.content?.[0]?.text as string | undefined;
const countOf = (server: TestMcpServer, method: string) => server.stats.methods.filter((m) => m === method).length;
const sample = { model: "m", role: "assistant", content: { type: "text", text: "sampled" } };

describe("ModernClientBridge against a 2025-only server", () => {
  let server: TestMcpServer;
  const connections: Connection[] = [];
  const open = (options: Partial<ModernClientBridgeOptions> = {}) => {
    const connection = new Connection(server.url, options);
    connections.push(connection);
    return connection;
  };
  before(async () => {
    server = await startMcpServer({ auth: false, transport: "streamable-stateful" });
  });
  after(async () => {
    for (const connection of connections) await connection.bridge.close();
    await server.close();
  });

  test("server/discover is answered from the upstream's initialize, with resultType and caching hints", async () => {
    const c = open();
    const answer = await c.request("server/discover", { _meta: meta() });
    const result = answer.result;
    assert.equal(result.resultType, "complete");
    assert.deepEqual(result.supportedVersions, ["2026-07-28"]);
    assert.equal(result.ttlMs, 0);
    assert.equal(result.cacheScope, "private");
    assert.ok(result.capabilities.tools);
    assert.equal(result.capabilities.resources.subscribe, true);
    assert.equal(result._meta["io.modelcontextprotocol/serverInfo"].name, "mcp-u2m-proxy-test-server");
    assert.equal(c.transports.length, 1);
    assert.ok(c.transports[0]?.sessionId, "a 2025 session was opened");
  });

  test("results get resultType (and caching hints on cacheable ones); the upstream session is reused", async () => {
    const c = open();
    const list = await c.request("tools/list", { _meta: meta() });
    assert.equal(list.result.resultType, "complete");
    assert.equal(list.result.ttlMs, 0);
    assert.equal(list.result.cacheScope, "private");
    assert.ok(list.result.tools.some((tool: { name: string }) => tool.name === "echo"));
    const echo = await c.call("echo", { text: "hi" });
    assert.equal(echo.result.resultType, "complete");
    assert.equal(echo.result.ttlMs, undefined, "tools/call is not cacheable");
    assert.equal(textOf(echo), "hi");
    const prompt = await c.request("prompts/get", { name: "greeting", arguments: { name: "Ada" }, _meta: meta() });
    assert.equal(prompt.result.resultType, "complete");
    assert.equal(c.transports.length, 1);
  });

  test("a resource that does not exist: -32002 becomes -32602 with the URI", async () => {
    const c = open();
    const answer = await c.request("resources/read", { uri: "demo://missing", _meta: meta() });
    assert.equal(answer.error.code, -32602);
    assert.equal(answer.error.data.uri, "demo://missing");
  });

  test("2025-only methods, a missing envelope and another version are refused with the 2026-07-28 errors", async () => {
    const c = open();
    for (const method of ["initialize", "ping", "logging/setLevel", "resources/subscribe"]) {
      const answer = await c.request(method, { _meta: meta() });
      assert.equal(answer.error.code, -32601, method);
    }
    const bare = await c.request("tools/list", {});
    assert.equal(bare.error.code, -32602);
    assert.match(bare.error.message, /protocolVersion/);
    const noCaps = await c.request("tools/list", { _meta: { [PV]: "2026-07-28" } });
    assert.equal(noCaps.error.code, -32602);
    const future = await c.request("tools/list", { _meta: meta({ [PV]: "2027-01-01" }) });
    assert.equal(future.error.code, -32022);
    assert.deepEqual(future.error.data, { supported: ["2026-07-28"], requested: "2027-01-01" });
    const old = await c.request("tools/list", { _meta: meta({ [PV]: "2025-11-25" }) });
    assert.equal(old.error.code, -32022);
    assert.equal(c.transports.length, 0, "nothing reached the upstream");
  });

  test("an upstream sampling request becomes input_required; the retry completes the parked call", async () => {
    const c = open();
    const first = await c.call("ask_sampling", { prompt: "p" });
    assert.equal(first.result.resultType, "input_required");
    const [key, asked] = Object.entries(first.result.inputRequests)[0] as [string, { method: string }];
    assert.equal(asked.method, "sampling/createMessage");
    assert.equal(typeof first.result.requestState, "string");
    const final = await c.request("tools/call", {
      name: "ask_sampling",
      arguments: { prompt: "p" },
      inputResponses: { [key]: sample },
      requestState: first.result.requestState,
      _meta: meta(),
    });
    assert.equal(final.result.resultType, "complete");
    assert.equal(textOf(final), "sampled");
  });

  test("elicitation the same way; two questions in a row take two rounds", async () => {
    const c = open();
    let answer = await c.call("ask_twice");
    const answers: string[] = [];
    for (let round = 0; answer.result?.resultType === "input_required"; round++) {
      assert.ok(round < 2, "at most two rounds");
      const [key, asked] = Object.entries(answer.result.inputRequests)[0] as [string, { method: string }];
      assert.equal(asked.method, "elicitation/create");
      answers.push(`answer ${round}`);
      answer = await c.request("tools/call", {
        name: "ask_twice",
        arguments: {},
        inputResponses: { [key]: { action: "accept", content: { answer: `answer ${round}` } } },
        requestState: answer.result.requestState,
        _meta: meta(),
      });
    }
    assert.deepEqual(JSON.parse(textOf(answer) ?? "null"), ["answer 0", "answer 1"]);
  });

  test("rounds are bounded: a server that asks more often than allowed gets its call stopped", async () => {
    const c = open({ maxInputRounds: 1 });
    const first = await c.call("ask_twice");
    const key = Object.keys(first.result.inputRequests)[0] as string;
    const second = await c.request("tools/call", {
      name: "ask_twice",
      arguments: {},
      inputResponses: { [key]: { action: "accept", content: { answer: "a" } } },
      requestState: first.result.requestState,
      _meta: meta(),
    });
    assert.equal(second.error?.code, -32600);
    assert.match(second.error.message, /more than 1 times/);
    assert.ok(await c.call("echo", { text: "still fine" }).then(textOf), "still fine");
  });

  test("a client that did not declare sampling is never asked: its call gets -32021 naming sampling", async () => {
    const c = open();
    const answer = await c.request("tools/call", {
      name: "ask_sampling",
      arguments: { prompt: "p" },
      _meta: meta({}, {}),
    });
    assert.notEqual(answer.result?.resultType, "input_required");
    assert.equal(answer.error?.code, -32021, JSON.stringify(answer));
    assert.deepEqual(answer.error.data, { requiredCapabilities: { sampling: {} } });
    assert.ok(!c.out.some((m) => m.method === "sampling/createMessage"), "the client was not asked");
    // The connection still serves calls (the upstream heard the refusal and the cancellation).
    assert.equal(await c.call("echo", { text: "after" }).then(textOf), "after");
  });

  describe("a requestState that is wrong is refused with a clear error, and the call can still finish", () => {
    const retry = (c: Connection, requestState: unknown, args: Record<string, unknown> = { prompt: "p" }) =>
      c.request("tools/call", {
        name: "ask_sampling",
        arguments: args,
        inputResponses: { "input-1": sample },
        requestState,
        _meta: meta(),
      });

    test("tampered", async () => {
      const c = open();
      const first = await c.call("ask_sampling", { prompt: "p" });
      const state = first.result.requestState as string;
      const [payload, mac] = state.split(".") as [string, string];
      const altered = Buffer.from(payload, "base64url")
        .toString("utf8")
        .replace(/"e":\d+/, '"e":99999999999999');
      const refused = await retry(c, `${Buffer.from(altered).toString("base64url")}.${mac}`);
      assert.equal(refused.error.code, -32602);
      assert.match(refused.error.message, /integrity check/);
      assert.match(refused.error.message, /Call the tool again/);
      assert.equal(textOf(await retry(c, state)), "sampled", "the genuine state still works");
    });

    test("replayed", async () => {
      const c = open();
      const first = await c.call("ask_sampling", { prompt: "p" });
      assert.equal(textOf(await retry(c, first.result.requestState)), "sampled");
      const again = await retry(c, first.result.requestState);
      assert.equal(again.error.code, -32602);
      assert.match(again.error.message, /already used/);
    });

    test("expired (and the parked upstream call is cancelled)", async () => {
      let now = 1_000_000;
      const c = open({ now: () => now, requestStateTtlMs: 60_000 });
      const first = await c.call("ask_sampling", { prompt: "p" });
      now += 60_001;
      const late = await retry(c, first.result.requestState);
      assert.equal(late.error.code, -32602);
      assert.match(late.error.message, /expired/);
      assert.ok(server.stats.methods.includes("notifications/cancelled"));
    });

    test("issued to another caller (another connection, even with the same key)", async () => {
      const secret = randomBytes(32);
      const a = open({ secret });
      const b = open({ secret });
      const first = await a.call("ask_sampling", { prompt: "p" });
      const stolen = await retry(b, first.result.requestState);
      assert.equal(stolen.error.code, -32602);
      assert.match(stolen.error.message, /another client connection/);
      assert.equal(textOf(await retry(a, first.result.requestState)), "sampled");
    });

    test("presented with other arguments", async () => {
      const c = open();
      const first = await c.call("ask_sampling", { prompt: "p" });
      const other = await retry(c, first.result.requestState, { prompt: "q" });
      assert.match(other.error.message, /different request/);
      assert.equal(textOf(await retry(c, first.result.requestState)), "sampled");
    });

    test("not one at all", async () => {
      const c = open();
      const refused = await retry(c, "hello");
      assert.match(refused.error.message, /not a requestState this proxy issued/);
    });
  });

  test("subscriptions/listen: acknowledged subset, tagged notifications, reference-counted unsubscribe", async () => {
    const c = open();
    const uri = "demo://readme";
    const listenA = new AbortController();
    const listenB = new AbortController();
    const subscribesBefore = countOf(server, "resources/subscribe");
    await c.bridge.send(
      {
        jsonrpc: "2.0",
        id: "listen-a",
        method: "subscriptions/listen",
        params: { notifications: { toolsListChanged: true, resourceSubscriptions: [uri] }, _meta: meta() },
      } as JSONRPCMessage,
      { requestSignal: listenA.signal },
    );
    const ack = await c.next((m) => m.method === "notifications/subscriptions/acknowledged");
    assert.deepEqual(ack.params.notifications, { toolsListChanged: true, resourceSubscriptions: [uri] });
    assert.equal(ack.params._meta[SUB_ID], "listen-a");
    await c.bridge.send(
      {
        jsonrpc: "2.0",
        id: "listen-b",
        method: "subscriptions/listen",
        params: { notifications: { resourceSubscriptions: [uri] }, _meta: meta() },
      } as JSONRPCMessage,
      { requestSignal: listenB.signal },
    );
    assert.equal(countOf(server, "resources/subscribe") - subscribesBefore, 1, "one upstream subscription");

    assert.equal(textOf(await c.call("touch_resource", { uri })), "notified");
    const updatedA = await c.next(
      (m) => m.method === "notifications/resources/updated" && m.params._meta[SUB_ID] === "listen-a",
    );
    const updatedB = await c.next(
      (m) => m.method === "notifications/resources/updated" && m.params._meta[SUB_ID] === "listen-b",
    );
    assert.equal(updatedA.params.uri, uri);
    assert.equal(updatedB.params.uri, uri);

    await c.call("add_tool", { name: "added_for_listen" });
    const changed = await c.next((m) => m.method === "notifications/tools/list_changed");
    assert.equal(changed.params._meta[SUB_ID], "listen-a");

    listenA.abort();
    assert.equal(textOf(await c.call("touch_resource", { uri })), "notified", "listen-b still holds the URI");
    listenB.abort();
    for (let i = 0; i < 200 && !server.stats.methods.includes("resources/unsubscribe"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(server.stats.methods.includes("resources/unsubscribe"));
    assert.equal(textOf(await c.call("touch_resource", { uri })), "not subscribed");
  });

  test("the upstream forgetting the session (404): a new session is opened and the request goes through", async () => {
    const c = open();
    assert.equal(textOf(await c.call("echo", { text: "one" })), "one");
    const sessionId = c.transports[0]?.sessionId as string;
    const deleted = await fetch(server.url, { method: "DELETE", headers: { "mcp-session-id": sessionId } });
    assert.equal(deleted.status, 200);
    assert.equal(textOf(await c.call("echo", { text: "two" })), "two");
    assert.equal(c.transports.length, 2);
    assert.notEqual(c.transports[1]?.sessionId, sessionId);
  });

  test("cancellation: the upstream hears notifications/cancelled, the send settles, nothing answers", async () => {
    const c = open();
    await c.call("echo", { text: "warm" });
    const cancelledBefore = countOf(server, "notifications/cancelled");
    const controller = new AbortController();
    const sent = c.bridge.send(
      {
        jsonrpc: "2.0",
        id: "sleepy",
        method: "tools/call",
        params: { name: "sleep", arguments: { ms: 60_000 }, _meta: meta() },
      } as JSONRPCMessage,
      { requestSignal: controller.signal },
    );
    controller.abort();
    await sent;
    for (let i = 0; i < 200 && countOf(server, "notifications/cancelled") === cancelledBefore; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(countOf(server, "notifications/cancelled"), cancelledBefore + 1);
    assert.ok(!c.out.some((m) => m.id === "sleepy"));
  });

  test("progress passes through; log messages only for requests that asked (logLevel → logging/setLevel)", async () => {
    const c = open();
    const done = await c.call("slow_progress", { steps: 3 }, { progressToken: "tok" });
    assert.equal(textOf(done), "done 3");
    const progress = c.out.filter((m) => m.method === "notifications/progress");
    assert.deepEqual(
      progress.map((m) => m.params.progress),
      [1, 2, 3],
    );
    const setLevelBefore = countOf(server, "logging/setLevel");
    assert.equal(
      textOf(
        await c.call("log_message", { level: "info", text: "wanted" }, { "io.modelcontextprotocol/logLevel": "info" }),
      ),
      "logged",
    );
    assert.equal(countOf(server, "logging/setLevel"), setLevelBefore + 1);
    await c.next((m) => m.method === "notifications/message" && m.params.data === "wanted");
    await c.call("log_message", { level: "info", text: "unwanted" });
    assert.ok(!c.out.some((m) => m.method === "notifications/message" && m.params.data === "unwanted"));
  });
});
