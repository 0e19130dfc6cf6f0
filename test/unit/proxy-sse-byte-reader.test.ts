import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createParser } from "eventsource-parser";
import { SseByteReader, type SseEvent, type StreamedData } from "../../src/proxy/sse-byte-reader.ts";

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

type Seen = { id: string | undefined; event: string | undefined; data: string };

function eventsOf(chunks: Uint8Array[]): { events: Seen[]; retries: number[] } {
  const events: Seen[] = [];
  const retries: number[] = [];
  const reader = new SseByteReader({
    onEvent: (event: SseEvent) => {
      // Only dispatched events, as eventsource-parser reports them (an id-only event just moves the last id).
      if (event.data !== "" || !event.streamed) events.push({ id: event.id, event: event.event, data: event.data });
    },
    onRetry: (ms) => retries.push(ms),
  });
  for (const chunk of chunks) reader.feed(chunk);
  reader.end();
  return { events, retries };
}

/** What eventsource-parser, the reference the proxy used before, makes of the same text. */
function referenceEventsOf(text: string): Seen[] {
  const events: Seen[] = [];
  const parser = createParser({
    onEvent: (event) => events.push({ id: event.id, event: event.event, data: event.data }),
  });
  // It holds a final CR back until it sees whether an LF follows; the LF settles that without adding a line.
  parser.feed(`${text}\n`);
  return events;
}

const STREAM =
  'id: 1\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n' +
  "retry: 250\n" +
  ": a comment line\n" +
  'id: 2\r\ndata: {"jsonrpc":"2.0",\r\ndata: "id":1,"result":{"text":"grüße ✓"}}\r\n\r\n' +
  "data:no space after the colon\rdata\r\r";

/** A sink that records what it is given. */
function recordingSink(): StreamedData & { bytes: Buffer[]; ended: boolean; aborted: unknown } {
  const sink = {
    bytes: [] as Buffer[],
    ended: false,
    aborted: undefined as unknown,
    write(bytes: Buffer) {
      sink.bytes.push(Buffer.from(bytes));
      return undefined;
    },
    end() {
      sink.ended = true;
    },
    abort(reason: unknown) {
      sink.aborted = reason;
    },
  };
  return sink;
}

