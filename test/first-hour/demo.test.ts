// The README's first command: `npm run demo` (build, then demo/run.ts) runs the whole flow on 127.0.0.1 and exits 0.
// Run here as the script does after its build (`npm test` has built dist/ already): sign-in through the scripted
// browser, the HTTP face, the stdio snippet, then a clean stop. Its output is what a new user reads first, so it is
// also checked for the steps it promises and for tokens.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { test } from "node:test";

const REPO = join(import.meta.dirname, "../..");

test("npm run demo signs in once, calls tools through /mcp and the stdio snippet, and exits 0", async () => {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(MCP_PROXY_|MCP_AUTH_DIR$|BROWSER$|OAUTH_CALLBACK_PORT$)/.test(name),
    ),
  );
  const child = spawn(process.execPath, ["--import", "tsx", "demo/run.ts"], {
    cwd: REPO,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const [code] = await once(child, "exit");
  clearTimeout(timer);
  assert.equal(code, 0, output);
  assert.match(output, /Signed in to http:\/\/127\.0\.0\.1:\d+\/mcp as alice/);
  assert.match(output, /tools\/call echo → Hello through mcp-u2m-proxy/);
  assert.match(output, /tools\/call whoami through the stdio snippet \(no second sign-in\) → \{"sub":"alice"/);
  assert.match(output, /^Done\./m);
  assert.match(output, /Stopped: 0 open stream\(s\) ended/);
  assert.doesNotMatch(output, /eyJ[A-Za-z0-9_-]{10,}\./, "no token in the demo's output");
});
