// ClientRegistry.load: a stored registration is used only at the authorization server it was made with (SEP-2352),
// where "the same server" may go by two issuer names when an exception accepts both (issuer-check.ts sameServer).
import assert from "node:assert/strict";
import { test } from "node:test";
import { ClientRegistry } from "../../src/auth/client-registry.ts";
import { issuerCheck } from "../../src/auth/issuer-check.ts";
import { silentLogger } from "../../src/lib/logger.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { upstreamOf } from "./support/fake-oauth.ts";

const SLACK = "https://mcp.slack.com/mcp";
const REDIRECT = "http://127.0.0.1:8000/oauth/callback";

async function registeredUnder(issuer: string) {
  const store = new MemoryTokenStore();
  const registry = new ClientRegistry(store, "key", SLACK, upstreamOf({ url: SLACK }));
  await registry.save({ client_id: "dyn-1", issuer } as never, "dynamic", REDIRECT);
  return registry;
}

test("a registration made under one issuer name is found under the other only where sameServer says so", async () => {
  const registry = await registeredUnder("https://slack.com");
  const issuers = issuerCheck({ serverUrl: SLACK, log: silentLogger });
  const same = (recorded: string) => issuers.sameServer("https://mcp.slack.com/", recorded, "https://mcp.slack.com");
  const found = await registry.load("https://mcp.slack.com", REDIRECT, undefined, undefined, same);
  assert.equal(found?.client_id, "dyn-1");
  // Stamped with the name used now, which the SDK compares with the issuer it discovered.
  assert.equal((found as { issuer?: string }).issuer, "https://mcp.slack.com");
  // Without the equivalence (the default), another name is another server: register anew.
  assert.equal(await registry.load("https://mcp.slack.com", REDIRECT, undefined), undefined);
  // And a really different server is refused with the equivalence too.
  const other = (recorded: string) => issuers.sameServer("https://evil.example/", recorded, "https://evil.example");
  assert.equal(await registry.load("https://evil.example", REDIRECT, undefined, undefined, other), undefined);
});
