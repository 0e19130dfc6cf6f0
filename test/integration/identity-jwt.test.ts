// `serve --identity jwt:JWKS_URL` from the built bin: the test plays the signing front (an ES256 key pair made with
// jose, its public half served as a JWKS on a loopback port) and puts a signed assertion in the header the proxy is
// told to read. Two users sign in in their own scripted browsers at the real test AS and each gets their own grant;
// expired, wrong-audience, wrong-key and unsigned (alg none) assertions are refused with a message saying why.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { exportJWK, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from "jose";
import type { TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import type { TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { whoami } from "./support/apps-deployment.ts";
import { type AuthUpstream, startAuthUpstream } from "./support/auth-upstream.ts";
import { type ServeChild, startServeChild } from "./support/serve-child.ts";

const HEADER = "x-test-front-assertion";
const AUDIENCE = "mcp-proxy-under-test";
const ISSUER = "https://front.example.test";

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

describe("serve --identity jwt:JWKS_URL, two users behind a signing front", () => {
  let base: AuthUpstream;
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let jwks: Server;
  let serve: ServeChild;
  let dir: string;
  let proxy: string;
  let frontKey: SigningKey;
  let strangerKey: SigningKey;
  let jwksFetches = 0;
  const clients: Client[] = [];

  before(async () => {
    base = await startAuthUpstream({ dirPrefix: "identity-jwt-" });
    ({ as, mcp, dir } = base);
    const front = await generateKeyPair("ES256");
    frontKey = front.privateKey;
    strangerKey = (await generateKeyPair("ES256")).privateKey;
    const publicJwk: JWK = { ...(await exportJWK(front.publicKey)), kid: "front-1", alg: "ES256", use: "sig" };
    jwks = createServer((_req, res) => {
      jwksFetches++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    const port = await freePort();
    proxy = `http://127.0.0.1:${port}`;
    serve = await startServeChild([
      mcp.url,
      "--identity",
      `jwt:${jwksUrl}`,
      "--identity-header",
      HEADER,
      "--identity-audience",
      AUDIENCE,
      "--identity-issuer",
      ISSUER,
      "--port",
      String(port),
      "--auth-dir",
      dir,
      "--no-browser",
    ]);
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    await serve?.stop();
    await new Promise<void>((resolve) => (jwks ? jwks.close(() => resolve()) : resolve()));
    await base?.close();
  });

  function assertion(
    sub: string,
    options: { key?: SigningKey; audience?: string; expiresAt?: number; kid?: string } = {},
  ): Promise<string> {
    return new SignJWT({ email: `${sub}@example.test` })
      .setProtectedHeader({ alg: "ES256", kid: options.kid ?? "front-1" })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setAudience(options.audience ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(options.expiresAt ?? "5m")
      .sign(options.key ?? frontKey);
  }

  async function connect(sub: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
    const client = new Client({ name: `jwt-test-${sub}`, version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${proxy}/mcp`), {
      requestInit: { headers: { [HEADER]: await assertion(sub) } },
    });
    await client.connect(transport);
    clients.push(client);
    return { client, transport };
  }

  async function signInUrlFor(sub: string): Promise<string> {
    const error = await connect(sub).then(
      () => assert.fail(`${sub} is not signed in yet, initialize must fail`),
      (failure: unknown) => failure as { code?: number; message?: string; data?: { signInUrl?: string } },
    );
    assert.equal(error.code, -32050, String(error.message));
    const url = error.data?.signInUrl ?? "";
    assert.ok(url.startsWith(`${as.issuer}/`), `data.signInUrl names the AS: ${url}`);
    return url;
  }

  /** A POST /mcp initialize carrying `token` (or none) in the assertion header. */
  async function initializeWith(token: string | undefined): Promise<{ status: number; message: string }> {
    const answer = await fetch(`${proxy}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...(token === undefined ? {} : { [HEADER]: token }),
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
      }),
    });
    const body = (await answer.json().catch(() => ({}))) as { error?: { message?: string } };
    return { status: answer.status, message: body.error?.message ?? "" };
  }

  test("each user signs in in their own browser and gets their own grant", async () => {
    const aliceUrl = await signInUrlFor("alice");
    const bobUrl = await signInUrlFor("bob");
    assert.equal(new URL(aliceUrl).searchParams.get("redirect_uri"), `${proxy}/oauth/callback`);
    for (const [sub, url] of [
      ["alice", aliceUrl],
      ["bob", bobUrl],
    ] as const) {
      const token = await assertion(sub);
      const result = await completeLoginInBrowser(url, {
        login: sub,
        headersFor: (target) => (target.origin === proxy ? { [HEADER]: token } : undefined),
        isCallback: (target) => target.origin === proxy && target.pathname === "/oauth/callback",
      });
      assert.equal(result.callbackStatus, 200, `${sub}'s callback`);
    }
    const alice = await connect("alice");
    const bob = await connect("bob");
    assert.equal(await whoami(alice.client), "alice");
    assert.equal(await whoami(bob.client), "bob");
    const files = await readdir(dir);
    assert.equal(files.filter((name) => name.endsWith("_client_info.json")).length, 1, files.join(" "));
    assert.equal(files.filter((name) => name.endsWith("_tokens.json")).length, 2, files.join(" "));
    assert.ok(jwksFetches >= 1, "the proxy fetched the front's key set");
  });

  test("a callback with another user's assertion is refused", async () => {
    const url = await signInUrlFor("carol");
    const mallory = await assertion("mallory");
    const result = await completeLoginInBrowser(url, {
      login: "carol",
      headersFor: (target) => (target.origin === proxy ? { [HEADER]: mallory } : undefined),
      isCallback: (target) => target.origin === proxy && target.pathname === "/oauth/callback",
    });
    assert.equal(result.callbackStatus, 400);
  });

  test("an expired assertion is refused, saying it has expired", async () => {
    const expired = await assertion("alice", { expiresAt: Math.floor(Date.now() / 1000) - 3600 });
    const answer = await initializeWith(expired);
    assert.equal(answer.status, 403);
    assert.match(answer.message, /x-test-front-assertion assertion was refused: it has expired/);
  });

  test("an assertion for another audience is refused, naming the aud claim", async () => {
    const answer = await initializeWith(await assertion("alice", { audience: "some-other-app" }));
    assert.equal(answer.status, 403);
    assert.match(answer.message, /its aud claim is not what this proxy expects/);
  });

  test("an assertion signed with a key not in the front's key set is refused", async () => {
    const sameKid = await initializeWith(await assertion("alice", { key: strangerKey }));
    assert.equal(sameKid.status, 403);
    assert.match(sameKid.message, /its signature does not verify/);
    const unknownKid = await initializeWith(await assertion("alice", { key: strangerKey, kid: "stranger" }));
    assert.equal(unknownKid.status, 403);
    assert.match(unknownKid.message, /no key of the front's key set matches it/);
  });

  test("an unsigned assertion (alg none) and a missing one are refused", async () => {
    const unsigned = new UnsecuredJWT({ email: "alice@example.test" })
      .setSubject("alice")
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .encode();
    const none = await initializeWith(unsigned);
    assert.equal(none.status, 403);
    assert.match(none.message, /x-test-front-assertion assertion was refused/);
    const missing = await initializeWith(undefined);
    assert.equal(missing.status, 403);
    assert.match(missing.message, /no x-test-front-assertion header/);
  });

  test("no assertion reaches the upstream or the proxy's output", () => {
    assert.deepEqual(mcp.stats.forwardedHeaders, []);
    assert.ok(!serve.output().includes("eyJ"), "no JWT in the proxy's output");
  });
});
