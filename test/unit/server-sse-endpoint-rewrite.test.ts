import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { describe, test } from "node:test";
import { LegacySseSessions } from "../../src/proxy/legacy-sse-sessions.ts";
import { SseEndpointRewrite } from "../../src/proxy/sse-endpoint-rewrite.ts";

async function run(
  chunks: (string | Buffer)[],
  rewrite = (data: string) => `/message${data.slice(data.indexOf("?"))}`,
) {
  const source = Readable.from(chunks.map((chunk) => (typeof chunk === "string" ? Buffer.from(chunk) : chunk)));
  return text(source.pipe(new SseEndpointRewrite({ rewrite })));
}

describe("SseEndpointRewrite", () => {
  test("rewrites the endpoint event and passes the rest through byte for byte", async () => {
    const out = await run([
      "event: endpoint\ndata: /messages?sessionId=abc\n\n",
      'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n',
    ]);
    assert.equal(
      out,
      'event: endpoint\ndata: /message?sessionId=abc\n\nevent: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n',
    );
  });

  test("handles the event split across chunks, CRLF framing and comments before it", async () => {
    const out = await run([
      ": hello\r\n\r\nevent: end",
      "point\r\ndata: /messages?sessionId",
      "=x\r\n\r\ndata: after\r\n\r\n",
    ]);
    assert.equal(out, ": hello\r\n\r\nevent: endpoint\ndata: /message?sessionId=x\n\ndata: after\r\n\r\n");
  });

  test("keeps a multi-byte character split across chunks intact", async () => {
    const bytes = Buffer.from("event: endpoint\ndata: /messages?s=é\n\n");
    const split = bytes.indexOf(0xc3) + 1;
    const out = await run([bytes.subarray(0, split), bytes.subarray(split)], (data) => data);
    assert.equal(out, "event: endpoint\ndata: /messages?s=é\n\n");
  });

  test("a stream without an endpoint event passes through unchanged", async () => {
    const input = 'data: {"a":1}\n\n: ping\n\ndata: tail-without-boundary';
    assert.equal(await run([input]), input);
  });

  test("a refused endpoint ends the stream with the error", async () => {
    await assert.rejects(
      run(["event: endpoint\ndata: https://elsewhere.example/messages\n\n"], () => {
        throw new Error("other origin");
      }),
      /other origin/,
    );
  });

  test("refuses a rewritten URI with a line break (event injection)", async () => {
    await assert.rejects(
      run(["event: endpoint\ndata: /m\n\n"], () => "/message\ndata: x"),
      /line break/,
    );
  });
});

describe("LegacySseSessions", () => {
  const upstream = new URL("https://mcp.example.com/api/sse");

  test("maps the proxy endpoint back to the upstream path with the query kept", () => {
    const sessions = new LegacySseSessions(upstream);
    const { proxyEndpoint, key } = sessions.register("/api/messages?sessionId=abc");
    assert.equal(proxyEndpoint, "/message?sessionId=abc");
    assert.equal(sessions.resolve("sessionId=abc"), "/api/messages?sessionId=abc");
    sessions.remove(key);
    assert.equal(sessions.size, 0);
  });

  test("resolves relative endpoints against the SSE URL", () => {
    const sessions = new LegacySseSessions(upstream);
    sessions.register("messages?sessionId=r");
    assert.equal(sessions.resolve("sessionId=r"), "/api/messages?sessionId=r");
  });

  test("refuses an endpoint on another origin (the token never leaves the upstream origin)", () => {
    const sessions = new LegacySseSessions(upstream);
    assert.throws(() => sessions.register("https://evil.example/messages?sessionId=1"), /another origin/);
    assert.throws(() => sessions.register("http://mcp.example.com/messages"), /another origin/);
  });

  test("an unknown session falls back to the last endpoint path, or nothing", () => {
    const sessions = new LegacySseSessions(upstream);
    assert.equal(sessions.resolve("sessionId=zzz"), undefined);
    sessions.register("/api/messages?sessionId=a");
    assert.equal(sessions.resolve("sessionId=zzz"), "/api/messages?sessionId=zzz");
  });
});
