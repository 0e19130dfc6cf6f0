// The admin view of `serve --identity databricks-apps --admin alice@example.test` (the built bin behind the test
// front): alice sees every user's state and never a token, bob is refused, and alice's revocation of bob's grant
// removes bob's grant only. Bob's open session (a client that declared URL-mode elicitation) then gets the sign-in
// as a URL elicitation on its next call.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UrlElicitationRequiredError } from "@modelcontextprotocol/sdk/types.js";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { BIN } from "./support/built-cli.ts";
import { type FrontUser, type IdentityFront, startIdentityFront } from "./support/identity-front.ts";

const ALICE: FrontUser = { login: "alice", id: "7001234567890011", email: "alice@example.test" };
const BOB: FrontUser = { login: "bob", id: "7001234567890012", email: "bob@example.test" };

describe("the admin view: /admin/users for --admin, refused for anyone else", () => {
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
    dir = await mkdtemp(join(tmpdir(), "identity-admin-"));
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
        "--admin",
        "alice@example.test",
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

  async function signIn(user: FrontUser): Promise<void> {
    const failure = await connect(user, true).then(
      () => assert.fail(`${user.login} is not signed in yet`),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof UrlElicitationRequiredError, String(failure));
    assert.equal((await login(failure.elicitations[0]?.url ?? "", user)).callbackStatus, 200);
  }

  async function whoami(client: Client): Promise<string | undefined> {
    const result = (await client.callTool({ name: "whoami", arguments: {} })) as { content: { text: string }[] };
    return (JSON.parse(result.content[0]?.text ?? "{}") as { sub?: string }).sub;
  }

  function admin(user: FrontUser, init: RequestInit = {}): Promise<Response> {
    return fetch(`${front.url}/admin/users`, {
      ...init,
      headers: { cookie: `front_user=${user.login}`, ...(init.headers as Record<string, string> | undefined) },
    });
  }

  interface AdminUser {
    user: string;
    label: string | null;
    grant: string;
    signedIn: boolean;
    account: string | null;
  }

  test("alice (admin) sees both users, never a token; bob is refused; revoking bob leaves alice's grant", async () => {
    await signIn(ALICE);
    await signIn(BOB);
    const alice = await connect(ALICE, true);
    const bob = await connect(BOB, true);
    assert.equal(await whoami(alice), "alice");
    assert.equal(await whoami(bob), "bob");

    const refused = await admin(BOB);
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /administrators/);
    const refusedRevoke = await admin(BOB, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "u0000000000000000" }),
    });
    assert.equal(refusedRevoke.status, 403);

    const listed = await admin(ALICE);
    assert.equal(listed.status, 200);
    const text = await listed.text();
    const tokenFiles = (await readdir(dir)).filter((name) => name.endsWith("_tokens.json"));
    assert.equal(tokenFiles.length, 2, tokenFiles.join(" "));
    for (const name of tokenFiles) {
      const record = JSON.parse(await readFile(join(dir, name), "utf8")) as {
        tokens: { access_token: string; refresh_token?: string };
      };
      assert.ok(!text.includes(record.tokens.access_token), "no access token in the admin view");
      if (record.tokens.refresh_token) assert.ok(!text.includes(record.tokens.refresh_token), "no refresh token");
    }
    const { servers } = JSON.parse(text) as { servers: { users: AdminUser[] }[] };
    assert.equal(servers.length, 1);
    const users = servers[0]?.users ?? [];
    const labels = users.map(({ label }) => label).sort();
    assert.deepEqual(labels, ["alice@example.test", "bob@example.test"]);
    assert.ok(users.every(({ signedIn }) => signedIn));
    for (const { grant } of users) {
      assert.match(grant, /^u[0-9a-f]{16}$/);
      assert.ok(
        tokenFiles.some((name) => name.includes(grant)),
        `the grant id ${grant} names a tokens file`,
      );
    }
    const bobEntry = users.find(({ label }) => label === "bob@example.test");
    assert.ok(bobEntry);
    assert.ok(!text.includes(BOB.id) && !text.includes(ALICE.id), "user ids appear hashed only");

    const revoked = await admin(ALICE, {
      method: "POST",
      headers: { "content-type": "application/json", origin: front.url },
      body: JSON.stringify({ user: bobEntry.user }),
    });
    assert.equal(revoked.status, 200, await revoked.clone().text());
    assert.deepEqual(((await revoked.json()) as { revoked: boolean }).revoked, true);
    const left = (await readdir(dir)).filter((name) => name.endsWith("_tokens.json"));
    assert.deepEqual(
      left,
      tokenFiles.filter((name) => !name.includes(bobEntry.grant)),
    );
    assert.equal(await whoami(alice), "alice", "alice's grant is untouched");
    // Bob's session declared URL-mode elicitation at initialize: its next call gets the sign-in as one.
    const failure = await whoami(bob).then(
      () => assert.fail("bob's grant was revoked"),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof UrlElicitationRequiredError, String(failure));
    assert.ok(failure.elicitations[0]?.url.startsWith(`${as.issuer}/`));

    const after = JSON.parse(await (await admin(ALICE)).text()) as { servers: { users: AdminUser[] }[] };
    const bobAfter = after.servers[0]?.users.find(({ label }) => label === "bob@example.test");
    assert.equal(bobAfter?.signedIn, false);
  });
});
