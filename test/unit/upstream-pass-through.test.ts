// The upstream's own JSON-RPC errors reach the client unchanged on the message path (stdio, bridged /sse), and the
// transport detection does not mistake them for a legacy server; a client whose input ended still gets its answers.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import {
  InMemoryTransport,
  type JSONRPCMessage,
  SdkErrorCode,
  SdkHttpError,
  type Transport,
} from "@modelcontextprotocol/client";
import { forgetRememberedSecrets, rememberSecret } from "../../src/lib/known-secrets.ts";
import type { Logger } from "../../src/lib/logger.ts";
import { MessageBridge } from "../../src/proxy/message-bridge.ts";
import { StdioFaceTransport } from "../../src/proxy/stdio-face.ts";
import { isLegacyTransportSignal, UpstreamConnector } from "../../src/proxy/upstream-connector.ts";
import { upstreamJsonRpcError } from "../../src/proxy/upstream-error.ts";

const UNSUPPORTED = {
  code: -32022,
  message: "Unsupported protocol version",
  data: { supported: ["2026-07-28"] },
};
const UNSUPPORTED_BODY = JSON.stringify({ jsonrpc: "2.0", id: 1, error: UNSUPPORTED });
/** What a 2025 SDK server answers a session-less POST that is not initialize. */
const NOT_INITIALIZED_BODY = JSON.stringify({
  jsonrpc: "2.0",
  error: { code: -32000, message: "Bad Request: Server not initialized" },
  id: null,
});

function httpError(status: number, text?: string): SdkHttpError {
  return new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, `Error POSTing to endpoint: ${text}`, {
    status,
    statusText: "",
    ...(text === undefined ? {} : { text }),
  });
}

describe("pass-through decision", () => {
  test("a 4xx whose body is a JSON-RPC error response is that error, code, message and data", () => {
    assert.deepEqual(upstreamJsonRpcError(httpError(400, UNSUPPORTED_BODY)), UNSUPPORTED);
    assert.deepEqual(upstreamJsonRpcError(httpError(400, NOT_INITIALIZED_BODY)), {
      code: -32000,
      message: "Bad Request: Server not initialized",
    });
    // The legacy SSE client transport's refused POST.
    assert.deepEqual(
      upstreamJsonRpcError(new Error(`Error POSTing to endpoint (HTTP 400): ${UNSUPPORTED_BODY}`)),
      UNSUPPORTED,
    );
  });

  test("anything else is the proxy's to word: 5xx, non-JSON-RPC bodies, batches, network failures", () => {
    assert.equal(upstreamJsonRpcError(httpError(500, UNSUPPORTED_BODY)), undefined);
    assert.equal(upstreamJsonRpcError(httpError(404, "Not Found")), undefined);
    assert.equal(upstreamJsonRpcError(httpError(400, '{"error":"invalid_request"}')), undefined);
    assert.equal(upstreamJsonRpcError(httpError(400, `[${UNSUPPORTED_BODY}]`)), undefined);
    assert.equal(
      upstreamJsonRpcError(httpError(400, JSON.stringify({ jsonrpc: "2.0", error: { code: "x" } }))),
      undefined,
    );
    assert.equal(upstreamJsonRpcError(new TypeError("fetch failed")), undefined);
  });

  test("a secret this process holds is masked even in the server's own error", () => {
    const token = "tok-pass-through-0123456789";
    rememberSecret(token);
    try {
      const body = JSON.stringify({ jsonrpc: "2.0", id: 1, error: { code: -32600, message: `bad token ${token}` } });
      const passed = upstreamJsonRpcError(httpError(400, body));
      assert.equal(passed?.code, -32600);
      assert.ok(!passed?.message.includes(token), passed?.message);
    } finally {
      forgetRememberedSecrets();
    }
  });

  test("detection: a JSON-RPC answer to a first request other than initialize is not a legacy-server signal", () => {
    assert.equal(isLegacyTransportSignal(httpError(400, NOT_INITIALIZED_BODY), "server/discover"), false);
    assert.equal(isLegacyTransportSignal(httpError(404, "Not Found"), "server/discover"), true);
    // initialize keeps the spec's probe (as the HTTP face does).
    assert.equal(isLegacyTransportSignal(httpError(400, NOT_INITIALIZED_BODY), "initialize"), true);
    assert.equal(isLegacyTransportSignal(httpError(400, UNSUPPORTED_BODY), "initialize"), false);
  });
});

/** Records what the bridge logs at each level. */
function recordingLogger(): Logger & { lines: Record<string, string[]> } {
  const lines: Record<string, string[]> = { debug: [], info: [], warn: [], error: [] };
  const log = (level: string) => (message: string) => void lines[level]?.push(message);
  return {
    lines,
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
  } as unknown as Logger & {
    lines: Record<string, string[]>;
  };
}

/** Exchanges one request through a bridge whose upstream is `upstream`. */
async function exchange(upstream: Transport, request: JSONRPCMessage, logger: Logger) {
  const [clientSide, down] = InMemoryTransport.createLinkedPair();
  const bridge = new MessageBridge(down, upstream, { upstreamName: "http://up.example/mcp", logger });
  await bridge.start();
  const answer = new Promise<JSONRPCMessage>((resolve) => {
    clientSide.onmessage = resolve;
  });
  await clientSide.start();
  await clientSide.send(request);
  const message = await answer;
  await clientSide.close();
  await bridge.closed;
  return message;
}

class RefusingUpstream implements Transport {
  onclose?: () => void;
  onmessage?: (message: JSONRPCMessage) => void;
  constructor(private readonly error: unknown) {}
  async start(): Promise<void> {}
  async send(): Promise<void> {
    throw this.error;
  }
  async close(): Promise<void> {
    this.onclose?.();
  }
}

