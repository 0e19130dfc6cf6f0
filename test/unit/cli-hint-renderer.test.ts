// Hints built anywhere (the auth core, a face) carry the running invocation's options while the CLI runs a command
// (src/lib/suggestions.ts, set by runCli), and read as written otherwise (a library user).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "../../src/cli/run-cli.ts";
import { ProxyError } from "../../src/lib/errors.ts";
import { renderSuggestions, setSuggestionRenderer } from "../../src/lib/suggestions.ts";

const URL_ARG = "https://mcp.example.com/mcp";

test("without the CLI, a hint is left as written", () => {
  const error = new ProxyError("SIGN_IN_REQUIRED", "No tokens.", { hint: `Run \`mcp-u2m-proxy auth ${URL_ARG}\`.` });
  assert.equal(error.hint, `Run \`mcp-u2m-proxy auth ${URL_ARG}\`.`);
  assert.equal(renderSuggestions("mcp-u2m-proxy auth x"), "mcp-u2m-proxy auth x");
});

test("a renderer rewrites hints made while it is set; clearing it restores the plain hint", () => {
  const previous = setSuggestionRenderer((hint) => hint.replace("auth x", "auth x --auth-dir /d"));
  try {
    assert.equal(
      new ProxyError("USAGE", "m", { hint: "Run mcp-u2m-proxy auth x." }).hint,
      "Run mcp-u2m-proxy auth x --auth-dir /d.",
    );
  } finally {
    setSuggestionRenderer(previous);
  }
  assert.equal(new ProxyError("USAGE", "m", { hint: "Run mcp-u2m-proxy auth x." }).hint, "Run mcp-u2m-proxy auth x.");
});

test("runCli: the core's hint for `refresh` never signed in names the user's --auth-dir and --config, once", async () => {
  const dir = await mkdtemp(join(tmpdir(), "u2m-hint-"));
  try {
    const err: string[] = [];
    const code = await runCli(["refresh", URL_ARG, "--auth-dir", join(dir, "tokens"), "--client-secret", "zz-secret"], {
      out: () => {},
      err: (text) => void err.push(text),
    });
    assert.equal(code, 3, err.join("\n"));
    const line = err.join("\n");
    assert.ok(
      line.includes(`mcp-u2m-proxy auth ${URL_ARG} --auth-dir ${join(dir, "tokens")} --client-secret <secret>`),
      line,
    );
    assert.equal(line.split("--auth-dir").length, 2, line);
    assert.doesNotMatch(line, /zz-secret/);
    // The renderer is the CLI's only while it runs.
    assert.equal(renderSuggestions(`mcp-u2m-proxy auth ${URL_ARG}`), `mcp-u2m-proxy auth ${URL_ARG}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("runCli: a usage error's suggestion keeps the options as typed", async () => {
  const err: string[] = [];
  const code = await runCli(["auth", "mcp.example.com/mcp", "--auth-dir", "/tmp/somewhere"], {
    out: () => {},
    err: (text) => void err.push(text),
  });
  assert.equal(code, 2);
  assert.match(
    err.join("\n"),
    /Did you mean "mcp-u2m-proxy auth https:\/\/mcp\.example\.com\/mcp --auth-dir \/tmp\/somewhere"\?/,
  );
});
