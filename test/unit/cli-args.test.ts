// Option parsing for the inbound API key file and the PKCE opt-out (src/cli/args.ts).
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseCliArgs } from "../../src/cli/args.ts";
import { exitCodeFor } from "../../src/cli/exit-codes.ts";
import { runCli } from "../../src/cli/run-cli.ts";
import { isProxyError } from "../../src/lib/errors.ts";

const URL_ARG = "https://mcp.example.com/mcp";

function usageNaming(text: string | RegExp) {
  return (error: unknown) => {
    assert.ok(isProxyError(error, "USAGE"), String(error));
    assert.equal(exitCodeFor(error.code), 2);
    assert.match(
      error.message,
      typeof text === "string" ? new RegExp(text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")) : text,
    );
    return true;
  };
}

describe("--api-key-file and MCP_PROXY_API_KEY_FILE", () => {
  let dir: string;
  let keyFile: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "u2m-args-"));
    keyFile = join(dir, "key");
    await writeFile(keyFile, "  s3cret-key  \nsecond line is ignored\n");
    await chmod(keyFile, 0o600);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("reads the first line, trimmed, with no warning for a 0600 file", () => {
    const args = parseCliArgs(["serve", URL_ARG, "--api-key-file", keyFile], {});
    assert.equal(args.serve.apiKey, "s3cret-key");
    assert.deepEqual(args.warnings, []);
  });

  test("the env variable works too, and a flag wins over the env", () => {
    assert.equal(parseCliArgs([URL_ARG], { MCP_PROXY_API_KEY_FILE: keyFile }).serve.apiKey, "s3cret-key");
    assert.equal(
      parseCliArgs([URL_ARG, "--api-key-file", keyFile], { MCP_PROXY_API_KEY: "from-env" }).serve.apiKey,
      "s3cret-key",
    );
    assert.equal(
      parseCliArgs([URL_ARG, "--api-key", "from-flag"], { MCP_PROXY_API_KEY_FILE: keyFile }).serve.apiKey,
      "from-flag",
    );
    assert.equal(parseCliArgs([URL_ARG], { MCP_PROXY_API_KEY: "from-env" }).serve.apiKey, "from-env");
  });

  test("both --api-key and --api-key-file (or both env variables) are a usage error", () => {
    assert.throws(
      () => parseCliArgs([URL_ARG, "--api-key", "k", "--api-key-file", keyFile], {}),
      usageNaming("--api-key or --api-key-file, not both"),
    );
    assert.throws(
      () => parseCliArgs([URL_ARG], { MCP_PROXY_API_KEY: "k", MCP_PROXY_API_KEY_FILE: keyFile }),
      usageNaming("MCP_PROXY_API_KEY or MCP_PROXY_API_KEY_FILE, not both"),
    );
  });

  test("a missing file is a usage error naming the path", () => {
    const missing = join(dir, "nope");
    assert.throws(
      () => parseCliArgs([URL_ARG, "--api-key-file", missing], {}),
      usageNaming(`The API key file ${missing} (--api-key-file) does not exist.`),
    );
    assert.throws(
      () => parseCliArgs([URL_ARG], { MCP_PROXY_API_KEY_FILE: missing }),
      usageNaming(`${missing} (MCP_PROXY_API_KEY_FILE) does not exist`),
    );
  });

  test("an empty file, or one whose first line is blank, is a usage error naming the path", async () => {
    for (const [name, content] of [
      ["empty", ""],
      ["blank", "   \nkey-on-line-two\n"],
    ] as const) {
      const file = join(dir, name);
      await writeFile(file, content);
      await chmod(file, 0o600);
      assert.throws(
        () => parseCliArgs([URL_ARG, "--api-key-file", file], {}),
        usageNaming(`The API key file ${file} (--api-key-file) has no key on its first line.`),
      );
    }
  });

  test("a directory is a usage error naming the path", () => {
    assert.throws(
      () => parseCliArgs([URL_ARG, "--api-key-file", dir], {}),
      usageNaming(`${dir} (--api-key-file) cannot be read`),
    );
  });

  test("a file readable by group or others gives a warning (and still works)", {
    skip: process.platform === "win32",
  }, async () => {
    for (const mode of [0o640, 0o604]) {
      const file = join(dir, `open-${mode.toString(8)}`);
      await writeFile(file, "k\n");
      await chmod(file, mode);
      const args = parseCliArgs([URL_ARG, "--api-key-file", file], {});
      assert.equal(args.serve.apiKey, "k");
      assert.equal(args.warnings.length, 1, mode.toString(8));
      assert.match(args.warnings[0]!, new RegExp(`${file} can be read by other users.*chmod 600`));
    }
  });

  test("the CLI prints the warning on stderr before running the command", async () => {
    const file = join(dir, "open-for-cli");
    await writeFile(file, "distinctive-inbound-key\n");
    await chmod(file, 0o644);
    const out: string[] = [];
    const err: string[] = [];
    // No URL: the command fails right after parsing, before it would listen.
    const code = await runCli(["serve", "--api-key-file", file], {
      out: (text) => void out.push(text),
      err: (text) => void err.push(text),
    });
    assert.equal(code, 2);
    assert.match(
      err[0] ?? "",
      new RegExp(`^mcp-u2m-proxy: warning: The API key file ${file} can be read by other users`),
    );
    assert.match(err[1] ?? "", /serve needs the MCP server's URL/);
    assert.ok(![...out, ...err].join("\n").includes("distinctive-inbound-key"), "the key is never printed");
  });

  test("only serve reads the file: other commands and --help do not fail on a bad one", () => {
    const env = { MCP_PROXY_API_KEY_FILE: join(dir, "nope") };
    for (const argv of [["status", URL_ARG], ["auth", URL_ARG], ["list"], ["serve", "--help"], ["--version"]]) {
      const args = parseCliArgs(argv, env);
      assert.equal(args.serve.apiKey, undefined, argv.join(" "));
    }
  });
});

