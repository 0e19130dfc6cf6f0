// The HTTP face end to end: real SDK clients (v2 and v1) → the proxy (startServe, real OAuth core signed in through
// its own /oauth/callback) → a stateful Streamable HTTP MCP server protected by the oidc-provider test AS.
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as StreamableHTTPClientTransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { startServe } from "../../src/app/serve.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { type FaceHarness, freePort, startFaceHarness } from "./support/http-face-harness.ts";

const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};
const ACCEPT_BOTH = "application/json, text/event-stream";

interface Health {
  ok: boolean;
  upstream?: { url?: string; reachable?: boolean; era?: string; error?: string; checkedAt?: string };
  signedIn?: boolean;
  expiresAt?: string;
  signInUrl?: string;
}

function textOf(result: { content?: unknown }): string {
  const [block] = (result.content ?? []) as { type: string; text?: string }[];
  return block?.text ?? "";
}

/** Raw HTTP with full control over Host and every header (fetch forbids some). */
function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? "GET", headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Opens a session with a raw initialize and returns its id. */
async function initializeSession(h: FaceHarness): Promise<string> {
  const response = await fetch(h.mcpUrl, {
    method: "POST",
    headers: { "content-type": "application/json", accept: ACCEPT_BOTH },
    body: JSON.stringify(INIT),
  });
  assert.equal(response.status, 200);
  await response.text();
  const session = response.headers.get("mcp-session-id");
  assert.ok(session);
  await fetch(h.mcpUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: ACCEPT_BOTH,
      "mcp-session-id": session,
      "mcp-protocol-version": "2025-11-25",
    },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  }).then((r) => r.text());
  return session;
}

