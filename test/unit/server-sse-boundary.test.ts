// Where a keep-alive comment may go in an SSE byte stream: only where the stream so far ends with a blank line (or
// has not started), whatever the line ends (LF, CRLF, CR) and however the chunks split them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SseBoundary } from "../../src/server/sse-boundary.ts";

function after(...chunks: (string | Uint8Array)[]): boolean {
  const boundary = new SseBoundary();
  for (const chunk of chunks) boundary.feed(chunk);
  return boundary.atBoundary;
}

test("before anything was written, and after whole events, a comment may go", () => {
  assert.equal(after(), true);
  assert.equal(after(""), true);
  assert.equal(after("event: message\ndata: {}\n\n"), true);
  assert.equal(after("data: {}\r\n\r\n"), true);
  assert.equal(after("data: a\r\n\n"), true);
  assert.equal(after("data: a\n\r\n"), true);
  assert.equal(after("data: a\r\r\n"), true);
  assert.equal(after("\n"), true, "a blank first line");
  assert.equal(after(": keep-alive\n\n"), true);
});

test("inside an event, no comment", () => {
  assert.equal(after("data: {"), false);
  assert.equal(after("data: {}\n"), false, "one line ended, the event not");
  assert.equal(after("data: {}\r\n"), false);
  assert.equal(after("id: 1\ndata: {}\r\n\r"), false, "a trailing CR may be half of a CRLF");
  assert.equal(after("data: a\r\r"), false, "bare CRs only: never a boundary (not followed)");
});

test("chunks split anywhere, strings or bytes, give the same answer as the whole stream", () => {
  const stream = 'id: 7\r\nevent: message\r\ndata: {"jsonrpc":"2.0"}\r\n\r\ndata: x\n\ndata: y\n';
  for (let end = 0; end <= stream.length; end++) {
    const whole = stream.slice(0, end);
    const expected = after(whole);
    for (let cut = 0; cut <= end; cut++) {
      const [head, tail] = [whole.slice(0, cut), whole.slice(cut)];
      assert.equal(after(head, tail), expected, `${JSON.stringify(whole)} cut at ${cut}`);
      assert.equal(after(Buffer.from(head), Buffer.from(tail)), expected, `bytes: ${JSON.stringify(whole)} at ${cut}`);
    }
  }
});

test("a chunk of one byte at a time keeps the answer", () => {
  const boundary = new SseBoundary();
  const stream = "data: 1\r\n\r\ndata: 2\n\n";
  const seen: boolean[] = [];
  for (const char of stream) {
    boundary.feed(char);
    seen.push(boundary.atBoundary);
  }
  const atEnds = seen.flatMap((value, index) => (value ? [index] : []));
  assert.deepEqual(atEnds, [10, 19]);
});
