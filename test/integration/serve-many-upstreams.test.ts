// Two upstreams on one port (startServe with `upstreams`), each behind its own authorization server: "a" with
// dynamic registration, "b" with only a pre-registered confidential client and 5 s access tokens. Both are signed
// in through the scripted browser via the one shared /oauth/callback; SDK clients on /servers/a/mcp,
// /servers/b/mcp and /servers/b/sse call tools; calls on "b" keep working across several expiries without a new
// sign-in; signing "a" out leaves "b" working; a reload adds and removes upstreams while "b" keeps serving;
// the list page, /healthz and unknown names.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { type ServeHandle, startServe } from "../../src/app/serve.ts";
import { UpstreamAuth } from "../../src/auth/upstream-auth.ts";
import type { RuntimeOptions, UpstreamOptions } from "../../src/config/options.ts";
import { createLogger } from "../../src/lib/logger.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "./support/http-face-harness.ts";

const SECRET = "b-client-secret-for-tests-only";

function upstreamOf(url: string, extra: Partial<UpstreamOptions> = {}): UpstreamOptions {
  return { url, authorizeParams: {}, headers: {}, sendResource: true, ...extra };
}

function textOf(result: { content?: unknown }): string {
  const [block] = (result.content ?? []) as { type: string; text?: string }[];
  return block?.text ?? "";
}