describe("HTTP face in front of a stateful Streamable HTTP server", () => {
  let h: FaceHarness;

  before(async () => {
    h = await startFaceHarness();
    await h.signedIn();
  });
  after(async () => {
    await h?.close();
  });

  test("signed in at start-up through the face's own /oauth/callback, once", () => {
    assert.equal(h.opened.length, 1);
    assert.equal(h.as.stats.tokenRequests.authorization_code, 1);
  });

  test("SDK v2 client: tools, resources, prompts, progress and elicitation through /mcp", async () => {
    const client = new Client({ name: "v2", version: "1.0.0" }, { capabilities: { elicitation: { form: {} } } });
    client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { answer: "42" } }));
    await client.connect(new StreamableHTTPClientTransport(new URL(h.mcpUrl)));
    try {
      const tools = await client.listTools();
      assert.ok(tools.tools.some((tool) => tool.name === "echo"));
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "héllo" } })), "héllo");
      const me = JSON.parse(textOf(await client.callTool({ name: "whoami", arguments: {} })));
      assert.equal(me.sub, "alice");

      const progress: number[] = [];
      const done = await client.callTool(
        { name: "slow_progress", arguments: { steps: 300 } },
        { onprogress: (p) => progress.push(p.progress) },
      );
      assert.equal(textOf(done), "done 300");
      assert.deepEqual(
        progress,
        Array.from({ length: 300 }, (_, i) => i + 1),
      );

      const elicited = await client.callTool({ name: "ask_elicitation", arguments: { message: "answer?" } });
      assert.deepEqual(JSON.parse(textOf(elicited)), { action: "accept", content: { answer: "42" } });

      const big = await client.callTool({ name: "big", arguments: { bytes: 2 * 1024 * 1024 } });
      assert.equal(textOf(big).length, 2 * 1024 * 1024);

      const readme = await client.readResource({ uri: "demo://readme" });
      assert.match(String((readme.contents[0] as { text?: string }).text), /^# Demo/);
      const prompt = await client.getPrompt({ name: "greeting", arguments: { name: "Ada" } });
      assert.equal(prompt.messages.length, 1);
    } finally {
      await client.close();
    }
  });

  test("SDK v1 client over Streamable HTTP: tools, progress, elicitation, session DELETE", async () => {
    const client = new ClientV1({ name: "v1", version: "1.0.0" }, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { answer: "v1" } }));
    const transport = new StreamableHTTPClientTransportV1(new URL(h.mcpUrl));
    await client.connect(transport);
    try {
      assert.equal(textOf((await client.callTool({ name: "add", arguments: { a: 2, b: 3 } })) as never), "5");
      const seen: number[] = [];
      await client.callTool({ name: "slow_progress", arguments: { steps: 50 } }, undefined, {
        onprogress: (p) => seen.push(p.progress),
      });
      assert.equal(seen.length, 50);
      const elicited = await client.callTool({ name: "ask_elicitation", arguments: { message: "?" } });
      assert.equal(JSON.parse(textOf(elicited as never)).content.answer, "v1");

      const session = transport.sessionId;
      assert.ok(session);
      await transport.terminateSession();
      // The upstream forgot the session: a later request with it gets the upstream's 404 (so clients re-initialise).
      const stale = await fetch(h.mcpUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: ACCEPT_BOTH,
          "mcp-session-id": session,
          "mcp-protocol-version": "2025-11-25",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 5, method: "tools/list" }),
      });
      assert.equal(stale.status, 404);
      await stale.text();
    } finally {
      await client.close();
    }
  });

  test("the GET stream opens through the proxy and streams headers at once", async () => {
    const session = await initializeSession(h);
    const controller = new AbortController();
    const response = await fetch(h.mcpUrl, {
      headers: { accept: "text/event-stream", "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" },
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
    controller.abort();
    await response.body?.cancel().catch(() => {});
    const deleted = await fetch(h.mcpUrl, {
      method: "DELETE",
      headers: { "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" },
    });
    assert.equal(deleted.status, 200);
  });

  test("the client's Authorization, Cookie and API-key headers never reach the upstream; only the AS token does", async () => {
    h.mcp.resetStats();
    const response = await fetch(h.mcpUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: ACCEPT_BOTH,
        authorization: "Basic Y2xpZW50OnNlY3JldA==",
        cookie: "marker=client-cookie",
        "x-api-key": "client-key",
      },
      body: JSON.stringify(INIT),
    });
    assert.equal(response.status, 200);
    await response.text();
    assert.deepEqual(h.mcp.stats.cookies, []);
    assert.deepEqual(h.mcp.stats.authorizationKinds, ["bearer"]);
  });

  test("upstream tokens and challenges are never returned downstream", async () => {
    const token = await h.auth.getAccessToken();
    assert.ok(token);
    const seen: string[] = [];
    const record = async (response: Response) => {
      seen.push(JSON.stringify([...response.headers]), await response.text());
      return response;
    };
    await record(
      await fetch(h.mcpUrl, {
        method: "POST",
        headers: { "content-type": "application/json", accept: ACCEPT_BOTH },
        body: JSON.stringify(INIT),
      }),
    );
    await record(await fetch(`${h.face.url}/healthz`));
    await record(await fetch(`${h.face.url}/`));
    await record(await fetch(`${h.face.url}/mcp`, { method: "DELETE" }));
    const all = seen.join("\n");
    assert.ok(!all.includes(token), "the access token leaked downstream");
    assert.doesNotMatch(all, /www-authenticate/i);
    assert.ok(!h.logs.join("").includes(token), "the access token was logged");
  });

  test("bad input gets clear errors and the proxy keeps serving", async () => {
    const malformed = await fetch(h.mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: ACCEPT_BOTH },
      body: "{not json",
    });
    assert.equal(malformed.status, 400);
    assert.match(await malformed.text(), /Parse error|parse/i);

    const wrongType = await fetch(h.mcpUrl, {
      method: "POST",
      headers: { "content-type": "text/plain", accept: ACCEPT_BOTH },
      body: JSON.stringify(INIT),
    });
    assert.equal(wrongType.status, 415);
    await wrongType.text();

    const oversized = await raw(h.mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: ACCEPT_BOTH },
      body: Buffer.alloc(5 * 1024 * 1024, 0x20),
    });
    assert.equal(oversized.status, 413);
    assert.equal(JSON.parse(oversized.body).error.code, -32600);

    const unknownSession = await fetch(h.mcpUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: ACCEPT_BOTH,
        "mcp-session-id": "no-such-session",
        "mcp-protocol-version": "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    assert.equal(unknownSession.status, 404);
    await unknownSession.text();

    const wrongMethod = await fetch(h.mcpUrl, { method: "PUT" });
    assert.equal(wrongMethod.status, 405);
    assert.match(wrongMethod.headers.get("allow") ?? "", /POST/);

    const health = await fetch(`${h.face.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as Health).ok, true);
  });

  test("200 parallel clients' calls all succeed", async () => {
    const client = new Client({ name: "parallel", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(h.mcpUrl)));
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => client.callTool({ name: "echo", arguments: { text: `n${i}` } })),
      );
      assert.deepEqual(
        results.map(textOf),
        Array.from({ length: 200 }, (_, i) => `n${i}`),
      );
    } finally {
      await client.close();
    }
  });

  test("/healthz reports sign-in state without secrets", async () => {
    const response = await fetch(`${h.face.url}/healthz`);
    assert.equal(response.headers.get("cache-control"), "no-store");
    const body = (await response.json()) as Health;
    assert.equal(body.ok, true);
    assert.equal(body.signedIn, true);
    assert.equal(body.upstream?.url, h.mcp.url);
    assert.match(body.expiresAt ?? "", /^\d{4}-/);
    assert.equal(body.signInUrl, undefined);
  });

  test("DNS rebinding: a foreign Host header gets 403 on every route", async () => {
    for (const path of ["/mcp", "/", "/healthz", "/sse", "/anything"]) {
      const response = await raw(`${h.face.url}${path}`, { headers: { host: "evil.example:8000" } });
      assert.equal(response.status, 403, path);
    }
    const ok = await raw(`${h.face.url}/healthz`, { headers: { host: "localhost" } });
    assert.equal(ok.status, 200);
  });

  test("a foreign Origin gets 403; a loopback Origin gets CORS headers", async () => {
    const foreign = await fetch(h.mcpUrl, {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "application/json", accept: ACCEPT_BOTH },
      body: JSON.stringify(INIT),
    });
    assert.equal(foreign.status, 403);
    await foreign.text();

    const preflight = await fetch(h.mcpUrl, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:6274",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, mcp-protocol-version",
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "http://localhost:6274");
    assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /mcp-protocol-version/);

    const local = await fetch(h.mcpUrl, {
      method: "POST",
      headers: { origin: "http://localhost:6274", "content-type": "application/json", accept: ACCEPT_BOTH },
      body: JSON.stringify(INIT),
    });
    assert.equal(local.status, 200);
    assert.equal(local.headers.get("access-control-allow-origin"), "http://localhost:6274");
    assert.match(local.headers.get("access-control-expose-headers") ?? "", /Mcp-Session-Id/);
    await local.text();
  });

  test("the OAuth discovery documents of the upstream are never relayed", async () => {
    for (const path of [
      "/.well-known/oauth-protected-resource/mcp",
      "/.well-known/oauth-authorization-server",
      "/.well-known/openid-configuration",
    ]) {
      const response = await fetch(`${h.face.url}${path}`);
      assert.equal(response.status, 404, path);
      await response.text();
    }
  });

  test("discovery documents stay unrelayed behind dot segments, encodings, backslashes and doubled slashes", async () => {
    const before = h.mcp.stats.metadataRequests;
    for (const path of [
      "/.well-known/./oauth-protected-resource/mcp",
      "/x/../.well-known/oauth-protected-resource/mcp",
      "/%2e%2E/.well-known/oauth-authorization-server",
      "/x/%2e%2e/.well-known/openid-configuration",
      "/x%2f..%2f.well-known/oauth-authorization-server",
      "//.well-known//oauth-authorization-server",
      "/.WELL-KNOWN/OAUTH-AUTHORIZATION-SERVER",
      "/x\\..\\.well-known/openid-configuration",
      "/%2Ewell-known/oauth-protected-resource",
    ]) {
      const { status } = await rawRequest(h.face.port, "GET", path);
      assert.equal(status, 404, path);
    }
    assert.equal(h.mcp.stats.metadataRequests, before, "no metadata request reached the upstream");
  });

  test("browser navigations, no-cors loads and cross-site requests to relay paths never reach the upstream", async () => {
    const before = h.mcp.stats.requests;
    const attempts: [string, string, Record<string, string>][] = [
      ["GET", "/anything", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image" }],
      ["GET", "/mcp", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" }],
      ["GET", "/page", { "sec-fetch-site": "none", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" }],
      ["POST", "/mcp", { "sec-fetch-site": "same-site", "sec-fetch-mode": "navigate", origin: "http://127.0.0.1:1" }],
      ["GET", "/sse", { "sec-fetch-site": "same-origin", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "script" }],
      ["POST", "/mcp", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" }],
    ];
    for (const [method, path, headers] of attempts) {
      const { status, body } = await rawRequest(h.face.port, method, path, headers);
      assert.equal(status, 403, `${method} ${path} ${JSON.stringify(headers)}`);
      assert.match(body, /only MCP clients and allowed origins/);
    }
    assert.equal(h.mcp.stats.requests, before, "nothing was relayed");
    // A CORS request from an allowed (loopback) origin is an MCP client: relayed.
    const allowed = await fetch(h.mcpUrl, {
      method: "POST",
      headers: {
        origin: "http://localhost:6274",
        "sec-fetch-site": "cross-site",
        "sec-fetch-mode": "cors",
        "content-type": "application/json",
        accept: ACCEPT_BOTH,
      },
      body: JSON.stringify(INIT),
    });
    assert.equal(allowed.status, 200);
    await allowed.text();
    assert.equal(h.mcp.stats.requests, before + 1);
  });

  test("relayed responses are sandboxed: upstream content never runs as the proxy's origin", async () => {
    const response = await fetch(`${h.face.url}/not-mcp`);
    await response.text();
    assert.match(response.headers.get("content-security-policy") ?? "", /^sandbox; frame-ancestors 'none'$/);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.equal(response.headers.get("cross-origin-resource-policy"), "same-origin");
    const mcp = await fetch(h.mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: ACCEPT_BOTH },
      body: JSON.stringify(INIT),
    });
    await mcp.text();
    assert.match(mcp.headers.get("content-security-policy") ?? "", /sandbox/);
  });

  test("the page for people: state, forms, configuration, security headers", async () => {
    const response = await fetch(`${h.face.url}/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-frame-options"), "DENY");
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.match(response.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
    const html = await response.text();
    assert.match(html, /Signed in/);
    assert.match(html, /alice/);
    assert.ok(html.includes(h.mcp.url));
    assert.ok(html.includes(`${h.face.url}/mcp`));
    assert.match(html, /action="\/oauth\/sign-out"/);
  });

  test("sign-in/out forms refuse posts without the CSRF token or from another origin", async () => {
    const noToken = await fetch(`${h.face.url}/oauth/sign-out`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "csrf=wrong",
      redirect: "manual",
    });
    assert.equal(noToken.status, 403);
    await noToken.text();
    const page = await (await fetch(`${h.face.url}/`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
    assert.ok(csrf);
    const crossSite = await fetch(`${h.face.url}/oauth/sign-out`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost:9999" },
      body: `csrf=${encodeURIComponent(csrf)}`,
      redirect: "manual",
    });
    assert.equal(crossSite.status, 403);
    await crossSite.text();
    assert.equal((await h.auth.status()).signedIn, true);
  });

  test("a callback with an unknown state shows a failure page, never success", async () => {
    const response = await fetch(`${h.face.url}/oauth/callback?code=abc&state=forged`);
    assert.equal(response.status, 400);
    assert.equal(response.headers.get("x-frame-options"), "DENY");
    assert.equal(response.headers.get("referrer-policy"), "same-origin");
    const html = await response.text();
    // Signed in already, so the page says the link was used; a forged one is refused all the same.
    assert.match(html, /Sign-in failed|Already signed in/);
    assert.doesNotMatch(html, /✓ Signed in/);
  });
});

