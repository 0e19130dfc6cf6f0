// Cancellation across the revision bridge on the HTTP face, seen from both ends: the client's call settles, the
// upstream's tool stops (its request signal aborts: the fixture records it), and the next call works. Bridge A: a
// 2025 client (SDK v1) on /mcp and on /sse cancels with notifications/cancelled, which closes the upstream's
// 2026-07-28 request stream. Bridge B: a 2026-07-28 client (SDK v2, pinned) on /mcp closes its request stream,
// which becomes notifications/cancelled in the proxy's 2025 session.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { McpTransportMode } from "../fixtures/mcp-server.ts";
import {
  countOf,
  legacyClient,
  legacyTransport,
  modernClient,
  modernTransport,
  textOf,
  until,
} from "./support/era-clients.ts";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";

interface Caller {
  call(name: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<unknown>;
  close(): Promise<void>;
}

const ROUTES: Array<{ name: string; upstream: McpTransportMode; connect(h: FaceHarness): Promise<Caller> }> = [
  ...(["/mcp", "/sse"] as const).map((path) => ({
    name: `${path}, 2025 client (SDK v1) → 2026-07-28-only upstream`,
    upstream: "2026" as const,
    async connect(h: FaceHarness): Promise<Caller> {
      const { client } = legacyClient(`era-cancel${path}`);
      await client.connect(legacyTransport(h.face.url, path));
      return {
        call: (name, args, signal) => client.callTool({ name, arguments: args }, undefined, { signal }),
        close: () => client.close(),
      };
    },
  })),
  {
    name: "/mcp, 2026-07-28 client (SDK v2, pinned) → 2025-only upstream",
    upstream: "streamable-stateful",
    async connect(h: FaceHarness): Promise<Caller> {
      const { client } = modernClient("era-cancel-modern");
      await client.connect(modernTransport(h.mcpUrl));
      return {
        call: (name, args, signal) => client.callTool({ name, arguments: args }, { signal }),
        close: () => client.close(),
      };
    },
  },
];

for (const route of ROUTES) {
  describe(`HTTP face ${route.name}: cancellation`, () => {
    let h: FaceHarness;
    let caller: Caller;
    before(async () => {
      h = await startFaceHarness({ mcpServer: { transport: route.upstream } });
      await h.signedIn();
      caller = await route.connect(h);
    });
    after(async () => {
      await caller?.close();
      await h?.close();
    });

    test("a cancelled call settles, the upstream's tool stops, and the next calls work", async () => {
      for (let round = 0; round < 2; round++) {
        const callsBefore = countOf(h.mcp, "tools/call");
        const cancelledBefore = h.mcp.stats.cancelledTools.length;
        const controller = new AbortController();
        const call = caller.call("sleep", { ms: 60_000 }, controller.signal);
        await until(() => countOf(h.mcp, "tools/call") > callsBefore);
        assert.ok(countOf(h.mcp, "tools/call") > callsBefore, "the call reached the upstream");
        controller.abort("test cancels");
        await assert.rejects(call);
        await until(() => h.mcp.stats.cancelledTools.length > cancelledBefore);
        assert.deepEqual(h.mcp.stats.cancelledTools.slice(cancelledBefore), ["sleep"], "the upstream's tool stopped");
        if (route.upstream === "streamable-stateful") {
          assert.ok(countOf(h.mcp, "notifications/cancelled") > round, "notifications/cancelled in the 2025 session");
        }
        assert.equal(textOf(await caller.call("echo", { text: `after ${round}` })), `after ${round}`);
      }
    });
  });
}
