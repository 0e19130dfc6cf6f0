// mcp_client_operation_duration_seconds on the HTTP face's era bridges, scraped from GET /metrics: a 2025 client
// (SDK v1, Streamable HTTP on /mcp and legacy SSE on /sse) in front of a 2026-07-28-only upstream, and a 2026-07-28
// client (SDK v2) in front of a 2025-only upstream. Every request the bridge sends upstream is one sample labelled
// by the upstream and the method it carried, as the pass-through labels a relayed request; the client's own
// requests to the bridge are not counted again (a 2025 client names no method in a header: they would be "").
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { parsePrometheusText, type Scrape } from "../fixtures/prometheus-text.ts";
import {
  countOf,
  legacyClient,
  legacyTransport,
  modernClient,
  modernTransport,
  textOf,
} from "./support/era-clients.ts";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";

const UPSTREAM = "bridged";
const OPERATIONS = "mcp_client_operation_duration_seconds_count";

/** Operations of this test's upstream with `method` (all of them without). */
function operations(scrape: Scrape, method?: string): number {
  const labels: Record<string, string> = {
    upstream: UPSTREAM,
    ...(method !== undefined ? { mcp_method_name: method } : {}),
  };
  return scrape.find(OPERATIONS, labels).reduce((sum, sample) => sum + sample.value, 0);
}

async function scrape(h: FaceHarness): Promise<Scrape> {
  const response = await fetch(`${h.face.url}/metrics`);
  assert.equal(response.status, 200);
  return parsePrometheusText(await response.text());
}

/** The samples' labels must be those of the pass-through: upstream, a method, and no error on success. */
function assertCleanLabels(after: Scrape): void {
  const samples = after.find(OPERATIONS, { upstream: UPSTREAM });
  assert.ok(samples.length > 0, "bridged operations were recorded");
  for (const sample of samples) {
    assert.deepEqual(Object.keys(sample.labels).sort(), ["mcp_method_name", "upstream"], JSON.stringify(sample.labels));
    assert.notEqual(sample.labels.mcp_method_name, "", "no sample without a method (the client's own requests)");
  }
}

describe("operation histogram on the era bridges", () => {
  let as: TestAuthServer;
  before(async () => {
    as = await startAuthServer();
  });
  after(async () => {
    await as?.close();
  });

  describe("a 2025 client in front of a 2026-07-28-only upstream", () => {
    let mcp: TestMcpServer;
    let h: FaceHarness;
    before(async () => {
      mcp = await startMcpServer({ authServer: as, transport: "2026" });
      h = await startFaceHarness({ shared: { as, mcp }, serve: { name: UPSTREAM } });
      await h.signedIn();
    });
    after(async () => {
      await h?.close();
      await mcp?.close();
    });

    for (const path of ["/mcp", "/sse"] as const) {
      test(`on ${path}: each tools/call the bridge sends upstream is one operation`, async () => {
        const { client } = legacyClient(`era-metrics${path}`);
        await client.connect(legacyTransport(h.face.url, path));
        try {
          const before = await scrape(h);
          const calledBefore = countOf(mcp, "tools/call");
          for (let i = 0; i < 3; i++) {
            assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: `e${i}` } })), `e${i}`);
          }
          const after = await scrape(h);
          assert.equal(countOf(mcp, "tools/call") - calledBefore, 3);
          assert.equal(operations(after, "tools/call") - operations(before, "tools/call"), 3);
          assertCleanLabels(after);
          assert.ok(operations(after, "server/discover") >= 1, "the bridge's server/discover is an operation too");
        } finally {
          await client.close();
        }
      });
    }
  });

  describe("a 2026-07-28 client in front of a 2025-only upstream", () => {
    let mcp: TestMcpServer;
    let h: FaceHarness;
    before(async () => {
      mcp = await startMcpServer({ authServer: as });
      h = await startFaceHarness({ shared: { as, mcp }, serve: { name: UPSTREAM } });
      await h.signedIn();
    });
    after(async () => {
      await h?.close();
      await mcp?.close();
    });

    test("the upstream session's initialize and each tools/call are operations", async () => {
      const { client } = modernClient("era-metrics-modern");
      await client.connect(modernTransport(h.mcpUrl));
      try {
        const calledBefore = countOf(mcp, "tools/call");
        const before = await scrape(h);
        for (let i = 0; i < 2; i++) {
          assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: `m${i}` } })), `m${i}`);
        }
        const after = await scrape(h);
        assert.equal(countOf(mcp, "tools/call") - calledBefore, 2);
        assert.equal(operations(after, "tools/call") - operations(before, "tools/call"), 2);
        // The proxy's own 2025 session upstream: the client never sent these, the bridge did.
        assert.equal(operations(after, "initialize"), countOf(mcp, "initialize"));
        assert.equal(operations(after, "notifications/initialized"), countOf(mcp, "notifications/initialized"));
        assertCleanLabels(after);
      } finally {
        await client.close();
      }
    });
  });
});
