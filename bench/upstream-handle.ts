/** The parent's side of `upstream.ts`: forks it under tsx and talks to it over IPC. */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { SignInAnswer, UpstreamCounts, UpstreamReady, UpstreamRequest } from "./upstream.ts";

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };
type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

export class UpstreamHandle {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closing = false;

  private constructor(
    readonly child: ChildProcess,
    readonly info: UpstreamReady,
  ) {
    child.on("message", (raw) => {
      const message = raw as { id?: number; ok?: boolean; value?: unknown; error?: string };
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (!waiter) return;
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(new Error(message.error ?? "upstream request failed"));
    });
    child.once("exit", (code, signal) => {
      if (!this.closing) process.stderr.write(`bench: the upstream process exited unexpectedly (${code ?? signal})\n`);
      for (const waiter of this.pending.values()) waiter.reject(new Error(`bench upstream exited (${code})`));
      this.pending.clear();
    });
  }

  /**
   * Forks the upstream process and waits (bounded) until its servers listen; `extraMcpServers` more protected MCP
   * servers besides the main two (for the many-upstreams path).
   */
  static async start(extraMcpServers = 0): Promise<UpstreamHandle> {
    const child = fork(
      fileURLToPath(new URL("./upstream.ts", import.meta.url)),
      ["--extra-mcp", String(extraMcpServers)],
      {
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      },
    );
    const timeout = AbortSignal.timeout(60_000);
    const [message] = (await Promise.race([
      once(child, "message", { signal: timeout }),
      once(child, "exit", { signal: timeout }).then(([code]) => {
        throw new Error(`bench upstream exited before it was ready (${code})`);
      }),
    ])) as [UpstreamReady];
    return new UpstreamHandle(child, message);
  }

  private call<T>(request: WithoutId<UpstreamRequest>, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`bench upstream did not answer ${request.type} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.send({ ...request, id });
    });
  }

  /** Requests per server since the last reset (and resets when asked). */
  counts(reset = false): Promise<UpstreamCounts> {
    return this.call({ type: "counts", reset });
  }

  resetFixtureStats(): Promise<void> {
    return this.call({ type: "reset-fixture-stats" });
  }

  /** Real tokens for `resource`; with `redirectUri`, registered as a new client with that redirect URI. */
  signIn(resource: string, redirectUri?: string): Promise<SignInAnswer> {
    return this.call({ type: "sign-in", resource, ...(redirectUri ? { redirectUri } : {}) });
  }

  /** The upstream process id (for its CPU time in /proc). */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, "exit");
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
