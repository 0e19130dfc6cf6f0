// Two `serve` replicas (the built bin, child processes) of one upstream on one real Redis store (then PostgreSQL), as behind a load
// balancer (both name the same --public-url; the test plays the balancer by choosing which replica gets each
// request, with the front's Host header). A sign-in started from replica 1's page is completed by a callback
// delivered to replica 2; the same callback again (on replica 1) is refused with a clear page; both replicas then
// serve a tool call; a form of replica 1's page is accepted by replica 2, a forged one is not. With several upstreams
// in one process, a callback reaching the replica that did not start the sign-in goes to the upstream that did.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { sharedServersMissing, startPostgres, startRedis, type TestServer } from "../support/store-servers.ts";
import { BIN } from "./support/built-cli.ts";

interface Replica {
  child: ChildProcess;
  port: number;
  url: string;
  stderr: () => string;
}

/** `serve <what>` on `port`, where `what` is an upstream URL or `--config <file>`. */
async function startReplica(what: string[], store: string, port: number, front: string, authDir: string) {
  const child = spawn(
    process.execPath,
    [BIN, "serve", ...what, "--store", store, "--port", String(port), "--public-url", front, "--no-browser"],
    { env: { ...process.env, MCP_AUTH_DIR: authDir, BROWSER: "false" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (/is ready/.test(stdout)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`serve exited ${code} before it was ready: ${stderr}`)));
  });
  return { child, port, url: `http://127.0.0.1:${port}`, stderr: () => stderr } satisfies Replica;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request to `replica` with the front's Host (what a balancer passes through). */
function send(replica: Replica, front: string, method: string, path: string, form?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${replica.url}${path}`,
      {
        method,
        agent: false,
        headers: {
          host: new URL(front).host,
          ...(form === undefined ? {} : { origin: front, "content-type": "application/x-www-form-urlencoded" }),
        },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(form);
  });
}

function csrfOf(page: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(page);
  assert.ok(match, "the status page has a form token");
  return match[1] as string;
}

async function callEcho(replica: Replica, text: string, path = "/mcp"): Promise<string> {
  const client = new Client({ name: "replica-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${replica.url}${path}`)));
  try {
    const result = await client.callTool({ name: "echo", arguments: { text } });
    return (result.content as { type: string; text: string }[])[0]?.text ?? "";
  } finally {
    await client.close();
  }
}

const backends = [
  { name: "Redis", skip: sharedServersMissing("redis"), start: startRedis },
  { name: "PostgreSQL", skip: sharedServersMissing("postgres"), start: startPostgres },
];

