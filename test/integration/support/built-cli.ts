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

export function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
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
