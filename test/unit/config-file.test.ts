// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config files write ${VAR} on purpose
// The config file: the formats hosts write, mcp-remote entries, variables, our own keys, and every error naming the
// file, the server and the key (CONFIG_INVALID, exit 2).
import assert from "node:assert/strict";
import { test } from "node:test";
import { exitCodeFor } from "../../src/cli/exit-codes.ts";
import { parseConfig } from "../../src/config/config-file.ts";
import { isProxyError } from "../../src/lib/errors.ts";

const env = { LINEAR_TOKEN: "lin-123", CLIENT_SECRET: "s3cret" };
const parse = (value: unknown, vars: NodeJS.ProcessEnv = env) =>
  parseConfig(typeof value === "string" ? value : JSON.stringify(value), "/home/me/mcp-u2m-proxy.json", vars);

function rejects(value: unknown, message: RegExp, vars?: NodeJS.ProcessEnv) {
  assert.throws(
    () => parse(value, vars),
    (error: unknown) => {
      assert.ok(isProxyError(error, "CONFIG_INVALID"), String(error));
      assert.equal(exitCodeFor(error.code), 2);
      assert.match(error.message, message);
      return true;
    },
  );
}

test("Claude Code / Cursor mcpServers and VS Code servers, with types and headers", () => {
  const claude = parse({
    mcpServers: {
      linear: { type: "http", url: "https://mcp.linear.app/mcp", headers: { "X-Team": "${env:LINEAR_TOKEN}" } },
      legacy: { type: "sse", url: "https://old.example.com/sse" },
      cursor: { url: "https://mcp.example.com/mcp" },
    },
  });
  assert.deepEqual(
    claude.servers.map((s) => [s.name, s.upstream.url, s.transport]),
    [
      ["linear", "https://mcp.linear.app/mcp", "streamable-http"],
      ["legacy", "https://old.example.com/sse", "sse"],
      ["cursor", "https://mcp.example.com/mcp", undefined],
    ],
  );
  assert.equal(claude.servers[0]?.upstream.headers["x-team"], "lin-123");
  const vscode = parse({ servers: { gh: { type: "http", url: "https://api.githubcopilot.com/mcp/" } }, inputs: [] });
  assert.equal(vscode.servers[0]?.name, "gh");
});

test("an existing mcp-remote entry is read with its flags; stdio and disabled entries are skipped", () => {
  const config = parse({
    mcpServers: {
      sentry: {
        command: "npx",
        args: [
          "-y",
          "mcp-remote@0.1.29",
          "https://mcp.sentry.dev/mcp",
          "--header",
          "Authorization:Bearer ${LINEAR_TOKEN}",
          "--transport",
          "sse-only",
          "--static-oauth-client-info",
          '{"client_id":"abc","client_secret":"${CLIENT_SECRET}"}',
          "9696",
          "--host",
          "127.0.0.1",
        ],
      },
      files: { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"] },
      off: { url: "https://off.example.com/mcp", disabled: true },
      off2: { url: "https://off.example.com/mcp", "mcp-u2m-proxy": { enabled: false } },
    },
  });
  const [sentry] = config.servers;
  assert.equal(config.servers.length, 1);
  assert.equal(sentry?.source, "mcp-remote");
  assert.equal(sentry?.upstream.url, "https://mcp.sentry.dev/mcp");
  assert.equal(sentry?.upstream.headers.authorization, "Bearer lin-123");
  assert.equal(sentry?.transport, "sse");
  assert.equal(sentry?.upstream.clientId, "abc");
  assert.equal(sentry?.upstream.clientSecret, "s3cret");
  assert.deepEqual(
    config.skipped.map((entry) => entry.name),
    ["files", "off", "off2"],
  );
  assert.match(config.warnings[0] ?? "", /server "sentry": mcp-remote options ignored here: port 9696, --host/);
});

test("our own keys under mcp-u2m-proxy; unknown keys are ignored", () => {
  const config = parse({
    mcpServers: {
      inhouse: {
        url: "https://mcp.internal.example/mcp",
        description: "kept by the host",
        "mcp-u2m-proxy": {
          oauth: {
            clientId: "pre",
            clientSecret: "${CLIENT_SECRET}",
            scope: "a b",
            resource: false,
            authorizeParams: { prompt: "login" },
          },
          rateLimit: { requestsPerMinute: 60, burst: 5 },
          futureKey: true,
        },
      },
    },
  });
  const server = config.servers[0];
  assert.equal(server?.upstream.clientId, "pre");
  assert.equal(server?.upstream.clientSecret, "s3cret");
  assert.equal(server?.upstream.scope, "a b");
  assert.equal(server?.upstream.sendResource, false);
  assert.deepEqual(server?.upstream.authorizeParams, { prompt: "login" });
  assert.deepEqual(server?.rateLimit, { requestsPerMinute: 60, burst: 5 });
});

test("variables: ${VAR:-default}, $${ literal; an unset one names itself, the server and the file", () => {
  const config = parse({ mcpServers: { a: { url: "https://${HOST:-a.example}/mcp", headers: { x: "$${literal}" } } } });
  assert.equal(config.servers[0]?.upstream.url, "https://a.example/mcp");
  assert.equal(config.servers[0]?.upstream.headers.x, "${literal}");
  rejects(
    { mcpServers: { jira: { url: "https://${JIRA_HOST}/mcp" } } },
    /mcp-u2m-proxy\.json: server "jira": the environment variable JIRA_HOST is not set/,
  );
});

test("errors name the file, the server and the key", () => {
  rejects(
    '{"mcpServers": {"a": {"url": "https://a.example/mcp",}}}',
    /mcp-u2m-proxy\.json is not valid JSON at line 1, column \d+/,
  );
  rejects(
    { mcpServers: { jira: { type: "websocket", url: "https://j.example/mcp" } } },
    /server "jira": "type" must be one of http, streamable-http, sse \(got "websocket"\)/,
  );
  rejects({ mcpServers: { "../etc": { url: "https://x.example/mcp" } } }, /server "\.\.\/etc": the name must be/);
  rejects({ mcpServers: { bad: { url: "not a url" } } }, /server "bad": "url" must be an http\(s\) URL/);
  rejects({ mcpServers: { none: { note: "x" } } }, /server "none": it has neither "url" nor "command"/);
  rejects({ other: {} }, /no "mcpServers".*or "servers"/);
  rejects(
    { mcpServers: { r: { url: "https://r.example/mcp", "mcp-u2m-proxy": { rateLimit: { requestsPerMinute: 0 } } } } },
    /server "r": "mcp-u2m-proxy"\.rateLimit/,
  );
});
