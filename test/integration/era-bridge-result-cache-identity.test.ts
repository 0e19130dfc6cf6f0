// The era bridge's result cache behind `serve --identity header:NAME` (the built bin; the test plays the front): two
// people, each signed in as themselves, list through a 2025 client (SDK v1) in front of a 2026-07-28-only upstream
// whose `tools/list` is cacheable `private` and `prompts/list` cacheable `public`. A private result is kept per
// person (bob's first list goes upstream although alice's is cached; each one's repeats do not), a public one is
// shared (bob's first prompts/list is alice's). Counted at the upstream.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { type CacheHints, startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { whoami } from "./support/apps-deployment.ts";
import { type ServeChild, startServeChild } from "./support/serve-child.ts";

const HEADER = "X-Forwarded-Email";
const FRONT_SECRET = "front-shared-secret-for-the-cache-test";
const HINTS: CacheHints = {
  "tools/list": { ttlMs: 600_000, cacheScope: "private" },
  "prompts/list": { ttlMs: 600_000, cacheScope: "public" },
};

describe("era bridge result cache behind --identity: private per person, public shared", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let serve: ServeChild;
  let dir: string;
  let proxy: string;
  const clients: Client[] = [];

  before(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as, transport: "2026", cacheHints: HINTS });
    dir = await mkdtemp(join(tmpdir(), "era-cache-identity-"));
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
    await mcp?.close();
    await as?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const fromFront = (email: string) => ({ [HEADER]: email, "x-api-key": FRONT_SECRET });
  const count = (method: string) => mcp.stats.methods.filter((m) => m === method).length;

  async function connect(email: string): Promise<Client> {
    const client = new Client({ name: `cache-${email}`, version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${proxy}/mcp`), { requestInit: { headers: fromFront(email) } }),
    );
    clients.push(client);
    return client;
  }

  /** Signs `email` in as `login` through the sign-in URL of the proxy's -32050 answer, then connects. */
  async function signedIn(email: string, login: string): Promise<Client> {
    const error = await connect(email).then(
      () => assert.fail(`${email} is not signed in yet, initialize must fail`),
      (failure: unknown) => failure as { code?: number; message?: string; data?: { signInUrl?: string } },
    );
    assert.equal(error.code, -32050, String(error.message));
    const result = await completeLoginInBrowser(error.data?.signInUrl ?? "", {
      login,
      headersFor: (target) => (target.origin === proxy ? fromFront(email) : undefined),
      isCallback: (target) => target.origin === proxy && target.pathname === "/oauth/callback",
    });
    assert.equal(result.callbackStatus, 200, `${email}'s callback`);
    return connect(email);
  }

  test("each person's private list is theirs; a public list is shared", async () => {
    const alice = await signedIn("alice@example.test", "alice");
    const bob = await signedIn("bob@example.test", "bob");
    assert.equal(await whoami(alice), "alice");
    assert.equal(await whoami(bob), "bob");

    const lists = count("tools/list");
    await alice.listTools();
    await alice.listTools();
    assert.equal(count("tools/list"), lists + 1, "alice's repeat came from the cache");
    await bob.listTools();
    assert.equal(count("tools/list"), lists + 2, "alice's private result is not bob's: his went upstream");
    await bob.listTools();
    await alice.listTools();
    assert.equal(count("tools/list"), lists + 2, "each one's own entry serves their repeats");

    const prompts = count("prompts/list");
    await alice.listPrompts();
    await bob.listPrompts();
    await bob.listPrompts();
    assert.equal(count("prompts/list"), prompts + 1, "a public result is shared between the two");
    assert.ok(!serve.output().includes(FRONT_SECRET), "the front's secret is in no output");
  });
});
