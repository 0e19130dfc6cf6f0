// OAuth across the revision bridge on the HTTP face, with the real test AS and fixture upstreams: 5 s access tokens
// refreshed while a bridged client keeps calling, and step-up (403 insufficient_scope → a new sign-in for the wider
// scope → the call replayed). Bridge A: a 2025 client (SDK v1) on /mcp and on /sse in front of a 2026-07-28-only
// upstream. Bridge B: a 2026-07-28 client (SDK v2, pinned) on /mcp in front of a 2025-only upstream, whose 2025
// session must outlive the tokens it was opened with.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { McpTransportMode } from "../fixtures/mcp-server.ts";
import {
  countOf,
  legacyClient,
  legacyTransport,
  modernClient,
  modernTransport,
  pause,
  textOf,
} from "./support/era-clients.ts";
import { type FaceHarness, type FaceHarnessOptions, startFaceHarness } from "./support/http-face-harness.ts";

/** One way through the bridge: which client on which path, in front of which upstream. */
interface Route {
  name: string;
  upstream: McpTransportMode;
  /** Connects a client that answers sampling; `call` calls a tool, `close` ends it. */
  connect(h: FaceHarness): Promise<{
    call(name: string, args: Record<string, unknown>): Promise<unknown>;
    close(): Promise<void>;
    sample: string;
  }>;
}

const ROUTES: Route[] = [
  ...(["/mcp", "/sse"] as const).map(
    (path): Route => ({
      name: `${path}, 2025 client (SDK v1) → 2026-07-28-only upstream`,
      upstream: "2026",
      async connect(h) {
        const { client } = legacyClient(`era-auth${path}`);
        await client.connect(legacyTransport(h.face.url, path));
        return {
          call: (name, args) => client.callTool({ name, arguments: args }),
          close: () => client.close(),
          sample: "legacy sample",
        };
      },
    }),
  ),
  {
    name: "/mcp, 2026-07-28 client (SDK v2, pinned) → 2025-only upstream",
    upstream: "streamable-stateful",
    async connect(h) {
      const { client } = modernClient("era-auth-modern");
      await client.connect(modernTransport(h.mcpUrl));
      return {
        call: (name, args) => client.callTool({ name, arguments: args }),
        close: () => client.close(),
        sample: "modern sample",
      };
    },
  },
];

async function withHarness(options: FaceHarnessOptions, run: (h: FaceHarness) => Promise<void>): Promise<void> {
  const h = await startFaceHarness(options);
  try {
    await h.signedIn();
    await run(h);
  } finally {
    await h.close();
  }
}

for (const route of ROUTES) {
  describe(`HTTP face ${route.name}: tokens and scopes`, () => {
    test("5 s access tokens: every call succeeds across at least two refreshes, input_required included", async () => {
      await withHarness(
        { authServer: { accessTokenTtlSeconds: 5 }, mcpServer: { transport: route.upstream } },
        async (h) => {
          const client = await route.connect(h);
          try {
            const refreshesBefore = h.as.stats.refreshSuccesses;
            const sessionsBefore = countOf(h.mcp, "initialize");
            let calls = 0;
            for (; calls < 40 && h.as.stats.refreshSuccesses < refreshesBefore + 2; calls++) {
              const text = `call ${calls}`;
              assert.equal(textOf(await client.call("echo", { text })), text);
              await pause(500);
            }
            assert.ok(
              h.as.stats.refreshSuccesses >= refreshesBefore + 2,
              `two refreshes in ${calls} calls (saw ${h.as.stats.refreshSuccesses - refreshesBefore})`,
            );
            assert.equal(textOf(await client.call("ask_sampling", { prompt: "after refreshes" })), client.sample);
            // Bridge B keeps one 2025 session upstream across the refreshes; Bridge A has none (stateless upstream).
            assert.equal(countOf(h.mcp, "initialize"), sessionsBefore, "no new upstream session");
            assert.equal(h.as.stats.invalidGrants, 0);
            assert.equal(h.opened.length, 1, "no new sign-in: refreshes only");
          } finally {
            await client.close();
          }
        },
      );
    });

    test("403 insufficient_scope: a step-up sign-in for the wider scope, then the call is replayed and succeeds", async () => {
      // The server's metadata leaves mcp:admin out, so the first sign-in does not ask for it.
      await withHarness(
        { mcpServer: { transport: route.upstream, scopesSupported: ["mcp:read", "mcp:write"] } },
        async (h) => {
          const client = await route.connect(h);
          try {
            assert.equal(textOf(await client.call("echo", { text: "narrow" })), "narrow");
            const result = await client.call("admin_action", {});
            assert.match(textOf(result) ?? "", /^admin action done/);
            assert.ok(h.mcp.stats.forbidden >= 1, "the upstream refused the narrow token first");
            assert.equal(h.opened.length, 2, "one step-up sign-in");
            const scopes = new URL(h.opened[1] ?? "").searchParams.get("scope")?.split(" ") ?? [];
            assert.ok(scopes.includes("mcp:read") && scopes.includes("mcp:admin"), scopes.join(" "));
            // The wider token serves the next calls without another sign-in.
            assert.match(textOf(await client.call("admin_action", {})) ?? "", /^admin action done/);
            assert.equal(textOf(await client.call("ask_sampling", { prompt: "wide" })), client.sample);
            assert.equal(h.opened.length, 2);
          } finally {
            await client.close();
          }
        },
      );
    });
  });
}
