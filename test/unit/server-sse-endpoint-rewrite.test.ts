import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { LegacySseSessions } from "../../src/proxy/legacy-sse-sessions.ts";
import { SseEndpointRewrite } from "../../src/proxy/sse-endpoint-rewrite.ts";

const UPSTREAM = new URL("https://mcp.example.com/sse");

/** The proxy's rewrite as the HTTP face wires it: same-origin endpoints become /message?…, others throw. */
function proxyRewrite(): (data: string) => string {
  const sessions = new LegacySseSessions(UPSTREAM);
  return (data) => sessions.register(data).proxyEndpoint;
}

interface Outcome {
  /** Every byte the client received before the stream ended. */
  out: Buffer;
  error?: Error;
}

async function run(chunks: (string | Buffer)[], rewrite = proxyRewrite(), maxEventChars?: number): Promise<Outcome> {
  const source = Readable.from(chunks.map((chunk) => (typeof chunk === "string" ? Buffer.from(chunk) : chunk)));
  const transform = new SseEndpointRewrite({ rewrite, ...(maxEventChars ? { maxEventChars } : {}) });
  const parts: Buffer[] = [];
  // Every write as it leaves the transform (an async iterator would drop what was buffered when the error came).
  transform.on("data", (part: Buffer) => parts.push(part));
  const error = await new Promise<Error | undefined>((resolve) => {
    transform.once("end", () => resolve(undefined));
    transform.once("error", resolve);
    source.pipe(transform);
  });
  return error ? { out: Buffer.concat(parts), error } : { out: Buffer.concat(parts) };
}

/** The events a spec-conformant client reads from `bytes` (fetch-based EventSource: TextDecoder, then the parser). */
function clientEvents(bytes: Buffer): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  parser.feed(new TextDecoder().decode(bytes));
  return events;
}

/** Every endpoint event the client sees is the proxy's, and the foreign origin never reaches it in any form. */
function assertClientSafe(outcome: Outcome): EventSourceMessage[] {
  const events = clientEvents(outcome.out);
  for (const event of events.filter((e) => e.event === "endpoint")) {
    assert.match(event.data, /^\/message\?/, `the client saw a foreign endpoint: ${event.data}`);
  }
  assert.doesNotMatch(outcome.out.toString("utf8"), /evil/);
  return events;
}

function endpoints(events: EventSourceMessage[]): string[] {
  return events.filter((e) => e.event === "endpoint").map((e) => e.data);
}

