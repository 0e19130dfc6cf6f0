import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { after, describe, test } from "node:test";
import type { JSONRPCMessage } from "@modelcontextprotocol/client";
import { isJsonRpcShape } from "../../src/proxy/json-rpc-shape.ts";
import { LeanHttpClientTransport } from "../../src/proxy/lean-http-client-transport.ts";
import { jsonTextOf, rememberRawJson } from "../../src/proxy/raw-json.ts";
import { ResultCache } from "../../src/proxy/result-cache.ts";
import { StdioFaceTransport } from "../../src/proxy/stdio-face.ts";
import { UpstreamHttpError } from "../../src/proxy/upstream-http-error.ts";

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface TestServer {
  url: URL;
  seen: Seen[];
  /** Resolves with the next request whose method is `method` (already seen ones count). */
  next(method: string, count?: number): Promise<Seen>;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

/** A real node:http server on 127.0.0.1 that records every request and answers with `handler`. */
async function startServer(handler: Handler): Promise<TestServer> {
  const seen: Seen[] = [];
  const waiters: Array<() => void> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      for (const wake of waiters.splice(0)) wake();
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const handle: TestServer = {
    url: new URL(`http://127.0.0.1:${port}/mcp`),
    seen,
    async next(method, count = 1) {
      for (;;) {
        const matching = seen.filter((request) => request.method === method);
        if (matching.length >= count) return matching[count - 1] as Seen;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(handle);
  return handle;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

const initialize: JSONRPCMessage = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
};
const echo = (id: number): JSONRPCMessage => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "echo", arguments: { text: "hi" } },
});
const result = (id: number, text = "hi") => ({ jsonrpc: "2.0", id, result: { content: [{ type: "text", text }] } });

/** A started transport that collects what it delivers. */
async function open(url: URL, reconnect = { initialDelayMs: 5, maxDelayMs: 20, growFactor: 2, maxRetries: 3 }) {
  const transport = new LeanHttpClientTransport(url, fetch, reconnect);
  const messages: JSONRPCMessage[] = [];
  const errors: Error[] = [];
  let closes = 0;
  const waiters: Array<() => void> = [];
  transport.onmessage = (message) => {
    messages.push(message);
    for (const wake of waiters.splice(0)) wake();
  };
  transport.onerror = (error) => {
    errors.push(error);
    for (const wake of waiters.splice(0)) wake();
  };
  transport.onclose = () => closes++;
  await transport.start();
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { transport, messages, errors, closes: () => closes, until };
}

describe("LeanHttpClientTransport", () => {
  test("JSON answers: the session id of initialize is kept and sent with the protocol version on later requests", async () => {
    const server = await startServer((_req, res, body) => {
      const message = JSON.parse(body) as { id: number; method: string };
      if (message.method === "initialize") {
        return json(
          res,
          200,
          { jsonrpc: "2.0", id: 0, result: { protocolVersion: "2025-11-25" } },
          {
            "mcp-session-id": "s-1",
          },
        );
      }
      json(res, 200, result(message.id), {});
    });
    const { transport, messages } = await open(server.url);
    await transport.send(initialize);
    assert.equal(transport.sessionId, "s-1");
    assert.equal(server.seen[0]?.headers["mcp-session-id"], undefined, "initialize goes without a session");
    assert.equal(server.seen[0]?.headers.accept, "application/json, text/event-stream");
    assert.equal(server.seen[0]?.headers["content-type"], "application/json");
    transport.setProtocolVersion("2025-11-25");
    await transport.send(echo(1), { headers: { "x-trace": "t1", "Mcp-Session-Id": "forged" } });
    const second = server.seen[1] as Seen;
    assert.equal(second.headers["mcp-session-id"], "s-1", "a caller's header cannot override the session");
    assert.equal(second.headers["mcp-protocol-version"], "2025-11-25");
    assert.equal(second.headers["x-trace"], "t1");
    assert.deepEqual(JSON.parse(second.body), echo(1));
    assert.deepEqual(messages, [{ jsonrpc: "2.0", id: 0, result: { protocolVersion: "2025-11-25" } }, result(1)]);
    await transport.close();
  });

  test("a JSON batch answer delivers each message; a non-JSON-RPC item is reported, not delivered", async () => {
    const server = await startServer((_req, res) =>
      json(res, 200, [{ jsonrpc: "2.0", method: "notifications/message", params: {} }, { hello: 1 }, result(1)]),
    );
    const { transport, messages, errors } = await open(server.url);
    await transport.send(echo(1));
    assert.deepEqual(messages, [{ jsonrpc: "2.0", method: "notifications/message", params: {} }, result(1)]);
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? "", /not JSON-RPC 2\.0/);
    await transport.close();
  });

  test("SSE answers written a few bytes at a time (split events, CRLF, multi-line data) arrive whole, in order", async () => {
    const stream =
      'id: a1\r\nevent: message\r\ndata: {"jsonrpc":"2.0","method":"notifications/progress",\r\ndata: "params":{"progress":1}}\r\n\r\n' +
      `id: a2\ndata: ${JSON.stringify(result(3, "grüße"))}\n\n`;
    const bytes = Buffer.from(stream, "utf8");
    const server = await startServer((_req, res) => {
      res.writeHead(200, { "content-type": "Text/Event-Stream; charset=utf-8" });
      let at = 0;
      const step = () => {
        if (at >= bytes.length) return res.end();
        res.write(bytes.subarray(at, at + 7));
        at += 7;
        setImmediate(step);
      };
      step();
    });
    const { transport, messages, until } = await open(server.url);
    let ended = 0;
    await transport.send(echo(3), { onRequestStreamEnd: () => ended++ });
    await until(() => messages.length === 2);
    assert.deepEqual(messages, [
      { jsonrpc: "2.0", method: "notifications/progress", params: { progress: 1 } },
      result(3, "grüße"),
    ]);
    await waitFor(() => ended === 1);
    await transport.close();
  });

  test("an SSE event that is not JSON is reported and the stream goes on", async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(`data: {not json\n\ndata: ${JSON.stringify(result(4))}\n\n`);
    });
    const { transport, messages, errors, until } = await open(server.url);
    await transport.send(echo(4));
    await until(() => messages.length === 1);
    assert.deepEqual(messages, [result(4)]);
    assert.match(errors[0]?.message ?? "", /SSE event that is not JSON/);
    await transport.close();
  });

  test("202 and 204: nothing to read; 202 to notifications/initialized opens the session's GET stream", async () => {
    const server = await startServer((req, res, body) => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(`data: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/tools/list_changed" })}\n\n`);
        return; // held open
      }
      const message = JSON.parse(body) as { method?: string };
      if (message.method === "initialize") return json(res, 200, result(0), { "mcp-session-id": "s-2" });
      res.writeHead(message.method === "notifications/cancelled" ? 204 : 202).end();
    });
    const { transport, messages, until } = await open(server.url);
    await transport.send(initialize);
    await transport.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    const get = await server.next("GET");
    assert.equal(get.headers["mcp-session-id"], "s-2");
    assert.equal(get.headers.accept, "text/event-stream");
    await until(() => messages.length === 2);
    assert.deepEqual(messages[1], { jsonrpc: "2.0", method: "notifications/tools/list_changed" });
    await transport.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 9 } });
    await transport.send(echo(5)); // 202 to a request: its answer would come on the GET stream
    assert.equal(messages.length, 2);
    await transport.close();
  });

  test("a 404 on a session is an UpstreamHttpError with status 404 (the bridge re-initialises on it)", async () => {
    const server = await startServer((_req, res, body) => {
      const message = JSON.parse(body) as { method: string };
      if (message.method === "initialize") return json(res, 200, result(0), { "mcp-session-id": "s-3" });
      json(res, 404, { jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } });
    });
    const { transport, errors } = await open(server.url);
    await transport.send(initialize);
    const failure = await transport.send(echo(6)).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(failure instanceof UpstreamHttpError);
    assert.equal(failure.status, 404);
    assert.match(failure.message, /HTTP 404/);
    assert.match(String(failure.data.text), /Session not found/);
    assert.equal(errors.length, 1, "onerror hears it too, as with the SDK transport");
    assert.equal(transport.sessionId, "s-3");
    await transport.close();
  });

  test("non-2xx with a body: the error quotes status and body; a JSON answer that is not JSON says so", async () => {
    let mode: "500" | "bad-json" | "wrong-type" = "500";
    const server = await startServer((_req, res) => {
      if (mode === "500") return res.writeHead(500, { "content-type": "text/plain" }).end("database is down");
      if (mode === "bad-json") return res.writeHead(200, { "content-type": "application/json" }).end("{oops");
      res.writeHead(200, { "content-type": "text/html" }).end("<html></html>");
    });
    const { transport } = await open(server.url);
    await assert.rejects(transport.send(echo(7)), (error: unknown) => {
      assert.ok(error instanceof UpstreamHttpError);
      assert.equal(error.status, 500);
      assert.match(error.message, /HTTP 500.*database is down/);
      return true;
    });
    mode = "bad-json";
    await assert.rejects(transport.send(echo(8)), /answered tools\/call with a body that is not JSON/);
    mode = "wrong-type";
    await assert.rejects(transport.send(echo(9)), /Unexpected content type: text\/html/);
    await transport.close();
  });

  test("a 2026-07-28 request's 400 JSON-RPC error is its answer, and its headers are derived from the message", async () => {
    const server = await startServer((_req, res, body) => {
      const { id } = JSON.parse(body) as { id: number };
      json(res, 400, { jsonrpc: "2.0", id, error: { code: -32602, message: "Unknown tool" } });
    });
    const { transport, messages, errors } = await open(server.url);
    await transport.send({
      jsonrpc: "2.0",
      id: 10,
      method: "tools/call",
      params: { name: "nope", _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } },
    });
    assert.deepEqual(messages, [{ jsonrpc: "2.0", id: 10, error: { code: -32602, message: "Unknown tool" } }]);
    assert.equal(errors.length, 0);
    const sent = server.seen[0] as Seen;
    assert.equal(sent.headers["mcp-protocol-version"], "2026-07-28");
    assert.equal(sent.headers["mcp-method"], "tools/call");
    assert.equal(sent.headers["mcp-name"], "nope");
    await transport.close();
  });

  test("the GET stream is resumed with Last-Event-ID after it drops, and the server's retry: sets the delay", async () => {
    let gets = 0;
    const server = await startServer((req, res, body) => {
      if (req.method === "GET") {
        gets++;
        res.writeHead(200, { "content-type": "text/event-stream" });
        const note = { jsonrpc: "2.0", method: "notifications/message", params: { n: gets } };
        if (gets === 1) return res.end(`retry: 15\nid: ev-${gets}\ndata: ${JSON.stringify(note)}\n\n`);
        res.write(`id: ev-${gets}\ndata: ${JSON.stringify(note)}\n\n`);
        return; // the second stream stays open
      }
      const message = JSON.parse(body) as { method?: string };
      if (message.method === "initialize") return json(res, 200, result(0), { "mcp-session-id": "s-4" });
      res.writeHead(202).end();
    });
    const { transport, messages, until } = await open(server.url);
    await transport.send(initialize);
    await transport.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    const second = await server.next("GET", 2);
    assert.equal(second.headers["last-event-id"], "ev-1");
    assert.equal(second.headers["mcp-session-id"], "s-4");
    await until(() => messages.length === 3);
    assert.deepEqual(
      messages.slice(1).map((message) => (message as unknown as { params: { n: number } }).params.n),
      [1, 2],
    );
    await transport.close();
  });

  test("a GET stream refused at its first open is reported, not retried", async () => {
    const server = await startServer((req, res, body) => {
      if (req.method === "GET") return res.writeHead(503).end("busy");
      const message = JSON.parse(body) as { method?: string };
      if (message.method === "initialize") return json(res, 200, result(0), { "mcp-session-id": "s-5" });
      res.writeHead(202).end();
    });
    const { transport, errors, until } = await open(server.url, {
      initialDelayMs: 1,
      maxDelayMs: 4,
      growFactor: 2,
      maxRetries: 3,
    });
    await transport.send(initialize);
    await transport.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    await until(() => errors.length >= 1);
    assert.match(errors[0]?.message ?? "", /Failed to open SSE stream/);
    await transport.close();
    assert.equal(server.seen.filter((request) => request.method === "GET").length, 1, "a refused open is not retried");
  });

  test("a GET stream that drops every time: reconnects at most maxRetries times, then says so", async () => {
    const server = await startServer((req, res, body) => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        return res.end(": nothing\n\n");
      }
      const message = JSON.parse(body) as { method?: string };
      if (message.method === "initialize") return json(res, 200, result(0), { "mcp-session-id": "s-6" });
      res.writeHead(202).end();
    });
    const { transport, errors, until } = await open(server.url, {
      initialDelayMs: 1,
      maxDelayMs: 4,
      growFactor: 2,
      maxRetries: 3,
    });
    await transport.send(initialize);
    await transport.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    await until(() => errors.some((error) => /Maximum reconnection attempts \(3\)/.test(error.message)));
    assert.equal(server.seen.filter((request) => request.method === "GET").length, 4, "the first GET and 3 retries");
    await transport.close();
  });

  test("terminateSession sends DELETE with the session id and forgets it; 405 is fine; other refusals throw", async () => {
    let deleteStatus = 204;
    const server = await startServer((req, res, body) => {
      if (req.method === "DELETE") return res.writeHead(deleteStatus).end();
      const message = JSON.parse(body) as { method?: string };
      if (message.method === "initialize") return json(res, 200, result(0), { "mcp-session-id": "s-7" });
      res.writeHead(202).end();
    });
    const { transport } = await open(server.url);
    await transport.terminateSession(); // no session yet: nothing sent
    assert.equal(server.seen.length, 0);
    await transport.send(initialize);
    await transport.terminateSession();
    const deleted = await server.next("DELETE");
    assert.equal(deleted.headers["mcp-session-id"], "s-7");
    assert.equal(transport.sessionId, undefined);
    await transport.send(initialize);
    deleteStatus = 405;
    await transport.terminateSession();
    assert.equal(transport.sessionId, undefined);
    await transport.send(initialize);
    deleteStatus = 500;
    await assert.rejects(transport.terminateSession(), /Failed to terminate session/);
    await transport.close();
  });

  test("requests with their own signal leave nothing hooked on the transport's signal once they are over", async () => {
    // JSON answers, SSE answers and refusals: each request's signal is joined to the transport's only while it runs
    // (AbortSignal.any kept every one of them reachable from the long-lived transport signal on Node 20).
    let call = 0;
    const server = await startServer((_req, res, body) => {
      const { id } = JSON.parse(body) as { id: number };
      const kind = call++ % 3;
      if (kind === 0) return json(res, 200, result(id));
      if (kind === 1) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        return void res.end(`data: ${JSON.stringify(result(id))}\n\n`);
      }
      json(res, 500, { error: "no" });
    });
    const { transport, messages, errors, until } = await open(server.url);
    const transportSignal = (transport as unknown as { abort: AbortController }).abort.signal;
    for (let id = 1; id <= 30; id++) {
      await transport.send(echo(id), { requestSignal: new AbortController().signal }).catch(() => {});
    }
    await until(() => messages.length === 20);
    await waitFor(() => getEventListeners(transportSignal, "abort").length === 0);
    assert.equal(getEventListeners(transportSignal, "abort").length, 0);
    assert.equal(errors.length, 10, "the refusals were reported");
    await transport.close();
  });

  test("close() ends a response stream in flight and calls onclose once; an aborted request signal is no error", async () => {
    const closedOnServer: string[] = [];
    const server = await startServer((req, res, body) => {
      const { id } = JSON.parse(body) as { id: number };
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(": open\n\n");
      req.socket.once("close", () => closedOnServer.push(String(id)));
    });
    const { transport, errors, closes } = await open(server.url);
    const controller = new AbortController();
    let ended = 0;
    await transport.send(echo(11), { requestSignal: controller.signal, onRequestStreamEnd: () => ended++ });
    controller.abort();
    await waitFor(() => closedOnServer.includes("11"));
    await transport.send(echo(12));
    await transport.close();
    await transport.close();
    await waitFor(() => closedOnServer.includes("12"));
    assert.equal(closes(), 1);
    assert.equal(errors.length, 0, `no error for a cancelled request or a close: ${errors.map((e) => e.message)}`);
    assert.equal(ended, 0, "a cancelled request is not reported as ended without an answer");
  });

  test("redirects: same-origin 307 is followed with the body; cross-origin and 303 are not, and the error says why", async () => {
    const other = await startServer((_req, res) => json(res, 200, result(1, "elsewhere")));
    const server = await startServer((req, res, body) => {
      if (req.url === "/mcp") return res.writeHead(307, { location: "/v2/mcp" }).end();
      if (req.url === "/v2/mcp") {
        const { id } = JSON.parse(body) as { id: number };
        if (id === 13) return json(res, 200, result(13, "moved"));
        if (id === 14) return res.writeHead(307, { location: other.url.href }).end();
        return res.writeHead(303, { location: "/v3/mcp" }).end();
      }
      res.writeHead(500).end();
    });
    const { transport, messages } = await open(server.url);
    await transport.send(echo(13));
    assert.deepEqual(messages, [result(13, "moved")]);
    const followed = server.seen.find((request) => request.path === "/v2/mcp") as Seen;
    assert.equal(followed.method, "POST");
    assert.deepEqual(JSON.parse(followed.body), echo(13));
    await assert.rejects(transport.send(echo(14)), (error: unknown) => {
      assert.ok(error instanceof UpstreamHttpError);
      assert.match(error.message, new RegExp(`Redirect to ${other.url.href} not followed`));
      assert.match(error.message, /only same-origin redirects/);
      return true;
    });
    assert.equal(other.seen.length, 0, "nothing, and no token, went to the other origin");
    await assert.rejects(transport.send(echo(15)), /Redirect to .*\/v3\/mcp not followed/);
    await transport.close();
  });

  test("a 5 MB result arrives intact as JSON and as one SSE event", async () => {
    const big = "y".repeat(5_000_000);
    const server = await startServer((_req, res, body) => {
      const { id } = JSON.parse(body) as { id: number };
      if (id === 16) return json(res, 200, result(16, big));
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(`id: b\ndata: ${JSON.stringify(result(17, big))}\n\n`);
    });
    const { transport, messages, until } = await open(server.url);
    await transport.send(echo(16));
    await transport.send(echo(17));
    await until(() => messages.length === 2);
    for (const message of messages) {
      const text = (message as unknown as { result: { content: Array<{ text: string }> } }).result.content[0]?.text;
      assert.equal(text?.length, 5_000_000);
    }
    await transport.close();
  });

  test("a response passed on unchanged is written as the upstream's own text; a changed one is serialised", async () => {
    // Key order and spacing a re-serialisation would not keep: they prove the text was not stringified again.
    const sseText = '{"result": {"content":[{"type":"text","text":"sse"}]},"id":21,"jsonrpc":"2.0"}';
    const jsonText = '{"id":22, "result":{"content":[{"text":"json","type":"text"}]}, "jsonrpc":"2.0"}';
    const server = await startServer((_req, res, body) => {
      const { id } = JSON.parse(body) as { id: number };
      if (id === 22) return void res.writeHead(200, { "content-type": "application/json" }).end(jsonText);
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(`data: ${sseText}\n\n`);
    });
    const { transport, messages, until } = await open(server.url);
    await transport.send(echo(21));
    await transport.send(echo(22));
    await until(() => messages.length === 2);
    const [fromSse, fromJson] = messages as [JSONRPCMessage, JSONRPCMessage];
    assert.equal(jsonTextOf(fromSse), sseText);
    assert.equal(jsonTextOf(fromJson), jsonText);
    // What the faces write: the stdio line and the legacy SSE event carry those bytes.
    const output = new PassThrough();
    const written: Buffer[] = [];
    output.on("data", (chunk: Buffer) => written.push(chunk));
    const stdio = new StdioFaceTransport({ input: new PassThrough(), output });
    await stdio.send(fromSse);
    assert.equal(Buffer.concat(written).toString("utf8"), `${sseText}\n`);
    // A bridge that changes a message builds a new object: that one is serialised.
    const changed = { ...fromJson, id: 99 } as JSONRPCMessage;
    assert.deepEqual(JSON.parse(jsonTextOf(changed)), { ...JSON.parse(jsonText), id: 99 });
    await transport.close();
  });

  test("raw text is kept for one-line responses only, never for requests or notifications", () => {
    const text = '{"jsonrpc":"2.0","id":1,"result":{}}';
    const response = JSON.parse(text) as JSONRPCMessage;
    rememberRawJson(response, text);
    assert.equal(jsonTextOf(response), text);
    const spread = '{"jsonrpc":"2.0",\n"id":2,"result":{}}';
    const multiLine = JSON.parse(spread) as JSONRPCMessage;
    rememberRawJson(multiLine, spread);
    assert.equal(jsonTextOf(multiLine), '{"jsonrpc":"2.0","id":2,"result":{}}');
    const notificationText = '{"method":"notifications/progress", "jsonrpc":"2.0"}';
    const notification = JSON.parse(notificationText) as JSONRPCMessage;
    rememberRawJson(notification, notificationText);
    assert.equal(jsonTextOf(notification), '{"method":"notifications/progress","jsonrpc":"2.0"}');
  });

  test("2026-07-28 cacheable results are reused while fresh, dropped on list_changed; 2025 requests never", async () => {
    let toolsListed = 0;
    const server = await startServer((_req, res, body) => {
      const message = JSON.parse(body) as { id: number; method: string };
      if (message.method === "tools/list") {
        toolsListed++;
        const tools = {
          tools: [{ name: `t${toolsListed}` }],
          resultType: "complete",
          ttlMs: 60_000,
          cacheScope: "private",
        };
        return json(res, 200, { jsonrpc: "2.0", id: message.id, result: tools });
      }
      // A tool call whose stream carries the upstream's list_changed before its result.
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(
        `data: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/tools/list_changed" })}\n\n` +
          `data: ${JSON.stringify(result(message.id))}\n\n`,
      );
    });
    const lookups: boolean[] = [];
    const results = new ResultCache({ onLookup: (_upstream, _method, hit) => lookups.push(hit) });
    const transport = new LeanHttpClientTransport(server.url, fetch, undefined, {
      results,
      upstream: server.url.href,
      grant: () => "g",
    });
    const messages: JSONRPCMessage[] = [];
    transport.onmessage = (message) => messages.push(message);
    const meta = { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } };
    const list = (id: number): JSONRPCMessage => ({ jsonrpc: "2.0", id, method: "tools/list", params: meta });
    await transport.send(list(1));
    await transport.send(list(2));
    await waitFor(() => messages.length === 2);
    assert.equal(toolsListed, 1, "the second tools/list was answered from the cache");
    assert.deepEqual(messages[1], { ...(messages[0] as object), id: 2 });
    await transport.send({ ...echo(3), params: { name: "echo", arguments: {}, ...meta } });
    await waitFor(() => messages.length === 4);
    await transport.send(list(4));
    await waitFor(() => messages.length === 5);
    assert.equal(toolsListed, 2, "list_changed made the cached list stale");
    assert.equal(
      (messages[4] as unknown as { result: { tools: Array<{ name: string }> } }).result.tools[0]?.name,
      "t2",
    );
    await transport.send({ jsonrpc: "2.0", id: 5, method: "tools/list", params: {} });
    await transport.send({ jsonrpc: "2.0", id: 6, method: "tools/list", params: {} });
    await waitFor(() => messages.length === 7);
    assert.equal(toolsListed, 4, "2025 requests (no 2026-07-28 envelope) always go upstream");
    assert.deepEqual(lookups, [false, true, false]);
    await transport.close();
  });

  test("isJsonRpcShape accepts requests, notifications, results and errors only", () => {
    assert.ok(isJsonRpcShape({ jsonrpc: "2.0", id: 1, method: "x" }));
    assert.ok(isJsonRpcShape({ jsonrpc: "2.0", method: "x" }));
    assert.ok(isJsonRpcShape({ jsonrpc: "2.0", id: 1, result: {} }));
    assert.ok(isJsonRpcShape({ jsonrpc: "2.0", id: null, error: { code: 1, message: "m" } }));
    assert.ok(!isJsonRpcShape({ jsonrpc: "1.0", id: 1, result: {} }));
    assert.ok(!isJsonRpcShape({ jsonrpc: "2.0", id: 1 }));
    assert.ok(!isJsonRpcShape([{ jsonrpc: "2.0", method: "x" }]));
    assert.ok(!isJsonRpcShape(null));
    assert.ok(!isJsonRpcShape("x"));
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  // Bounded by the test runner's timeout; polls on timers so that sockets get to close.
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}
