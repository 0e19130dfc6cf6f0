// The proxy's own Streamable HTTP session toward a 2025 client (bridged paths): when a POST is answered with one
// JSON body and when with an event stream. Real HTTP over 127.0.0.1; the bridge behind the transport is the test.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { JSONRPCMessage } from "@modelcontextprotocol/client";
import { acceptsJson, StreamableHttpSessionTransport } from "../../src/proxy/streamable-http-session-transport.ts";

const BOTH = "application/json, text/event-stream";

describe("StreamableHttpSessionTransport", () => {
  let server: Server;
  let url: string;
  let session: StreamableHttpSessionTransport;
  /** Requests the transport handed to the bridge, in order. */
  let received: JSONRPCMessage[];

  function useSession(options: { jsonAnswerWaitMs?: number } = {}): void {
    session = new StreamableHttpSessionTransport(options);
    received = [];
    session.onmessage = (message) => received.push(message);
  }

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as JSONRPCMessage | JSONRPCMessage[];
        session.handlePost(res, Array.isArray(parsed) ? parsed : [parsed], acceptsJson(req.headers.accept));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function post(body: unknown, accept = BOTH): Promise<Response> {
    return fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept },
      body: JSON.stringify(body),
    });
  }

  /** Waits until the bridge has the request with `id`. */
  async function requestArrived(id: number): Promise<void> {
    while (!received.some((message) => "id" in message && message.id === id)) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  const call = (id: number, meta?: Record<string, unknown>) => ({
    jsonrpc: "2.0" as const,
    id,
    method: "tools/call",
    params: { name: "echo", arguments: {}, ...(meta ? { _meta: meta } : {}) },
  });
  const answer = (id: number): JSONRPCMessage => ({ jsonrpc: "2.0", id, result: { content: [] } });

  test("one request whose response comes first is answered with one JSON body and the session id", async () => {
    useSession();
    const pending = post(call(1));
    await requestArrived(1);
    await session.send(answer(1));
    const response = await pending;
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.equal(response.headers.get("mcp-session-id"), session.sessionId);
    assert.deepEqual(await response.json(), answer(1));
  });

  test("a progress notification before the response turns the answer into an event stream with both", async () => {
    useSession();
    const pending = post(call(2, { progressToken: "p" }));
    await requestArrived(2);
    await session.send({
      jsonrpc: "2.0",
      method: "notifications/progress",
      params: { progressToken: "p", progress: 1 },
    });
    await session.send(answer(2));
    const response = await pending;
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const text = await response.text();
    assert.match(text, /^event: message\ndata: \{"jsonrpc":"2.0","method":"notifications\/progress"/);
    assert.match(text, /data: \{"jsonrpc":"2.0","id":2,"result":\{"content":\[\]\}\}\n\n$/);
  });

  test("a server request during the call goes out on the POST's event stream (no GET stream open)", async () => {
    useSession();
    const pending = post(call(3));
    await requestArrived(3);
    await session.send({ jsonrpc: "2.0", id: "s1", method: "roots/list" });
    await session.send(answer(3));
    const response = await pending;
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const text = await response.text();
    assert.ok(text.indexOf('"roots/list"') < text.indexOf('"id":3'), text);
  });

  test("a batch, a client that accepts only event streams, and a slow answer all get an event stream", async () => {
    useSession();
    const batch = post([call(4), call(5)]);
    await requestArrived(5);
    await session.send(answer(5));
    await session.send(answer(4));
    const batchResponse = await batch;
    assert.equal(batchResponse.headers.get("content-type"), "text/event-stream");
    assert.equal((await batchResponse.text()).match(/^data: /gm)?.length, 2);

    const sseOnly = post(call(6), "text/event-stream");
    await requestArrived(6);
    await session.send(answer(6));
    assert.equal((await sseOnly).headers.get("content-type"), "text/event-stream");

    useSession({ jsonAnswerWaitMs: 0 });
    const slow = post(call(7));
    await requestArrived(7);
    // The wait (0 ms) was set before this timer, so it has opened the event stream by the time the answer goes.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await session.send(answer(7));
    const slowResponse = await slow;
    assert.equal(slowResponse.headers.get("content-type"), "text/event-stream");
    assert.match(await slowResponse.text(), /"id":7/);
  });

  test("closing the session ends a POST still waiting with an empty event stream", async () => {
    useSession();
    const pending = post(call(8));
    await requestArrived(8);
    await session.close();
    const response = await pending;
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    assert.equal(await response.text(), "");
  });
});

test("acceptsJson: JSON, application/* and */* ranges allow it; q=0 and event-stream only do not; none allows all", () => {
  assert.equal(acceptsJson(undefined), true);
  assert.equal(acceptsJson(BOTH), true);
  assert.equal(acceptsJson("text/event-stream, application/*;q=0.5"), true);
  assert.equal(acceptsJson("*/*"), true);
  assert.equal(acceptsJson("text/event-stream"), false);
  assert.equal(acceptsJson("application/json;q=0, text/event-stream"), false);
});
