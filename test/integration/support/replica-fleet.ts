// `serve` replicas (dist/main.js children) on one shared store, behind a real haproxy running the shipped
// configuration (deploy/haproxy/haproxy.cfg) with the test's ports, in a temp dir.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../fixtures/ports.ts";
import { BIN } from "./built-cli.ts";

export const SHIPPED_HAPROXY_CFG = join(import.meta.dirname, "../../../deploy/haproxy/haproxy.cfg");
const HAPROXY = "/usr/sbin/haproxy";

export interface Replica {
  name: string;
  port: number;
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<void>;
}

export interface Fleet {
  replicas: Replica[];
  /** haproxy's frontend, e.g. http://127.0.0.1:41234 */
  url: string;
  /** What haproxy logged (warnings: servers going down or up). */
  log(): string;
  close(): Promise<void>;
}

export function haproxyMissing(): string | undefined {
  try {
    execFileSync(HAPROXY, ["-v"], { stdio: "ignore" });
    return undefined;
  } catch {
    return `${HAPROXY} is not installed (.ci/run installs Debian's haproxy)`;
  }
}

/** The shipped configuration with the frontend on `frontPort` and the three `server` lines on the replicas' ports. */
export function testHaproxyConfig(frontPort: number, replicaPorts: number[]): string {
  let text = readFileSync(SHIPPED_HAPROXY_CFG, "utf8");
  const binds = text.match(/^\s*bind :8080$/gm)?.length ?? 0;
  if (binds !== 1) throw new Error(`expected one "bind :8080" in the shipped haproxy.cfg, found ${binds}`);
  text = text.replace(/^(\s*)bind :8080$/m, `$1bind 127.0.0.1:${frontPort}`);
  let servers = 0;
  text = text.replace(/^(\s*)server replica(\d) 127\.0\.0\.1:\d+$/gm, (_line, indent: string, n: string) => {
    servers++;
    return `${indent}server replica${n} 127.0.0.1:${replicaPorts[Number(n) - 1]}`;
  });
  if (servers !== 2 * replicaPorts.length) throw new Error(`expected ${2 * replicaPorts.length} server lines`);
  return text;
}

export interface FleetOptions {
  /** Replicas; default 3. */
  count?: number;
  /** More `serve` arguments, given haproxy's URL (e.g. --public-url, --identity). */
  args?: (frontUrl: string) => string[];
  /** More environment variables for the replicas (e.g. MCP_PROXY_API_KEY). */
  env?: Record<string, string>;
}

function startReplica(
  name: string,
  upstreamUrl: string,
  storeUrl: string,
  port: number,
  extra: { args: string[]; env: Record<string, string> },
): Promise<Replica> {
  const child = spawn(
    process.execPath,
    [BIN, "serve", upstreamUrl, "--store", storeUrl, "--host", "127.0.0.1", "--port", String(port), ...extra.args],
    { env: { ...process.env, BROWSER: "/bin/false", ...extra.env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (/is ready/.test(stdout)) resolve({ name, port, child, stderr: () => stderr, exited });
    });
    void exited.then(() => reject(new Error(`${name} exited before it was ready: ${stderr.slice(-2000)}`)));
  });
}

async function waitForHealth(url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${log()}`);
    try {
      const res = await fetch(`${url}/healthz`);
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${url}/healthz never answered 200: ${log()}`);
}

export async function startFleet(upstreamUrl: string, storeUrl: string, options: FleetOptions = {}): Promise<Fleet> {
  const ports = await Promise.all(Array.from({ length: options.count ?? 3 }, () => freePort()));
  const frontPort = await freePort();
  const url = `http://127.0.0.1:${frontPort}`;
  const extra = { args: options.args?.(url) ?? [], env: options.env ?? {} };
  const replicas = await Promise.all(
    ports.map((port, i) => startReplica(`replica${i + 1}`, upstreamUrl, storeUrl, port, extra)),
  );
  // The first /healthz of a replica probes the upstream (slow on a busy machine): done before haproxy checks.
  for (const replica of replicas)
    await waitForHealth(`http://127.0.0.1:${replica.port}`, replica.child, replica.stderr);
  const dir = mkdtempSync(join(tmpdir(), "u2m-haproxy-"));
  const cfg = join(dir, "haproxy.cfg");
  writeFileSync(cfg, testHaproxyConfig(frontPort, ports), { mode: 0o600 });
  const haproxy = spawn(HAPROXY, ["-db", "-f", cfg], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  haproxy.stdout?.setEncoding("utf8").on("data", (chunk: string) => (log += chunk));
  haproxy.stderr?.setEncoding("utf8").on("data", (chunk: string) => (log += chunk));
  const haproxyExited = new Promise<void>((resolve) => haproxy.once("exit", () => resolve()));
  await waitForHealth(url, haproxy, () => log);
  return {
    replicas,
    url,
    log: () => log,
    close: async () => {
      haproxy.kill("SIGTERM");
      for (const replica of replicas) if (replica.child.exitCode === null) replica.child.kill("SIGTERM");
      await Promise.all([haproxyExited, ...replicas.map((replica) => replica.exited)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The pid of the process whose TCP socket has local port `port` on loopback (`ss -tnp`), if any; with `peerPort`,
 * only a socket connected to that port (another process on the machine may use the same local port elsewhere).
 */
export function pidOwningLocalPort(port: number, peerPort?: number): number | undefined {
  const filter = peerPort === undefined ? `( sport = :${port} )` : `( sport = :${port} and dport = :${peerPort} )`;
  const out = execFileSync("ss", ["-Htnp", "state", "established", filter], { encoding: "utf8" });
  const match = /pid=(\d+)/.exec(out);
  return match ? Number(match[1]) : undefined;
}
