// The authorization URL the flow hands to the browser: extra authorize parameters (--authorize-param, a config
// file's authorizeParams, a library caller's map) are added, but never replace what the flow itself sets.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FLOW_PARAMS, type FlowHost, FlowProvider, type PendingFlow } from "../../src/auth/flow-provider.ts";

function providerWith(authorizeParams: Record<string, string>): { provider: FlowProvider; flow: PendingFlow } {
  const flow: PendingFlow = {
    state: "the-state",
    redirectUri: "http://127.0.0.1:8000/oauth/callback",
    scope: "mcp:read",
    startedAt: 0,
    expiresAt: 1,
  };
  const host = {
    serverUrl: "https://mcp.example.com/mcp",
    clientMetadata: { redirect_uris: [flow.redirectUri] },
    clientMetadataUrl: undefined,
    sendResource: true,
    authorizeParams,
    checkPkce: () => {},
  } as unknown as FlowHost;
  return { provider: new FlowProvider(host, flow), flow };
}

test("extra authorize parameters are added; the flow's own parameters are never replaced", () => {
  const own = {
    response_type: "code",
    client_id: "the-client",
    redirect_uri: "http://127.0.0.1:8000/oauth/callback",
    state: "the-state",
    code_challenge: "the-challenge",
    code_challenge_method: "S256",
    scope: "mcp:read",
    resource: "https://mcp.example.com/mcp",
  };
  assert.deepEqual([...FLOW_PARAMS].sort(), Object.keys(own).sort(), "every parameter the flow sets is guarded");
  const hostile: Record<string, string> = { prompt: "consent", audience: "api" };
  for (const name of Object.keys(own)) hostile[name] = "attacker";
  hostile.STATE = "attacker"; // names are compared without case
  const { provider, flow } = providerWith(hostile);
  const url = new URL("https://as.example.com/authorize");
  for (const [name, value] of Object.entries(own)) url.searchParams.set(name, value);
  provider.redirectToAuthorization(url);
  const sent = new URL(flow.authorizationUrl ?? "");
  for (const [name, value] of Object.entries(own)) assert.equal(sent.searchParams.get(name), value, name);
  assert.equal(sent.searchParams.get("STATE"), null);
  assert.equal(sent.searchParams.get("prompt"), "consent");
  assert.equal(sent.searchParams.get("audience"), "api");
});
