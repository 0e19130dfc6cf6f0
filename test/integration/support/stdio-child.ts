// Helpers to run the stdio face as a real child process: through the SDK's StdioClientTransport (v1 or v2), or raw
// (newline-delimited JSON written and read by the test itself, to check exactly what is on stdout).
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { HEADLESS_BROWSER_PATH } from "../../fixtures/headless-login.ts";

export const STDIO_ENTRY = fileURLToPath(new URL("./stdio-entry.ts", import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface StdioChildEnv {
  /** Token directory shared by the processes that should share a sign-in. */
  authDir: string;
  /** Sign in with the headless browser (default), or only print the URL. */
  browser?: "headless" | "none";
  /** File the headless browser appends one line to per invocation. */
  browserLog?: string;
  signInWaitMs?: number;
  logLevel?: "error" | "warn" | "info" | "debug";
  /** Extra node options for the child (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

/** The command, arguments and environment that start one stdio face process for `url`. */
export function stdioCommand(
  url: string,
  options: StdioChildEnv,
): { command: string; args: string[]; env: Record<string, string>; cwd: string } {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/tmp",
    MCP_AUTH_DIR: options.authDir,
    STDIO_TEST_LOG_LEVEL: options.logLevel ?? "warn",
  };
  if (options.browser === "none") env.STDIO_TEST_OPEN_BROWSER = "0";
  else env.BROWSER = `${process.execPath} ${HEADLESS_BROWSER_PATH}`;
  if (options.browserLog) env.TEST_BROWSER_LOG = options.browserLog;
  if (options.signInWaitMs !== undefined) env.STDIO_TEST_SIGN_IN_WAIT_MS = String(options.signInWaitMs);
  return {
    command: process.execPath,
    args: [...(options.nodeArgs ?? []), "--import", "tsx", STDIO_ENTRY, url],
    env,
    cwd: REPO_ROOT,
  };
}

/** A stdio face process driven line by line. Every stdout line is kept, JSON or not. */
export class RawStdioChild {
  readonly child: ChildProcessWithoutNullStreams;
  readonly stdoutLines: string[] = [];
  /** Parsed stdout messages no waiter has taken yet. */
  private readonly messages: Array<Record<string, unknown>> = [];
  stderr = "";
  private buffered = "";
  private waiters: Array<{
    match: (message: Record<string, unknown>) => boolean;
    resolve: (m: Record<string, unknown>) => void;
  }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(url: string, options: StdioChildEnv) {
    const { command, args, env, cwd } = stdioCommand(url, options);
    this.child = spawn(command, args, { env, cwd, stdio: ["pipe", "pipe", "pipe"] });
    this.exited = once(this.child, "exit").then(([code, signal]) => ({ code, signal }));
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => {
      // Search only the new chunk for line ends: a multi-megabyte line arrives in many chunks.
      let start = 0;
      let newline = chunk.indexOf("\n");
      while (newline !== -1) {
        const line = this.buffered + chunk.slice(start, newline);
        this.buffered = "";
        this.stdoutLines.push(line);
        this.deliver(line);
        start = newline + 1;
        newline = chunk.indexOf("\n", start);
      }
      this.buffered += chunk.slice(start);
    });
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (chunk: string) => {
      this.stderr += chunk;
    });
  }

  /** Characters of the stdout line still arriving (not ended by a newline yet). */
  get partialLineLength(): number {
    return this.buffered.length;
  }

  send(message: unknown): void {
    this.child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  /** The next message on stdout with this id (a response). */
  response(id: string | number): Promise<Record<string, unknown>> {
    return this.next((message) => message.id === id && !("method" in message));
  }

  /** The first message on stdout (already received or still to come) that matches. */
  next(match: (message: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    for (const message of this.messages) {
      if (match(message)) return Promise.resolve(message);
    }
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** Ends stdin, as a host does when it shuts the server down. */
  endInput(): void {
    this.child.stdin.end();
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  private deliver(line: string): void {
    const message = tryParse(line);
    if (!message) return;
    const waiter = this.waiters.find((candidate) => candidate.match(message));
    if (waiter) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(message);
    } else {
      this.messages.push(message);
    }
  }
}

function tryParse(line: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(line) as unknown;
    return value && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export const INITIALIZE = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw-test", version: "1.0.0" } },
} as const;
