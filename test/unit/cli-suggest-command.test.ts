// Suggested commands are written for the user's own invocation (src/cli/suggest-command.ts): the same server and
// the options that select the same store and sign-in, never a secret.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { carriedOptions, commandFor, launchOptions, personaliseHint } from "../../src/cli/suggest-command.ts";

const URL_ARG = "https://mcp.example.com/mcp";

describe("carriedOptions", () => {
  test("keeps what selects the store, client and callback, in the user's order; drops the rest", () => {
    const argv = [
      "refresh",
      URL_ARG,
      "--no-browser",
      "--auth-dir",
      "/tmp/d",
      "--debug",
      "-p",
      "8123",
      "--config=./servers.json",
      "--client-id",
      "app-1",
      "--scope",
      "read write",
      "--host",
      "0.0.0.0",
      "--json",
      "--allow-insecure-http",
    ];
    assert.deepEqual(carriedOptions(argv), [
      "--auth-dir",
      "/tmp/d",
      "--port",
      "8123",
      "--config",
      "./servers.json",
      "--client-id",
      "app-1",
      "--scope",
      "read write",
      "--allow-insecure-http",
    ]);
  });

  test("a client secret is never repeated: a placeholder stands in for it, inline or not", () => {
    for (const argv of [
      ["auth", URL_ARG, "--client-secret", "s3cr3t-value", "--auth-dir", "/tmp/d"],
      ["auth", URL_ARG, "--client-secret=s3cr3t-value", "--auth-dir", "/tmp/d"],
    ]) {
      const carried = carriedOptions(argv);
      assert.deepEqual(carried, ["--client-secret", "<secret>", "--auth-dir", "/tmp/d"], argv.join(" "));
      assert.ok(!carried.join(" ").includes("s3cr3t"));
    }
  });

  test("for a given command, only the options it takes (a dropped option's value goes with it)", () => {
    assert.deepEqual(carriedOptions(["auth", URL_ARG, "--port", "9000", "--auth-dir", "/tmp/d"], "status"), [
      "--auth-dir",
      "/tmp/d",
    ]);
    assert.deepEqual(
      carriedOptions(["auth", URL_ARG, "--scope", "read", "--client-id", "c", "--auth-dir", "/tmp/d"], "refresh"),
      ["--client-id", "c", "--auth-dir", "/tmp/d"],
    );
  });
});

describe("commandFor", () => {
  test("names the server (its config name when it has one) and quotes for a shell", () => {
    const args = { argv: ["status", URL_ARG, "--auth-dir", "/tmp/my tokens"], url: URL_ARG, serverName: undefined };
    assert.equal(commandFor(args, "auth", {}), `mcp-u2m-proxy auth ${URL_ARG} --auth-dir '/tmp/my tokens'`);
    assert.equal(
      commandFor(args, "auth", { name: "jira" }, ["--force"]),
      "mcp-u2m-proxy auth jira --auth-dir '/tmp/my tokens' --force",
    );
  });
});

