// `serve --identity header:NAME` from the built bin, as behind oauth2-proxy: the front names the user in
// X-Forwarded-Email and proves it is the front with the inbound secret it shares with the proxy (--api-key). The
// test plays that front per request. Without --api-key the proxy refuses to start; a request naming a user without
// the key, or with a wrong one, is refused; two users each sign in in their own scripted browser and keep apart.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import type { TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { whoami } from "./support/apps-deployment.ts";
import { type AuthUpstream, startAuthUpstream } from "./support/auth-upstream.ts";
import { type ServeChild, serveRefusal, startServeChild } from "./support/serve-child.ts";

const HEADER = "X-Forwarded-Email";
const FRONT_SECRET = "front-shared-secret-0123456789abcdef";

describe("serve --identity header:NAME with the front's shared secret", () => {
  let base: AuthUpstream;
  let mcp: TestMcpServer;
  let serve: ServeChild;
  let dir: string;
  let proxy: string;
  const clients: Client[] = [];

  before(async () => {
    base = await startAuthUpstream({ dirPrefix: "identity-header-" });
    ({ mcp, dir } = base);
    const port = await freePort();
    proxy = `http://127.0.0.1:${port}`;
    serve = await startServeChild(
      [mcp.url, "--identity", `header:${HEADER}`, "--port", String(port), "--auth-dir", dir, "--no-browser"],
      { MCP_PROXY_API_KEY: FRONT_SECRET },
    );
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    await serve?.stop();
    await base?.close();
  });

  /** What the front adds to every request of `email`'s. */
  const fromFront = (email: string) => ({ [HEADER]: email, "x-api-key": FRONT_SECRET });

  async function connect(email: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
    const client = new Client({ name: `header-test-${email}`, version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${proxy}/mcp`), {
      requestInit: { headers: fromFront(email) },
    });
    await client.connect(transport);
    clients.push(client);
    return { client, transport };
  }

  async function signIn(email: string, login: string): Promise<void> {
    const error = await connect(email).then(
      () => assert.fail(`${email} is not signed in yet, initialize must fail`),
      (failure: unknown) => failure as { code?: number; message?: string; data?: { signInUrl?: string } },
    );
    assert.equal(error.code, -32050, String(error.message));
    const url = error.data?.signInUrl ?? "";
    assert.equal(new URL(url).searchParams.get("redirect_uri"), `${proxy}/oauth/callback`);
    const result = await completeLoginInBrowser(url, {
      login,
      headersFor: (target) => (target.origin === proxy ? fromFront(email) : undefined),
      isCallback: (target) => target.origin === proxy && target.pathname === "/oauth/callback",
    });
    assert.equal(result.callbackStatus, 200, `${email}'s callback`);
  }

  async function initialize(headers: Record<string, string>): Promise<{ status: number; message: string }> {
    const answer = await fetch(`${proxy}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
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

  test("without --api-key, serve refuses to start and says why", async () => {
    const port = await freePort();
    const run = await serveRefusal([mcp.url, "--identity", `header:${HEADER}`, "--port", String(port)]);
    assert.notEqual(run.code, 0);
    assert.match(run.output, /--identity header:x-forwarded-email trusts that header only from the front/i);
    assert.match(run.output, /--api-key/);
  });

  test("two users sign in in their own browsers and get their own grants", async () => {
    await signIn("alice@example.test", "alice");
    await signIn("bob@example.test", "bob");
    const alice = await connect("alice@example.test");
    const bob = await connect("bob@example.test");
    assert.equal(await whoami(alice.client), "alice");
    assert.equal(await whoami(bob.client), "bob");
    const files = await readdir(dir);
    assert.equal(files.filter((name) => name.endsWith("_tokens.json")).length, 2, files.join(" "));
    for (const name of files) assert.ok(!name.includes("example.test"), `${name} names nobody`);

    // Bob cannot use alice's session.
    const stolen = await fetch(`${proxy}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": alice.transport.sessionId ?? "",
        "mcp-protocol-version": "2025-06-18",
        ...fromFront("bob@example.test"),
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
    });
    assert.equal(stolen.status, 403);
  });

  test("a header naming a user without the front's secret, or with a wrong one, is refused", async () => {
    const noKey = await initialize({ [HEADER]: "alice@example.test" });
    assert.equal(noKey.status, 403, noKey.message);
    assert.match(noKey.message, /only on requests carrying its API key/);
    const wrongKey = await initialize({ [HEADER]: "alice@example.test", "x-api-key": "not-the-secret" });
    assert.equal(wrongKey.status, 403, wrongKey.message);
    assert.match(wrongKey.message, /none or a wrong one/);
    const keyNoUser = await initialize({ "x-api-key": FRONT_SECRET });
    assert.equal(keyNoUser.status, 403);
    assert.match(keyNoUser.message, /no X-Forwarded-Email header naming the user/i);
  });

  test("neither the user header nor the secret reaches the upstream or the output", () => {
    assert.deepEqual(mcp.stats.forwardedHeaders, []);
    assert.ok(!serve.output().includes(FRONT_SECRET));
  });
});
