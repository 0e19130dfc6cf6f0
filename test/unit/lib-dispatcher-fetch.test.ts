import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { Agent } from "undici";
import { dispatcherFetch, headerRecord } from "../../src/lib/dispatcher-fetch.ts";
import {
  type AnnotatedInit,
  BODY_SETTLED,
  TEXT_BODY,
  type TextBody,
  textBodyOf,
} from "../../src/lib/fetch-annotations.ts";

// A real loopback HTTP server and a real undici Agent: the fetch under test is the dispatcher path the bridges use.
let base = "";
let agent: Agent;
const server = createServer((request: IncomingMessage, response: ServerResponse) => {
  const path = request.url ?? "/";
  if (path === "/echo") {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      response.setHeader("set-cookie", ["a=1", "b=2"]);
      response.writeHead(201, {
        "content-type": "application/json",
        "x-seen": request.headers["x-test"] ?? "",
        "x-user-agent": request.headers["user-agent"] ?? "",
        "x-accept-encoding": request.headers["accept-encoding"] ?? "",
      });
      response.end(JSON.stringify({ method: request.method, body }));
    });
    return;
  }
  if (path === "/empty") {
    response.writeHead(204).end();
    return;
  }
  if (path === "/big") {
    // 4 MB in 64 KiB writes: more than any buffer, so the reader's pace must pause and resume the socket.
    response.writeHead(200, { "content-type": "application/octet-stream" });
    const piece = Buffer.alloc(64 * 1024, 7);
    let left = 64;
    const write = () => {
      while (left > 0) {
        left--;
        if (!response.write(piece)) {
          response.once("drain", write);
          return;
        }
      }
      response.end();
    };
    write();
    return;
  }
  if (path === "/stall") {
    response.writeHead(200, { "content-type": "text/event-stream" });
    response.write("data: first\n\n");
    return; // never ends
  }
  if (path === "/utf8") {
    // "é" split between two writes: its two bytes arrive in different chunks.
    response.writeHead(200, { "content-type": "application/json" });
    response.write(Buffer.from([0x22, 0xc3]));
    setTimeout(() => response.end(Buffer.from([0xa9, 0x22])), 20);
    return;
  }
  if (path === "/cut") {
    response.writeHead(200, { "content-length": "100" });
    response.write("partial");
    setImmediate(() => response.socket?.destroy());
    return;
  }
  response.writeHead(404).end("no");
});

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  agent = new Agent();
});

