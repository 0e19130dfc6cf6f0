// `list` and `status` say what the config file left out (stdio entries, disabled ones) and what it ignored
// (unknown own keys): on stderr, never mixed into stdout; with --json in the answer's "warnings".
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runCli } from "../../src/cli/run-cli.ts";

const dir = mkdtempSync(join(tmpdir(), "u2m-config-warnings-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, "mcp-u2m-proxy.json");
writeFileSync(
  config,
  JSON.stringify({
    mcpServers: {
      linear: { url: "https://mcp.linear.app/mcp", "mcp-u2m-proxy": { rateLimt: { requestsPerMinute: 10 } } },
      files: { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"] },
    },
  }),
);
const common = ["--config", config, "--auth-dir", join(dir, "tokens")];
const SKIPPED = /mcp-u2m-proxy\.json: server "files" is not served: a stdio command \(npx\)/;
const UNKNOWN = /mcp-u2m-proxy\.json: server "linear": ignored here: mcp-u2m-proxy\.rateLimt/;

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli([...argv, ...common], { out: (t) => void out.push(t), err: (t) => void err.push(t) });
  return { code, stdout: out.join("\n"), stderr: err };
}

/** Both notices, each one warning line on stderr. */
function warnedOnStderr(stderr: string[]): void {
  const warnings = stderr.filter((line) => line.startsWith("mcp-u2m-proxy: warning: "));
  assert.equal(warnings.length, 2, stderr.join("\n"));
  assert.ok(
    warnings.some((line) => SKIPPED.test(line)),
    stderr.join("\n"),
  );
  assert.ok(
    warnings.some((line) => UNKNOWN.test(line)),
    stderr.join("\n"),
  );
}

function inJson(warnings: unknown): void {
  assert.ok(Array.isArray(warnings), "warnings is an array");
  assert.equal(warnings.length, 2, String(warnings));
  assert.ok(warnings.some((line) => SKIPPED.test(String(line))));
  assert.ok(warnings.some((line) => UNKNOWN.test(String(line))));
}

for (const command of [["list"], ["status"], ["status", "linear"]]) {
  const name = command.join(" ");
  test(`${name}: the config file's warnings on stderr, not in stdout`, async () => {
    const { stdout, stderr } = await run(command);
    assert.match(stdout, /https:\/\/mcp\.linear\.app\/mcp/);
    assert.doesNotMatch(stdout, /warning:|not served|rateLimt/);
    warnedOnStderr(stderr);
  });

  test(`${name} --json: the warnings in the JSON, stdout parses, nothing on stderr`, async () => {
    const { stdout, stderr } = await run([...command, "--json"]);
    const parsed = JSON.parse(stdout);
    inJson(parsed.warnings);
    if (command.length === 1) assert.equal(parsed.servers[0].name, "linear");
    else assert.equal(parsed.name, "linear");
    assert.deepEqual(stderr, []);
  });
}

test("list --json without a config file: the same shape, no warnings", async () => {
  const out: string[] = [];
  const code = await runCli(["list", "--json", "--auth-dir", join(dir, "empty")], {
    out: (t) => void out.push(t),
    err: () => {},
  });
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out.join("\n")), { servers: [], warnings: [] });
});
