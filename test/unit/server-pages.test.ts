import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AuthStatus } from "../../src/auth/auth-client.ts";
import { ProxyError } from "../../src/lib/errors.ts";
import { clientBaseUrl, clientConfigs, serverNameOf } from "../../src/server/client-config.ts";
import { renderCallbackResult, renderHomePage } from "../../src/server/home-page.ts";
import { renderPage } from "../../src/server/html-page.ts";

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
      status: status({ signInUrl: `https://as.example.com/authorize?"${EVIL}`, adjustments: [`issuer ${EVIL}`] }),
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
    assert.match(page.body, /in 60 min — renewed automatically/);
    // A readable absolute time: no milliseconds, no raw ISO string in the text (only in the datetime attribute).
    assert.match(page.body, /<time datetime="2030-01-01T00:00:00\.000Z">1 Jan 2030, 00:00 UTC<\/time>/);
    assert.equal(page.body.split("2030-01-01T00:00:00.000Z").length, 2);
    assert.match(page.body, /mcp:read/);
    assert.doesNotMatch(page.body, /Adjusted for this server/, "only when something was adjusted");
    assert.match(page.body, /action="\/oauth\/sign-in"/);
    assert.match(page.body, /action="\/oauth\/sign-out"/);
    assert.match(page.body, /name="csrf" value="csrf-token-1"/);
    assert.match(page.body, /http:\/\/127\.0\.0\.1:8000\/mcp/);
    assert.match(page.body, />Sign in again</);
    assert.doesNotMatch(page.body, />Sign in</);
    assert.doesNotMatch(page.script ?? "", /healthz/, "nothing to watch when no sign-in is under way");
  });

  test("what the proxy adjusts for the server (an accepted issuer, provider defaults), one line each", () => {
    const page = renderHomePage({
      upstreamUrl: "https://mcp.example.com/mcp",
      proxyBaseUrl: "http://127.0.0.1:8000",
      status: status({ adjustments: ["first adjustment", "second adjustment"] }),
      csrf: "c",
      apiKeyRequired: false,
      canSignOut: true,
    });
    assert.match(page.body, /<dt>Adjusted for this server<\/dt><dd>first adjustment<br>second adjustment<\/dd>/);
  });

  test("the tools hidden from clients (--ignore-tool) are named, escaped; none, no line", () => {
    const input = {
      upstreamUrl: "https://mcp.example.com/mcp",
      proxyBaseUrl: "http://127.0.0.1:8000",
      status: status({}),
      csrf: "c",
      apiKeyRequired: false,
      canSignOut: true,
    };
    const page = renderHomePage({ ...input, hiddenTools: ["delete_*", "<b>x"] });
    assert.match(
      page.body,
      /<p id="hidden-tools">Hidden from clients \(<code>--ignore-tool<\/code>\): <code>delete_\*<\/code> <code>&#60;b&#62;x<\/code>/,
    );
    assert.doesNotMatch(renderHomePage({ ...input, hiddenTools: [] }).body, /hidden-tools/);
    assert.doesNotMatch(renderHomePage(input).body, /hidden-tools/);
  });

  test("a sign-in under way has one button to continue it, and watches /healthz instead of reloading", () => {
    const page = renderHomePage({
      upstreamUrl: "https://mcp.example.com/mcp",
      proxyBaseUrl: "http://127.0.0.1:8000",
      status: status({ signedIn: false, signInUrl: "https://as.example.com/authorize?a=1&b=2" }),
      csrf: "t",
      apiKeyRequired: false,
      canSignOut: true,
    });
    assert.match(page.body, /Sign-in under way/);
    assert.equal(page.body.match(/<button/g)?.filter(Boolean).length, 12, "Continue, Sign out and ten Copy buttons");
    assert.match(page.body, /<form method="post" action="\/oauth\/sign-in">.*<button>Continue signing in<\/button>/);
    assert.doesNotMatch(page.body, />Sign in</);
    assert.match(page.script ?? "", /fetch\("\/healthz"/);
    assert.doesNotMatch(renderPage(page, "n"), /http-equiv="refresh"/);
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

  test("with a static Authorization header: no Sign in / Sign out, says why, never the header's value", () => {
    const page = renderHomePage({
      upstreamUrl: "https://mcp.example.com/mcp",
      proxyBaseUrl: "http://127.0.0.1:8000",
      status: undefined,
      csrf: "t",
      apiKeyRequired: false,
      // Even a face whose core could clear tokens: without OAuth there are none.
      canSignOut: true,
    });
    assert.match(page.body, /Static Authorization header/);
    assert.match(page.body, /<code>--header<\/code> or the config file's <code>headers<\/code>/);
    assert.match(page.body, /no sign-in to start or end/);
    assert.doesNotMatch(page.body, /<form/);
    assert.doesNotMatch(page.body, /Bearer/);
    assert.doesNotMatch(page.script ?? "", /healthz/);
  });

  test("an error on the page names its stable code", () => {
    const page = renderHomePage({
      upstreamUrl: "https://mcp.example.com/mcp",
      proxyBaseUrl: "http://127.0.0.1:8000",
      status: undefined,
      csrf: "t",
      apiKeyRequired: false,
      canSignOut: false,
      error: new ProxyError("USAGE", `Bad ${EVIL}.`, { hint: "Remove `--header Authorization`." }),
    });
    assert.match(page.body, /Bad &#60;script&#62;/);
    assert.match(page.body, /Remove <code>--header Authorization<\/code>\./);
    assert.match(page.body, /Error code: <code>USAGE<\/code>/);
  });

  test("after Sign out, a one-line notice says whether the tokens were revoked (only while signed out)", () => {
    const base = {
      upstreamUrl: "https://mcp.example.com/mcp",
      proxyBaseUrl: "http://127.0.0.1:8000",
      csrf: "t",
      apiKeyRequired: false,
      canSignOut: true,
    };
    const out = status({ signedIn: false, hasRefreshToken: false, expiresAt: undefined, account: undefined });
    const revoked = renderHomePage({ ...base, status: out, signedOut: { revoked: true } });
    assert.match(revoked.body, /Signed out\.<\/b> The tokens were revoked at the authorization server/);
    const deleted = renderHomePage({ ...base, status: out, signedOut: { revoked: false } });
    assert.match(deleted.body, /Signed out\.<\/b> The tokens were deleted from this machine\./);
    const signedInAgain = renderHomePage({ ...base, status: status(), signedOut: { revoked: true } });
    assert.doesNotMatch(signedInAgain.body, /Signed out\./);
  });

  test("the frame: one product name in the title, an empty favicon, the nonce'd script", () => {
    const html = renderPage({ title: "mcp-u2m-proxy", body: "", script: "1" }, "abc");
    assert.match(html, /<title>mcp-u2m-proxy<\/title>/);
    assert.match(html, /<link rel="icon" href="data:,">/);
    assert.match(html, /<script nonce="abc">1<\/script>/);
    assert.match(renderPage({ title: "Signed in", body: "" }, "n"), /<title>Signed in · mcp-u2m-proxy<\/title>/);
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

  test("commands in hints show as code, without literal backticks", () => {
    const { page } = renderCallbackResult(
      { ok: false, error: new ProxyError("SIGN_IN_TIMEOUT", "Expired.", { hint: "Run `mcp-u2m-proxy auth <x>`." }) },
      "t",
    );
    assert.match(page.body, /Run <code>mcp-u2m-proxy auth &#60;x&#62;<\/code>\./);
    assert.doesNotMatch(page.body, /`|&#96;/);
  });

  test("a reloaded callback while signed in says the link was used and that you are signed in", () => {
    const error = new ProxyError("STATE_MISMATCH", "This sign-in link is unknown, was already used, or has expired.");
    const { status: code, page } = renderCallbackResult({ ok: false, error }, "t", status({ account: "erin" }));
    assert.equal(code, 400, "still a refusal: nothing was exchanged");
    assert.match(page.body, /Already signed in/);
    assert.match(page.body, /already used .* you are signed in as <b>erin<\/b>/);
    assert.match(page.body, /href="\/"/);
    assert.doesNotMatch(page.body, /Sign-in failed|STATE_MISMATCH/);
    const signedOut = renderCallbackResult({ ok: false, error }, "t", status({ signedIn: false }));
    assert.match(signedOut.page.body, /Sign-in failed/);
  });
});

describe("client configuration", () => {
  test("server names come from the upstream host", () => {
    assert.equal(serverNameOf("https://mcp.example.com/mcp"), "example");
    assert.equal(serverNameOf("https://api.githubcopilot.com/mcp/"), "githubcopilot");
    assert.equal(serverNameOf("https://mcp.linear.app/sse"), "linear");
    assert.equal(serverNameOf("http://127.0.0.1:3000/mcp"), "127-0-0-1");
    assert.equal(serverNameOf("http://localhost:3000/mcp"), "localhost");
    assert.equal(serverNameOf("http://[::1]:3000/mcp"), "upstream");
    assert.equal(serverNameOf("not a url"), "upstream");
  });

  test("configs use the address the proxy printed when the browser used a loopback alias of it", () => {
    const printed = "http://127.0.0.1:8000";
    assert.equal(clientBaseUrl("localhost:8000", `${printed}/`), printed);
    assert.equal(clientBaseUrl("[::1]:8000", `${printed}/`), printed);
    assert.equal(clientBaseUrl("127.0.0.1:8000", `${printed}/`), printed);
    assert.equal(clientBaseUrl("192.168.1.5:8000", "http://0.0.0.0:8000/"), "http://192.168.1.5:8000");
    assert.equal(clientBaseUrl("localhost:9000", `${printed}/`), "http://localhost:9000", "another port: not ours");
    assert.equal(clientBaseUrl("localhost:8000", undefined), "http://localhost:8000");
  });

  test("a known public URL wins over the Host a TLS-terminating front forwards", () => {
    const publicUrl = "https://proxy.example.com/team";
    assert.equal(clientBaseUrl("proxy.example.com", "https://proxy.example.com/team/", publicUrl), publicUrl);
    assert.equal(clientBaseUrl("127.0.0.1:8000", "http://127.0.0.1:8000/", publicUrl), publicUrl);
    assert.equal(clientBaseUrl("proxy.example.com", undefined, undefined), "http://proxy.example.com", "none known");
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
    assert.deepEqual(JSON.parse(byId.windsurf as string), {
      mcpServers: { example: { serverUrl: "http://127.0.0.1:8000/mcp" } },
    });
    assert.equal(byId.codex, '[mcp_servers.example]\nurl = "http://127.0.0.1:8000/mcp"');
  });

  test("with an API key the HTTP snippets carry an Authorization header placeholder", () => {
    const configs = clientConfigs({
      upstreamUrl: "https://m.example.com/mcp",
      proxyBaseUrl: "http://h:1",
      apiKeyRequired: true,
    });
    const vscode = JSON.parse(configs.find((config) => config.id === "vscode")?.text ?? "{}");
    assert.match(vscode.servers.example.headers.Authorization, /^Bearer </);
    const windsurf = JSON.parse(configs.find((config) => config.id === "windsurf")?.text ?? "{}");
    assert.match(windsurf.mcpServers.example.headers.Authorization, /^Bearer </);
    // Codex takes no inline bearer token: it names the variable holding the key.
    const codex = configs.find((config) => config.id === "codex")?.text ?? "";
    assert.match(codex, /^bearer_token_env_var = "MCP_PROXY_API_KEY"$/m);
    assert.doesNotMatch(codex, /Bearer/);
  });
});