after(async () => {
  await agent.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test("a POST with a string body: status, headers (repeated ones kept) and body as fetch gives them", async () => {
  const fetchFn = dispatcherFetch(agent);
  const response = await fetchFn(`${base}/echo`, {
    method: "POST",
    headers: { "X-Test": "yes", "content-type": "application/json" },
    body: '{"hello":1}',
  });
  assert.equal(response.status, 201);
  assert.equal(response.headers.get("x-seen"), "yes");
  assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
  assert.deepEqual(await response.json(), { method: "POST", body: '{"hello":1}' });
  assert.equal(response.headers.get("x-user-agent"), "node", "a user-agent, as fetch sends");
  assert.equal(response.headers.get("x-accept-encoding"), "", "no compressed answer invited: nothing decompresses");
});

test("a Headers object and a URL input are taken as fetch takes them", async () => {
  const response = await dispatcherFetch(agent)(new URL(`${base}/echo`), {
    method: "post",
    headers: new Headers({ "x-test": "from-headers" }),
    body: "",
  });
  assert.equal(response.headers.get("x-seen"), "from-headers");
  assert.equal(((await response.json()) as { method: string }).method, "POST");
});

test("204 gives a null body, not a stream", async () => {
  const response = await dispatcherFetch(agent)(`${base}/empty`);
  assert.equal(response.status, 204);
  assert.equal(response.body, null);
});

test("a large body arrives whole when the reader is slow (pause and resume)", async () => {
  const response = await dispatcherFetch(agent)(`${base}/big`);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  let bytes = 0;
  let allSevens = true;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.length;
    if (value.some((byte) => byte !== 7)) allSevens = false;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(bytes, 64 * 64 * 1024);
  assert.ok(allSevens);
});

test("an abort before the head rejects with the signal's reason; after it, the body errors", async () => {
  const early = new AbortController();
  early.abort(new Error("gave up"));
  await assert.rejects(dispatcherFetch(agent)(`${base}/stall`, { signal: early.signal }), /gave up/);

  const late = new AbortController();
  const response = await dispatcherFetch(agent)(`${base}/stall`, { signal: late.signal });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  assert.match(new TextDecoder().decode((await reader.read()).value), /first/);
  late.abort(new Error("stopped reading"));
  await assert.rejects(reader.read(), /stopped reading/);
});

test("cancelling the body frees the connection instead of hanging", async () => {
  const response = await dispatcherFetch(agent)(`${base}/stall`);
  await response.body?.cancel();
  const again = await dispatcherFetch(agent)(`${base}/empty`);
  assert.equal(again.status, 204);
});

test("an unreachable server rejects as fetch does: TypeError 'fetch failed' with the cause", async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await assert.rejects(dispatcherFetch(agent)(`http://127.0.0.1:${port}/`), (error: Error) => {
    assert.ok(error instanceof TypeError);
    assert.equal(error.message, "fetch failed");
    assert.ok((error as { cause?: unknown }).cause);
    return true;
  });
});

test("a connection cut mid-body errors the body stream", async () => {
  const response = await dispatcherFetch(agent)(`${base}/cut`);
  await assert.rejects(response.text());
});

// TEXT_BODY: the body as text pieces (the era bridge's reader), no web stream.

async function readText(body: TextBody, slow = false): Promise<string> {
  let text = "";
  for (let piece = await body.next(); piece !== undefined; piece = await body.next()) {
    text += piece;
    if (slow) await new Promise((resolve) => setImmediate(resolve));
  }
  return text;
}

function textInit(init: AnnotatedInit = {}, settled?: Array<boolean>): AnnotatedInit {
  return {
    ...init,
    [TEXT_BODY]: true,
    ...(settled ? { [BODY_SETTLED]: (_response: Response, cut: boolean) => settled.push(cut) } : {}),
  };
}

test("TEXT_BODY: the body comes as text pieces (a character split between chunks kept whole), body null", async () => {
  const settled: boolean[] = [];
  const response = await dispatcherFetch(agent)(`${base}/utf8`, textInit({}, settled));
  assert.equal(response.status, 200);
  assert.equal(response.body, null);
  const text = textBodyOf(response);
  assert.ok(text, "a text body is attached");
  assert.equal(await readText(text), '"é"');
  assert.deepEqual(settled, [false], "the end is reported once, not cut");
  assert.equal(await text.next(), undefined, "read past the end: still the end");
});

test("TEXT_BODY: a large body arrives whole when the reader is slow (the socket paused and resumed)", async () => {
  const response = await dispatcherFetch(agent)(`${base}/big`, textInit());
  const text = await readText(textBodyOf(response) as TextBody, true);
  assert.equal(text.length, 64 * 64 * 1024);
  assert.equal(text, "\x07".repeat(text.length), "every byte as sent");
});

test("TEXT_BODY: an abort after the head rejects the next read with the signal's reason", async () => {
  const late = new AbortController();
  const response = await dispatcherFetch(agent)(`${base}/stall`, textInit({ signal: late.signal }));
  const text = textBodyOf(response) as TextBody;
  assert.match((await text.next()) ?? "", /first/);
  const pending = text.next();
  late.abort(new Error("stopped reading"));
  await assert.rejects(pending, /stopped reading/);
});

test("TEXT_BODY: cancelling frees the connection, is reported as cut, and ends a waiting read", async () => {
  const settled: boolean[] = [];
  const response = await dispatcherFetch(agent)(`${base}/stall`, textInit({}, settled));
  const text = textBodyOf(response) as TextBody;
  assert.match((await text.next()) ?? "", /first/);
  const waiting = text.next();
  text.cancel();
  assert.equal(await waiting, undefined);
  assert.deepEqual(settled, [true]);
  const again = await dispatcherFetch(agent)(`${base}/empty`);
  assert.equal(again.status, 204);
});

test("TEXT_BODY: the lean response reads like fetch's: status, ok, headers any case, repeated ones, json()", async () => {
  const response = await dispatcherFetch(agent)(`${base}/echo`, textInit({ method: "POST", body: "{}" }));
  const direct = await fetch(`${base}/echo`, { method: "POST", body: "{}" });
  assert.equal(response.status, 201);
  assert.equal(response.ok, true);
  assert.equal(response.headers.get("Content-Type"), "application/json");
  assert.equal(response.headers.has("X-SEEN"), true);
  assert.equal(response.headers.get("x-missing"), null);
  assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
  assert.equal(response.headers.get("set-cookie"), direct.headers.get("set-cookie"), "joined as Headers joins it");
  const names = (headers: Headers) => [...headers.keys()].filter((name) => name !== "date");
  assert.deepEqual(names(response.headers), names(direct.headers), "iterated sorted, as Headers iterates");
  assert.throws(() => response.headers.set("x-a", "b"), /read-only/);
  assert.deepEqual(await response.json(), await direct.json());
  const missing = await dispatcherFetch(agent)(`${base}/nothing`, textInit());
  assert.equal(missing.ok, false);
  assert.equal(await missing.text(), "no");
});

test("TEXT_BODY: a connection cut mid-body rejects the read", async () => {
  const response = await dispatcherFetch(agent)(`${base}/cut`, textInit());
  await assert.rejects(readText(textBodyOf(response) as TextBody), /terminated/);
});

test("request headers become a plain lower-case record, a name given twice joined as Headers joins it", () => {
  assert.deepEqual(headerRecord({ Authorization: "Bearer a", "MCP-Protocol-Version": "2026-07-28" }), {
    authorization: "Bearer a",
    "mcp-protocol-version": "2026-07-28",
  });
  assert.deepEqual(
    headerRecord([
      ["Accept", "application/json"],
      ["accept", "text/event-stream"],
    ]),
    { accept: "application/json, text/event-stream" },
  );
  assert.deepEqual(headerRecord(new Headers({ "X-One": "1" })), { "x-one": "1" });
  assert.deepEqual(headerRecord(undefined), {});
});
