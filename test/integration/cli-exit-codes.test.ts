// Every CLI command's exit code reflects its outcome, failures included: the built bin in a child process, after a
// real sign-in. `refresh` against an authorization server that is down, answers 5xx or redirects must fail with a
// message (4 network, 5 authorization server), never end silently as if it had worked.
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { cli, freePort } from "./support/built-cli.ts";

/** A bare HTTP server on a given port: stands in for the authorization server once it is stopped. */
async function standIn(
  port: number,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return { server, requests };
}

function stop(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

describe("CLI exit codes on failure", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let dir: string;
  let common: string[];

  before(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    dir = await mkdtemp(join(tmpdir(), "u2m-cli-exit-"));
    common = ["--auth-dir", join(dir, "auth"), "--port", String(await freePort())];
    const signIn = await cli(["auth", mcp.url, ...common], { TEST_BROWSER_LOGIN: "frank" });
    assert.equal(signIn.code, 0, signIn.stderr);
  });
  after(async () => {
    await mcp.close();
    await as.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("refresh that works exits 0 and says it refreshed", async () => {
    const refreshes = as.stats.refreshSuccesses;
    const run = await cli(["refresh", mcp.url, ...common]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Refreshed\./);
    assert.equal(as.stats.refreshSuccesses, refreshes + 1);
  });

  // The remaining tests stop the authorization server; the MCP server is not involved in a refresh.
  test("refresh with the authorization server stopped exits 4 with the reason", async () => {
    await as.close();
    const run = await cli(["refresh", mcp.url, ...common]);
    assert.equal(run.code, 4, `exit ${run.code}: ${run.stderr}`);
    assert.match(
      run.stderr,
      /The authorization server http:\/\/127\.0\.0\.1:\d+ could not be reached: connection refused\./,
    );
  });

  test("refresh with the token endpoint answering 503 exits 5 with the reason", async () => {
    const down = await standIn(as.port, (_req, res) => {
      res.writeHead(503, { "content-type": "text/html" }).end("<h1>Service Unavailable</h1>");
    });
    try {
      const run = await cli(["refresh", mcp.url, ...common]);
      assert.equal(run.code, 5, `exit ${run.code}: ${run.stderr}`);
      assert.match(run.stderr, /authorization server answered server_error: HTTP 503/);
      assert.ok(down.requests.includes("POST /token"), down.requests.join(", "));
    } finally {
      await stop(down.server);
    }
  });

  test("refresh with the token endpoint redirecting (302) exits 5 with the reason", async () => {
    const redirecting = await standIn(as.port, (req, res) => {
      if (req.url === "/token") res.writeHead(302, { location: "/login" }).end();
      else res.writeHead(200, { "content-type": "text/html" }).end("<form>Sign in</form>");
    });
    try {
      const run = await cli(["refresh", mcp.url, ...common]);
      assert.equal(run.code, 5, `exit ${run.code}: ${run.stderr}`);
      assert.match(run.stderr, /authorization server answered server_error: HTTP 302/);
      assert.ok(redirecting.requests.includes("POST /token"));
      assert.ok(!redirecting.requests.some((r) => r.includes("/login")), "a token request never follows a redirect");
    } finally {
      await stop(redirecting.server);
    }
  });

  test("the failed refreshes kept the sign-in: status still exits 0", async () => {
    const status = await cli(["status", mcp.url, ...common]);
    assert.equal(status.code, 0, status.stderr);
  });

  test("refresh without a sign-in exits 3", async () => {
    const run = await cli(["refresh", mcp.url, "--auth-dir", join(dir, "empty"), "--port", "0"]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /no refresh token .*mcp-u2m-proxy auth/i);
  });

  test("auth, status, list and clear exit 6 when the token directory is unusable", async () => {
    const notADirectory = join(dir, "not-a-directory");
    await writeFile(notADirectory, "x");
    for (const args of [["auth", mcp.url], ["status", mcp.url], ["status"], ["list"], ["clear", mcp.url], ["clear"]]) {
      const run = await cli([...args, "--auth-dir", notADirectory, "--port", "0", "--no-browser"]);
      assert.equal(run.code, 6, `${args.join(" ")}: exit ${run.code}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`${notADirectory}`), args.join(" "));
    }
  });

  test("auth against an authorization server without PKCE metadata exits 5 and names the opt-out", async () => {
    const noPkce = await startAuthServer({ advertisedPkceMethods: null });
    const server = await startMcpServer({ authServer: noPkce });
    try {
      const run = await cli(["auth", server.url, "--auth-dir", join(dir, "no-pkce"), "--port", "0", "--no-browser"]);
      assert.equal(run.code, 5, `exit ${run.code}: ${run.stderr}`);
      assert.match(run.stderr, /code_challenge_methods_supported.*--allow-pkce-unverified/);
      assert.equal(noPkce.stats.registrations, 0);
      assert.equal(noPkce.stats.authorizationRequests, 0);
    } finally {
      await server.close();
      await noPkce.close();
    }
  });

  test("serve with an unusable --api-key-file exits 2 naming the file", async () => {
    const missing = join(dir, "missing-key");
    const empty = join(dir, "empty-key");
    await writeFile(empty, "\n  \n");
    await chmod(empty, 0o600);
    for (const file of [missing, empty]) {
      const run = await cli(["serve", mcp.url, "--api-key-file", file, ...common]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, new RegExp(`API key file ${file}`));
    }
  });
});
