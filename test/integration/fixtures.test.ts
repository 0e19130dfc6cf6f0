// Proves the test fixtures work: the oidc-provider authorization server, the scripted browser (in process and as
// a BROWSER command) and the protected MCP server in every transport mode, with a real SDK v2 client.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { decodeJwt } from "jose";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startCallbackListener } from "../fixtures/callback-listener.ts";
import { completeLoginInBrowser, HEADLESS_BROWSER_PATH } from "../fixtures/headless-login.ts";
import { type McpTransportMode, startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { refreshTokens, registerClient, signIn, type TokenResponse } from "../fixtures/oauth-test-client.ts";

const RESOURCE = "http://127.0.0.1:1/mcp";

function tokensOf(result: { token?: { status: number; body: Record<string, unknown> } }): TokenResponse {
  assert.equal(result.token?.status, 200, `token request failed: ${JSON.stringify(result.token?.body.error)}`);
  return result.token.body as unknown as TokenResponse;
}

function runBrowser(url: string, env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      HEADLESS_BROWSER_PATH,
      ["--some-flag", url],
      { env: { ...process.env, ...env } },
      (error, _out, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stderr });
      },
    );
  });
}

describe("test authorization server", () => {
  let as: TestAuthServer;
  before(async () => {
    as = await startAuthServer({ resources: [RESOURCE] });
  });
  after(() => as.close());

  test("advertises RFC 8414 metadata with PKCE S256, RFC 9207 iss, registration and the MCP scopes", async () => {
    const metadata = (await (await fetch(as.metadataUrl)).json()) as Record<string, unknown> & {
      scopes_supported: string[];
    };
    assert.equal(metadata.issuer, as.issuer);
    assert.deepEqual(metadata.code_challenge_methods_supported, ["S256"]);
    assert.equal(metadata.authorization_response_iss_parameter_supported, true);
    assert.equal(metadata.registration_endpoint, `${as.issuer}/register`);
    assert.equal(metadata.revocation_endpoint, `${as.issuer}/revoke`);
    assert.equal(metadata.introspection_endpoint, `${as.issuer}/introspect`);
    for (const scope of ["mcp:read", "mcp:write", "mcp:admin"]) assert.ok(metadata.scopes_supported.includes(scope));
    const oidc = (await (await fetch(`${as.issuer}/.well-known/openid-configuration`)).json()) as { issuer: string };
    assert.equal(oidc.issuer, as.issuer);
  });

  test("DCR + authorization code + PKCE via the scripted browser gives an RFC 9068 JWT for the resource", async () => {
    as.resetStats();
    const result = await signIn(as, { resource: RESOURCE, scope: "mcp:read mcp:write", browser: { login: "bob" } });
    const tokens = tokensOf(result);
    assert.equal(result.callback.get("iss"), as.issuer);
    const claims = decodeJwt(tokens.access_token);
    assert.equal(claims.iss, as.issuer);
    assert.equal(claims.aud, RESOURCE);
    assert.equal(claims.sub, "bob");
    assert.equal(claims.scope, "mcp:read mcp:write");
    assert.equal(claims.client_id, result.client.client_id);
    assert.ok(tokens.refresh_token, "a client registered with refresh_token gets a refresh token");

    assert.equal(as.stats.registrations, 1);
    assert.equal(as.stats.authorizationRequests, 1);
    assert.equal(as.stats.tokenRequests.authorization_code, 1);
    const [authz, token] = as.stats.requests.filter((r) => r.endpoint !== "registration");
    assert.deepEqual([authz?.resource, authz?.scope], [RESOURCE, "mcp:read mcp:write"]);
    assert.deepEqual([token?.grantType, token?.resource, token?.status], ["authorization_code", RESOURCE, 200]);
  });

  test("an authorization request without scope or resource still works (default scope, first resource)", async () => {
    as.resetStats();
    const tokens = tokensOf(await signIn(as));
    const claims = decodeJwt(tokens.access_token);
    assert.equal(claims.aud, RESOURCE);
    assert.equal(claims.scope, "mcp:read mcp:write");
    const authz = as.stats.requests.find((r) => r.endpoint === "authorization");
    assert.equal(authz?.scope, undefined, "the stats record what was sent, not the default");
    assert.equal(authz?.resource, undefined);

    as.resetStats();
    tokensOf(await signIn(as, { scope: "mcp:read" }));
    assert.deepEqual(
      as.stats.requests.map((r) => [r.endpoint, r.scope, r.resource]),
      [
        ["registration", undefined, undefined],
        ["authorization", "mcp:read", undefined],
        ["token", undefined, undefined],
      ],
    );
  });

  test("openid email scopes add an id_token with sub and email", async () => {
    const tokens = tokensOf(
      await signIn(as, { resource: RESOURCE, scope: "openid email mcp:read", browser: { login: "carol" } }),
    );
    const idToken = decodeJwt(tokens.id_token ?? "");
    assert.deepEqual([idToken.sub, idToken.email, idToken.iss], ["carol", "carol@example.test", as.issuer]);
    assert.equal(decodeJwt(tokens.access_token).aud, RESOURCE);
  });

  test("an unknown resource is refused with invalid_target", async () => {
    const result = await signIn(as, { resource: "http://127.0.0.1:2/other" });
    assert.equal(result.callback.get("error"), "invalid_target");
  });

  test("denying consent redirects back with access_denied", async () => {
    const result = await signIn(as, { resource: RESOURCE, browser: { action: "deny" } });
    assert.equal(result.callback.get("error"), "access_denied");
    assert.equal(result.token, undefined);
  });

  test("refresh rotates the refresh token; the old one is then invalid_grant (and revokes the grant)", async () => {
    const { client, token } = await signIn(as, { resource: RESOURCE, scope: "mcp:read" });
    const first = tokensOf({ token });
    as.resetStats();
    const refreshed = await refreshTokens(as, client, first.refresh_token ?? "", { resource: RESOURCE });
    assert.equal(refreshed.status, 200);
    const second = refreshed.body as unknown as TokenResponse;
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal(decodeJwt(second.access_token).aud, RESOURCE);

    const reused = await refreshTokens(as, client, first.refresh_token ?? "");
    assert.deepEqual([reused.status, reused.body.error], [400, "invalid_grant"]);
    // oidc-provider's reuse detection: the whole grant is gone, the rotated token too.
    const afterReuse = await refreshTokens(as, client, second.refresh_token ?? "");
    assert.equal(afterReuse.body.error, "invalid_grant");

    assert.equal(as.stats.tokenRequests.refresh_token, 3);
    assert.equal(as.stats.refreshSuccesses, 1);
    assert.equal(as.stats.refreshFailures, 2);
    assert.equal(as.stats.invalidGrants, 2);
    assert.deepEqual(
      as.stats.requests.map((r) => r.resource),
      [RESOURCE, undefined, undefined],
    );
    // Each presented refresh token is recorded hashed: the first one twice (one reuse), the rotated one once.
    const grants = as.stats.tokenGrants;
    assert.deepEqual(
      grants.map((g) => [g.grantType, g.status]),
      [
        ["refresh_token", 200],
        ["refresh_token", 400],
        ["refresh_token", 400],
      ],
    );
    assert.equal(grants[0]?.presentedRefreshToken, grants[1]?.presentedRefreshToken);
    assert.equal(grants[0]?.issuedRefreshToken, grants[2]?.presentedRefreshToken);
    assert.notEqual(grants[0]?.presentedRefreshToken, grants[0]?.issuedRefreshToken);
    assert.equal(grants[0]?.accountId, "alice");
    assert.equal(grants[0]?.expiresIn, 3600);
    assert.equal(as.stats.reusedRefreshTokens, 1);
    for (const grant of grants) assert.match(grant.presentedRefreshToken ?? "", /^[0-9a-f]{16}$/);
    assert.ok(!JSON.stringify(as.stats).includes(first.refresh_token ?? "?"), "no token kept in the stats");
  });

  test("revokeAll() makes the next refresh fail with invalid_grant", async () => {
    const { client, token } = await signIn(as, { resource: RESOURCE });
    as.revokeAll();
    const result = await refreshTokens(as, client, tokensOf({ token }).refresh_token ?? "");
    assert.deepEqual([result.status, result.body.error], [400, "invalid_grant"]);
  });

  test("RFC 7009 revocation of a refresh token, RFC 7662 introspection by a confidential client", async () => {
    as.resetStats();
    const { client, token } = await signIn(as, { resource: RESOURCE });
    const refreshToken = tokensOf({ token }).refresh_token ?? "";
    const revoked = await fetch(`${as.issuer}/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: refreshToken, token_type_hint: "refresh_token", client_id: client.client_id }),
    });
    assert.equal(revoked.status, 200);
    assert.equal((await refreshTokens(as, client, refreshToken)).body.error, "invalid_grant");
    assert.equal(as.stats.revocations, 1);

    const confidential = await registerClient(as, ["http://127.0.0.1/oauth/callback"], {
      token_endpoint_auth_method: "client_secret_basic",
    });
    const own = tokensOf(await signIn(as, { resource: RESOURCE, client: confidential }));
    const introspected = await fetch(`${as.issuer}/introspect`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${confidential.client_id}:${confidential.client_secret}`).toString("base64")}`,
      },
      body: new URLSearchParams({ token: own.refresh_token ?? "" }),
    });
    const body = (await introspected.json()) as { active: boolean; client_id?: string; sub?: string };
    assert.deepEqual([body.active, body.client_id, body.sub], [true, confidential.client_id, "alice"]);
    assert.equal(as.stats.introspections, 1);
  });

  test("deleteClients() forgets dynamically registered clients", async () => {
    const { client, token } = await signIn(as, { resource: RESOURCE });
    as.deleteClients();
    const result = await refreshTokens(as, client, tokensOf({ token }).refresh_token ?? "");
    assert.equal(result.body.error, "invalid_client");
  });

  test("registration accepts native clients with localhost and 127.0.0.1 loopback redirect URIs", async () => {
    const client = await registerClient(as, [
      "http://localhost:3334/oauth/callback",
      "http://127.0.0.1:3334/oauth/callback",
    ]);
    assert.equal(client.redirect_uris.length, 2);
  });

  test("static clients: client_secret_basic, client_secret_post and public none", async () => {
    const redirect_uris = ["http://127.0.0.1/oauth/callback"];
    const clients = [
      { client_id: "basic-client", client_secret: "basic-secret", token_endpoint_auth_method: "client_secret_basic" },
      { client_id: "post-client", client_secret: "post-secret", token_endpoint_auth_method: "client_secret_post" },
      { client_id: "public-client", token_endpoint_auth_method: "none" },
    ] as const;
    const staticAs = await startAuthServer({
      resources: [RESOURCE],
      clients: clients.map((client) => ({ ...client, redirect_uris })),
    });
    try {
      for (const client of clients) {
        const result = await signIn(staticAs, { resource: RESOURCE, client: { ...client, redirect_uris } });
        assert.equal(decodeJwt(tokensOf(result).access_token).client_id, client.client_id);
        const wrong = { ...client, client_secret: "wrong", redirect_uris };
        if (client.token_endpoint_auth_method !== "none") {
          const refused = await refreshTokens(staticAs, wrong, tokensOf(result).refresh_token ?? "");
          assert.equal(refused.body.error, "invalid_client");
        }
      }
      assert.equal(staticAs.stats.registrations, 0);
    } finally {
      await staticAs.close();
    }
  });
});

describe("headless browser command", () => {
  let as: TestAuthServer;
  let dir: string;
  before(async () => {
    as = await startAuthServer({ resources: [RESOURCE] });
    dir = await mkdtemp(join(tmpdir(), "fixtures-test-"));
  });
  after(async () => {
    await as.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function authorizationUrl(redirectUri: string): Promise<string> {
    const client = await registerClient(as, [redirectUri]);
    const url = new URL(`${as.issuer}/authorize`);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: client.client_id,
      redirect_uri: redirectUri,
      state: "state-1",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
      resource: RESOURCE,
    }).toString();
    return url.href;
  }

  test("signs in, delivers the code to the loopback callback, logs origin+path only", async () => {
    const listener = await startCallbackListener();
    try {
      const log = join(dir, "tabs.log");
      const run = await runBrowser(await authorizationUrl(listener.redirectUri), { TEST_BROWSER_LOG: log });
      assert.deepEqual(run, { code: 0, stderr: "" });
      const callback = await listener.nextCallback();
      assert.ok(callback.get("code"));
      assert.equal(callback.get("state"), "state-1");
      assert.equal(await readFile(log, "utf8"), `${as.issuer}/authorize\n`);
    } finally {
      await listener.close();
    }
  });

  test("TEST_BROWSER_ACTION=deny brings error=access_denied back", async () => {
    const listener = await startCallbackListener();
    try {
      const run = await runBrowser(await authorizationUrl(listener.redirectUri), { TEST_BROWSER_ACTION: "deny" });
      assert.equal(run.code, 0);
      assert.equal((await listener.nextCallback()).get("error"), "access_denied");
    } finally {
      await listener.close();
    }
  });

  test("follows an AS that redirects straight back (like the conformance suite's mock AS)", async () => {
    const listener = await startCallbackListener();
    const mockAs = createServer((req, res) => {
      const params = new URL(req.url ?? "/", "http://x").searchParams;
      const back = new URL(params.get("redirect_uri") ?? "");
      back.search = new URLSearchParams({ code: "mock-code", state: params.get("state") ?? "" }).toString();
      res.writeHead(302, { location: back.href }).end();
    });
    await new Promise<void>((resolve) => mockAs.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = mockAs.address() as AddressInfo;
      const url = `http://127.0.0.1:${port}/authorize?redirect_uri=${encodeURIComponent(listener.redirectUri)}&state=s`;
      const result = await completeLoginInBrowser(url);
      assert.deepEqual([result.callbackStatus, result.pages], [200, []]);
      assert.equal((await listener.nextCallback()).get("code"), "mock-code");
    } finally {
      mockAs.close();
      await listener.close();
    }
  });

  test("fails fast with a one-line reason when the AS is unreachable", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const run = await runBrowser(`http://127.0.0.1:${port}/authorize?state=secret`);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, `headless-browser: could not reach http://127.0.0.1:${port}/authorize: ECONNREFUSED\n`);
  });
});

