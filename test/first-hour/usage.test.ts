// First hour, input mistakes: every one is a usage error (exit 2) that says what was wrong and shows the right
// form; never "unexpected error" / exit 70. Suggested commands keep the user's options (and `auth` when signed in
// suggests `auth --force`); help lists only what a command takes. The installed CLI (packed tarball), offline but for
// the sign-in, which uses the fixture authorization server and MCP upstream on 127.0.0.1.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { HEADLESS_BROWSER_PATH } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { type InstalledCli, installCliFromTarball } from "./support/installed-cli.ts";
import { freePort } from "./support/mcp-wire.ts";

let cli: InstalledCli;
let work: string;
before(() => {
  cli = installCliFromTarball();
  work = mkdtempSync(join(tmpdir(), "u2m-first-hour-usage-"));
});
after(() => {
  cli.remove();
  rmSync(work, { recursive: true, force: true });
});

describe("input mistakes", () => {
  const cases: { args: string[]; says: RegExp }[] = [
    {
      args: ["auth", "mcp.example.com/mcp"],
      says: /has no scheme.*Did you mean "mcp-u2m-proxy auth https:\/\/mcp\.example\.com\/mcp/,
    },
    {
      args: ["auth", "not-a-url"],
      says: /"not-a-url" is not a URL.*e\.g\. "mcp-u2m-proxy auth https:\/\/mcp\.example\.com\/mcp/,
    },
    {
      args: ["signin", "https://mcp.example.com/mcp"],
      says: /Unknown command "signin"\. Did you mean "auth"\?.*Usage: mcp-u2m-proxy auth/,
    },
    { args: ["logout", "https://mcp.example.com/mcp"], says: /Unknown command "logout"\. Did you mean "clear"\?/ },
    { args: ["stauts"], says: /Unknown command "stauts"\. Did you mean "status"\?/ },
    { args: ["auth", "http://[::1/mcp"], says: /is not a valid URL/ },
    { args: ["auth", "ftp://example.com/mcp"], says: /ftp:\/\/ URLs are not MCP server URLs/ },
    {
      args: ["auth", "https://a.example/mcp", "https://b.example/mcp"],
      says: /Unexpected argument.*auth takes one server/,
    },
    { args: ["refresh"], says: /refresh needs the MCP server's URL/ },
    { args: ["serve", "--port", "http"], says: /--port must be a port number/ },
    {
      args: ["auth", "http://mcp.example.com/mcp"],
      says: /uses plain http.*Did you mean "mcp-u2m-proxy auth https:\/\/mcp\.example\.com\/mcp.*--allow-insecure-http/,
    },
    {
      args: ["auth", "https://mcp.example.com/mcp", "--prot", "8000"],
      says: /Unknown option '--prot'\. Did you mean --port\?/,
    },
    { args: ["auth", "https://mcp.example.com/mcp", "--port"], says: /--port needs a value/ },
    { args: ["help", "stauts"], says: /Unknown command "stauts"\. Did you mean "status"\?/ },
    {
      args: ["auth", "https://mcp.example.com/mcp", "--client-metadata-url", "client.json"],
      says: /--client-metadata-url must be an https URL with a path/,
    },
    {
      args: ["serve", "https://mcp.example.com/mcp", "--host", "localhost:9000"],
      says: /--host localhost --port 9000/,
    },
    {
      // 192.0.2.1 (TEST-NET-1) is an address no machine has: listen() fails, which is the user's --host.
      args: ["serve", "https://mcp.example.com/mcp", "--host", "192.0.2.1", "--api-key", "k", "--port", "0"],
      says: /Cannot listen on 192\.0\.2\.1:0: 192\.0\.2\.1 is not an address of this machine/,
    },
  ];
  for (const { args, says } of cases) {
    test(`mcp-u2m-proxy ${args.join(" ")}`, async () => {
      const run = await cli.run([...args, "--auth-dir", join(work, "auth")]);
      assert.equal(run.code, 2, `exit ${run.code}: ${run.stderr}`);
      assert.match(run.stderr, says);
      assert.doesNotMatch(run.stderr + run.stdout, /unexpected error/i);
    });
  }

  test("a URL with a password in it is never repeated", async () => {
    const run = await cli.run(["auth", "alice:hunter2@mcp.example.com/mcp", "--auth-dir", join(work, "auth")]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /has no scheme/);
    assert.doesNotMatch(run.stderr + run.stdout, /hunter2/);
  });
});

test("a suggested command keeps the user's token directory and port", async () => {
  const dir = join(work, "elsewhere");
  const run = await cli.run(["refresh", "https://mcp.example.com/mcp", "--auth-dir", dir, "--port", "8123"]);
  assert.equal(run.code, 3, run.stderr);
  assert.ok(
    run.stderr.includes(`mcp-u2m-proxy auth https://mcp.example.com/mcp --auth-dir ${dir} --port 8123`),
    run.stderr,
  );
});

test("status of a server never signed in says so, without naming a file; clear says there is nothing to clear", async () => {
  const dir = join(work, "empty");
  const status = await cli.run(["status", "https://mcp.example.com/mcp", "--auth-dir", dir]);
  assert.equal(status.code, 1);
  assert.match(status.stdout, /^Not signed in to https:\/\/mcp\.example\.com\/mcp\./);
  assert.doesNotMatch(status.stdout, /\.json/);
  const clear = await cli.run(["clear", "https://mcp.example.com/mcp", "--auth-dir", dir]);
  assert.equal(clear.code, 0);
  assert.match(clear.stdout, /Not signed in to https:\/\/mcp\.example\.com\/mcp; nothing to clear\./);
  assert.doesNotMatch(clear.stdout, /Signed out/);
});

test("each command's help lists only the options it takes; --port is the listen port", async () => {
  const status = await cli.run(["status", "--help"]);
  assert.equal(status.code, 0);
  assert.match(status.stdout, /--auth-dir/);
  assert.doesNotMatch(status.stdout, /--no-browser|--scope|--callback-host|--api-key/);
  const serve = await cli.run(["serve", "--help"]);
  assert.match(serve.stdout, /--port N +the port serve listens on, which the OAuth callback/);
  assert.match(serve.stdout, /--api-key KEY/);
  const list = await cli.run(["list", "--help"]);
  assert.doesNotMatch(list.stdout, /--client-id|--force/);
});

describe("auth when already signed in", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  before(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
  });
  after(async () => {
    await mcp.close();
    await as.close();
  });

  test("says so and suggests auth --force with the user's token directory and port, then --force signs in again", async () => {
    const dir = join(work, "signed-in");
    const common = ["--auth-dir", dir, "--port", String(await freePort())];
    const first = await cli.run(["auth", mcp.url, ...common], { env: { BROWSER: HEADLESS_BROWSER_PATH } });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^Signed in\./);
    // No browser: a second sign-in would hang (until the time limit) rather than pass.
    const again = await cli.run(["auth", mcp.url, ...common], { timeoutMs: 60_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^Already signed in\./);
    assert.ok(again.stdout.includes(`mcp-u2m-proxy auth ${mcp.url} ${common.join(" ")} --force`), again.stdout);
    const forced = await cli.run(["auth", mcp.url, ...common, "--force"], { env: { BROWSER: HEADLESS_BROWSER_PATH } });
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /^Signed in\./);
  });
});