describe("SseByteReader", () => {
  test("parses events, ids, event types, retry, comments, CRLF, CR and multi-line data from one chunk", () => {
    const { events, retries } = eventsOf([new TextEncoder().encode(STREAM)]);
    assert.equal(events.length, 3);
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
    assert.equal(events[2]?.data, "no space after the colon\n");
    assert.deepEqual(retries, [250]);
  });

  test("agrees with eventsource-parser on the events of the same stream", () => {
    assert.deepEqual(eventsOf([new TextEncoder().encode(STREAM)]).events, referenceEventsOf(STREAM));
  });

  test("gives the same events wherever the chunks are cut: inside fields, between CR and LF, inside a UTF-8 character", () => {
    const whole = eventsOf([new TextEncoder().encode(STREAM)]);
    const length = new TextEncoder().encode(STREAM).length;
    for (let cut = 1; cut < length; cut++) {
      assert.deepEqual(eventsOf(cutAt(STREAM, [cut])), whole, `cut at byte ${cut}`);
    }
    for (let first = 1; first < length - 3; first += 3) {
      for (const gap of [1, 2, 3]) {
        assert.deepEqual(eventsOf(cutAt(STREAM, [first, first + gap])), whole, `cuts at ${first}+${gap}`);
      }
    }
    const bytes = new TextEncoder().encode(STREAM);
    assert.deepEqual(eventsOf([...bytes].map((byte) => Uint8Array.of(byte))), whole);
  });

  test("a 5 MB event split over many reads arrives whole, once, when no sink is offered", () => {
    const payload = "x".repeat(5_000_000);
    const text = `data: {"jsonrpc":"2.0","id":7,"result":{"text":"${payload}"}}\n\n`;
    const cuts: number[] = [];
    for (let at = 65_536; at < text.length; at += 65_536) cuts.push(at);
    const { events } = eventsOf(cutAt(text, cuts));
    assert.equal(events.length, 1);
    const message = JSON.parse(events[0]?.data ?? "") as { result: { text: string } };
    assert.equal(message.result.text.length, 5_000_000);
  });

  test("an event without its closing blank line is not delivered when the stream ends", () => {
    const { events } = eventsOf([new TextEncoder().encode('data: {"complete":true}\n\ndata: {"cut":')]);
    assert.deepEqual(
      events.map((event) => event.data),
      ['{"complete":true}'],
    );
  });

  test("a large event's data goes to the sink as it arrives, byte for byte, wherever the chunks are cut", () => {
    const data = `{"jsonrpc":"2.0","id":3,"result":{"text":"${"é".repeat(3_000)}"}}`;
    const second = '{"more":1}';
    const text = `event: message\nid: 9\ndata: ${data}\ndata: ${second}\n\ndata: {"after":true}\n\n`;
    for (const cut of [1, 20, 40, 1_000, 2_000, 5_000, 6_020, 6_070]) {
      const events: SseEvent[] = [];
      const sink = recordingSink();
      let prefix: Buffer | undefined;
      const reader = new SseByteReader({
        onEvent: (event) => events.push(event),
        largeDataBytes: 1_000,
        onLargeData: (soFar, event) => {
          assert.equal(event, "message");
          prefix = Buffer.from(soFar);
          return sink;
        },
      });
      for (const chunk of cutAt(text, [cut])) reader.feed(chunk);
      reader.end();
      assert.ok(prefix && prefix.length > 1_000, `cut ${cut}: offered once past the threshold`);
      const streamed = Buffer.concat([prefix, ...sink.bytes]).toString("utf8");
      assert.equal(streamed, `${data}\n${second}`, `cut ${cut}: the data, data lines joined with LF`);
      assert.equal(sink.ended, true);
      assert.equal(sink.aborted, undefined);
      assert.deepEqual(
        events.map((event) => [event.id, event.streamed, event.data]),
        [
          ["9", true, ""],
          [undefined, false, '{"after":true}'],
        ],
        `cut ${cut}`,
      );
    }
  });

  test("a declined large event is collected whole, the same as without the offer", () => {
    const data = `{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"${"y".repeat(5_000)}"}}`;
    const text = `data: ${data.slice(0, 2_000)}\ndata: ${data.slice(2_000)}\n\n`;
    for (const cut of [500, 1_500, 2_010, 4_000]) {
      const events: SseEvent[] = [];
      let offers = 0;
      const reader = new SseByteReader({
        onEvent: (event) => events.push(event),
        largeDataBytes: 1_000,
        onLargeData: () => {
          offers++;
          return undefined;
        },
      });
      for (const chunk of cutAt(text, [cut])) reader.feed(chunk);
      assert.equal(offers, 1, `cut ${cut}`);
      assert.equal(events.length, 1);
      assert.equal(events[0]?.data, `${data.slice(0, 2_000)}\n${data.slice(2_000)}`, `cut ${cut}`);
    }
  });

  test("a stream that ends inside a streamed event aborts the sink; the reader waits for a slow sink", async () => {
    const sink = recordingSink();
    let release: () => void = () => {};
    sink.write = (bytes: Buffer) => {
      sink.bytes.push(Buffer.from(bytes));
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    };
    const reader = new SseByteReader({ onEvent: () => {}, largeDataBytes: 10, onLargeData: () => sink });
    assert.equal(reader.feed(new TextEncoder().encode('data: {"result":"')), undefined);
    const wait = reader.feed(new TextEncoder().encode("a long value"));
    assert.ok(wait instanceof Promise, "the sink's wait is handed to the caller");
    release();
    await wait;
    reader.end(new Error("socket hang up"));
    assert.match(String(sink.aborted), /socket hang up/);
    assert.equal(sink.ended, false);
  });
});
