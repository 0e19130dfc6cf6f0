// First hour, input mistakes: every one is a usage error (exit 2) that says what was wrong and shows the right
// form; never "unexpected error" / exit 70. Suggested commands keep the user's options; help lists only what a
// command takes. The installed CLI (packed tarball), offline.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type InstalledCli, installCliFromTarball } from "./support/installed-cli.ts";

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
  ];
  for (const { args, says } of cases) {
    test(`mcp-u2m-proxy ${args.join(" ")}`, async () => {
      const run = await cli.run([...args, "--auth-dir", join(work, "auth")]);
      assert.equal(run.code, 2, `exit ${run.code}: ${run.stderr}`);
      assert.match(run.stderr, says);
      assert.doesNotMatch(run.stderr + run.stdout, /unexpected error/i);
    });
  }
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
