// `serve --identity databricks-apps` as deployed: the built bin in a child process behind a front that plays the
// Databricks Apps proxy (test/integration/support/identity-front.ts) for two users, alice and bob. Each signs in in
// their own (scripted) browser as themselves at the real test AS, and each gets their own upstream subject through
// the real SDK v1 client; neither can use the other's session, sign-in or grant, and a request the front did not
// vouch for is refused.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { BIN } from "./support/built-cli.ts";
import { type FrontUser, type IdentityFront, startIdentityFront } from "./support/identity-front.ts";

const ALICE: FrontUser = { login: "alice", id: "7001234567890001", email: "alice@example.test" };
const BOB: FrontUser = { login: "bob", id: "7001234567890002", email: "bob@example.test" };

describe("serve --identity databricks-apps behind the platform's front, two users", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let front: IdentityFront;
  let child: ChildProcess;
  let dir: string;
  let output = "";
  const clients: Client[] = [];

  before(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as, transport: "streamable-stateful" });
    dir = await mkdtemp(join(tmpdir(), "identity-apps-"));
    const port = await freePort();
    // --host stays loopback here (the front is on this machine); on Apps it defaults to 0.0.0.0, without a key.
    child = spawn(
      process.execPath,
      [
        BIN,
        "serve",
        mcp.url,
        "--identity",
        "databricks-apps",
        "--host",
        "127.0.0.1",
        "--auth-dir",
        dir,
        "--no-browser",
      ],
      { env: { ...process.env, DATABRICKS_APP_PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout?.on("data", (chunk) => (output += chunk));
    child.stderr?.on("data", (chunk) => (output += chunk));
    await new Promise<void>((resolve, reject) => {
      const check = () => (output.includes("is ready") ? resolve() : undefined);
      child.stdout?.on("data", check);
      child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${output}`)));
    });
    front = await startIdentityFront(`http://127.0.0.1:${port}`, [ALICE, BOB]);
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    child?.kill("SIGTERM");
    await front?.close();
    await mcp?.close();
    await as?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const asUser = (user: FrontUser) => ({ cookie: `front_user=${user.login}` });

  async function connect(user: FrontUser): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
    const client = new Client({ name: `identity-test-${user.login}`, version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${front.url}/mcp`), {
      requestInit: { headers: asUser(user) },
    });
    await client.connect(transport);
    clients.push(client);
    return { client, transport };
  }

  /** The sign-in URL the proxy names in the JSON-RPC error a not-signed-in user's initialize gets. */
  async function signInUrlFor(user: FrontUser): Promise<string> {
    const error = await connect(user).then(
      () => assert.fail(`${user.login} is not signed in yet, initialize must fail`),
      (failure: unknown) => failure as { code?: number; message?: string; data?: { signInUrl?: string } },
    );
    assert.equal(error.code, -32050, String(error.message));
    const url = error.data?.signInUrl ?? "";
    assert.ok(url.startsWith(`${as.issuer}/`), `data.signInUrl names the AS: ${url}`);
    assert.ok(error.message?.includes(url), "the message carries the URL too");
    return url;
  }

  /** Follows a sign-in in `browserOf`'s browser (the front knows them by their cookie), logging in as `login`. */
  function login(url: string, browserOf: FrontUser, loginName = browserOf.login) {
    return completeLoginInBrowser(url, {
      login: loginName,
      headersFor: (target) => (target.port === String(front.port) ? asUser(browserOf) : undefined),
      isCallback: (target) => target.port === String(front.port) && target.pathname === "/oauth/callback",
    });
  }

  async function whoami(client: Client): Promise<string | undefined> {
    const result = (await client.callTool({ name: "whoami", arguments: {} })) as { content: { text: string }[] };
    return (JSON.parse(result.content[0]?.text ?? "{}") as { sub?: string }).sub;
  }

  async function send(path: string, user: FrontUser | undefined, init: RequestInit = {}): Promise<Response> {
    return fetch(`${front.url}${path}`, {
      ...init,
      headers: { ...(user ? asUser(user) : {}), ...(init.headers as Record<string, string> | undefined) },
      redirect: "manual",
    });
  }

  let aliceSession: string | undefined;

  test("each user signs in as themselves and whoami returns their own subject", async () => {
    const aliceUrl = await signInUrlFor(ALICE);
    const bobUrl = await signInUrlFor(BOB);
    assert.notEqual(new URL(aliceUrl).searchParams.get("state"), new URL(bobUrl).searchParams.get("state"));
    // The redirect URI is the public one, from X-Forwarded-Host: the browser comes back through the front.
    assert.equal(new URL(aliceUrl).searchParams.get("redirect_uri"), `${front.url}/oauth/callback`);

    assert.equal((await login(aliceUrl, ALICE)).callbackStatus, 200);
    assert.equal((await login(bobUrl, BOB)).callbackStatus, 200);

    const alice = await connect(ALICE);
    const bob = await connect(BOB);
    assert.equal(await whoami(alice.client), "alice");
    assert.equal(await whoami(bob.client), "bob");
    aliceSession = alice.transport.sessionId;
    assert.ok(aliceSession);
    // One registration for the upstream, shared; one grant per user (hashed names, no user id in any file name).
    const files = await readdir(dir);
    assert.equal(files.filter((name) => name.endsWith("_client_info.json")).length, 1, files.join(" "));
    assert.equal(files.filter((name) => name.endsWith("_tokens.json")).length, 2, files.join(" "));
    for (const name of files) {
      for (const user of [ALICE, BOB]) {
        assert.ok(!name.includes(user.id) && !name.includes(user.login), `${name} names nobody`);
      }
    }
  });

  test("bob is refused alice's session id", async () => {
    assert.ok(aliceSession, "the first test ran");
    const answer = await send("/mcp", BOB, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": aliceSession,
        "mcp-protocol-version": "2025-06-18",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
    });
    assert.equal(answer.status, 403);
    assert.match(((await answer.json()) as { error: { message: string } }).error.message, /another user/);
  });

  test("the page shows each user their own state; bob's callback for alice's pending sign-in is refused", async () => {
    const alicePage = await (await send("/", ALICE, { headers: { accept: "text/html" } })).text();
    const bobPage = await (await send("/", BOB, { headers: { accept: "text/html" } })).text();
    assert.match(alicePage, /alice/);
    assert.doesNotMatch(alicePage, /\bbob\b/);
    assert.match(bobPage, /bob/);
    assert.doesNotMatch(bobPage, /\balice\b/);

    // Alice starts another sign-in from her page; bob's browser brings its callback back.
    const csrf = /name="csrf" value="([^"]+)"/.exec(alicePage)?.[1];
    assert.ok(csrf);
    const started = await send("/oauth/sign-in", ALICE, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: front.url },
      body: `csrf=${encodeURIComponent(csrf)}`,
    });
    assert.equal(started.status, 303, await started.text());
    const location = started.headers.get("location") ?? "";
    const stolen = await login(location, BOB, "bob");
    assert.equal(stolen.callbackStatus, 400);

    const alice = await connect(ALICE);
    const bob = await connect(BOB);
    assert.equal(await whoami(alice.client), "alice", "alice's grant is untouched");
    assert.equal(await whoami(bob.client), "bob");
  });

  test("a request the front did not vouch for gets 403 naming X-Forwarded-User; /healthz needs no identity", async () => {
    for (const path of ["/mcp", "/", "/oauth/callback?state=x&code=y"]) {
      const answer = await send(path, undefined, path === "/mcp" ? { method: "POST", body: "{}" } : {});
      assert.equal(answer.status, 403, path);
      assert.match(((await answer.json()) as { error: { message: string } }).error.message, /X-Forwarded-User/);
    }
    assert.equal((await send("/healthz", undefined)).status, 200);
  });

  test("the platform's headers and tokens never reach the upstream or the logs", () => {
    assert.deepEqual(mcp.stats.forwardedHeaders, []);
    assert.deepEqual(mcp.stats.cookies, []);
    for (const user of [ALICE, BOB]) {
      assert.ok(!output.includes(front.platformToken(user.login)), "no platform token in the proxy's output");
      assert.ok(!output.includes(user.id), "no user id in the proxy's output");
    }
  });
});
