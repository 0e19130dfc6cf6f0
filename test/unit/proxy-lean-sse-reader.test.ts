import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { EventSourceMessage } from "eventsource-parser";
import { readSse } from "../../src/proxy/lean-sse-reader.ts";

/** A body that yields `chunks` one by one, each on its own read, as a socket would. */
function bodyOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (index < chunks.length) controller.enqueue(chunks[index++] as Uint8Array);
      else controller.close();
    },
  });
}

/** `text` as UTF-8, cut before every offset in `cuts`. */
function cutAt(text: string, cuts: number[]): Uint8Array[] {
  const bytes = new TextEncoder().encode(text);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  return chunks;
}

async function eventsOf(chunks: Uint8Array[]): Promise<{ events: EventSourceMessage[]; retries: number[] }> {
  const events: EventSourceMessage[] = [];
  const retries: number[] = [];
  await readSse(
    bodyOf(chunks),
    (event) => events.push(event),
    (ms) => retries.push(ms),
  );
  return { events, retries };
}

const STREAM =
  'id: 1\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n' +
  "retry: 250\n" +
  ": a comment line\n" +
  'id: 2\r\ndata: {"jsonrpc":"2.0",\r\ndata: "id":1,"result":{"text":"grüße ✓"}}\r\n\r\n';

describe("readSse", () => {
  test("parses events, ids, event types, retry, comments, CRLF and multi-line data from one chunk", async () => {
    const { events, retries } = await eventsOf([new TextEncoder().encode(STREAM)]);
    assert.equal(events.length, 2);
    assert.deepEqual(events[0], {
      id: "1",
      event: "message",
      data: '{"jsonrpc":"2.0","method":"notifications/progress"}',
    });
    assert.equal(events[1]?.id, "2");
    assert.equal(events[1]?.event, undefined);
    // Two data lines join with a newline, as the SSE spec says.
    assert.equal(events[1]?.data, '{"jsonrpc":"2.0",\n"id":1,"result":{"text":"grüße ✓"}}');
    assert.deepEqual(JSON.parse(events[1]?.data ?? ""), { jsonrpc: "2.0", id: 1, result: { text: "grüße ✓" } });
    assert.deepEqual(retries, [250]);
  });

  test("gives the same events wherever the chunks are cut: inside fields, between CR and LF, inside a UTF-8 character", async () => {
    const whole = await eventsOf([new TextEncoder().encode(STREAM)]);
    const length = new TextEncoder().encode(STREAM).length;
    // Every single cut position, then every pair of cuts a few bytes apart (covers split multi-byte characters).
    for (let cut = 1; cut < length; cut++) {
      assert.deepEqual(await eventsOf(cutAt(STREAM, [cut])), whole, `cut at byte ${cut}`);
    }
    for (let first = 1; first < length - 3; first += 3) {
      for (const gap of [1, 2, 3]) {
        assert.deepEqual(await eventsOf(cutAt(STREAM, [first, first + gap])), whole, `cuts at ${first}+${gap}`);
      }
    }
    // One byte per read.
    const bytes = new TextEncoder().encode(STREAM);
    assert.deepEqual(await eventsOf([...bytes].map((byte) => Uint8Array.of(byte))), whole);
  });

  test("a 5 MB event split over many reads arrives whole, once", async () => {
    const payload = "x".repeat(5_000_000);
    const text = `data: {"jsonrpc":"2.0","id":7,"result":{"text":"${payload}"}}\n\n`;
    const cuts: number[] = [];
    for (let at = 65_536; at < text.length; at += 65_536) cuts.push(at);
    const { events } = await eventsOf(cutAt(text, cuts));
    assert.equal(events.length, 1);
    const message = JSON.parse(events[0]?.data ?? "") as { result: { text: string } };
    assert.equal(message.result.text.length, 5_000_000);
  });

  test("an event without its closing blank line is not delivered when the stream ends", async () => {
    const { events } = await eventsOf([new TextEncoder().encode('data: {"complete":true}\n\ndata: {"cut":')]);
    assert.deepEqual(
      events.map((event) => event.data),
      ['{"complete":true}'],
    );
  });

  test("rejects when the body breaks, after delivering what came before", async () => {
    const events: string[] = [];
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return controller.error(new Error("socket hang up"));
        sent = true;
        controller.enqueue(new TextEncoder().encode("data: first\n\n"));
      },
    });
    await assert.rejects(
      readSse(body, (event) => events.push(event.data)),
      /socket hang up/,
    );
    assert.deepEqual(events, ["first"]);
  });
});
