// The legacy /sse pass-through against an upstream whose endpoint events are framed to make parsers disagree: the
// client reads only what the proxy's spec-conformant parser saw, and every endpoint event it sees is the proxy's.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { rawUpstream, readAll, staticFace } from "./support/raw-upstream.ts";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("a hostile endpoint sequence (BOM, \\n\\r\\n boundary, large first block, a second foreign endpoint) never reaches the client", async () => {
  const upstream = await rawUpstream((req, res) => {
    if (req.method !== "GET") {
      res.writeHead(405).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(`\uFEFF: ${"p".repeat(70_000)}\n\r\n`);
    res.write("event: endpoint\ndata: /messages?sessionId=ok\n\r\n");
    res.write('data: {"jsonrpc":"2.0","method":"notifications/message","params":{}}\r\r');
    // A second endpoint, on another origin, split across writes.
    res.write("event: endpoint\r\ndata: https://evil.exa");
    setTimeout(() => res.end("mple/messages?sessionId=x\r\n\r\n"), 20);
  });
  cleanups.push(upstream.close);
  const { face, logs } = await staticFace(`${upstream.origin}/sse`, { Authorization: "Bearer static-sse-token" });
  cleanups.push(() => face.close());

  const response = await fetch(`${face.url}/sse`, { headers: { accept: "text/event-stream" } });
  assert.equal(response.status, 200);
  const bytes = await readAll(response);

  const events: EventSourceMessage[] = [];
  createParser({ onEvent: (event) => events.push(event) }).feed(new TextDecoder().decode(bytes));
  assert.deepEqual(
    events.filter((e) => e.event === "endpoint").map((e) => e.data),
    ["/message?sessionId=ok"],
  );
  assert.equal(events.length, 2, "the endpoint and the message event before the refused one");
  assert.doesNotMatch(bytes.toString("utf8"), /evil/);
  assert.equal(upstream.seen[0]?.headers.authorization, "Bearer static-sse-token");
  assert.ok(
    logs.some((line) => /legacy SSE stream refused/.test(line) && /another origin/.test(line)),
    logs.join(""),
  );
});
