import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JsonOutline } from "../../src/proxy/json-outline.ts";

/** The outline of `text` fed in pieces cut at `every` bytes (1: byte by byte). */
function outlineOf(text: string, every = Number.POSITIVE_INFINITY): JsonOutline {
  const outline = new JsonOutline();
  const bytes = Buffer.from(text, "utf8");
  for (let at = 0; at < bytes.length; at += Math.min(every, bytes.length)) {
    outline.feed(bytes.subarray(at, Math.min(at + every, bytes.length)));
  }
  return outline;
}

describe("JsonOutline", () => {
  const response = JSON.stringify({
    result: { content: [{ type: "text", text: 'a "quoted" \\ text {not [structure]}, "id": 9' }], nested: { id: 8 } },
    jsonrpc: "2.0",
    id: 42,
  });

  test("reads the top-level keys and id, not the nested ones, wherever the bytes are cut", () => {
    for (const every of [1, 2, 3, 7, 64, Number.POSITIVE_INFINITY]) {
      const outline = outlineOf(response, every);
      assert.deepEqual(outline.keys, ["result", "jsonrpc", "id"], `pieces of ${every}`);
      assert.equal(outline.id, 42, `pieces of ${every}`);
      assert.equal(outline.complete, true, `pieces of ${every}`);
    }
  });

  test("string ids, escaped keys, whitespace and line breaks between tokens", () => {
    const outline = outlineOf('\n {\r\n "jsonrpc" : "2.0",\n "i\\u0064": "req-\\"7\\"" ,\t"error":{"code":-1}\n}\n ');
    assert.deepEqual(outline.keys, ["jsonrpc", "id", "error"]);
    assert.equal(outline.id, 'req-"7"');
    assert.equal(outline.complete, true);
  });

  test("incomplete, unbalanced, mismatched or trailing text is not complete", () => {
    for (const text of [
      '{"result":{"text":"cut',
      '{"result":{}',
      '{"result":[}]}',
      '{"result":{}} {"second":1}',
      '["not an object"]',
      'x{"result":1}',
    ]) {
      assert.equal(outlineOf(text).complete, false, text);
    }
    assert.equal(outlineOf('{"result":{}').valid, true, "a prefix is still valid");
    assert.equal(outlineOf('{"result":[}').valid, false);
  });

  test("a text full of escapes stays cheap to follow (each search runs once per occurrence)", () => {
    const text = JSON.stringify({ result: { text: '\\"'.repeat(200_000) }, jsonrpc: "2.0", id: 1 });
    const outline = outlineOf(text, 65_536);
    assert.equal(outline.complete, true);
    assert.equal(outline.id, 1);
  });
});