describe("--allow-pkce-unverified", () => {
  test("is off by default and on with the flag, for every command that signs in", () => {
    assert.equal(parseCliArgs(["auth", URL_ARG], {}).upstream.allowPkceUnverified, false);
    for (const command of ["auth", "serve", "stdio"]) {
      assert.equal(
        parseCliArgs([command, URL_ARG, "--allow-pkce-unverified"], {}).upstream.allowPkceUnverified,
        true,
        command,
      );
    }
  });
});

describe("serve's limits on streams and sessions", () => {
  test("default to the face's own defaults (undefined) and parse whole numbers; the idle timeout is in seconds", () => {
    const none = parseCliArgs(["serve", URL_ARG]).serve;
    assert.deepEqual(
      [none.maxStreams, none.maxStreamsPerSession, none.maxSessions, none.sessionIdleMs],
      [undefined, undefined, undefined, undefined],
    );
    const given = parseCliArgs([
      "serve",
      URL_ARG,
      "--max-streams",
      "50",
      "--max-streams-per-session",
      "2",
      "--max-sessions",
      "10",
      "--session-idle-timeout",
      "30",
    ]).serve;
    assert.deepEqual(
      [given.maxStreams, given.maxStreamsPerSession, given.maxSessions, given.sessionIdleMs],
      [50, 2, 10, 30_000],
    );
  });

  test("anything but a whole number of at least 1 is a usage error naming the flag", () => {
    for (const [flag, value] of [
      ["--max-streams", "0"],
      ["--max-sessions", "lots"],
      ["--session-idle-timeout", "1.5"],
    ] as const) {
      assert.throws(() => parseCliArgs(["serve", URL_ARG, flag, value]), usageNaming(`${flag} must be a whole number`));
    }
  });
});
