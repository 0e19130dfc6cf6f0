// Hidden tools (--ignore-tool): which names a pattern hides, what a hidden tool's call is answered with, and what is
// left of a tools/list result.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JSONRPCMessage } from "@modelcontextprotocol/client";
import { ToolFilter, toolFilterOf } from "../../src/proxy/tool-filter.ts";

describe("ToolFilter", () => {
  test("a pattern is the whole name, * any characters, case ignored; regex characters are literal", () => {
    const filter = new ToolFilter(["delete_*", "Admin", "*.write", "a+b"]);
    assert.equal(filter.hiding("delete_issue"), "delete_*");
    assert.equal(filter.hiding("DELETE_ISSUE"), "delete_*");
    assert.equal(filter.hiding("delete_"), "delete_*");
    assert.equal(filter.hiding("undelete_issue"), undefined, "anchored at the start");
    assert.equal(filter.hiding("admin"), "Admin");
    assert.equal(filter.hiding("admin_action"), undefined, "anchored at the end");
    assert.equal(filter.hiding("files.write"), "*.write");
    assert.equal(filter.hiding("filesXwrite"), undefined, "a dot is a dot");
    assert.equal(filter.hiding("a+b"), "a+b");
    assert.equal(filter.hiding("aab"), undefined);
    assert.equal(filter.hiding(undefined), undefined);
    assert.equal(filter.hiding(42), undefined);
  });

  test("a hidden tool's call is answered with -32602 naming the pattern; other messages are not", () => {
    const filter = new ToolFilter(["delete_*"]);
    const call = (name: unknown) =>
      ({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name, arguments: {} } }) as JSONRPCMessage;
    const refusal = filter.refusal(call("delete_issue")) as { id: number; error: { code: number; message: string } };
    assert.equal(refusal.id, 7);
    assert.equal(refusal.error.code, -32602);
    assert.match(refusal.error.message, /^Unknown tool: delete_issue\. .*--ignore-tool "delete_\*"/);
    assert.equal(filter.refusal(call("create_issue")), undefined);
    assert.equal(
      filter.refusal({ jsonrpc: "2.0", method: "tools/call", params: { name: "delete_x" } } as JSONRPCMessage),
      undefined,
      "a notification is not answered",
    );
    assert.equal(filter.refusal({ jsonrpc: "2.0", id: 1, method: "tools/list" } as JSONRPCMessage), undefined);
    assert.equal(filter.refusal({ jsonrpc: "2.0", id: 1, result: {} } as JSONRPCMessage), undefined);
  });

  test("tools/list results lose the hidden tools, keep everything else; an error or an unchanged list is the same object", () => {
    const filter = new ToolFilter(["delete_*"]);
    const list = {
      jsonrpc: "2.0",
      id: 3,
      result: {
        tools: [{ name: "create_issue" }, { name: "delete_issue" }, { name: "Delete_Repo" }],
        nextCursor: "c2",
        _meta: { k: 1 },
      },
    } as unknown as JSONRPCMessage;
    assert.deepEqual(filter.filterList(list), {
      jsonrpc: "2.0",
      id: 3,
      result: { tools: [{ name: "create_issue" }], nextCursor: "c2", _meta: { k: 1 } },
    });
    assert.equal(
      (list as unknown as { result: { tools: unknown[] } }).result.tools.length,
      3,
      "the original is not changed",
    );
    const clean = { jsonrpc: "2.0", id: 4, result: { tools: [{ name: "create_issue" }] } } as unknown as JSONRPCMessage;
    assert.equal(filter.filterList(clean), clean);
    const error = { jsonrpc: "2.0", id: 5, error: { code: -32603, message: "x" } } as JSONRPCMessage;
    assert.equal(filter.filterList(error), error);
  });

  test("no patterns: no filter at all", () => {
    assert.equal(toolFilterOf(undefined), undefined);
    assert.equal(toolFilterOf([]), undefined);
    assert.ok(toolFilterOf(["x"]) instanceof ToolFilter);
  });
});
