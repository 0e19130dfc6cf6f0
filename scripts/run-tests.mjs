#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner (through tsx). Node 20's --test does not expand globs,
// so the files are listed here. `node scripts/run-tests.mjs unit store` runs only paths containing those words.
// The runner's TAP output passes through as it comes; at the end every failure is printed again, with its error,
// because a CI log is often read from its tail only.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "fixtures" ? [] : walk(path);
    return name.endsWith(".test.ts") ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = walk("test")
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}

// test/fixtures/ports.ts claims each port it hands out as a file here, so parallel test files never share one.
const portReservations = mkdtempSync(join(tmpdir(), "mcp-u2m-test-ports-"));

// The slowest single test (the conformance client suites) takes about 7 minutes; a hung one fails after 15, well
// inside CI's budget.
const child = spawn(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=900000", ...files],
  { stdio: ["inherit", "pipe", "inherit"], env: { ...process.env, MCP_U2M_TEST_PORTS_DIR: portReservations } },
);

// A failure is a "not ok" line and the indented YAML block after it (its error, location and stack).
const failures = [];
let current = null;
const lines = createInterface({ input: child.stdout });
lines.on("line", (line) => {
  process.stdout.write(`${line}\n`);
  const notOk = /^(\s*)not ok \d+ - (.*)$/.exec(line);
  // A todo test is reported "not ok ... # TODO" and fails nothing.
  if (notOk && !/ # TODO\b/.test(line)) {
    current = { indent: notOk[1].length, lines: [line.trim()] };
    failures.push(current);
    return;
  }
  if (notOk) current = null;
  if (!current) return;
  const indent = line.length - line.trimStart().length;
  if (indent > current.indent && current.lines.length < 40) current.lines.push(line.slice(current.indent));
  else if (indent <= current.indent) current = null;
});

child.on("close", (code, signal) => {
  rmSync(portReservations, { recursive: true, force: true });
  if (failures.length > 0) {
    process.stdout.write(`\n# ${failures.length} failing (suites count with the tests that failed inside them):\n`);
    for (const failure of failures) process.stdout.write(`${failure.lines.map((l) => `#   ${l}`).join("\n")}\n`);
  }
  process.exit(code ?? (signal ? 1 : 0));
});
