import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JSONRPCMessage } from "@modelcontextprotocol/client";
import {
  readJsonOrStream,
  STREAMED_RESPONSE_BYTES,
  type StreamableRequest,
  startStreamedResponse,
  streamedBodyOf,
} from "../../src/proxy/streamed-response.ts";

function requestFor(id: string | number, signal = new AbortController().signal) {
  const delivered: JSONRPCMessage[] = [];
  const request: StreamableRequest = {
    id,
    method: "tools/call",
    upstreamName: "http://127.0.0.1:1/mcp",
    deliver: (message) => delivered.push(message),
    signal,
  };
  return { request, delivered };
}

async function bytesOf(message: JSONRPCMessage | undefined): Promise<string> {
  const body = message && streamedBodyOf(message);
  assert.ok(body, "a stand-in with a body");
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const big = "z".repeat(STREAMED_RESPONSE_BYTES);

describe("startStreamedResponse", () => {
  test("a response's bytes pass through unchanged but for line breaks; the stand-in carries the request's id", async () => {
    const { request, delivered } = requestFor(7);
    const sink = startStreamedResponse(Buffer.from('{\n"result":{"text":"'), request);
    assert.ok(sink);
    assert.equal((delivered[0] as { id: unknown }).id, 7);
    const text = bytesOf(delivered[0]);
    sink.write(Buffer.from(`${big}"},\r\n"jsonrpc":"2.0","id":7}`));
    sink.end();
    assert.equal(await text, `{ "result":{"text":"${big}"},  "jsonrpc":"2.0","id":7}`);
    assert.equal(delivered.length, 1, "no error answer");
  });

  test("declines what is not a response to this request", () => {
    for (const prefix of [
      '{"method":"notifications/progress","params":{',
      '{"jsonrpc":"2.0","id":8,"result":',
      "[1,2",
    ]) {
      const { request, delivered } = requestFor(7);
      assert.equal(startStreamedResponse(Buffer.from(prefix), request), undefined, prefix);
      assert.equal(delivered.length, 0);
    }
  });

  test("an answer that does not end whole, has another id or none, or breaks off is followed by an error answer", async () => {
    const cases: Array<[string, (sink: ReturnType<typeof startStreamedResponse>) => void, RegExp]> = [
      ['"},"id":7', (sink) => sink?.end(), /did not end as one JSON object/],
      ['"},"id":9}', (sink) => sink?.end(), /named another request/],
      ['"}}', (sink) => sink?.end(), /had no id/],
      ['"', (sink) => sink?.abort(new Error("socket hang up")), /broke off the response/],
    ];
    for (const [rest, finish, expected] of cases) {
      const { request, delivered } = requestFor(7);
      const sink = startStreamedResponse(Buffer.from('{"result":{"text":"'), request);
      const text = bytesOf(delivered[0]);
      sink?.write(Buffer.from(rest));
      finish(sink);
      await text;
      const error = (delivered[1] as { id: unknown; error?: { message: string } }) ?? {};
      assert.equal(error.id, 7);
      assert.match(error.error?.message ?? "", expected);
    }
  });

  test("a cancelled request: the body is dropped and no error answer follows", async () => {
    const controller = new AbortController();
    const { request, delivered } = requestFor(7, controller.signal);
    const sink = startStreamedResponse(Buffer.from('{"result":{"text":"'), request);
    controller.abort();
    assert.equal(streamedBodyOf(delivered[0] as JSONRPCMessage)?.destroyed, true);
    sink?.abort(new Error("aborted"));
    assert.equal(delivered.length, 1);
  });

  test("waits for a reader that is behind (the upstream is paused meanwhile)", async () => {
    const { request, delivered } = requestFor(1);
    const sink = startStreamedResponse(Buffer.from('{"result":{"text":"'), request);
    const wait = sink?.write(Buffer.alloc(256 * 1024, 0x61));
    assert.ok(wait instanceof Promise, "a full body asks the writer to wait");
    const text = bytesOf(delivered[0]);
    await wait;
    sink?.write(Buffer.from('"},"jsonrpc":"2.0","id":1}'));
    sink?.end();
    assert.equal(JSON.parse(await text).result.text.length, 256 * 1024);
  });
});

describe("readJsonOrStream", () => {
  const bodyOf = (text: string) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = Buffer.from(text);
        for (let at = 0; at < bytes.length; at += 65_536) controller.enqueue(bytes.subarray(at, at + 65_536));
        controller.close();
      },
    });

  test("small bodies and large non-responses come back whole; a large response is streamed", async () => {
    const small = '{"jsonrpc":"2.0","id":1,"result":{}}';
    assert.equal(await readJsonOrStream(bodyOf(small), requestFor(1).request), small);
    const notification = JSON.stringify({ jsonrpc: "2.0", method: "x", params: { big } });
    assert.equal(await readJsonOrStream(bodyOf(notification), requestFor(1).request), notification);
    const { request, delivered } = requestFor(1);
    const response = JSON.stringify({ result: { big }, jsonrpc: "2.0", id: 1 });
    const streamed = readJsonOrStream(bodyOf(response), request);
    const text = await bytesOf(await streamed.then(() => delivered[0]));
    assert.equal(text, response);
  });
});