for (const backend of backends) {
  describe(`sign-in across two serve replicas on a shared ${backend.name} store`, {
    skip: backend.skip ?? false,
  }, () => {
    let as: TestAuthServer;
    let mcp: TestMcpServer;
    let storeServer: TestServer;
    let work: string;
    let front: string;
    const replicas: Replica[] = [];

    before(async () => {
      [as, storeServer] = await Promise.all([startAuthServer(), backend.start()]);
      mcp = await startMcpServer({ authServer: as, transport: "streamable-stateless" });
      work = mkdtempSync(join(tmpdir(), "replica-sign-in-"));
      const [port1, port2] = [await freePort(), await freePort()];
      // The public URL is replica 1's address: the browser comes back there unless the balancer sends it elsewhere.
      front = `http://127.0.0.1:${port1}`;
      replicas.push(
        await startReplica([mcp.url], storeServer.url, port1, front, join(work, "one")),
        await startReplica([mcp.url], storeServer.url, port2, front, join(work, "two")),
      );
    });
    after(async () => {
      await stopReplicas(replicas);
      await mcp?.close();
      await as?.close();
      await storeServer?.close();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    test("a callback delivered to the other replica completes; used twice it is refused; forms work on both", async () => {
      const [one, two] = replicas as [Replica, Replica];
      const page = await send(one, front, "GET", "/");
      assert.equal(page.status, 200);
      const csrf = csrfOf(page.body);
      assert.equal(csrfOf((await send(two, front, "GET", "/")).body), csrf, "both replicas derive the same form token");

      const started = await send(one, front, "POST", "/oauth/sign-in", `csrf=${encodeURIComponent(csrf)}`);
      assert.equal(started.status, 303, started.body);
      assert.match((await send(one, front, "GET", "/")).body, /data-pending="true"/, "replica 1 shows it pending");
      const authorizationUrl = String(started.headers.location);
      assert.ok(authorizationUrl.startsWith(as.issuer), authorizationUrl);

      // The browser signs in at the AS; its redirect back is taken here and routed to replica 2.
      const login = await completeLoginInBrowser(authorizationUrl, { deliver: false });
      const callback = new URL(login.callbackUrl);
      assert.equal(callback.origin, front, "the redirect URI is the public URL");
      const path = `${callback.pathname}${callback.search}`;
      const completed = await send(two, front, "GET", path);
      assert.equal(completed.status, 200, completed.body);
      assert.match(completed.body, /Signed in/i);
      // Replica 1 learns of it from the store's notification: its page stops showing the sign-in as pending (and
      // the sign-in lock it held is let go) instead of waiting for the 5-minute sign-in timeout.
      let pageOfOne = "";
      for (let i = 0; i < 200; i++) {
        pageOfOne = (await send(one, front, "GET", "/")).body;
        if (/data-pending="false"/.test(pageOfOne)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.match(pageOfOne, /data-pending="false"/, "replica 1 no longer shows the sign-in pending");
      assert.match(pageOfOne, /data-signed-in="true"/);

      const replayed = await send(one, front, "GET", path);
      assert.equal(replayed.status, 400, replayed.body);
      assert.match(replayed.body, /already used/);
      const replayedThere = await send(two, front, "GET", path);
      assert.equal(replayedThere.status, 400);
      assert.match(replayedThere.body, /already used/);
      assert.equal(as.stats.tokenRequests.authorization_code, 1, "one code exchange at the AS");

      assert.equal(await callEcho(two, "via two"), "via two");
      assert.equal(await callEcho(one, "via one"), "via one", "replica 1 uses the tokens replica 2 stored");

      const forged = await send(two, front, "POST", "/oauth/sign-out", "csrf=forged");
      assert.equal(forged.status, 403);
      const signedOut = await send(two, front, "POST", "/oauth/sign-out", `csrf=${encodeURIComponent(csrf)}`);
      assert.equal(signedOut.status, 303, signedOut.body);
      for (const replica of replicas) {
        assert.doesNotMatch(replica.stderr(), /code_verifier|fake-|access_token/, "no secrets in the logs");
      }
    });
  });
}

/** Stops the replicas and waits until each has exited. */
async function stopReplicas(replicas: Replica[]): Promise<void> {
  for (const replica of replicas) replica.child.kill("SIGTERM");
  await Promise.all(
    replicas.map(
      (replica) =>
        new Promise((resolve) => (replica.child.exitCode !== null ? resolve(0) : replica.child.once("exit", resolve))),
    ),
  );
}

describe("sign-in across two replicas serving several upstreams on a shared Redis store", {
  skip: sharedServersMissing("redis") ?? false,
}, () => {
  let as: TestAuthServer;
  let upstreamA: TestMcpServer;
  let upstreamB: TestMcpServer;
  let storeServer: TestServer;
  let work: string;
  let front: string;
  const replicas: Replica[] = [];

  before(async () => {
    [as, storeServer] = await Promise.all([startAuthServer(), startRedis()]);
    upstreamA = await startMcpServer({ authServer: as, transport: "streamable-stateless" });
    upstreamB = await startMcpServer({ authServer: as, transport: "streamable-stateless" });
    work = mkdtempSync(join(tmpdir(), "replica-sign-in-many-"));
    const config = join(work, "mcp-u2m-proxy.json");
    writeFileSync(config, JSON.stringify({ mcpServers: { a: { url: upstreamA.url }, b: { url: upstreamB.url } } }));
    const [port1, port2] = [await freePort(), await freePort()];
    front = `http://127.0.0.1:${port1}`;
    replicas.push(
      await startReplica(["--config", config], storeServer.url, port1, front, join(work, "one")),
      await startReplica(["--config", config], storeServer.url, port2, front, join(work, "two")),
    );
  });
  after(async () => {
    await stopReplicas(replicas);
    await upstreamA?.close();
    await upstreamB?.close();
    await as?.close();
    await storeServer?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("the second upstream's sign-in, started on replica 1, completes on replica 2; the first stays signed out", async () => {
    const [one, two] = replicas as [Replica, Replica];
    const csrf = csrfOf((await send(one, front, "GET", "/")).body);
    const started = await send(one, front, "POST", "/servers/b/oauth/sign-in", `csrf=${encodeURIComponent(csrf)}`);
    assert.equal(started.status, 303, started.body);
    const login = await completeLoginInBrowser(String(started.headers.location), { deliver: false });
    const callback = new URL(login.callbackUrl);
    // Replica 2 has no sign-in pending: only the state tells it which upstream the callback is for (before, the
    // first upstream took it and refused it as unknown).
    const completed = await send(two, front, "GET", `${callback.pathname}${callback.search}`);
    assert.equal(completed.status, 200, completed.body);
    assert.match(completed.body, /Signed in/i);

    assert.equal(await callEcho(two, "b via two", "/servers/b/mcp"), "b via two");
    assert.equal(await callEcho(one, "b via one", "/servers/b/mcp"), "b via one");
    for (const replica of replicas) {
      const page = (await send(replica, front, "GET", "/")).body;
      assert.match(page, /data-name="a" data-signed-in="false"/, "upstream a is still signed out");
      assert.match(page, /data-name="b" data-signed-in="true"/);
      assert.doesNotMatch(replica.stderr(), /code_verifier|access_token/, "no secrets in the logs");
    }
    assert.equal(as.stats.tokenRequests.authorization_code, 1, "one code exchange at the AS");
  });
});