function bearerFetch(token: string): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set("authorization", `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
}

async function connect(server: TestMcpServer, token: string, capabilities = {}): Promise<Client> {
  const client = new Client(
    { name: "fixtures-test", version: "1.0.0" },
    {
      capabilities,
      versionNegotiation: { mode: server.transport === "2026" || server.transport === "dual" ? "auto" : "legacy" },
    },
  );
  const url = new URL(server.url);
  const transport =
    server.transport === "sse"
      ? new SSEClientTransport(url, { fetch: bearerFetch(token) })
      : new StreamableHTTPClientTransport(url, { fetch: bearerFetch(token) });
  await client.connect(transport);
  return client;
}

function textOf(result: { content?: unknown }): string {
  const [block] = (result.content ?? []) as { type: string; text?: string }[];
  return block?.text ?? "";
}

const MODES: McpTransportMode[] = ["streamable-stateful", "streamable-stateless", "sse", "2026", "dual"];

describe("test MCP server", () => {
  let as: TestAuthServer;
  before(async () => {
    as = await startAuthServer();
  });
  after(() => as.close());

  for (const mode of MODES) {
    describe(mode, () => {
      let mcp: TestMcpServer;
      let readToken: string;
      before(async () => {
        mcp = await startMcpServer({ authServer: as, transport: mode });
        readToken = tokensOf(await signIn(as, { resource: mcp.resource, scope: "mcp:read" })).access_token;
      });
      after(() => mcp.close());

      test("401 without a token points at the RFC 9728 metadata, which names the AS", async () => {
        const response = await fetch(mcp.url, {
          method: mode === "sse" ? "GET" : "POST",
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
          body: mode === "sse" ? undefined : JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
        });
        assert.equal(response.status, 401);
        const challenge = response.headers.get("www-authenticate") ?? "";
        assert.equal(challenge, `Bearer resource_metadata="${mcp.resourceMetadataUrl}"`);
        const metadataPath = new URL(mcp.url).pathname;
        assert.equal(mcp.resourceMetadataUrl, `${mcp.origin}/.well-known/oauth-protected-resource${metadataPath}`);
        const metadata = (await (await fetch(mcp.resourceMetadataUrl)).json()) as {
          resource: string;
          authorization_servers: string[];
          scopes_supported: string[];
        };
        assert.deepEqual([metadata.resource, metadata.authorization_servers], [mcp.url, [as.issuer]]);
        assert.ok(metadata.scopes_supported.includes("mcp:admin"));
      });

      test("a bad token gets 401 invalid_token", async () => {
        const response = await fetch(mcp.url, {
          method: mode === "sse" ? "GET" : "POST",
          headers: { authorization: "Bearer not-a-jwt", "content-type": "application/json" },
          body: mode === "sse" ? undefined : "{}",
        });
        assert.equal(response.status, 401);
        assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer error="invalid_token", /);
      });

      test("an SDK v2 client with the bearer token calls echo and whoami", async () => {
        mcp.resetStats();
        const client = await connect(mcp, readToken);
        try {
          assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "hello" } })), "hello");
          assert.equal(textOf(await client.callTool({ name: "add", arguments: { a: 2, b: 3 } })), "5");
          const me = JSON.parse(textOf(await client.callTool({ name: "whoami", arguments: {} })));
          assert.deepEqual([me.sub, me.scopes], ["alice", ["mcp:read"]]);
        } finally {
          await client.close();
        }
        assert.ok(mcp.stats.requests > 0);
        assert.deepEqual(new Set(mcp.stats.authorizationKinds), new Set(["bearer"]));
        assert.deepEqual(mcp.stats.cookies, []);
        assert.equal(mcp.stats.unauthorized, 0);
        assert.ok(mcp.stats.methods.includes("tools/call"));
        const expectedRevision =
          { "2026": "2026-07-28", dual: "2026-07-28", sse: undefined }[mode as string] ?? "2025-11-25";
        if (expectedRevision)
          assert.ok(mcp.stats.protocolVersions.includes(expectedRevision), mcp.stats.protocolVersions.join());
      });

      test("admin_action needs mcp:admin: 403 insufficient_scope, then works with the scope", async () => {
        mcp.resetStats();
        const client = await connect(mcp, readToken);
        try {
          await assert.rejects(client.callTool({ name: "admin_action", arguments: {} }));
        } finally {
          await client.close();
        }
        assert.equal(mcp.stats.forbidden, 1);

        const adminToken = tokensOf(await signIn(as, { resource: mcp.resource, scope: "mcp:read mcp:admin" }));
        const admin = await connect(mcp, adminToken.access_token);
        try {
          assert.match(textOf(await admin.callTool({ name: "admin_action", arguments: {} })), /^admin action done/);
        } finally {
          await admin.close();
        }
      });

      test("a token for another MCP server is refused (audience check)", async () => {
        const other = await startMcpServer({ authServer: as, transport: mode });
        try {
          const response = await fetch(other.url, {
            method: mode === "sse" ? "GET" : "POST",
            headers: { authorization: `Bearer ${readToken}`, "content-type": "application/json" },
            body: mode === "sse" ? undefined : "{}",
          });
          assert.equal(response.status, 401);
          assert.match(response.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
        } finally {
          await other.close();
        }
      });
    });
  }

  test("a 2025-only client is served by `dual` and refused by `2026`", async () => {
    for (const mode of ["dual", "2026"] as const) {
      const mcp = await startMcpServer({ authServer: as, transport: mode });
      try {
        const token = tokensOf(await signIn(as, { resource: mcp.resource })).access_token;
        const client = new Client(
          { name: "legacy-client", version: "1.0.0" },
          { versionNegotiation: { mode: "legacy" } },
        );
        const connecting = client.connect(
          new StreamableHTTPClientTransport(new URL(mcp.url), { fetch: bearerFetch(token) }),
        );
        if (mode === "2026") {
          await assert.rejects(connecting);
        } else {
          await connecting;
          assert.equal(textOf(await client.callTool({ name: "echo", arguments: { text: "old" } })), "old");
        }
        await client.close();
      } finally {
        await mcp.close();
      }
    }
  });

  test("403 insufficient_scope challenge carries scope and resource_metadata", async () => {
    const mcp = await startMcpServer({ authServer: as, transport: "streamable-stateless" });
    try {
      const token = tokensOf(await signIn(as, { resource: mcp.resource, scope: "mcp:read" })).access_token;
      const response = await fetch(mcp.url, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "admin_action" } }),
      });
      assert.equal(response.status, 403);
      assert.equal(
        response.headers.get("www-authenticate"),
        `Bearer error="insufficient_scope", error_description="this call needs mcp:admin", scope="mcp:admin", resource_metadata="${mcp.resourceMetadataUrl}"`,
      );
    } finally {
      await mcp.close();
    }
  });

  for (const mode of ["streamable-stateful", "2026"] as const) {
    test(`${mode}: progress, sampling, elicitation, big results, resources and prompts`, async () => {
      const mcp = await startMcpServer({ authServer: as, transport: mode });
      const token = tokensOf(await signIn(as, { resource: mcp.resource })).access_token;
      const client = await connect(mcp, token, { sampling: {}, elicitation: { form: {} } });
      client.setRequestHandler("sampling/createMessage", async () => ({
        model: "test-model",
        role: "assistant",
        content: { type: "text", text: "sampled answer" },
      }));
      client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { answer: "42" } }));
      try {
        const progress: number[] = [];
        const done = await client.callTool(
          { name: "slow_progress", arguments: { steps: 5 } },
          { onprogress: (p) => progress.push(p.progress) },
        );
        assert.equal(textOf(done), "done 5");
        assert.deepEqual(progress, [1, 2, 3, 4, 5]);

        const sampled = await client.callTool({ name: "ask_sampling", arguments: { prompt: "hi" } });
        assert.equal(textOf(sampled), "sampled answer");
        const elicited = await client.callTool({ name: "ask_elicitation", arguments: { message: "answer?" } });
        assert.deepEqual(JSON.parse(textOf(elicited)), { action: "accept", content: { answer: "42" } });

        const big = await client.callTool({ name: "big", arguments: { bytes: 5 * 1024 * 1024 } });
        assert.equal(textOf(big).length, 5 * 1024 * 1024);

        const readme = await client.readResource({ uri: "demo://readme" });
        assert.match(String((readme.contents[0] as { text?: string }).text), /^# Demo/);
        const prompt = await client.getPrompt({ name: "greeting", arguments: { name: "Ada" } });
        assert.deepEqual(prompt.messages[0]?.content, { type: "text", text: "Say hello to Ada." });

        const aborter = new AbortController();
        const sleeping = client.callTool({ name: "sleep", arguments: { ms: 60_000 } }, { signal: aborter.signal });
        aborter.abort();
        await assert.rejects(sleeping);
      } finally {
        await client.close();
        await mcp.close();
      }
    });
  }

  test("streamable-stateful: a GET with Last-Event-ID replays the events the client missed", async () => {
    const mcp = await startMcpServer({ authServer: as, transport: "streamable-stateful" });
    const token = tokensOf(await signIn(as, { resource: mcp.resource })).access_token;
    const headers = {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    };
    try {
      const init = await fetch(mcp.url, {
        method: "POST",
        headers,
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
        }),
      });
      const sessionId = init.headers.get("mcp-session-id") ?? "";
      await init.text();
      const session = { ...headers, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" };
      await fetch(mcp.url, {
        method: "POST",
        headers: session,
        body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
      }).then((r) => r.text());

      const call = await fetch(mcp.url, {
        method: "POST",
        headers: session,
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 2,
          method: "tools/call",
          params: { name: "slow_progress", arguments: { steps: 3 }, _meta: { progressToken: "p" } },
        }),
      });
      const events = [...(await call.text()).matchAll(/^id: (.+)$/gm)].map((m) => m[1] ?? "");
      const firstProgress = events.find((_id, i) => i > 0) ?? events[0] ?? "";
      assert.ok(events.length >= 4, "priming event, 3 progress notifications and the result");

      const resumed = await fetch(mcp.url, {
        method: "GET",
        headers: {
          authorization: headers.authorization,
          accept: "text/event-stream",
          ...{ "mcp-session-id": sessionId },
          "last-event-id": firstProgress,
        },
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(resumed.status, 200);
      let replayed = "";
      const decoder = new TextDecoder();
      for await (const chunk of resumed.body ?? []) {
        replayed += decoder.decode(chunk as Uint8Array, { stream: true });
        if (replayed.includes('"result"')) break;
      }
      assert.match(replayed, /"progress":2/);
      assert.match(replayed, /done 3/);
      assert.doesNotMatch(replayed, /"progress":1,/);
    } finally {
      await mcp.close();
    }
  });

  test("an access token is refused once it expires", async () => {
    const shortAs = await startAuthServer({ accessTokenTtlSeconds: 1 });
    const mcp = await startMcpServer({ authServer: shortAs, transport: "streamable-stateless" });
    try {
      const token = tokensOf(await signIn(shortAs, { resource: mcp.resource })).access_token;
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const response = await fetch(mcp.url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: "{}",
      });
      assert.equal(response.status, 401);
      assert.match(
        response.headers.get("www-authenticate") ?? "",
        /error="invalid_token", error_description="the access token expired"/,
      );
    } finally {
      await mcp.close();
      await shortAs.close();
    }
  });
});
