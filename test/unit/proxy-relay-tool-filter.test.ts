// Hidden tools on the pass-through relay: which POSTs are answered by the proxy, which answers are held and
// filtered, and how a held JSON or event-stream answer comes out.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { filterHeldToolLists, screenToolRequests } from "../../src/proxy/relay-tool-filter.ts";
import { ToolFilter } from "../../src/proxy/tool-filter.ts";

const filter = new ToolFilter(["delete_*"]);
const body = (value: unknown) => Buffer.from(JSON.stringify(value));
const call = (id: number, name: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name } });
const list = (id: number | string) => ({ jsonrpc: "2.0", id, method: "tools/list" });
const listed = (id: number | string, ...names: string[]) => ({
  jsonrpc: "2.0",
  id,
  result: { tools: names.map((name) => ({ name })) },
});

describe("screenToolRequests", () => {
  test("a hidden tool's call is answered here; a shown one and other requests pass", () => {
    const refused = screenToolRequests(filter, body(call(1, "delete_issue")));
    assert.equal(refused.kind, "refuse");
    const answer = JSON.parse(refused.kind === "refuse" ? refused.answer : "{}");
    assert.equal(answer.id, 1);
    assert.equal(answer.error.code, -32602);
    assert.deepEqual(screenToolRequests(filter, body(call(2, "create_issue"))), { kind: "pass" });
    assert.deepEqual(screenToolRequests(filter, body({ jsonrpc: "2.0", id: 3, method: "ping" })), { kind: "pass" });
    assert.deepEqual(screenToolRequests(filter, Buffer.from("not json")), { kind: "pass" }, "the upstream refuses it");
    assert.deepEqual(screenToolRequests(filter, undefined), { kind: "pass" });
  });

  test("a batch with a hidden call is refused whole: every request in it gets an answer", () => {
    const screen = screenToolRequests(
      filter,
      body([call(1, "create_issue"), call(2, "delete_issue"), { jsonrpc: "2.0", method: "notifications/x" }]),
    );
    assert.equal(screen.kind, "refuse");
    const answers = JSON.parse(screen.kind === "refuse" ? screen.answer : "[]") as Array<{
      id: number;
      error: { code: number; message: string };
    }>;
    assert.deepEqual(
      answers.map((answer) => [answer.id, answer.error.code]),
      [
        [1, -32600],
        [2, -32602],
      ],
    );
    assert.match(answers[0]?.error.message ?? "", /Send the other requests again without it/);
  });

  test("tools/list requests are named, for their answer to be held and filtered", () => {
    assert.deepEqual(screenToolRequests(filter, body(list(5))), { kind: "filter-lists", ids: new Set([5]) });
    assert.deepEqual(screenToolRequests(filter, body([list("a"), call(6, "create_issue"), list("b")])), {
      kind: "filter-lists",
      ids: new Set(["a", "b"]),
    });
  });
});

describe("filterHeldToolLists", () => {
  test("a JSON answer, one message or a batch: only the named responses are filtered", () => {
    const one = filterHeldToolLists(filter, body(listed(5, "a", "delete_b")), "application/json", new Set([5]));
    assert.deepEqual(JSON.parse(one?.toString() ?? ""), listed(5, "a"));
    const batch = filterHeldToolLists(
      filter,
      body([listed(1, "delete_x", "y"), listed(2, "delete_x")]),
      "application/json; charset=utf-8",
      new Set([1]),
    );
    assert.deepEqual(JSON.parse(batch?.toString() ?? ""), [listed(1, "y"), listed(2, "delete_x")]);
  });

  test("an event stream: every event written again with its id and type, the list filtered, notifications kept", () => {
    const stream = [
      "id: prime-1\ndata: \n\n",
      "retry: 1000\n\n",
      `event: message\nid: ev-2\ndata: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info" } })}\n\n`,
      ": a comment\n",
      `event: message\nid: ev-3\ndata: ${JSON.stringify(listed(9, "delete_all", "read"))}\n\n`,
    ].join("");
    const out = filterHeldToolLists(filter, Buffer.from(stream), "text/event-stream", new Set([9]))?.toString() ?? "";
    const events = out.split("\n\n").filter(Boolean);
    assert.deepEqual(events[0], "id: prime-1\ndata: ");
    assert.deepEqual(events[1], "retry: 1000");
    assert.match(events[2] ?? "", /^id: ev-2\nevent: message\ndata: \{.*notifications\/message/);
    assert.equal(events[3], `id: ev-3\nevent: message\ndata: ${JSON.stringify(listed(9, "read"))}`);
    assert.equal(events.length, 4);
  });

  test("an answer that cannot be read is not passed on", () => {
    assert.equal(
      filterHeldToolLists(filter, Buffer.from('{"jsonrpc":"2.0","id":5,"res'), "application/json", new Set([5])),
      undefined,
    );
    assert.equal(
      filterHeldToolLists(filter, Buffer.from("data: {broken\n\n"), "text/event-stream", new Set([5])),
      undefined,
    );
  });
});
