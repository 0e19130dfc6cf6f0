#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { EXIT } from "./cli/exit-codes.ts";
import { runCli } from "./cli/run-cli.ts";
import { tuneV8ForProxy } from "./lib/v8-tuning.ts";

// dist/main.js and src/main.ts both sit one level below package.json.
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

tuneV8ForProxy();

// Node ends a process whose event loop runs dry, even in the middle of a command (a timer that should have kept it
// alive was unref'd): that must never read as success, nor end in silence.
process.once("beforeExit", () => {
  process.stderr.write("mcp-u2m-proxy: internal error: the command ended before it had a result.\n");
  process.exit(EXIT.internal);
});
const code = await runCli(process.argv.slice(2), { version });
// Long-running commands (serve, stdio) resolve only when they are done; exit so stray handles cannot hold us.
process.exit(code);
