// Hidden tools (--ignore-tool) on the HTTP face, with real SDK clients of both eras in front of fixture upstreams of
// every wire behind the test AS: a 2025 session server (the pass-through relay), a 2026-07-28-only server (the era
// bridge for 2025 clients, the pass-through for 2026 ones) and a legacy HTTP+SSE server (the bridges). On every
// path the hidden tools are missing from tools/list, a call of one is refused with -32602 and never reaches the
// upstream, the other tools work, and the catch-all relay (which would reach the upstream's endpoint as bytes) is off.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { McpTransportMode } from "../fixtures/mcp-server.ts";
import {
  countOf,
  legacyClient,
  legacyTransport,
  modernClient,
  modernTransport,
  rejectsAsHidden,
  textOf,
} from "./support/era-clients.ts";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";

const HIDDEN = ["ADD", "slow_*"];

interface SomeClient {
  listTools(): Promise<{ tools: Array<{ name: string }> }>;
  callTool(request: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
  close(): Promise<void>;
}

async function checkHidden(h: FaceHarness, client: SomeClient): Promise<void> {
  const names = (await client.listTools()).tools.map((tool) => tool.name);
  assert.ok(names.includes("echo"), names.join(","));
  assert.ok(!names.includes("add"), `add is hidden: ${names.join(",")}`);
  assert.ok(!names.includes("slow_progress"), `slow_progress is hidden: ${names.join(",")}`);
  const calls = countOf(h.mcp, "tools/call");
  await rejectsAsHidden(client.callTool({ name: "add", arguments: { a: 1, b: 2 } }), "add", "ADD");
  await assert.rejects(client.callTool({ name: "Slow_Progress", arguments: { steps: 1 } }), /--ignore-tool "slow_\*"/);
  assert.equal(countOf(h.mcp, "tools/call"), calls, "no hidden call reached the upstream");
  assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "shown" } })), "shown");
}

const UPSTREAMS: Array<[string, McpTransportMode, Array<"v1 /mcp" | "v1 /sse" | "v2 2026-07-28">]> = [
  ["a 2025 session upstream", "streamable-stateful", ["v1 /mcp", "v1 /sse", "v2 2026-07-28"]],
  ["a 2026-07-28-only upstream", "2026", ["v1 /mcp", "v1 /sse", "v2 2026-07-28"]],
  ["a legacy HTTP+SSE upstream", "sse", ["v1 /mcp", "v1 /sse", "v2 2026-07-28"]],
];

for (const [upstreamName, mode, clients] of UPSTREAMS) {
  describe(`HTTP face with --ignore-tool, in front of ${upstreamName}`, () => {
    let h: FaceHarness;
    before(async () => {
      h = await startFaceHarness({ mcpServer: { transport: mode }, serve: { ignoreTools: HIDDEN } });
      await h.signedIn();
    });
    after(async () => {
      await h?.close();
    });

    for (const kind of clients) {
      test(`${kind} client: hidden tools are not listed, their calls are refused here`, async () => {
        if (kind === "v2 2026-07-28") {
          const { client } = modernClient(`hidden-${mode}-modern`);
          await client.connect(modernTransport(h.mcpUrl));
          try {
            await checkHidden(h, client);
          } finally {
            await client.close();
          }
          return;
        }
        const { client } = legacyClient(`hidden-${mode}-${kind}`);
        await client.connect(legacyTransport(h.face.url, kind === "v1 /mcp" ? "/mcp" : "/sse"));
        try {
          await checkHidden(h, client);
        } finally {
          await client.close();
        }
      });
    }

    test("the catch-all relay is off: other upstream paths answer 404 saying why; the status page names the patterns", async () => {
      for (const path of ["/anything", "/mcp-raw"]) {
        const response = await fetch(`${h.face.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
        });
        assert.equal(response.status, 404, path);
        assert.match(await response.text(), /catch-all relay is off .*--ignore-tool/);
      }
      const page = await (await fetch(`${h.face.url}/`)).text();
      assert.match(
        page,
        /Hidden from clients \(<code>--ignore-tool<\/code>\): <code>ADD<\/code> <code>slow_\*<\/code>/,
      );
    });
  });
}
