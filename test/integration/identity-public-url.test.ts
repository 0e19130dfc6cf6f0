// `serve --public-url` in the single-user mode (no --identity), from the built bin behind a plain reverse proxy
// started by the test: the redirect URI and the page's links name the public URL, the X-Forwarded-Host/-Proto the
// front adds are not read in this mode, and a sign-in through the public URL completes. Then the same auth dir is
// served under another public URL: the stored registration names the old redirect URI, so the proxy registers its
// dynamic client again (counted at the real test AS), and a third run with the same URL registers nothing new.
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import type { TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { type AuthUpstream, startAuthUpstream } from "./support/auth-upstream.ts";
import { type ServeChild, startServeChild } from "./support/serve-child.ts";

interface Front {
  url: string;
  close(): Promise<void>;
}

/** A reverse proxy to `target` that adds X-Forwarded-Host/-Proto naming somewhere else (mode none must ignore them). */
async function startFront(target: string, port: number): Promise<Front> {
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const headers = { ...req.headers, "x-forwarded-host": "elsewhere.example.test", "x-forwarded-proto": "https" };
    const forwarded = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on("error", () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    res.on("close", () => forwarded.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe("serve --public-url in the single-user mode", () => {
  let base: AuthUpstream;
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let dir: string;
  const running: { serve?: ServeChild; front?: Front; client?: Client } = {};

  before(async () => {
    base = await startAuthUpstream({ dirPrefix: "identity-public-url-" });
    ({ as, mcp, dir } = base);
  });

  after(async () => {
    await stopRun();
    await base?.close();
  });

  async function stopRun(): Promise<void> {
    await running.client?.close().catch(() => {});
    await running.serve?.stop();
    await running.front?.close();
    running.client = running.serve = running.front = undefined;
  }

  /** Starts serve on a fresh port behind a front (on `frontPort`) whose URL is the --public-url. */
  async function startRun(frontPort?: number): Promise<{ front: Front; proxy: string }> {
    const port = await freePort();
    const proxy = `http://127.0.0.1:${port}`;
    const front = await startFront(proxy, frontPort ?? (await freePort()));
    const serve = await startServeChild([
      mcp.url,
      "--public-url",
      front.url,
      "--port",
      String(port),
      "--auth-dir",
      dir,
      "--no-browser",
    ]);
    Object.assign(running, { serve, front });
    return { front, proxy };
  }

  async function signInVia(front: Front, url: string): Promise<void> {
    const result = await completeLoginInBrowser(url, {
      login: "alice",
      isCallback: (target) => target.origin === front.url && target.pathname === "/oauth/callback",
    });
    assert.equal(result.callbackStatus, 200);
  }

  let firstClientId: string | null = null;

  test("the redirect URI and the page's links are the public URL; a sign-in through it completes", async () => {
    const { front, proxy } = await startRun();
    // The page's Sign in button (an MCP request would first wait out the sign-in serve starts at start).
    const url = await signInFromPage(front);
    const authorize = new URL(url);
    assert.equal(authorize.searchParams.get("redirect_uri"), `${front.url}/oauth/callback`);
    assert.ok(!url.includes("elsewhere.example.test"), "X-Forwarded-Host is not read without an identity mode");
    firstClientId = authorize.searchParams.get("client_id");

    const page = await (await fetch(`${front.url}/`, { headers: { accept: "text/html" } })).text();
    assert.ok(page.includes(`${front.url}/mcp`), "the page names the public /mcp URL");
    assert.ok(!page.includes(proxy), "the page does not name the bind address");
    assert.ok(!page.includes("elsewhere.example.test"));

    await signInVia(front, url);
    const client = new Client({ name: "public-url-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${front.url}/mcp`)));
    running.client = client;
    const result = (await client.callTool({ name: "whoami", arguments: {} })) as { content: { text: string }[] };
    assert.equal((JSON.parse(result.content[0]?.text ?? "{}") as { sub?: string }).sub, "alice");
    assert.equal(as.stats.registrations, 1);
    await stopRun();
  });

  test("another --public-url on the same auth dir registers the dynamic client again; the same one does not", async () => {
    assert.ok(firstClientId, "the first test ran");
    // The stored tokens still work (no sign-in), but a new sign-in needs a client registered for the new URI.
    const secondPort = await freePort();
    const second = await startRun(secondPort);
    const client = new Client({ name: "public-url-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${second.front.url}/mcp`)));
    running.client = client;
    await client.close();
    running.client = undefined;
    // A new sign-in from the page (signing out would delete the registration too, proving nothing).
    const url = await signInFromPage(second.front);
    const authorize = new URL(url);
    assert.equal(authorize.searchParams.get("redirect_uri"), `${second.front.url}/oauth/callback`);
    assert.notEqual(authorize.searchParams.get("client_id"), firstClientId, "a new client for the new redirect URI");
    assert.equal(as.stats.registrations, 2);
    await signInVia(second.front, url);
    const secondClientId = authorize.searchParams.get("client_id");
    await stopRun();

    // The second run's public URL again (its front back on the same port, serve on a new one): no new client.
    const third = await startRun(secondPort);
    assert.equal(third.front.url, second.front.url);
    const again = new URL(await signInFromPage(third.front));
    assert.equal(again.searchParams.get("redirect_uri"), `${third.front.url}/oauth/callback`);
    assert.equal(again.searchParams.get("client_id"), secondClientId);
    assert.equal(as.stats.registrations, 2);
    await stopRun();
  });

  /** Starts a sign-in with the page's form (as the Sign in button does): the authorization URL it redirects to. */
  async function signInFromPage(front: Front): Promise<string> {
    const page = await (await fetch(`${front.url}/`, { headers: { accept: "text/html" } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
    assert.ok(csrf, "the page has a form");
    const answer = await fetch(`${front.url}/oauth/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: front.url },
      body: `csrf=${encodeURIComponent(csrf)}`,
      redirect: "manual",
    });
    assert.equal(answer.status, 303, await answer.text());
    return answer.headers.get("location") ?? "";
  }
});
