// The stdio face's large-response path (src/proxy/streamed-response.ts): a large upstream answer reaches the client
// while it is still arriving, stays one stdout line, and a broken or malformed one still gets a JSON-RPC answer.
// The upstream here is a small hand-written Streamable HTTP server on 127.0.0.1, not an SDK server: the tests must
// hold an answer half-sent and cut it at chosen bytes, which no SDK server can be told to do. The proxy is the real
// stdio face process (stdio-entry.ts), driven line by line.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { INITIALIZE, RawStdioChild } from "./support/stdio-child.ts";

const HALF = 600_000;

/** Releases the second half of the `held` answer. */
let release: () => void = () => {};

function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
    request.on("error", reject);
  });
}

function startSse(response: ServerResponse): void {
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
}

/** The SDK servers' order: `result` first, the id last, so the proxy learns the id only at the end. */
function answerText(id: unknown, text: string): string {
  return JSON.stringify({ result: { content: [{ type: "text", text }] }, jsonrpc: "2.0", id });
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== "POST") {
    response.writeHead(405).end();
    return;
  }
  const message = await readJson(request);
  const id = message.id;
  if (id === undefined) {
    response.writeHead(202).end();
    return;
  }
  if (message.method === "initialize") {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        jsonrpc: "2.0",
        id,
        result: {
          protocolVersion: "2025-11-25",
          capabilities: { tools: {} },
          serverInfo: { name: "held", version: "1" },
        },
      }),
    );
    return;
  }
  const name = (message.params as { name?: string } | undefined)?.name;
  const whole = answerText(id, `${"a".repeat(HALF)}${"b".repeat(HALF)}`);
  const cutAt = whole.indexOf("b");
  switch (name) {
    case "held": {
      startSse(response);
      response.write(`event: message\ndata: ${whole.slice(0, cutAt)}`);
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      response.end(`${whole.slice(cutAt)}\n\n`);
      return;
    }
    case "cut":
      startSse(response);
      response.write(`event: message\ndata: ${whole.slice(0, cutAt)}`, () => {
        setTimeout(() => response.destroy(), 50);
      });
      return;
    case "other-id":
      startSse(response);
      response.end(`data: ${answerText(12345, "c".repeat(2 * HALF))}\n\n`);
      return;
    case "pretty-json":
      // A JSON body with line breaks between its tokens: still one line on stdout.
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(JSON.parse(answerText(id, "d".repeat(2 * HALF))), null, 2));
      return;
    default:
      startSse(response);
      response.end(`data: ${answerText(id, `small ${name}`)}\n\n`);
  }
}

describe("stdio face: large answers pass through as they arrive", () => {
  let server: Server;
  let url: string;
  let child: RawStdioChild;
  let dir: string;

  before(async () => {
    server = createServer((request, response) => {
      handle(request, response).catch(() => response.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    dir = mkdtempSync(join(tmpdir(), "stdio-large-"));
    child = new RawStdioChild(url, { authDir: dir, browser: "none" });
    child.send(INITIALIZE);
    await child.response(0);
    child.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  });
  after(async () => {
    release();
    child?.kill();
    await child?.exited;
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (id: number, name: string) =>
    child.send({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: {} } });
  const textOf = (message: Record<string, unknown>) =>
    ((message.result as { content: Array<{ text: string }> }).content[0] as { text: string }).text;

  test("the client has the first half on its stdout before the upstream sends the second; later messages wait for the line", async () => {
    call(1, "held");
    for (let i = 0; i < 1_000 && child.partialLineLength < HALF; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(child.partialLineLength >= HALF, `only ${child.partialLineLength} characters before the release`);
    // A small answer that comes meanwhile must not land inside the large line.
    call(2, "echo");
    const small = child.response(2);
    await new Promise((r) => setTimeout(r, 200));
    release();
    const answer = await child.response(1);
    assert.equal(textOf(answer), `${"a".repeat(HALF)}${"b".repeat(HALF)}`);
    assert.equal(textOf(await small), "small echo");
    assert.ok(child.stdoutLines.indexOf(JSON.stringify(answer)) < child.stdoutLines.length);
  });

  test("an answer cut off mid-way: the broken line ends, then the request gets an error that says so", async () => {
    const before = child.stdoutLines.length;
    call(3, "cut");
    const answer = await child.response(3);
    const error = answer.error as { code: number; message: string };
    assert.match(error.message, /broke off the response/);
    const broken = child.stdoutLines.slice(before).find((line) => line.length >= HALF);
    assert.ok(broken, "the partial answer was written as it came");
    assert.throws(() => JSON.parse(broken));
  });

  test("an answer that names another request is followed by an error answer for this one", async () => {
    call(4, "other-id");
    const answer = await child.response(4);
    assert.match((answer.error as { message: string }).message, /named another request/);
  });

  test("a large JSON body with line breaks arrives as one line with the same value", async () => {
    call(5, "pretty-json");
    const answer = await child.response(5);
    assert.equal(textOf(answer), "d".repeat(2 * HALF));
    assert.ok(child.stdoutLines.every((line) => !line.includes("\r")));
  });
});
