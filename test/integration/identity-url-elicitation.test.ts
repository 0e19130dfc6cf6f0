// URL-mode elicitation for sign-in: `serve --identity databricks-apps` (the built bin, a child process) behind the
// test front for alice. A real SDK v1 client that declares `capabilities.elicitation.url` (protocol 2025-11-25)
// gets the spec's URLElicitationRequiredError with the sign-in URL; its user signs in in a scripted browser and the
// retry succeeds. A client that did not declare it keeps the proxy's -32050 error.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, UrlElicitationRequiredError } from "@modelcontextprotocol/sdk/types.js";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { BIN } from "./support/built-cli.ts";
import { type FrontUser, type IdentityFront, startIdentityFront } from "./support/identity-front.ts";

const ALICE: FrontUser = { login: "alice", id: "7001234567890011", email: "alice@example.test" };
const BOB: FrontUser = { login: "bob", id: "7001234567890012", email: "bob@example.test" };

describe("sign-in as URL-mode elicitation for a 2025-11-25 client that declared it", () => {
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
    dir = await mkdtemp(join(tmpdir(), "identity-elicit-"));
    const port = await freePort();
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

  async function connect(user: FrontUser, declareUrlElicitation: boolean): Promise<Client> {
    const client = new Client(
      { name: `elicit-test-${user.login}`, version: "1.0.0" },
      { capabilities: declareUrlElicitation ? { elicitation: { url: {} } } : {} },
    );
    const transport = new StreamableHTTPClientTransport(new URL(`${front.url}/mcp`), {
      requestInit: { headers: { cookie: `front_user=${user.login}` } },
    });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  function login(url: string, user: FrontUser) {
    return completeLoginInBrowser(url, {
      login: user.login,
      headersFor: (target) => (target.port === String(front.port) ? { cookie: `front_user=${user.login}` } : undefined),
      isCallback: (target) => target.port === String(front.port) && target.pathname === "/oauth/callback",
    });
  }

  test("the declaring client sees the sign-in URL as an elicitation, signs in, and the retry succeeds", async () => {
    const failure = await connect(ALICE, true).then(
      () => assert.fail("alice is not signed in yet, initialize must fail"),
      (error: unknown) => error,
    );
    // The SDK turns -32042 into its UrlElicitationRequiredError: what a host shows as a button.
    assert.ok(failure instanceof UrlElicitationRequiredError, String(failure));
    assert.equal(failure.code, ErrorCode.UrlElicitationRequired);
    assert.equal(failure.elicitations.length, 1);
    const [elicitation] = failure.elicitations;
    assert.equal(elicitation?.mode, "url");
    assert.ok(elicitation?.elicitationId, "an elicitation id");
    assert.ok(elicitation?.message, "a message for the user");
    const url = elicitation?.url ?? "";
    assert.ok(url.startsWith(`${as.issuer}/`), `the elicitation URL is the AS's authorization URL: ${url}`);
    assert.equal(new URL(url).searchParams.get("redirect_uri"), `${front.url}/oauth/callback`);

    assert.equal((await login(url, ALICE)).callbackStatus, 200);
    const client = await connect(ALICE, true);
    const result = (await client.callTool({ name: "whoami", arguments: {} })) as { content: { text: string }[] };
    assert.equal((JSON.parse(result.content[0]?.text ?? "{}") as { sub?: string }).sub, "alice");
  });

  test("a client that did not declare URL elicitation keeps the -32050 error with data.signInUrl", async () => {
    const failure = (await connect(BOB, false).then(
      () => assert.fail("bob is not signed in yet, initialize must fail"),
      (error: unknown) => error,
    )) as { code?: number; data?: { signInUrl?: string; elicitations?: unknown } };
    assert.ok(!(failure instanceof UrlElicitationRequiredError));
    assert.equal(failure.code, -32050);
    assert.ok(failure.data?.signInUrl?.startsWith(`${as.issuer}/`));
    assert.equal(failure.data?.elicitations, undefined);
  });
});
