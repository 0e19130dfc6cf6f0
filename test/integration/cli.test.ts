// The CLI as users run it: the built bin in a child process, a real authorization server and MCP server, and the
// headless browser as BROWSER. Checks exit codes, output, file modes, and that no secret appears in any output.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { cli, freePort, type Run } from "./support/built-cli.ts";

describe("mcp-u2m-proxy CLI", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let dir: string;
  let authDir: string;
  let common: string[];
  const outputs: string[] = [];

  before(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    dir = await mkdtemp(join(tmpdir(), "u2m-cli-"));
    authDir = join(dir, "auth");
    common = ["--auth-dir", authDir, "--port", String(await freePort())];
  });
  after(async () => {
    await mcp.close();
    await as.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function run(args: string[], env?: Record<string, string>): Promise<Run> {
    const result = await cli(args, env);
    outputs.push(result.stdout, result.stderr);
    return result;
  }

  test("--version, --help and usage errors", async () => {
    const version = await run(["--version"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
    for (const command of ["auth", "status", "refresh", "clear", "list", "stdio", "serve"]) {
      const help = await run([command, "--help"]);
      assert.equal(help.code, 0, command);
      assert.match(help.stdout, new RegExp(`Usage: mcp-u2m-proxy .*${command === "serve" ? "serve" : command}`));
    }
    const bad = await run(["auth", "--bogus"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Unknown option '--bogus'.*--help/);
    const noUrl = await run(["refresh", ...common]);
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stderr, /refresh needs the MCP server's URL/);
    const badUrl = await run(["auth", "ftp://example.com/mcp", ...common]);
    assert.equal(badUrl.code, 2);
  });

  test("status before sign-in exits 1", async () => {
    const status = await run(["status", mcp.url, ...common]);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /^Not signed in to http:\/\/127.0.0.1:\d+\/mcp. Sign in with: mcp-u2m-proxy auth /);
    assert.doesNotMatch(status.stdout, /_tokens.json/, "names no file that does not exist");
  });

  test("a denied consent exits 3 with the reason", async () => {
    const denied = await run(["auth", mcp.url, ...common], { TEST_BROWSER_ACTION: "deny" });
    assert.equal(denied.code, 3, denied.stderr);
    assert.match(denied.stderr, /denied/i);
  });

  test("auth signs in, saves 0600 files in a 0700 directory, and reuses valid tokens", async () => {
    const auth = await run(["auth", mcp.url, ...common], { TEST_BROWSER_LOGIN: "dave" });
    assert.equal(auth.code, 0, auth.stderr);
    assert.match(auth.stdout, /Signed in\./);
    assert.match(auth.stdout, /as dave/);
    assert.match(auth.stderr, /Sign in to .* by opening this URL/, "the URL is always printed");
    assert.equal((await stat(authDir)).mode & 0o777, 0o700);
    const files = await readdir(authDir);
    assert.ok(files.some((name) => name.endsWith("_tokens.json")));
    assert.ok(files.some((name) => name.endsWith("_client_info.json")));
    for (const name of files) assert.equal((await stat(join(authDir, name))).mode & 0o777, 0o600, name);

    const authorizations = as.stats.authorizationRequests;
    const again = await run(["auth", mcp.url, ...common]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /Already signed in/);
    assert.equal(as.stats.authorizationRequests, authorizations, "no new sign-in");
  });

  test("status, list and refresh report the sign-in", async () => {
    const status = await run(["status", mcp.url, "--json", ...common]);
    assert.equal(status.code, 0);
    const parsed = JSON.parse(status.stdout);
    assert.equal(parsed.signedIn, true);
    assert.equal(parsed.hasRefreshToken, true);
    assert.equal(parsed.issuer, as.issuer);
    assert.equal(parsed.account, "dave");

    const list = await run(["list", ...common]);
    assert.equal(list.code, 0);
    assert.match(list.stdout, new RegExp(`${mcp.url.replace(/[/.]/g, "\\$&")} +signed in`));
    const listJson = JSON.parse((await run(["list", "--json", ...common])).stdout);
    assert.equal(listJson.servers.length, 1);
    assert.deepEqual(listJson.warnings, []);

    const refreshes = as.stats.refreshSuccesses;
    const refresh = await run(["refresh", mcp.url, ...common]);
    assert.equal(refresh.code, 0, refresh.stderr);
    assert.match(refresh.stdout, /Refreshed/);
    assert.equal(as.stats.refreshSuccesses, refreshes + 1);
  });

  test("no output ever contains a token, code or client secret", async () => {
    const files = await readdir(authDir);
    const secrets: string[] = [];
    for (const name of files.filter((n) => n.endsWith(".json"))) {
      const record = JSON.parse(await readFile(join(authDir, name), "utf8"));
      for (const value of [record.tokens?.access_token, record.tokens?.refresh_token, record.tokens?.id_token]) {
        if (typeof value === "string") secrets.push(value);
      }
    }
    assert.ok(secrets.length >= 2);
    // --debug output too.
    const debug = await run(["refresh", mcp.url, "--debug", ...common]);
    assert.equal(debug.code, 0);
    const after = await readdir(authDir);
    for (const name of after.filter((n) => n.endsWith("_tokens.json"))) {
      const record = JSON.parse(await readFile(join(authDir, name), "utf8"));
      secrets.push(record.tokens.access_token, record.tokens.refresh_token);
    }
    const debugLog = after.find((name) => name.endsWith("_debug.log"));
    assert.ok(debugLog, "--debug writes a debug log");
    assert.equal((await stat(join(authDir, debugLog))).mode & 0o777, 0o600);
    outputs.push(await readFile(join(authDir, debugLog), "utf8"));
    const all = outputs.join("\n");
    for (const secret of secrets) assert.ok(!all.includes(secret), "a token leaked into output");
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./.test(all), "no JWT in output");
  });

  test("clear revokes and deletes; status then exits 1", async () => {
    const revocations = as.stats.revocations;
    const clear = await run(["clear", mcp.url, ...common]);
    assert.equal(clear.code, 0, clear.stderr);
    assert.match(clear.stdout, /Signed out of .*revoked/);
    assert.ok(as.stats.revocations > revocations);
    const status = await run(["status", mcp.url, ...common]);
    assert.equal(status.code, 1);
    const list = await run(["list", ...common]);
    assert.match(list.stdout, /no stored sign-ins/);
  });

  test("an unreachable server exits 4 (network)", async () => {
    const port = await freePort();
    const down = await run(["auth", `http://127.0.0.1:${port}/mcp`, ...common]);
    assert.equal(down.code, 4, down.stderr);
    assert.match(down.stderr, /reach/i);
  });
});
