// `serve` from the built bin (dist/main.js) in a child process, waited on until it says it is ready, with its
// output collected (tests check it for secrets and messages), and stopped with SIGTERM.
import { type ChildProcess, spawn } from "node:child_process";
import { BIN } from "./built-cli.ts";

/** The parent's environment without the proxy's own settings, so a developer's shell cannot change a test. */
function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("MCP_PROXY_") && name !== "DATABRICKS_APP_PORT"),
  );
  return { ...base, ...env };
}

export interface ServeChild {
  readonly child: ChildProcess;
  /** Everything the child wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `serve` with `args` on `node` (another version's, for the version tests) and waits until it is ready. */
export async function startServeChild(
  args: string[],
  env: Record<string, string> = {},
  node = process.execPath,
): Promise<ServeChild> {
  const child = spawn(node, [BIN, "serve", ...args], {
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  await new Promise<void>((resolve, reject) => {
    const check = () => (output.includes("is ready") ? resolve() : undefined);
    child.stdout?.on("data", check);
    child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${output}`)));
  });
  return {
    child,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** Runs `serve` expecting it to refuse to start: its exit code and output. */
export function serveRefusal(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve", ...args], {
      env: cleanEnv(env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (chunk) => (output += chunk));
    child.stderr?.on("data", (chunk) => (output += chunk));
    child.once("error", reject);
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