describe("serve with two upstreams on one port", () => {
  let asA: TestAuthServer;
  let asB: TestAuthServer;
  let mcpA: TestMcpServer;
  let mcpB: TestMcpServer;
  let face: ServeHandle;
  let authA: UpstreamAuth;
  let authB: UpstreamAuth;
  const opened: string[] = [];
  const logs: string[] = [];
  let runtime: RuntimeOptions;
  let upstreamA: UpstreamOptions;
  let upstreamB: UpstreamOptions;
  let deps: ConstructorParameters<typeof UpstreamAuth>[2];

  before(async () => {
    const port = await freePort();
    asA = await startAuthServer();
    asB = await startAuthServer({
      dynamicRegistration: false,
      accessTokenTtlSeconds: 5,
      clients: [
        {
          client_id: "proxy-b",
          client_secret: SECRET,
          redirect_uris: [`http://127.0.0.1:${port}/oauth/callback`],
        },
      ],
    });
    mcpA = await startMcpServer({ authServer: asA });
    mcpB = await startMcpServer({ authServer: asB });
    runtime = {
      authDir: "/nonexistent-memory-store",
      port,
      callbackHost: "127.0.0.1",
      openBrowser: false,
      debug: false,
      allowInsecureHttp: true,
    };
    const logger = createLogger({ level: "debug", write: (line) => void logs.push(line) });
    const store = new MemoryTokenStore();
    deps = { store, logger, callback: "external" as const, printSignInUrl: () => {} };
    upstreamA = upstreamOf(mcpA.url);
    upstreamB = upstreamOf(mcpB.url, { clientId: "proxy-b", clientSecret: SECRET });
    authA = new UpstreamAuth(upstreamA, runtime, deps);
    authB = new UpstreamAuth(upstreamB, runtime, deps);
    face = await startServe({
      upstream: upstreamA,
      runtime,
      logger,
      port,
      upstreams: [
        { name: "a", upstream: upstreamA, auth: authA },
        { name: "b", upstream: upstreamB, auth: authB },
      ],
      // The page is the one tab: the test's "browser" presses each Sign in button's flow by itself below.
      openPage: async (url) => void opened.push(url),
    });
  });

  after(async () => {
    await face.close();
    await authA.close();
    await authB.close();
    await Promise.all([mcpA.close(), mcpB.close()]);
    await Promise.all([asA.close(), asB.close()]);
  });

  test("both sign in through the one callback route; the page opened once, not a tab per upstream", async () => {
    // Let both start-up probes run: each got a 401 and started its own sign-in.
    for (let i = 0; i < 500 && !(authA.pendingSignIn() && authB.pendingSignIn()); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const pendingA = authA.pendingSignIn();
    const pendingB = authB.pendingSignIn();
    assert.ok(pendingA && pendingB, `both sign-ins under way; logs:\n${logs.join("")}`);
    for (let i = 0; i < 100 && opened.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(opened, [`${face.url}/`]);
    // Different authorization servers, one redirect URI: the callback's state picks the sign-in.
    assert.equal(new URL(pendingA.url).origin, new URL(asA.issuer).origin);
    assert.equal(new URL(pendingB.url).origin, new URL(asB.issuer).origin);
    await Promise.all([
      completeLoginInBrowser(pendingB.url, { login: "bob" }),
      completeLoginInBrowser(pendingA.url, { login: "alice" }),
    ]);
    await Promise.all([pendingA.completed, pendingB.completed]);
    assert.equal((await authA.status()).signedIn, true);
    assert.equal((await authB.status()).clientSource, "pre-registered");
    assert.equal(asA.stats.registrations, 1);
    assert.equal(asB.stats.registrations, 0);
  });

  test("SDK clients on /servers/a/mcp, /servers/b/mcp and /servers/b/sse call tools as their own user", async () => {
    const a = new Client({ name: "many-a", version: "1" });
    await a.connect(new StreamableHTTPClientTransport(new URL(`${face.url}/servers/a/mcp`)));
    const b = new Client({ name: "many-b", version: "1" });
    await b.connect(new StreamableHTTPClientTransport(new URL(`${face.url}/servers/b/mcp`)));
    const legacy = new Client({ name: "many-b-sse", version: "1" });
    await legacy.connect(new SSEClientTransport(new URL(`${face.url}/servers/b/sse`)));
    try {
      assert.match(textOf(await a.callTool({ name: "whoami", arguments: {} })), /alice/);
      assert.match(textOf(await b.callTool({ name: "whoami", arguments: {} })), /bob/);
      assert.match(textOf(await legacy.callTool({ name: "whoami", arguments: {} })), /bob/);
    } finally {
      await Promise.all([a.close(), b.close(), legacy.close()]);
    }
  });

  test("calls on the 5 s upstream keep working across expiries with refreshes, never a new sign-in", async () => {
    const b = new Client({ name: "many-b-long", version: "1" });
    await b.connect(new StreamableHTTPClientTransport(new URL(`${face.url}/servers/b/mcp`)));
    const codesBefore = asB.stats.tokenRequests.authorization_code;
    const refreshesBefore = asB.stats.refreshSuccesses;
    try {
      const until = Date.now() + 30_000; // six access token lifetimes
      let calls = 0;
      while (Date.now() < until) {
        assert.equal(textOf(await b.callTool({ name: "echo", arguments: { text: `n${calls}` } })), `n${calls}`);
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.ok(calls > 50);
    } finally {
      await b.close();
    }
    assert.ok(asB.stats.refreshSuccesses >= refreshesBefore + 4, "refreshed again and again");
    assert.equal(asB.stats.tokenRequests.authorization_code, codesBefore, "no new sign-in");
  });

  test("the list page shows both with their own buttons; /healthz reports each", async () => {
    const page = await (await fetch(`${face.url}/`)).text();
    assert.match(page, /id="server-a"/);
    assert.match(page, /id="server-b"/);
    assert.match(page, /action="\/servers\/a\/oauth\/sign-out"/);
    assert.match(page, /action="\/servers\/b\/oauth\/sign-out"/);
    assert.ok(page.includes(`${face.url}/servers/b/mcp`));
    const health = (await (await fetch(`${face.url}/healthz`)).json()) as {
      upstreams: Record<string, { signedIn: boolean }>;
    };
    assert.equal(health.upstreams.a?.signedIn, true);
    assert.equal(health.upstreams.b?.signedIn, true);
  });

  test("an unknown name gets 404 with the known names; root MCP routes say to pick one", async () => {
    const unknown = await fetch(`${face.url}/servers/jira/mcp`, { method: "POST", body: "{}" });
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { error: { message: string } }).error.message, /Known names: a, b/);
    const root = await fetch(`${face.url}/mcp`, { method: "POST", body: "{}" });
    assert.equal(root.status, 404);
    assert.match(((await root.json()) as { error: { message: string } }).error.message, /\/servers\/<name>\/mcp/);
  });

  test("signing one out leaves the other working", async () => {
    await authA.clear();
    assert.equal((await authA.status()).signedIn, false);
    const b = new Client({ name: "many-b-after", version: "1" });
    await b.connect(new StreamableHTTPClientTransport(new URL(`${face.url}/servers/b/mcp`)));
    try {
      assert.match(textOf(await b.callTool({ name: "whoami", arguments: {} })), /bob/);
    } finally {
      await b.close();
    }
    assert.equal((await authB.status()).signedIn, true);
  });

  test("a reload adds and removes upstreams while a client of the unchanged one keeps calling", async () => {
    const b = new Client({ name: "many-b-reload", version: "1" });
    await b.connect(new StreamableHTTPClientTransport(new URL(`${face.url}/servers/b/mcp`)));
    let calling = true;
    let calls = 0;
    const loop = (async () => {
      while (calling) {
        assert.equal(textOf(await b.callTool({ name: "echo", arguments: { text: `r${calls}` } })), `r${calls}`);
        calls++;
      }
    })();
    try {
      const authC = new UpstreamAuth(upstreamOf(mcpA.url), runtime, deps);
      const result = await face.reload([
        { name: "b", upstream: upstreamB, auth: new UpstreamAuth(upstreamB, runtime, deps) },
        { name: "c", upstream: upstreamOf(mcpA.url), auth: authC },
      ]);
      assert.deepEqual([result.added, result.removed, result.changed], [["c"], ["a"], []]);
      assert.ok(result.retired.includes(authA), "a's core is handed back to be closed");
      assert.ok(!result.retired.includes(authB), "b's core carries on");
      const gone = await fetch(`${face.url}/servers/a/mcp`, { method: "POST", body: "{}" });
      assert.equal(gone.status, 404);
      assert.match(((await gone.json()) as { error: { message: string } }).error.message, /Known names: b, c/);
      const callsAtReload = calls;
      while (calls < callsAtReload + 5) await new Promise((resolve) => setTimeout(resolve, 20));
      for (const retired of result.retired) await (retired as UpstreamAuth).close();
      await authC.close();
    } finally {
      calling = false;
      await loop;
      await b.close();
    }
    assert.equal((await authB.status()).signedIn, true);
  });
});
