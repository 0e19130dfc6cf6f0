// Framing of the stdio face: newline-delimited JSON-RPC over real Node streams, and the legacy-transport signal of
// the upstream connector.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { type JSONRPCMessage, SdkErrorCode, SdkHttpError } from "@modelcontextprotocol/client";
import { StdioFaceTransport } from "../../src/proxy/stdio-face.ts";
import { startStreamedResponse, streamedBodyOf } from "../../src/proxy/streamed-response.ts";
import { isLegacyTransportSignal } from "../../src/proxy/upstream-connector.ts";

async function startFace(options: { maxMessageBytes?: number } = {}) {
  const input = new PassThrough();
  const output = new PassThrough();
  const face = new StdioFaceTransport({ input, output, ...options });
  const received: JSONRPCMessage[] = [];
  face.onmessage = (message) => received.push(message);
  let closed = false;
  face.onclose = () => {
    closed = true;
  };
  await face.start();
  let written = "";
  output.setEncoding("utf8");
  output.on("data", (chunk: string) => {
    written += chunk;
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { face, input, received, written: () => written, closed: () => closed, settle };
}

describe("stdio face transport", () => {
  test("messages split across chunks, several per chunk, CRLF and blank lines", async () => {
    const { input, received, settle } = await startFace();
    const a = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
    const b = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" });
    input.write(a.slice(0, 10));
    input.write(`${a.slice(10)}\n\n${b}\r\n${a.slice(0, 5)}`);
    input.write(`${a.slice(5)}\n`);
    await settle();
    assert.deepEqual(received, [JSON.parse(a), JSON.parse(b), JSON.parse(a)]);
  });

  test("a streamed answer is written as it arrives; messages sent meanwhile follow its line, in order", async () => {
    const { face, written } = await startFace();
    const delivered: JSONRPCMessage[] = [];
    const signal = new AbortController().signal;
    const request = { id: 1, method: "tools/call", upstreamName: "http://127.0.0.1:1/mcp", signal };
    const sink = startStreamedResponse(Buffer.from('{"result":{"text":"'), {
      ...request,
      deliver: (m) => delivered.push(m),
    });
    const standIn = delivered[0] as JSONRPCMessage;
    assert.ok(sink && streamedBodyOf(standIn));
    const sentBig = face.send(standIn);
    const sentSmall = face.send({ jsonrpc: "2.0", id: 2, result: {} });
    sink.write(Buffer.from("first half "));
    for (let i = 0; i < 200 && written() === ""; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(written(), '{"result":{"text":"first half ', "the first bytes are out before the rest exists");
    sink.write(Buffer.from('second half"},"jsonrpc":"2.0","id":1}'));
    sink.end();
    await Promise.all([sentBig, sentSmall]);
    assert.equal(
      written(),
      '{"result":{"text":"first half second half"},"jsonrpc":"2.0","id":1}\n{"jsonrpc":"2.0","id":2,"result":{}}\n',
    );
  });

  test("a streamed answer keeps its upstream sending while stdout holds less than the backlog, then waits for the client", async () => {
    const input = new PassThrough();
    // Nobody reads this output until the test says so: a client that has stopped reading.
    const output = new PassThrough();
    const face = new StdioFaceTransport({ input, output });
    await face.start();
    const delivered: JSONRPCMessage[] = [];
    const signal = new AbortController().signal;
    const sink = startStreamedResponse(Buffer.from('{"result":{"text":"'), {
      id: 1,
      method: "tools/call",
      upstreamName: "http://127.0.0.1:1/mcp",
      signal,
      deliver: (m) => delivered.push(m),
    });
    assert.ok(sink);
    const sent = face.send(delivered[0] as JSONRPCMessage);
    const mebibyte = Buffer.alloc(1024 * 1024, 0x61);
    const within = (wait: Promise<void> | undefined, ms: number) =>
      Promise.race([
        Promise.resolve(wait).then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
      ]);
    let accepted = 0;
    let stalled: Promise<void> | undefined;
    for (; accepted < 16; accepted++) {
      const wait = sink.write(mebibyte);
      if (!(await within(wait, 1_000))) {
        stalled = wait;
        break;
      }
    }
    // Pausing at once (at the first full stdout buffer) would leave the upstream idle while the client reads.
    assert.ok(stalled, "the upstream is told to wait once the backlog is full");
    assert.ok(accepted >= 2 && accepted <= 6, `the upstream sent ${accepted} MiB before it had to wait`);
    let read = 0;
    output.on("data", (chunk: Buffer) => {
      read += chunk.length;
    });
    assert.equal(await within(stalled, 5_000), true, "it sends again once the client reads");
    sink.write(Buffer.from('"},"jsonrpc":"2.0","id":1}'));
    sink.end();
    await sent;
    const line =
      '{"result":{"text":"'.length + (accepted + 1) * mebibyte.length + '"},"jsonrpc":"2.0","id":1}\n'.length;
    assert.equal(read, line);
  });

  test("a streamed answer cut short still ends its line, and the messages behind it go out", async () => {
    const { face, written, settle } = await startFace();
    const delivered: JSONRPCMessage[] = [];
    const controller = new AbortController();
    const request = { id: 1, method: "tools/call", upstreamName: "u", signal: controller.signal };
    startStreamedResponse(Buffer.from('{"result":{"text":"'), { ...request, deliver: (m) => delivered.push(m) });
    const sentBig = face.send(delivered[0] as JSONRPCMessage);
    const sentSmall = face.send({ jsonrpc: "2.0", id: 2, result: {} });
    await settle();
    controller.abort();
    await Promise.all([sentBig, sentSmall]);
    assert.equal(written(), '{"result":{"text":"\n{"jsonrpc":"2.0","id":2,"result":{}}\n');
  });

  test("a multi-byte character split between chunks survives", async () => {
    const { input, received, settle } = await startFace();
    const line = Buffer.from(`${JSON.stringify({ jsonrpc: "2.0", id: "é€😀", method: "ping" })}\n`);
    const cut = line.indexOf(Buffer.from("€")) + 1; // inside the euro sign
    input.write(line.subarray(0, cut));
    input.write(line.subarray(cut));
    await settle();
    assert.deepEqual(received, [{ jsonrpc: "2.0", id: "é€😀", method: "ping" }]);
  });

  test("not JSON → parse error; not JSON-RPC → invalid request; a batch is taken apart", async () => {
    const { input, received, written, settle } = await startFace();
    input.write("{oops\n");
    input.write(`${JSON.stringify({ id: 4, method: "x" })}\n`);
    input.write(
      `${JSON.stringify([
        { jsonrpc: "2.0", id: 5, method: "ping" },
        { jsonrpc: "2.0", method: "n" },
      ])}\n`,
    );
    await settle();
    const replies = written()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.deepEqual(replies, [
      { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } },
      { jsonrpc: "2.0", id: 4, error: { code: -32600, message: "Invalid Request" } },
    ]);
    assert.deepEqual(received, [
      { jsonrpc: "2.0", id: 5, method: "ping" },
      { jsonrpc: "2.0", method: "n" },
    ]);
  });

  test("an oversized message is refused and the next one still gets through", async () => {
    const { input, received, written, settle } = await startFace({ maxMessageBytes: 100 });
    input.write(`{"jsonrpc":"2.0","id":1,"method":"x","params":{"pad":"${"a".repeat(80)}`);
    input.write(`${"a".repeat(80)}"}}\n`);
    input.write(`${JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" })}\n`);
    await settle();
    assert.deepEqual(received, [{ jsonrpc: "2.0", id: 2, method: "ping" }]);
    assert.match(written(), /"code":-32600,"message":"Message too large"/);
  });

  test("send writes one line per message; end of input closes", async () => {
    const { face, input, written, closed, settle } = await startFace();
    await face.send({ jsonrpc: "2.0", id: 1, result: { text: "line\nbreak" } });
    await face.send({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1 } });
    await settle();
    const lines = written().split("\n");
    assert.equal(lines.length, 3);
    assert.equal(lines[2], "");
    assert.deepEqual(JSON.parse(lines[0] ?? ""), { jsonrpc: "2.0", id: 1, result: { text: "line\nbreak" } });
    input.end();
    await settle();
    assert.equal(closed(), true);
    await assert.rejects(face.send({ jsonrpc: "2.0", id: 2, result: {} }));
  });
});

describe("upstream connector: legacy transport signal", () => {
  const http = (status: number, text?: string) =>
    new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, "Error POSTing to endpoint", {
      status,
      statusText: "",
      ...(text === undefined ? {} : { text }),
    });

  test("400, 404 and 405 without a modern JSON-RPC error body mean: try legacy SSE", () => {
    assert.equal(isLegacyTransportSignal(http(404, '{"error":"not_found"}')), true);
    assert.equal(isLegacyTransportSignal(http(405, "")), true);
    assert.equal(isLegacyTransportSignal(http(400, "Bad Request")), true);
    assert.equal(isLegacyTransportSignal(http(400)), true);
  });

  test("other statuses, modern error bodies and non-HTTP errors do not", () => {
    assert.equal(isLegacyTransportSignal(http(401)), false);
    assert.equal(isLegacyTransportSignal(http(500)), false);
    const modern = JSON.stringify({ jsonrpc: "2.0", id: 1, error: { code: -32022, message: "Unsupported version" } });
    assert.equal(isLegacyTransportSignal(http(400, modern)), false);
    assert.equal(isLegacyTransportSignal(new TypeError("fetch failed")), false);
  });
});
