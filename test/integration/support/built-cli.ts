// Runs the built CLI (dist/main.js) as a child process, with the scripted login as its browser.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { HEADLESS_BROWSER_PATH } from "../../fixtures/headless-login.ts";

export { freePort } from "./http-face-harness.ts";

export const BIN = join(import.meta.dirname, "../../../dist/main.js");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args`; `node` is the Node binary (another version's, for the version tests). */
export function cli(args: string[], env: Record<string, string> = {}, node = process.execPath): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [BIN, ...args], {
      env: { ...process.env, BROWSER: HEADLESS_BROWSER_PATH, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