describe("HTTP face: inbound API key and bind address", () => {
  test("a non-loopback --host without a key is refused at start-up", async () => {
    await assert.rejects(
      startServe({
        upstream: { url: "http://127.0.0.1:9/mcp", authorizeParams: {}, headers: {}, sendResource: true },
        runtime: {
          authDir: "/x",
          port: 0,
          callbackHost: "127.0.0.1",
          openBrowser: false,
          debug: false,
          allowInsecureHttp: true,
        },
        host: "0.0.0.0",
        port: 0,
      }),
      (error) => isProxyError(error, "USAGE") && /api-key|MCP_PROXY_API_KEY/.test(error.toLine()),
    );
  });

  test("with a key, MCP requests need it (Bearer or X-API-Key) and it never reaches the upstream", async () => {
    const h = await startFaceHarness({ serve: { apiKey: "inbound-secret", port: await freePort() } });
    try {
      await h.signedIn();
      const post = (headers: Record<string, string>) =>
        fetch(h.mcpUrl, {
          method: "POST",
          headers: { "content-type": "application/json", accept: ACCEPT_BOTH, ...headers },
          body: JSON.stringify(INIT),
        });
      const none = await post({});
      assert.equal(none.status, 403);
      assert.equal(none.headers.get("www-authenticate"), null);
      await none.text();
      const wrong = await post({ authorization: "Bearer nope" });
      assert.equal(wrong.status, 403);
      await wrong.text();

      h.mcp.resetStats();
      const bearer = await post({ authorization: "Bearer inbound-secret" });
      assert.equal(bearer.status, 200);
      await bearer.text();
      const header = await post({ "x-api-key": "inbound-secret" });
      assert.equal(header.status, 200);
      await header.text();
      // The upstream saw the AS token both times, never the inbound key.
      assert.deepEqual(h.mcp.stats.authorizationKinds, ["bearer", "bearer"]);

      const client = new Client({ name: "keyed", version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(h.mcpUrl), {
          requestInit: { headers: { authorization: "Bearer inbound-secret" } },
        }),
      );
      assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "k" } })), "k");
      await client.close();

      // The page asks browsers for the key (Basic); /healthz answers without it but says less.
      const page = await fetch(`${h.face.url}/`);
      assert.equal(page.status, 401);
      assert.match(page.headers.get("www-authenticate") ?? "", /^Basic/);
      await page.text();
      const health = (await (await fetch(`${h.face.url}/healthz`)).json()) as Health;
      assert.equal(health.ok, true);
      assert.equal(health.upstream, undefined);
      const fullHealth = (await (
        await fetch(`${h.face.url}/healthz`, { headers: { "x-api-key": "inbound-secret" } })
      ).json()) as Health;
      assert.equal(fullHealth.upstream?.url, h.mcp.url);
    } finally {
      await h.close();
    }
  });
});

/** A request with the target sent exactly as given (fetch would resolve dot segments before sending). */
function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}
