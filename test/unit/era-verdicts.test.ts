// EraVerdicts with the in-memory store and a fake fetch: a verdict read from the store is confirmed by one probe per
// process (the server may have changed era while the proxy was down), and kept when that probe proves nothing.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FetchLike } from "../../src/auth/authorized-fetch.ts";
import { EraVerdicts } from "../../src/proxy/era/era-verdicts.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { STORE_VERSION } from "../../src/store/token-store.ts";

const URL_ = new URL("http://127.0.0.1:1/mcp");
const KEY = "upstream-key";

/** A fake fetch answering server/discover as a 2026-07-28-only server (or failing), counting calls. */
function discoverServer(answer: "modern" | "outage") {
  const server = { calls: 0, fetch: undefined as unknown as FetchLike };
  server.fetch = async () => {
    server.calls++;
    if (answer === "outage") return new Response("busy", { status: 503, headers: { "content-type": "text/plain" } });
    const result = { supportedVersions: ["2026-07-28"], capabilities: {} };
    return new Response(JSON.stringify({ jsonrpc: "2.0", id: "mcp-u2m-proxy:era-probe", result }), {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  };
  return server;
}

async function storeWithLegacyVerdict(): Promise<MemoryTokenStore> {
  const store = new MemoryTokenStore();
  await store.write(KEY, "protocol", {
    version: STORE_VERSION,
    server_url: URL_.href,
    era: "legacy",
    supported_versions: [],
    checked_at: Date.now(),
  });
  return store;
}

describe("EraVerdicts.confirm", () => {
  test("a stored verdict is probed once; the new one replaces it in memory and in the store", async () => {
    const store = await storeWithLegacyVerdict();
    const server = discoverServer("modern");
    const eras = new EraVerdicts({ url: URL_, fetch: server.fetch, store: { store, key: KEY } });
    assert.equal((await eras.peekStored())?.era, "legacy");
    assert.equal(eras.fromStore, true);
    assert.equal(server.calls, 0, "reading the store probes nothing");
    const [first, second] = await Promise.all([eras.confirm(), eras.confirm()]);
    assert.equal(first.era, "modern");
    assert.equal(second.era, "modern");
    assert.equal(server.calls, 1, "one probe for concurrent callers");
    assert.equal(eras.fromStore, false);
    assert.equal(eras.known, "modern");
    assert.equal((await store.read(KEY, "protocol"))?.era, "modern");
    assert.equal((await eras.confirm()).era, "modern");
    assert.equal(server.calls, 1, "confirmed once per process");
  });

  test("a probe that proves nothing rejects and leaves the stored verdict in place", async () => {
    const store = await storeWithLegacyVerdict();
    const server = discoverServer("outage");
    const eras = new EraVerdicts({ url: URL_, fetch: server.fetch, store: { store, key: KEY } });
    await eras.peekStored();
    await assert.rejects(eras.confirm());
    assert.equal(eras.known, "legacy");
    assert.equal((await eras.get()).era, "legacy");
    assert.equal((await store.read(KEY, "protocol"))?.era, "legacy");
  });

  test("without a stored verdict confirm is get: one probe", async () => {
    const server = discoverServer("modern");
    const eras = new EraVerdicts({ url: URL_, fetch: server.fetch });
    assert.equal(eras.fromStore, false);
    assert.equal((await eras.confirm()).era, "modern");
    assert.equal((await eras.confirm()).era, "modern");
    assert.equal(server.calls, 1);
  });
});
