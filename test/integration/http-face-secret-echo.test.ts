// An upstream that answers 5xx with a body echoing the token it received (opaque, not a JWT, without "Bearer "
// before it, also base64- and JSON-escaped): the JSON-RPC errors the proxy builds from that body, and its log
// lines, carry no trace of the token. Through the HTTP face (/mcp and the legacy /message) and the stdio face.
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { PassThrough } from "node:stream";
import { after, describe, test } from "node:test";
import { runStdio } from "../../src/app/stdio.ts";
import { createLogger } from "../../src/lib/logger.ts";
import { rawUpstream, staticFace } from "./support/raw-upstream.ts";

const TOKEN = "opaque-token-1234567890abcdef";
const HEADERS = { Authorization: `Bearer ${TOKEN}` };
const CALL = { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "x", arguments: {} } };
const POST_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

/** Fails when `text` holds the token, or a piece of it, raw or in the encodings the upstream echoes. */
function assertNoTrace(text: string, what: string): void {
  const base64 = Buffer.from(TOKEN).toString("base64");
  for (const trace of [TOKEN, "1234567890", "opaque-token", base64.slice(0, 16), base64.slice(-16)]) {
    assert.ok(!text.includes(trace), `${what} holds ${trace}: ${text}`);
  }
}

/** The 500 body: the token as the upstream received it, in a JSON message, escaped and base64-encoded. */
function echo(req: IncomingMessage, res: ServerResponse): void {
  const raw = String(req.headers.authorization ?? "").replace(/^Bearer /, "");
  const escaped = [...raw].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
  const body = `{"error":{"message":"token ${raw} refused (escaped ${escaped}, b64 ${Buffer.from(raw).toString("base64")})"}}`;
  res.writeHead(500, { "content-type": "application/json" }).end(body);
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text;
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/**
 * One upstream for every path: GET /sse is a legacy event stream, POST /stream a Streamable HTTP endpoint that
 * answers `initialize`; every other POST (and tools/call on /stream) gets the echoing 500.
 */
async function echoingUpstream() {
  const upstream = await rawUpstream((req, res) => {
    if (req.method === "GET" && req.url?.startsWith("/sse")) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("event: endpoint\ndata: /messages?sessionId=s1\n\n");
      return;
    }
    if (req.method !== "POST") {
      res.writeHead(405).end();
      return;
    }
    void bodyOf(req).then((text) => {
      const message = JSON.parse(text) as { id?: number; method?: string; params?: { protocolVersion?: string } };
      if (req.url === "/stream" && message.method === "initialize") {
        const result = {
          protocolVersion: message.params?.protocolVersion,
          capabilities: { tools: {} },
          serverInfo: { name: "echo", version: "1.0.0" },
        };
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
      } else if (req.url === "/stream" && message.id === undefined) {
        res.writeHead(202).end();
      } else {
        echo(req, res);
      }
    });
  });
  cleanups.push(upstream.close);
  return upstream;
}

describe("an upstream echoing the token in a 5xx body", () => {
  test("HTTP face /mcp: the JSON-RPC error and the log lines hold no trace of the token", async () => {
    const upstream = await echoingUpstream();
    const { face, logs } = await staticFace(`${upstream.origin}/mcp`, HEADERS, {
      upstreamTransport: "streamable-http",
    });
    cleanups.push(() => face.close());
    const response = await fetch(`${face.url}/mcp`, {
      method: "POST",
      headers: POST_HEADERS,
      body: JSON.stringify(CALL),
    });
    const text = await response.text();
    assert.equal(response.status, 200);
    const answer = JSON.parse(text) as { id: number; error: { message: string } };
    assert.equal(answer.id, 7);
    assert.match(answer.error.message, /answered HTTP 500: token \[redacted\] refused/);
    assertNoTrace(text, "the JSON-RPC error");
    assert.equal(upstream.seen.at(-1)?.headers.authorization, `Bearer ${TOKEN}`, "the upstream did get the token");
    assert.ok(logs.length > 0);
    assertNoTrace(logs.join(""), "the log");
  });

  test("HTTP face legacy /message: the error body and the log lines hold no trace of the token", async () => {
    const upstream = await echoingUpstream();
    const { face, logs } = await staticFace(`${upstream.origin}/sse`, HEADERS);
    cleanups.push(() => face.close());
    const controller = new AbortController();
    const stream = await fetch(`${face.url}/sse`, {
      headers: { accept: "text/event-stream" },
      signal: controller.signal,
    });
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let events = "";
    while (!events.includes("\n\n")) events += new TextDecoder().decode((await reader.read()).value);
    assert.match(events, /data: \/message\?sessionId=s1/);

    const response = await fetch(`${face.url}/message?sessionId=s1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(CALL),
    });
    const text = await response.text();
    controller.abort();
    assert.equal(response.status, 502);
    assert.match(text, /answered HTTP 500: token \[redacted\] refused/);
    assertNoTrace(text, "the error body");
    assert.equal(upstream.seen.at(-1)?.url, "/messages?sessionId=s1");
    assertNoTrace(logs.join(""), "the log");
  });

  test("stdio face: the JSON-RPC error and the log lines hold no trace of the token", async () => {
    const upstream = await echoingUpstream();
    const logs: string[] = [];
    const input = new PassThrough();
    const output = new PassThrough();
    const answers = new Map<number, string>();
    let buffered = "";
    output.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      for (let newline = buffered.indexOf("\n"); newline !== -1; newline = buffered.indexOf("\n")) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const id = (JSON.parse(line) as { id?: number }).id;
        if (typeof id === "number") answers.set(id, line);
      }
    });
    const answered = (id: number) =>
      new Promise<string>((resolve) => {
        const check = () => (answers.has(id) ? resolve(answers.get(id) as string) : setTimeout(check, 10));
        check();
      });
    const running = runStdio({
      upstream: { url: `${upstream.origin}/stream`, authorizeParams: {}, headers: HEADERS, sendResource: true },
      runtime: {
        authDir: "/nonexistent",
        port: 0,
        callbackHost: "localhost",
        openBrowser: false,
        debug: false,
        allowInsecureHttp: true,
      },
      auth: undefined,
      logger: createLogger({ level: "debug", write: (line) => logs.push(line) }),
      input,
      output,
      transport: "streamable-http",
    });
    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    };
    input.write(`${JSON.stringify(initialize)}\n`);
    assert.match(await answered(1), /"result"/);
    input.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
    input.write(`${JSON.stringify(CALL)}\n`);
    const line = await answered(7);
    input.end();
    await running;
    const answer = JSON.parse(line) as { error?: { message: string } };
    assert.match(answer.error?.message ?? "", /HTTP 500: .*token \[redacted\] refused/);
    assertNoTrace(line, "the JSON-RPC error");
    assertNoTrace(logs.join(""), "the log");
  });
});
