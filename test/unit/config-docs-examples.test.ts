// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the examples write ${VAR} on purpose
// The config files the README and docs/config-file.md show load through the library as they say: a documented
// example that no longer parses, or reads differently, fails here.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parseConfig } from "../../src/config/config-file.ts";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const DOC = readFileSync(new URL("../../docs/config-file.md", import.meta.url), "utf8");
const FILE = "/home/me/mcp-u2m-proxy.json";

/** The first ```json block after `heading`. */
function jsonAfter(text: string, heading: string): string {
  const at = text.indexOf(heading);
  assert.ok(at >= 0, `"${heading}" is in the document`);
  const block = /```json\n([\s\S]*?)```/.exec(text.slice(at));
  assert.ok(block?.[1], `a json block follows "${heading}"`);
  return block[1];
}

test("README, Many servers: linear, sentry and inhouse with its pre-registered client from variables", () => {
  const env = { INHOUSE_CLIENT_ID: "inhouse-client", INHOUSE_SECRET: "inhouse-secret" };
  const config = parseConfig(jsonAfter(README, "### Many servers, one proxy"), FILE, env);
  assert.deepEqual(
    config.servers.map((server) => [server.name, server.url, server.transport]),
    [
      ["linear", "https://mcp.linear.app/mcp", undefined],
      ["sentry", "https://mcp.sentry.dev/mcp", "streamable-http"],
      ["inhouse", "https://mcp.internal.example.com/mcp", undefined],
    ],
  );
  const inhouse = config.servers[2];
  assert.equal(inhouse?.oauth.clientId, "inhouse-client");
  assert.equal(inhouse?.oauth.clientSecret, "inhouse-secret");
  assert.deepEqual([config.skipped, config.warnings], [[], []]);
});

test("docs/config-file.md, Example: a remote entry and an mcp-remote entry with a rate limit", () => {
  const config = parseConfig(jsonAfter(DOC, "## Example: two hosted servers behind one proxy"), FILE, {});
  assert.deepEqual(
    config.servers.map((server) => [server.name, server.url, server.source]),
    [
      ["linear", "https://mcp.linear.app/mcp", "remote"],
      ["sentry", "https://mcp.sentry.dev/mcp", "mcp-remote"],
    ],
  );
  assert.deepEqual(config.servers[1]?.rateLimit, { requestsPerMinute: 120, burst: 20 });
  assert.deepEqual(config.warnings, []);
});

test("docs/config-file.md, Our own keys: the block is valid inside an entry and every key is read", () => {
  const own = jsonAfter(DOC, "## Our own keys");
  const text = `{ "mcpServers": { "inhouse": { "url": "https://mcp.internal.example.com/mcp", ${own} } } }`;
  const config = parseConfig(text, FILE, { INHOUSE_SECRET: "inhouse-secret" });
  const entry = config.servers[0];
  assert.ok(entry);
  assert.deepEqual(entry.oauth, {
    clientId: "…",
    clientSecret: "inhouse-secret",
    clientMetadataUrl: "https://proxy.example.com/client.json",
    scope: "read write",
    resource: false,
    authorizeParams: { access_type: "offline", prompt: "consent" },
  });
  assert.deepEqual(entry.rateLimit, { requestsPerMinute: 120, burst: 20 });
  assert.deepEqual(config.warnings, [], "no key of the documented block is unknown");
});