describe("message bridge: the upstream's JSON-RPC error passes through", () => {
  test("the client gets the upstream's error under its own request id, and nothing is warned", async () => {
    const logger = recordingLogger();
    const answer = await exchange(
      new RefusingUpstream(httpError(400, UNSUPPORTED_BODY)),
      { jsonrpc: "2.0", id: "req-7", method: "tools/call", params: { name: "echo", arguments: {} } },
      logger,
    );
    assert.deepEqual(answer, { jsonrpc: "2.0", id: "req-7", error: UNSUPPORTED });
    assert.deepEqual(logger.lines.warn, []);
  });

  test("a 2025 server's answer to server/discover through the connector: its own error, no legacy GET", async () => {
    const requests: string[] = [];
    const connector = new UpstreamConnector({
      url: "http://up.example/mcp",
      fetch: async (_input, init) => {
        requests.push(init?.method ?? "GET");
        return new Response(NOT_INITIALIZED_BODY, { status: 400, headers: { "content-type": "application/json" } });
      },
    });
    const logger = recordingLogger();
    const answer = await exchange(
      connector.createTransport(),
      { jsonrpc: "2.0", id: 0, method: "server/discover", params: {} },
      logger,
    );
    assert.deepEqual(answer, {
      jsonrpc: "2.0",
      id: 0,
      error: { code: -32000, message: "Bad Request: Server not initialized" },
    });
    assert.deepEqual(requests, ["POST"]);
    assert.deepEqual(logger.lines.warn, []);
  });
});

describe("message bridge: finish() answers what is in flight, then closes", () => {
  /** An upstream that answers each request when the test says so. */
  class SlowUpstream implements Transport {
    onclose?: () => void;
    onmessage?: (message: JSONRPCMessage) => void;
    pending: Array<{ id: string | number; method: string }> = [];
    closed = false;
    async start(): Promise<void> {}
    async send(message: JSONRPCMessage): Promise<void> {
      if ("method" in message && "id" in message) this.pending.push({ id: message.id, method: message.method });
    }
    answerAll(): void {
      for (const { id, method } of this.pending.splice(0)) {
        this.onmessage?.({ jsonrpc: "2.0", id, result: { answered: method } } as JSONRPCMessage);
      }
    }
    async close(): Promise<void> {
      this.closed = true;
      this.onclose?.();
    }
  }

  async function rig() {
    const [clientSide, down] = InMemoryTransport.createLinkedPair();
    const upstream = new SlowUpstream();
    const bridge = new MessageBridge(down, upstream, { upstreamName: "http://up.example/mcp", progressBarrier: true });
    await bridge.start();
    const received: JSONRPCMessage[] = [];
    clientSide.onmessage = (message) => received.push(message);
    await clientSide.start();
    return { clientSide, upstream, bridge, received };
  }

  test("requests sent before the input ended get their answers before the bridge closes", async () => {
    const { clientSide, upstream, bridge, received } = await rig();
    await clientSide.send({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} } as JSONRPCMessage);
    await clientSide.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "x" } } as JSONRPCMessage);
    const finished = bridge.finish(60_000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(upstream.closed, false, "closed while requests were in flight");
    upstream.answerAll();
    await finished;
    assert.equal(upstream.closed, true);
    assert.deepEqual(
      received.map((message) => ("id" in message ? message.id : undefined)),
      [1, 2],
    );
  });

  test("a request still unanswered after the wait gets a timeout error, then the bridge closes", async () => {
    const { clientSide, upstream, bridge, received } = await rig();
    await clientSide.send({ jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "slow" } } as JSONRPCMessage);
    await bridge.finish(10);
    assert.equal(upstream.closed, true);
    const answer = received[0] as { id: number; error: { code: number; data: { proxyError: string } } };
    assert.equal(answer.id, 9);
    assert.equal(answer.error.data.proxyError, "UPSTREAM_TIMEOUT");
  });

  test("an open subscription is not waited for (nor answered with a timeout: it just ends)", async () => {
    const { clientSide, upstream, bridge, received } = await rig();
    await clientSide.send({ jsonrpc: "2.0", id: 5, method: "subscriptions/listen", params: {} } as JSONRPCMessage);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(upstream.pending.length, 1);
    await bridge.finish(20);
    assert.equal(upstream.closed, true);
    assert.deepEqual(received, []);
  });

  test("with nothing in flight it closes at once", async () => {
    const { upstream, bridge } = await rig();
    await bridge.finish(60_000);
    assert.equal(upstream.closed, true);
  });
});

describe("stdio face: end of input", () => {
  test("with oninputend set, EOF hands over (the last line, even without its newline, is delivered) and output stays open", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const face = new StdioFaceTransport({ input, output });
    const received: JSONRPCMessage[] = [];
    face.onmessage = (message) => received.push(message);
    let ended = 0;
    let closed = 0;
    face.oninputend = () => ended++;
    face.onclose = () => closed++;
    await face.start();
    input.end('{"jsonrpc":"2.0","id":1,"method":"ping"}\n{"jsonrpc":"2.0","id":2,"method":"ping"}');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      received.map((message) => ("id" in message ? message.id : undefined)),
      [1, 2],
    );
    assert.equal(ended, 1);
    assert.equal(closed, 0);
    output.setEncoding("utf8");
    await face.send({ jsonrpc: "2.0", id: 1, result: {} });
    assert.equal(output.read(), '{"jsonrpc":"2.0","id":1,"result":{}}\n');
    await face.close();
    assert.equal(closed, 1);
  });
});
