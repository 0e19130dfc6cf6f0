import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AuthStatus } from "../../src/auth/auth-client.ts";
import { ProxyError } from "../../src/lib/errors.ts";
import { clientConfigs, serverNameOf } from "../../src/server/client-config.ts";
import { renderCallbackResult, renderHomePage } from "../../src/server/home-page.ts";

const EVIL = `<script>alert("x")</script>`;

const status = (over: Partial<AuthStatus> = {}): AuthStatus => ({
  serverUrl: "https://mcp.example.com/mcp",
  signedIn: true,
  expiresAt: "2030-01-01T00:00:00.000Z",
  hasRefreshToken: true,
  scopes: ["mcp:read", EVIL],
  issuer: `https://as.example.com/${EVIL}`,
  account: EVIL,
  clientId: "client-1",
  clientSource: "dynamic",
  storeKey: "k",
  ...over,
});

describe("home page", () => {
  test("escapes every value from the upstream, the AS and the Host header", () => {
    const page = renderHomePage({
      upstreamUrl: `https://mcp.example.com/mcp?${EVIL}`,
      proxyBaseUrl: `http://127.0.0.1:8000${EVIL}`,
      status: status({ signInUrl: `https://as.example.com/authorize?"${EVIL}` }),
      csrf: "tok",
      apiKeyRequired: false,
      canSignOut: true,
    });
    assert.doesNotMatch(page.body, /<script>/);
    assert.match(page.body, /&#60;script&#62;/);
  });

  test("shows state, account, expiry, scopes, issuer, sign-in/out forms with the CSRF token", () => {
    const page = renderHomePage({
      upstreamUrl: "https://mcp.example.com/mcp",
      proxyBaseUrl: "http://127.0.0.1:8000",
      status: status({ account: "alice@example.com", scopes: ["mcp:read"], issuer: "https://as.example.com" }),
      csrf: "csrf-token-1",
      apiKeyRequired: false,
      canSignOut: true,
      now: Date.parse("2029-12-31T23:00:00.000Z"),
    });
    assert.match(page.body, /Signed in/);
    assert.match(page.body, /alice@example\.com/);
    assert.match(page.body, /in 60 min/);
    assert.match(page.body, /mcp:read/);
    assert.match(page.body, /action="\/oauth\/sign-in"/);
    assert.match(page.body, /action="\/oauth\/sign-out"/);
    assert.match(page.body, /name="csrf" value="csrf-token-1"/);
    assert.match(page.body, /http:\/\/127\.0\.0\.1:8000\/mcp/);
    assert.equal(page.refreshSeconds, undefined);
  });

  test("a sign-in under way links to it and refreshes itself", () => {
    const page = renderHomePage({
      upstreamUrl: "https://mcp.example.com/mcp",
      proxyBaseUrl: "http://127.0.0.1:8000",
      status: status({ signedIn: false, signInUrl: "https://as.example.com/authorize?a=1&b=2" }),
      csrf: "t",
      apiKeyRequired: false,
      canSignOut: true,
    });
    assert.match(page.body, /Sign-in under way/);
    assert.match(page.body, /href="https:\/\/as\.example\.com\/authorize\?a=1&#38;b=2"/);
    assert.equal(page.refreshSeconds, 5);
  });

  test("never shows the API key, only where it goes", () => {
    const page = renderHomePage({
      upstreamUrl: "https://mcp.example.com/mcp",
      proxyBaseUrl: "http://10.0.0.1:8000",
      status: undefined,
      csrf: "t",
      apiKeyRequired: true,
      canSignOut: false,
    });
    assert.match(page.body, /Static Authorization header/);
    assert.match(page.body, /your MCP_PROXY_API_KEY/);
  });
});

describe("callback result page", () => {
  test("success only when the core says ok; the account is escaped", () => {
    const { status: code, page } = renderCallbackResult(
      { ok: true, serverUrl: "https://mcp.example.com/mcp", account: EVIL },
      "t",
    );
    assert.equal(code, 200);
    assert.match(page.body, /Signed in/);
    assert.doesNotMatch(page.body, /<script>/);
  });

  test("failure says what went wrong and what to do, with a retry form", () => {
    const { status: code, page } = renderCallbackResult(
      { ok: false, error: new ProxyError("STATE_MISMATCH", `Unknown state ${EVIL}`, { hint: "Start again." }) },
      "csrf-2",
    );
    assert.equal(code, 400);
    assert.match(page.body, /Sign-in failed/);
    assert.match(page.body, /Start again\./);
    assert.match(page.body, /STATE_MISMATCH/);
    assert.match(page.body, /value="csrf-2"/);
    assert.doesNotMatch(page.body, /<script>/);
    assert.doesNotMatch(page.body, /Signed in/);
  });
});

describe("client configuration", () => {
  test("server names come from the upstream host", () => {
    assert.equal(serverNameOf("https://mcp.example.com/mcp"), "example");
    assert.equal(serverNameOf("https://api.githubcopilot.com/mcp/"), "githubcopilot");
    assert.equal(serverNameOf("http://127.0.0.1:3000/mcp"), "upstream");
    assert.equal(serverNameOf("not a url"), "upstream");
  });

  test("VS Code, Cursor, Claude Desktop and stdio snippets are valid and point at the right places", () => {
    const configs = clientConfigs({
      upstreamUrl: "https://mcp.example.com/mcp?tenant=a&x=1",
      proxyBaseUrl: "http://127.0.0.1:8000",
      apiKeyRequired: false,
    });
    const byId = Object.fromEntries(configs.map((config) => [config.id, config.text]));
    assert.deepEqual(JSON.parse(byId.vscode as string), {
      servers: { example: { type: "http", url: "http://127.0.0.1:8000/mcp" } },
    });
    assert.deepEqual(JSON.parse(byId.cursor as string), {
      mcpServers: { example: { url: "http://127.0.0.1:8000/mcp" } },
    });
    assert.deepEqual(JSON.parse(byId["claude-desktop"] as string).mcpServers.example.args, [
      "-y",
      "mcp-u2m-proxy",
      "stdio",
      "https://mcp.example.com/mcp?tenant=a&x=1",
    ]);
    assert.equal(byId.stdio, "npx -y mcp-u2m-proxy stdio 'https://mcp.example.com/mcp?tenant=a&x=1'");
    assert.equal(byId["legacy-sse"], "http://127.0.0.1:8000/sse");
  });

  test("with an API key the HTTP snippets carry an Authorization header placeholder", () => {
    const configs = clientConfigs({
      upstreamUrl: "https://m.example.com/mcp",
      proxyBaseUrl: "http://h:1",
      apiKeyRequired: true,
    });
    const vscode = JSON.parse(configs.find((config) => config.id === "vscode")?.text ?? "{}");
    assert.match(vscode.servers.example.headers.Authorization, /^Bearer </);
  });
});
