#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { runCli } from "./cli/run-cli.ts";

// dist/main.js and src/main.ts both sit one level below package.json.
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

const code = await runCli(process.argv.slice(2), { version });
// Long-running commands (serve, stdio) resolve only when they are done; exit so stray handles cannot hold us.
process.exit(code);
