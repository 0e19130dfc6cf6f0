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

describe("--accept-issuer", () => {
  test("takes an issuer URL for the commands that discover; anything else is a usage error", () => {
    assert.equal(parseCliArgs(["auth", URL_ARG], {}).upstream.acceptIssuer, undefined);
    for (const command of ["auth", "serve", "stdio", "refresh"]) {
      const args = parseCliArgs([command, URL_ARG, "--accept-issuer", "https://auth.example.com"], {});
      assert.equal(args.upstream.acceptIssuer, "https://auth.example.com", command);
    }
    for (const bad of ["auth.example.com", "https://auth.example.com/#x", "https://a.example.com/?q=1"]) {
      assert.throws(
        () => parseCliArgs(["auth", URL_ARG, "--accept-issuer", bad], {}),
        /--accept-issuer must be an http\(s\) URL/,
        bad,
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

  test("--keep-alive takes whole seconds, 0 for off; anything else is a usage error", () => {
    assert.equal(parseCliArgs(["serve", URL_ARG]).serve.keepAliveMs, undefined);
    assert.equal(parseCliArgs(["serve", URL_ARG, "--keep-alive", "30"]).serve.keepAliveMs, 30_000);
    assert.equal(parseCliArgs(["serve", URL_ARG, "--keep-alive", "0"]).serve.keepAliveMs, 0);
    for (const value of ["-1", "1.5", "soon", "", "86401"]) {
      assert.throws(
        () => parseCliArgs(["serve", URL_ARG, `--keep-alive=${value}`]),
        usageNaming("--keep-alive must be a whole number of seconds"),
      );
    }
  });

  test("--store-lease (env MCP_PROXY_STORE_LEASE) takes 1-300 whole seconds; the flag wins; else a usage error", () => {
    const env = { MCP_PROXY_STORE_LEASE: "4" };
    assert.equal(parseCliArgs(["serve", URL_ARG], {}).runtime.storeLeaseMs, undefined);
    assert.equal(parseCliArgs(["serve", URL_ARG, "--store-lease", "3"], {}).runtime.storeLeaseMs, 3_000);
    assert.equal(parseCliArgs(["serve", URL_ARG], env).runtime.storeLeaseMs, 4_000);
    assert.equal(parseCliArgs(["serve", URL_ARG, "--store-lease", "60"], env).runtime.storeLeaseMs, 60_000);
    for (const value of ["0", "-1", "1.5", "soon", "", "301"]) {
      assert.throws(
        () => parseCliArgs(["serve", URL_ARG, `--store-lease=${value}`], {}),
        usageNaming("--store-lease must be a whole number of seconds from 1 to 300"),
      );
    }
    assert.throws(
      () => parseCliArgs(["serve", URL_ARG], { MCP_PROXY_STORE_LEASE: "forever" }),
      usageNaming("MCP_PROXY_STORE_LEASE must be a whole number of seconds"),
    );
  });
});

describe("every input mistake is a usage error (exit 2) that shows the right form", () => {
  const cases: { argv: string[]; env?: NodeJS.ProcessEnv; says: RegExp; hint?: RegExp }[] = [
    {
      argv: ["auth", "mcp.example.com/mcp"],
      says: /"mcp\.example\.com\/mcp" has no scheme/,
      hint: /Did you mean "mcp-u2m-proxy auth https:\/\/mcp\.example\.com\/mcp"\?/,
    },
    {
      argv: ["auth", "https:/mcp.example.com/mcp"],
      says: /has no scheme/,
      hint: /Did you mean "mcp-u2m-proxy auth https:\/\/mcp\.example\.com\/mcp"\?/,
    },
    { argv: ["stdio", "localhost:3000/mcp"], says: /has no scheme/, hint: /stdio http:\/\/localhost:3000\/mcp"/ },
    {
      argv: ["auth", "user:hunter2@mcp.example.com/mcp"],
      says: /^"\*\*\*@mcp\.example\.com\/mcp" has no scheme/,
      hint: /Give the URL in full/,
    },
    { argv: ["auth", "not a url"], says: /"not a url" is not a URL \(https:\/\/…\) or a server name/ },
    { argv: ["auth", "https://exa mple.com/mcp"], says: /is not a valid URL/, hint: /Usage: mcp-u2m-proxy auth/ },
    { argv: ["auth", "https://256.1.1.1/mcp"], says: /is not a valid URL/ },
    { argv: ["auth", "https://"], says: /"https:\/\/" is not a valid URL/ },
    {
      argv: ["auth", "http://mcp.example.com/mcp"],
      says: /uses plain http, which the proxy allows only to this machine/,
      hint: /Did you mean "mcp-u2m-proxy auth https:\/\/mcp\.example\.com\/mcp"\?.*--allow-insecure-http/,
    },
    { argv: ["status"], env: { UPSTREAM_MCP_URL: "http://mcp.example.com/mcp" }, says: /uses plain http/ },
    {
      argv: ["signin", URL_ARG],
      says: /^Unknown command "signin"\. Did you mean "auth"\?$/,
      hint: /^Usage: mcp-u2m-proxy auth/,
    },
    { argv: ["login", URL_ARG], says: /Did you mean "auth"\?/ },
    {
      argv: ["logout", URL_ARG],
      says: /^Unknown command "logout"\. Did you mean "clear"\?$/,
      hint: /Usage: mcp-u2m-proxy clear/,
    },
    { argv: ["signout"], says: /Did you mean "clear"\?/ },
    { argv: ["ls"], says: /Did you mean "list"\?/ },
    { argv: ["stauts", URL_ARG], says: /Did you mean "status"\?/ },
    { argv: ["refersh", URL_ARG], says: /Did you mean "refresh"\?/ },
    { argv: ["frobnicate"], says: /^Unknown command "frobnicate"\.$/, hint: /Commands: serve, stdio, auth/ },
    { argv: ["help", "stauts"], says: /Unknown command "stauts"\. Did you mean "status"\?/ },
    {
      argv: ["auth", URL_ARG, "--prot", "8000"],
      says: /^Unknown option '--prot'\.$/,
      hint: /^Did you mean --port\? Usage: mcp-u2m-proxy auth/,
    },
    {
      argv: ["auth", URL_ARG, "--allow-http"],
      says: /Unknown option '--allow-http'/,
      hint: /Did you mean --allow-insecure-http\?/,
    },
    {
      argv: ["status", URL_ARG, "--authdir=/tmp/x"],
      says: /Unknown option '--authdir'\./,
      hint: /Did you mean --auth-dir\?/,
    },
    { argv: ["auth", URL_ARG, "--auth-dir"], says: /^--auth-dir needs a value\.$/, hint: /auth --help/ },
    { argv: ["auth", URL_ARG, "--auth-dir", "--no-browser"], says: /--auth-dir needs a value; .* --auth-dir=VALUE/ },
    { argv: ["auth", URL_ARG, "--port", "99999"], says: /--port must be a port number from 0 to 65535/ },
    {
      argv: ["auth", URL_ARG, "--client-metadata-url", "notaurl"],
      says: /--client-metadata-url must be an https URL with a path/,
    },
    {
      argv: ["auth", URL_ARG, "--client-metadata-url", "https://app.example.com/"],
      says: /must be an https URL with a path/,
    },
    {
      argv: ["auth", URL_ARG, "--callback-host", "bad host"],
      says: /--callback-host must be a host name or IP address/,
    },
    {
      argv: ["serve", URL_ARG, "--host", "127.0.0.1:9000"],
      says: /--host must be a host name or IP address, not "127\.0\.0\.1:9000"/,
      hint: /--host 127\.0\.0\.1 --port 9000/,
    },
    { argv: ["auth", URL_ARG, URL_ARG], says: /Unexpected argument .*: auth takes one server/ },
    { argv: ["serve", URL_ARG, "--transport", "websocket"], says: /--transport must be streamable-http, sse or auto/ },
    {
      argv: ["status"],
      env: { UPSTREAM_MCP_URL: URL_ARG, OAUTH_CALLBACK_PORT: "eighty" },
      says: /^OAUTH_CALLBACK_PORT must be a port number/,
    },
    {
      argv: ["auth", URL_ARG, "--authorize-param", "state=abc"],
      says: /--authorize-param cannot set "state": the proxy sets it\.$/,
    },
    {
      argv: ["auth", URL_ARG, "--authorize-param", "redirect_uri=https://elsewhere.example/cb"],
      says: /cannot set "redirect_uri": the proxy sets it; use --port and --callback-host/,
    },
    { argv: ["auth", URL_ARG, "--authorize-param", "Code_Challenge=x"], says: /cannot set "Code_Challenge"/ },
    { argv: ["auth", URL_ARG, "--authorize-param", "scope=a b"], says: /use --scope/ },
  ];
  for (const { argv, env, says, hint } of cases) {
    test(argv.join(" "), () => {
      assert.throws(
        () => parseCliArgs(argv, env ?? {}),
        (error: unknown) => {
          assert.ok(isProxyError(error), String(error));
          assert.equal(exitCodeFor(error.code), 2, `${error.code}: ${error.message}`);
          assert.match(error.message, says);
          if (hint) assert.match(error.hint ?? "", hint);
          assert.doesNotMatch(error.toLine(), /hunter2/);
          return true;
        },
      );
    });
  }

  test("what is right still parses: loopback http, --allow-insecure-http, IP and host names, a metadata URL", () => {
    assert.equal(parseCliArgs(["auth", "http://127.0.0.1:3000/mcp"], {}).url, "http://127.0.0.1:3000/mcp");
    assert.equal(parseCliArgs(["auth", "http://localhost/mcp"], {}).url, "http://localhost/mcp");
    assert.equal(parseCliArgs(["auth", "http://mcp.test/mcp", "--allow-insecure-http"], {}).url, "http://mcp.test/mcp");
    const args = parseCliArgs(
      [
        "serve",
        URL_ARG,
        "--host",
        "::",
        "--callback-host",
        "localhost",
        "--client-metadata-url",
        "https://a.example/c.json",
      ],
      {},
    );
    assert.deepEqual(
      [args.serve.host, args.runtime.callbackHost, args.upstream.clientMetadataUrl],
      ["::", "localhost", "https://a.example/c.json"],
    );
    assert.equal(parseCliArgs(["serve", URL_ARG, "--host", "proxy.internal"], {}).serve.host, "proxy.internal");
    assert.deepEqual(
      parseCliArgs(
        ["auth", URL_ARG, "--authorize-param", "access_type=offline", "--authorize-param", "prompt=consent"],
        {},
      ).upstream.authorizeParams,
      { access_type: "offline", prompt: "consent" },
    );
    assert.equal(parseCliArgs(["auth", "http://[::1]:3000/mcp"], {}).url, "http://[::1]:3000/mcp");
  });

  test("help names a command, or another word for one", () => {
    assert.equal(parseCliArgs(["help", "status"], {}).helpTopic, "status");
    assert.equal(parseCliArgs(["help", "login"], {}).helpTopic, "auth");
    assert.equal(parseCliArgs(["clear", "--help"], {}).helpTopic, "clear");
    assert.equal(parseCliArgs(["help"], {}).helpTopic, undefined);
  });
});

describe("the CLI never reports user input as an unexpected error (exit 70)", () => {
  test("listen failures from --host/--port are usage errors", async () => {
    const err: string[] = [];
    // 192.0.2.1 (TEST-NET-1) is an address no test machine has.
    const code = await runCli(["serve", URL_ARG, "--host", "192.0.2.1", "--api-key", "k", "--port", "0"], {
      out: () => {},
      err: (text) => void err.push(text),
    });
    assert.equal(code, 2, err.join("\n"));
    assert.match(err.join("\n"), /Cannot listen on 192\.0\.2\.1:0: 192\.0\.2\.1 is not an address of this machine\./);
    assert.doesNotMatch(err.join("\n"), /unexpected error/);
  });
});

test("--store / MCP_PROXY_STORE: file:DIR is the auth dir, a shared store URL is kept, a bad one is refused without its password", () => {
  const dir = parseCliArgs(["status", "https://u.example/mcp", "--store", "file:/tmp/u2m-store"], {});
  assert.equal(dir.runtime.authDir, "/tmp/u2m-store");
  assert.equal(dir.runtime.storeUrl, undefined);
  const fromEnv = parseCliArgs(["status", "https://u.example/mcp"], {
    MCP_PROXY_STORE: "redis://:pw@r.example:6379/2",
  });
  assert.equal(fromEnv.runtime.storeUrl, "redis://:pw@r.example:6379/2");
  const flag = parseCliArgs(["status", "https://u.example/mcp", "--store", "postgres:"], {
    MCP_PROXY_STORE: "redis://r.example",
  });
  assert.equal(flag.runtime.storeUrl, "postgres:", "the flag wins over the variable");
  assert.throws(
    () => parseCliArgs(["status", "https://u.example/mcp", "--store", "mongodb://u:hunter2@db/x"], {}),
    (error: unknown) =>
      isProxyError(error, "USAGE") &&
      /Unknown token store "mongodb:\/\/u:\*\*\*@db\/x"/.test(error.message) &&
      !error.message.includes("hunter2"),
  );
});

describe("where serve listens in the databricks-apps mode", () => {
  const apps = ["serve", URL_ARG, "--identity", "databricks-apps"];

  test("0.0.0.0 on DATABRICKS_APP_PORT, 8000 when it is unset, no key needed", () => {
    const args = parseCliArgs(apps, { DATABRICKS_APP_PORT: "8123" });
    assert.equal(args.serve.host, "0.0.0.0");
    assert.equal(args.runtime.port, 8123);
    assert.equal(args.serve.apiKey, undefined);
    assert.equal(parseCliArgs(apps, {}).runtime.port, 8000);
  });

  test("--host and --port (and OAUTH_CALLBACK_PORT) still win", () => {
    const args = parseCliArgs([...apps, "--host", "127.0.0.1", "--port", "9001"], { DATABRICKS_APP_PORT: "8123" });
    assert.equal(args.serve.host, "127.0.0.1");
    assert.equal(args.runtime.port, 9001);
    assert.equal(parseCliArgs(apps, { DATABRICKS_APP_PORT: "8123", OAUTH_CALLBACK_PORT: "9002" }).runtime.port, 9002);
  });

  test("other modes ignore DATABRICKS_APP_PORT and stay on loopback", () => {
    const args = parseCliArgs(["serve", URL_ARG], { DATABRICKS_APP_PORT: "8123" });
    assert.equal(args.serve.host, "127.0.0.1");
    assert.equal(args.runtime.port, 8000);
  });
});

describe("--ignore-tool", () => {
  test("repeatable, trimmed; serve and stdio take it, an empty pattern is a usage error", () => {
    assert.deepEqual(
      parseCliArgs(["stdio", URL_ARG, "--ignore-tool", "delete_*", "--ignore-tool", " admin "]).ignoreTools,
      ["delete_*", "admin"],
    );
    assert.deepEqual(parseCliArgs(["serve", URL_ARG, "--ignore-tool", "x"]).ignoreTools, ["x"]);
    assert.deepEqual(parseCliArgs(["stdio", URL_ARG]).ignoreTools, []);
    assert.throws(
      () => parseCliArgs(["stdio", URL_ARG, "--ignore-tool", " "]),
      usageNaming("--ignore-tool needs a tool name"),
    );
  });
});
