// Mcp-Param-* headers through the revision bridge on the HTTP face: a 2025 client (SDK v1, Streamable HTTP on /mcp
// and legacy SSE on /sse) calls a tool of a strict 2026-07-28-only upstream (SDK v2, `legacy: "reject"`) whose
// inputSchema annotates arguments with `x-mcp-header`. The 2025 client knows nothing of those headers; the proxy
// must stamp them from the tools/list it saw (or lists the tools itself first), and drop the tools whose
// annotations are invalid, as the 2026-07-28 Streamable HTTP transport tells a client to. The upstream records the
// headers as they arrived, and refuses a call whose headers disagree with its arguments.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { ServeHandle } from "../../src/app/serve.ts";
import { type ModernInputsServer, startModernInputsServer } from "../fixtures/modern-inputs-server.ts";
import { legacyTransport, textOf } from "./support/era-clients.ts";
import { staticFace } from "./support/raw-upstream.ts";

const TOKEN = `inputs-token-${process.pid}`;

/** The Mcp-Param-* headers of a recorded request, by lower-case name. */
function paramHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith("mcp-param-")));
}

for (const path of ["/mcp", "/sse"] as const) {
  describe(`HTTP face ${path}, 2025 client (SDK v1) → 2026-07-28-only upstream with x-mcp-header tools`, () => {
    let upstream: ModernInputsServer;
    let face: ServeHandle;
    let logs: string[];
    const clients: Client[] = [];
    const connect = async (name: string) => {
      const client = new Client({ name, version: "1.0.0" }, { capabilities: {} });
      await client.connect(legacyTransport(face.url, path));
      clients.push(client);
      return client;
    };
    before(async () => {
      upstream = await startModernInputsServer(TOKEN);
      ({ face, logs } = await staticFace(upstream.url, { Authorization: `Bearer ${TOKEN}` }, { signInAtStart: false }));
    });
    after(async () => {
      for (const client of clients) await client.close();
      await face?.close();
      await upstream?.close();
    });

    test("tools with invalid x-mcp-header annotations are dropped from tools/list, the others kept as sent", async () => {
      const client = await connect("param-headers-list");
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((tool) => tool.name).sort(), ["ask_roots", "ask_url", "route"]);
      const route = tools.find((tool) => tool.name === "route");
      const region = route?.inputSchema.properties?.region as Record<string, unknown> | undefined;
      assert.equal(region?.["x-mcp-header"], "Region");
      for (const dropped of ["bad_in_items", "bad_object_header", "bad_twice"]) {
        assert.ok(
          logs.some((line) => line.includes(`tool ${dropped} is left out`)),
          `the proxy says why ${dropped} is missing`,
        );
      }
    });

    test("a tools/call after tools/list carries Mcp-Param-* for each annotated argument given, none for the rest", async () => {
      const client = await connect("param-headers-call");
      await client.listTools();
      const before = upstream.callsOf("route").length;
      const args = { region: "eu-west-1", priority: 3, dryRun: false, note: "not a header" };
      assert.deepEqual(JSON.parse(textOf(await client.callTool({ name: "route", arguments: args })) ?? "null"), args);
      const calls = upstream.callsOf("route").slice(before);
      assert.equal(calls.length, 1);
      const headers = calls[0]?.headers ?? {};
      assert.deepEqual(paramHeaders(headers), {
        "mcp-param-region": "eu-west-1",
        "mcp-param-priority": "3",
        "mcp-param-dry-run": "false",
      });
      assert.equal(headers["mcp-method"], "tools/call");
      assert.equal(headers["mcp-name"], "route");
      assert.equal(headers["mcp-protocol-version"], "2026-07-28");

      // An argument left out gets no header; a value that is not plain visible ASCII goes base64 (=?base64?…?=).
      await client.callTool({ name: "route", arguments: { region: "Zürich" } });
      const second = upstream.callsOf("route").at(-1)?.headers ?? {};
      assert.deepEqual(paramHeaders(second), {
        "mcp-param-region": `=?base64?${Buffer.from("Zürich").toString("base64")}?=`,
      });
    });

    test("a tools/call on a fresh connection that never listed the tools still carries its headers", async () => {
      const client = await connect("param-headers-no-list");
      const listsBefore = upstream.requests.filter((r) => r.body.method === "tools/list").length;
      const text = textOf(await client.callTool({ name: "route", arguments: { region: "us-east-2", priority: 7 } }));
      assert.deepEqual(JSON.parse(text ?? "null"), { region: "us-east-2", priority: 7 });
      assert.deepEqual(paramHeaders(upstream.callsOf("route").at(-1)?.headers ?? {}), {
        "mcp-param-region": "us-east-2",
        "mcp-param-priority": "7",
      });
      // The proxy listed the tools itself to learn the annotations.
      assert.equal(upstream.requests.filter((r) => r.body.method === "tools/list").length, listsBefore + 1);
    });
  });
}