/** 1-byte chunks, or random sizes from a seeded generator (reproducible). */
function oneByteChunks(text: string): Buffer[] {
  const bytes = Buffer.from(text);
  return Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
}
function randomChunks(text: string, seed: number): Buffer[] {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  let state = seed;
  for (let at = 0; at < bytes.length; ) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const size = 1 + (state % 4096);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

const EVIL = "event: endpoint\ndata: https://evil.example/messages?sessionId=x\n\n";

describe("SseEndpointRewrite", () => {
  test("rewrites the endpoint event and re-serialises the other events as the client parses them", async () => {
    const outcome = await run([
      "event: endpoint\ndata: /messages?sessionId=abc\n\n",
      'id: 7\nevent: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n',
    ]);
    assert.equal(outcome.error, undefined);
    assert.equal(
      outcome.out.toString(),
      'event: endpoint\ndata: /message?sessionId=abc\n\nid: 7\nevent: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n',
    );
  });

  test("handles the event split across chunks, CRLF framing, comments and retry", async () => {
    const outcome = await run([
      ": hello\r\n\r\nretry: 3000\r\nevent: end",
      "point\r\ndata: /messages?sessionId",
      "=x\r\n\r\ndata: after\r",
      "\n\r\n",
    ]);
    assert.equal(
      outcome.out.toString(),
      ": hello\nretry: 3000\nevent: endpoint\ndata: /message?sessionId=x\n\ndata: after\n\n",
    );
  });

  test("keeps a multi-byte character split across chunks intact", async () => {
    const bytes = Buffer.from("event: endpoint\ndata: /messages?s=é\n\n");
    const split = bytes.indexOf(0xc3) + 1;
    const outcome = await run([bytes.subarray(0, split), bytes.subarray(split)], (data) => data);
    assert.equal(outcome.out.toString(), "event: endpoint\ndata: /messages?s=é\n\n");
  });

  test("a stream without an endpoint event keeps its events; an unterminated last event is not sent", async () => {
    const outcome = await run(['data: {"a":1}\n\n: ping\n\ndata: tail-without-boundary']);
    assert.equal(outcome.out.toString(), 'data: {"a":1}\n\n: ping\n');
    assert.deepEqual(
      clientEvents(outcome.out).map((e) => e.data),
      ['{"a":1}'],
    );
  });

  test("a refused endpoint ends the stream with the error", async () => {
    const outcome = await run([EVIL]);
    assert.match(String(outcome.error), /another origin/);
    assert.equal(outcome.out.length, 0);
  });

  test("refuses a rewritten URI with a line break (event injection)", async () => {
    const outcome = await run(["event: endpoint\ndata: /m\n\n"], () => "/message\ndata: x");
    assert.match(String(outcome.error), /line break/);
  });

  test("an event larger than the bound ends the stream", async () => {
    const outcome = await run([`data: ${"x".repeat(5000)}`, "\n\n"], proxyRewrite(), 1000);
    assert.match(String(outcome.error), /larger than 1000 characters/);
  });
});

describe("SseEndpointRewrite against byte patterns where parsers used to disagree", () => {
  test("an \\n\\r\\n event boundary", async () => {
    const safe = await run(["event: endpoint\ndata: /messages?sessionId=a\n\r\n", "data: next\n\r\n"]);
    assert.deepEqual(endpoints(assertClientSafe(safe)), ["/message?sessionId=a"]);
    assert.deepEqual(
      clientEvents(safe.out).map((e) => e.data),
      ["/message?sessionId=a", "next"],
    );
    const hostile = await run([": x\n\r\nevent: endpoint\ndata: https://evil.example/messages\n\r\ndata: y\n\n"]);
    assert.match(String(hostile.error), /another origin/);
    assertClientSafe(hostile);
  });

  test("a leading BOM, also split across chunks", async () => {
    const hostile = await run([`\uFEFF${EVIL}`]);
    assert.match(String(hostile.error), /another origin/);
    assertClientSafe(hostile);
    const bom = Buffer.from(`\uFEFFevent: endpoint\ndata: /messages?sessionId=b\n\n`);
    const split = await run([bom.subarray(0, 1), bom.subarray(1, 2), bom.subarray(2)]);
    assert.deepEqual(endpoints(assertClientSafe(split)), ["/message?sessionId=b"]);
    assert.equal(split.out[0], "e".charCodeAt(0), "no BOM is sent on");
  });

  test("a second endpoint event: same origin is rewritten too, another origin ends the stream", async () => {
    const twice = await run([
      "event: endpoint\ndata: /messages?sessionId=1\n\nevent: endpoint\ndata: /m?sessionId=2\n\n",
    ]);
    assert.deepEqual(endpoints(assertClientSafe(twice)), ["/message?sessionId=1", "/message?sessionId=2"]);
    const hostile = await run(["event: endpoint\ndata: /messages?sessionId=1\n\n", 'data: {"x":1}\n\n', EVIL]);
    assert.match(String(hostile.error), /another origin/);
    assert.deepEqual(endpoints(assertClientSafe(hostile)), ["/message?sessionId=1"]);
  });

  test("a first block over 64 kB before a foreign endpoint, in 1-byte and in random chunks", async () => {
    const big = `: ${"c".repeat(70_000)}\ndata: ${"d".repeat(70_000)}\n\n`;
    const stream = `${big}event: endpoint\ndata: /messages?sessionId=ok\n\n${big}${EVIL}`;
    for (const chunks of [oneByteChunks(stream), randomChunks(stream, 1), randomChunks(stream, 42)]) {
      const outcome = await run(chunks);
      assert.match(String(outcome.error), /another origin/);
      const events = assertClientSafe(outcome);
      assert.deepEqual(endpoints(events), ["/message?sessionId=ok"]);
      assert.equal(events.filter((e) => e.data.length === 70_000).length, 2, "the large events arrive whole");
    }
  });

  test("CR-only and mixed line endings; a CR at a chunk's end ends the line at once", async () => {
    const cr = await run(["event: endpoint\rdata: /messages?sessionId=cr\r\r"]);
    assert.deepEqual(endpoints(assertClientSafe(cr)), ["/message?sessionId=cr"]);
    const split = await run(["data: a\r", "\ndata: b\r", "\r", "\n", "data: c\r\n\r\n"]);
    assert.deepEqual(
      clientEvents(split.out).map((e) => e.data),
      ["a\nb", "c"],
    );
    const hostile = await run(["data: a\r\n\r", "event: endpoint\ndata: https://evil.example/m\r\n\n"]);
    assert.match(String(hostile.error), /another origin/);
    assertClientSafe(hostile);
    const crOnlyHostile = await run(["event: endpoint\rdata: https://evil.example/m\r\r"]);
    assert.match(String(crOnlyHostile.error), /another origin/);
  });

  test("`event:`/`data:` without a space", async () => {
    const safe = await run(["event:endpoint\ndata:/messages?sessionId=n\n\n"]);
    assert.deepEqual(endpoints(assertClientSafe(safe)), ["/message?sessionId=n"]);
    const hostile = await run(["event:endpoint\ndata:https://evil.example/m\n\n"]);
    assert.match(String(hostile.error), /another origin/);
  });

  test("multi-line data is rewritten as the one value the client would join", async () => {
    // URL parsing drops the LF, so a client would post to https://evil.example/m: refused.
    const hostile = await run(["event: endpoint\ndata: https://evil\ndata: .example/m\n\n"]);
    assert.match(String(hostile.error), /another origin/);
    assertClientSafe(hostile);
    const safe = await run(["event: endpoint\ndata: /messages?\ndata: sessionId=m\n\n"]);
    assert.deepEqual(endpoints(assertClientSafe(safe)), ["/message?sessionId=m"]);
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