describe("personaliseHint", () => {
  const args = {
    argv: ["refresh", URL_ARG, "--auth-dir", "/tmp/d", "--port", "8123"],
    url: URL_ARG,
    serverName: undefined,
  };

  test("rewrites every suggested command in a message, keeping --force", () => {
    const text = `No tokens. Run \`mcp-u2m-proxy auth ${URL_ARG}\` to sign in, or \`mcp-u2m-proxy auth ${URL_ARG} --force\`.`;
    assert.equal(
      personaliseHint(text, args),
      `No tokens. Run \`mcp-u2m-proxy auth ${URL_ARG} --auth-dir /tmp/d --port 8123\` to sign in, or \`mcp-u2m-proxy auth ${URL_ARG} --auth-dir /tmp/d --port 8123 --force\`.`,
    );
  });

  test("uses the config name for the same server (trailing slash and case aside), the URL for another", () => {
    const server = [{ name: "jira", url: `${URL_ARG}/` }];
    assert.equal(
      personaliseHint(`Run "mcp-u2m-proxy auth ${URL_ARG.toUpperCase().replace("HTTPS", "https")}".`, args, server),
      `Run "mcp-u2m-proxy auth jira --auth-dir /tmp/d --port 8123".`,
    );
    assert.equal(
      personaliseHint(`Run "mcp-u2m-proxy auth https://other.example/mcp".`, args, server),
      `Run "mcp-u2m-proxy auth https://other.example/mcp --auth-dir /tmp/d --port 8123".`,
    );
  });

  test("is idempotent: a hint copied into another error keeps one set of options, --force stays last", () => {
    const once = personaliseHint(`Sign in again with \`mcp-u2m-proxy auth ${URL_ARG} --force\`.`, args);
    assert.equal(once, `Sign in again with \`mcp-u2m-proxy auth ${URL_ARG} --auth-dir /tmp/d --port 8123 --force\`.`);
    assert.equal(personaliseHint(once, args), once);
    const named = personaliseHint(`Run "mcp-u2m-proxy auth ${URL_ARG}".`, args, [{ name: "jira", url: URL_ARG }]);
    assert.equal(personaliseHint(named, args, [{ name: "jira", url: URL_ARG }]), named);
  });

  test("options the message wrote are kept as written, and not added twice", () => {
    assert.equal(
      personaliseHint(`Run mcp-u2m-proxy auth ${URL_ARG} --port 9999 to sign in.`, args),
      `Run mcp-u2m-proxy auth ${URL_ARG} --auth-dir /tmp/d --port 9999 to sign in.`,
    );
  });

  test("a URL a shell would split is quoted", () => {
    assert.equal(
      personaliseHint("Run `mcp-u2m-proxy auth https://mcp.example.com/mcp?tenant=a&x=1`.", { argv: [] }),
      "Run `mcp-u2m-proxy auth 'https://mcp.example.com/mcp?tenant=a&x=1'`.",
    );
  });

  test("leaves text without a suggested command alone", () => {
    const text = "The MCP server could not be reached: connection refused. Check that it is running.";
    assert.equal(personaliseHint(text, args), text);
  });
});

test("launchOptions: what a client snippet's stdio command needs besides --config, --auth-dir and --port", () => {
  const argv = [
    "serve",
    "https://mcp.example.com/mcp",
    "--auth-dir",
    "/tmp/tokens",
    "--client-id",
    "figma-app",
    "--client-secret=hunter2",
    "--use-id-token",
    "--keychain",
    "-p",
    "9000",
    "--scope=mcp:read mcp:write",
    "--store-key-file",
    "/keys/store.key",
    "--header",
    "X-Team: a",
    "--ignore-tool",
    "delete_*",
    "--api-key",
    "inbound",
  ];
  assert.deepEqual(launchOptions(argv), [
    "--client-id",
    "figma-app",
    "--client-secret",
    "<secret>",
    "--use-id-token",
    "--keychain",
    "--scope",
    "mcp:read mcp:write",
    "--store-key-file",
    "/keys/store.key",
    "--header",
    "X-Team: a",
    "--ignore-tool",
    "delete_*",
  ]);
  assert.ok(!launchOptions(argv).includes("hunter2"), "never the secret");
});

test("upstream headers are carried (the server may need them), a credential header's value as a placeholder", () => {
  const argv = [
    "serve",
    URL_ARG,
    "-H",
    "X-Tenant: acme",
    "--header=X-Api-Key: k-123456789",
    "--header",
    "Authorization: Bearer tok-123456789",
    "--header",
    "Cookie: sid=abcdefgh",
  ];
  const carried = launchOptions(argv);
  assert.deepEqual(carried, [
    "--header",
    "X-Tenant: acme",
    "--header",
    "X-Api-Key: <secret>",
    "--header",
    "Authorization: <secret>",
    "--header",
    "Cookie: <secret>",
  ]);
  assert.doesNotMatch(carried.join(" "), /123456789|abcdefgh/, "never a credential");
  assert.deepEqual(carriedOptions(argv, "status"), [], "status takes no --header, nor its value");
});
