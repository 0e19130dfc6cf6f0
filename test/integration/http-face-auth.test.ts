// The HTTP face's OAuth paths with the real core and the real test AS: waiting for a sign-in under way, the clear
// error when it does not finish, 401 → refresh → replay, many refreshes, a revoked grant, step-up on 403
// insufficient_scope, and sign-in / sign-out from the page.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";

const ACCEPT_BOTH = "application/json, text/event-stream";
const INIT = {
  jsonrpc: "2.0",
  id: "init-1",
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

interface RpcError {
  id: unknown;
  error: { code: number; message: string; data?: Record<string, unknown> };
}

function textOf(result: { content?: unknown }): string {
  const [block] = (result.content ?? []) as { type: string; text?: string }[];
  return block?.text ?? "";
}

async function connect(h: FaceHarness): Promise<Client> {
  const client = new Client({ name: "auth-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(h.mcpUrl)));
  return client;
}

/** A clock the test can move: the core judges expiry by it, the upstream by the real one. */
function movableClock() {
  const clock = { skewMs: 0, now: () => Date.now() + clock.skewMs };
  return clock;
}

describe("HTTP face sign-in and token lifecycle", () => {
  test("requests that arrive while the user is still signing in wait, then succeed", async () => {
    const h = await startFaceHarness({ login: { delayMs: 400 } });
    try {
      assert.equal((await h.auth.status()).signedIn, false);
      const client = await connect(h);
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "waited" } })), "waited");
      await client.close();
      assert.equal(h.opened.length, 1);
      assert.equal(h.as.stats.tokenRequests.authorization_code, 1);
    } finally {
      await h.close();
    }
  });

  test("a sign-in that is not finished in time gives a JSON-RPC error naming the sign-in URL, with the id echoed", async () => {
    const h = await startFaceHarness({ browser: "ignore", serve: { signInWaitMs: 300 } });
    try {
      await new Promise<void>((resolve) => {
        const poll = () => (h.auth.pendingSignIn() ? resolve() : setTimeout(poll, 10));
        poll();
      });
      const response = await fetch(h.mcpUrl, {
        method: "POST",
        headers: { "content-type": "application/json", accept: ACCEPT_BOTH },
        body: JSON.stringify(INIT),
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("www-authenticate"), null);
      const body = (await response.json()) as RpcError;
      assert.equal(body.id, "init-1");
      assert.equal(body.error.code, -32050);
      const url = h.opened[0];
      assert.ok(url);
      assert.ok(body.error.message.includes(url), body.error.message);
      assert.equal(body.error.data?.signInUrl, url);
      assert.equal(body.error.data?.signInPage, `${h.face.url}/`);

      // Without a request id (the GET stream) the status says it: 503, never 401.
      const stream = await fetch(h.mcpUrl, { headers: { accept: "text/event-stream" } });
      assert.equal(stream.status, 503);
      assert.ok(stream.headers.get("retry-after"));
      await stream.text();

      const health = (await (await fetch(`${h.face.url}/healthz`)).json()) as Record<string, unknown>;
      assert.equal(health.signedIn, false);
      assert.equal(health.signInUrl, url);
      // One sign-in, however many requests waited for it.
      assert.equal(h.opened.length, 1);
    } finally {
      await h.close();
    }
  });

  test("an upstream 401 refreshes once and replays the buffered request", async () => {
    const clock = movableClock();
    const h = await startFaceHarness({ authServer: { accessTokenTtlSeconds: 2 }, deps: { now: clock.now } });
    try {
      await h.signedIn();
      const client = await connect(h);
      // The core now believes its token is fresh for an hour; the upstream will say otherwise once it expires.
      clock.skewMs = -3_600_000;
      const refreshed = h.as.stats.refreshSuccesses;
      const unauthorized = h.mcp.stats.unauthorized;
      while (h.mcp.stats.unauthorized === unauthorized) {
        assert.equal(textOf(await client.callTool({ name: "add", arguments: { a: 20, b: 22 } })), "42");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(h.as.stats.refreshSuccesses, refreshed + 1);
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "after" } })), "after");
      await client.close();
    } finally {
      await h.close();
    }
  });

  test("calls keep succeeding across several refreshes of a short-lived token", async () => {
    const h = await startFaceHarness({ authServer: { accessTokenTtlSeconds: 2 } });
    try {
      await h.signedIn();
      const client = await connect(h);
      let calls = 0;
      while (h.as.stats.refreshSuccesses < 2) {
        assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: `c${calls}` } })), `c${calls}`);
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await client.close();
      assert.equal(h.as.stats.refreshFailures, 0);
      assert.equal(h.opened.length, 1);
    } finally {
      await h.close();
    }
  });

  test("a revoked grant gives a clear error and one new sign-in: no loop, no hang", async () => {
    const clock = movableClock();
    const h = await startFaceHarness({ deps: { now: clock.now }, serve: { signInWaitMs: 300 } });
    try {
      await h.signedIn();
      h.browser = "ignore";
      const client = await connect(h);
      h.as.revokeAll();
      // The core sees its token expire; the refresh is refused (invalid_grant); a new sign-in starts (and is
      // left alone: the user does not come back).
      clock.skewMs = 2 * 3_600_000;
      h.opened.length = 0;
      const browserBefore = h.as.stats.authorizationRequests;
      const first = await client.callTool({ name: "echo", arguments: { text: "x" } }).then(
        () => undefined,
        (error: Error) => error,
      );
      assert.ok(
        first,
        `the call succeeded after the grant was revoked; AS saw ${JSON.stringify(h.as.stats.requests)}; log:\n${h.logs.join("")}`,
      );
      assert.match(first.message, /[Ss]ign/);
      await assert.rejects(client.callTool({ name: "echo", arguments: { text: "y" } }));
      assert.ok(h.as.stats.invalidGrants >= 1);
      // One new sign-in for both requests (the browser opened once; the AS saw at most that one authorization).
      assert.ok(h.opened.length <= 1, `opened ${h.opened.length} sign-ins`);
      assert.ok(h.as.stats.authorizationRequests - browserBefore <= 1);
      await client.close().catch(() => {});
    } finally {
      await h.close();
    }
  });

  test("403 insufficient_scope: step-up sign-in for the union of scopes, then the call is replayed", async () => {
    const h = await startFaceHarness({ mcpServer: { scopesSupported: ["mcp:read", "mcp:write"] } });
    try {
      await h.signedIn();
      const client = await connect(h);
      const result = await client.callTool({ name: "admin_action", arguments: {} });
      assert.match(textOf(result), /^admin action done/);
      assert.ok(h.mcp.stats.forbidden >= 1);
      assert.equal(h.opened.length, 2);
      const scopes = new URL(h.opened[1] ?? "").searchParams.get("scope")?.split(" ") ?? [];
      assert.ok(scopes.includes("mcp:read") && scopes.includes("mcp:admin"), scopes.join(" "));
      await client.close();
    } finally {
      await h.close();
    }
  });

  test("sign in and sign out from the page", async () => {
    const h = await startFaceHarness({ browser: "ignore", serve: { signInAtStart: false } });
    try {
      const page = await (await fetch(`${h.face.url}/`)).text();
      assert.match(page, /Not signed in/);
      const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
      const form = (path: string) =>
        fetch(`${h.face.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", origin: h.face.url },
          body: `csrf=${encodeURIComponent(csrf)}`,
          redirect: "manual",
        });

      const signIn = await form("/oauth/sign-in");
      assert.equal(signIn.status, 303);
      const location = signIn.headers.get("location") ?? "";
      assert.ok(location.startsWith(`${h.as.issuer}/`), location);
      const login = await completeLoginInBrowser(location);
      assert.equal(login.callbackStatus, 200);
      await h.signedIn();
      assert.match(await (await fetch(`${h.face.url}/`)).text(), /Signed in/);

      const signOut = await form("/oauth/sign-out");
      assert.equal(signOut.status, 303);
      assert.equal(signOut.headers.get("location"), "/");
      assert.equal((await h.auth.status()).signedIn, false);
      assert.deepEqual(await h.store.keys(), []);
    } finally {
      await h.close();
    }
  });

  test("consent denied: the callback page says so and waiting requests get the reason", async () => {
    const h = await startFaceHarness({ login: { action: "deny" } });
    try {
      const response = await fetch(h.mcpUrl, {
        method: "POST",
        headers: { "content-type": "application/json", accept: ACCEPT_BOTH },
        body: JSON.stringify(INIT),
      });
      const body = (await response.json()) as RpcError;
      assert.equal(body.id, "init-1");
      assert.equal(body.error.data?.proxyError, "SIGN_IN_DENIED");
      assert.match(body.error.message, /denied/);
    } finally {
      await h.close();
    }
  });
});
