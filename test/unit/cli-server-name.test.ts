// A word that is both a server name and a host without its scheme (`my.server`): the config file decides. A
// configured name wins; a dotted word no server has is a usage error (exit 2) that shows both forms. A word that can
// only be an address (`mcp.example.com/mcp`) stays the immediate "has no scheme" error.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseCliArgs } from "../../src/cli/args.ts";
import { exitCodeFor } from "../../src/cli/exit-codes.ts";
import { resolveServer } from "../../src/cli/resolve-server.ts";
import { runCli } from "../../src/cli/run-cli.ts";
import { isProxyError } from "../../src/lib/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "u2m-server-name-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, "mcp-u2m-proxy.json");
writeFileSync(
  config,
  JSON.stringify({
    mcpServers: {
      "my.server": { url: "https://mcp.example.com/mcp" },
      jira: { url: "https://jira.example.com/mcp" },
    },
  }),
);

test("a dotted word is read as a name that may be a URL; an address with a path or port is not", () => {
  const args = parseCliArgs(["auth", "my.server"], {});
  assert.equal(args.url, undefined);
  assert.equal(args.serverName, "my.server");
  assert.equal(args.serverNameAsUrl, "https://my.server");
  assert.equal(parseCliArgs(["auth", "jira"], {}).serverNameAsUrl, undefined);
  assert.throws(
    () => parseCliArgs(["auth", "mcp.example.com/mcp"], {}),
    (error) => isProxyError(error, "USAGE") && /has no scheme/.test(error.message),
  );
});

test("a configured name with a dot wins over reading it as a host", () => {
  const args = parseCliArgs(["auth", "my.server", "--config", config], {});
  const server = resolveServer(args, "auth");
  assert.equal(server.name, "my.server");
  assert.equal(server.upstream.url, "https://mcp.example.com/mcp");
  // The same through UPSTREAM_MCP_URL.
  const fromEnv = resolveServer(
    parseCliArgs(["status"], { UPSTREAM_MCP_URL: "my.server", MCP_U2M_PROXY_CONFIG: config }),
    "status",
  );
  assert.equal(fromEnv.upstream.url, "https://mcp.example.com/mcp");
});

test("runCli: status of a configured dotted name reports that server", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(["status", "my.server", "--config", config, "--auth-dir", join(dir, "tokens")], {
    out: (text) => void out.push(text),
    err: (text) => void err.push(text),
  });
  assert.equal(code, 1, err.join("\n"));
  assert.match(
    out.join("\n"),
    /^Not signed in to https:\/\/mcp\.example\.com\/mcp\. Sign in with: mcp-u2m-proxy auth my\.server/,
  );
  assert.doesNotMatch(err.join("\n"), /no scheme/);
});

test("an unknown dotted word with a config file: a usage error showing the URL and the configured names", async () => {
  const err: string[] = [];
  const code = await runCli(["auth", "other.server", "--config", config], {
    out: () => {},
    err: (text) => void err.push(text),
  });
  assert.equal(code, 2, err.join("\n"));
  const line = err.join("\n");
  assert.match(
    line,
    /"other\.server" has no scheme \(a server URL starts with https:\/\/\) and no server in .* is named "other\.server"/,
  );
  assert.ok(line.includes(`Did you mean "mcp-u2m-proxy auth https://other.server --config ${config}"?`), line);
  assert.ok(line.includes(`"mcp-u2m-proxy auth my.server --config ${config}"`), line);
  assert.match(line, /configured: my\.server, jira/);
});

test("an unknown dotted word without a config file: the URL, or a name from a config file", () => {
  const args = { ...parseCliArgs(["clear", "mcp.example.com"], {}), configLocation: undefined };
  assert.throws(
    () => resolveServer(args, "clear"),
    (error: unknown) => {
      assert.ok(isProxyError(error, "USAGE"), String(error));
      assert.equal(exitCodeFor(error.code), 2);
      assert.match(error.message, /"mcp\.example\.com" has no scheme .* there is no config file to name it/);
      assert.match(error.hint ?? "", /Did you mean "mcp-u2m-proxy clear https:\/\/mcp\.example\.com"\?/);
      assert.match(error.hint ?? "", /a server's name from a config file \(--config FILE or \.\/mcp-u2m-proxy\.json\)/);
      return true;
    },
  );
});

test("a server name given with command-line options: they win over the entry's, for that server", () => {
  const args = parseCliArgs(["auth", "jira", "--config", config, "--scope", "read", "--transport", "sse"], {});
  const server = resolveServer(args, "auth");
  assert.equal(server.upstream.url, "https://jira.example.com/mcp");
  assert.equal(server.upstream.scope, "read");
  assert.equal(server.transport, "sse");
});
