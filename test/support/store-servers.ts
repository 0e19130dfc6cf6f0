/**
 * Real Redis and PostgreSQL servers for the shared-store tests: started from the Debian binaries (`redis-server`,
 * `/usr/lib/postgresql/<n>/bin`) on free loopback ports with their data in a temp dir, stoppable and restartable on
 * the same port and data (for the outage tests). `.ci/run` installs the packages; on a developer machine without
 * them the tests skip with the reason from {@link sharedServersMissing} (under CI a missing binary is a failure).
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` user the Debian package creates (or
 * `nobody`), with the data dir handed to that user.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../fixtures/ports.ts";

export interface TestServer {
  /** The URL to give the store (the Postgres one carries a password the server ignores, to test redaction). */
  url: string;
  port: number;
  /** Stops the server (clean shutdown; data kept). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export function redisBinary(): string | undefined {
  return onPath("redis-server");
}

/** The newest Debian PostgreSQL bin directory (or one with `postgres` and `initdb` on PATH). */
export function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, "bin", "initdb")) && existsSync(join(root, v, "bin", "postgres")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], "bin");
  }
  const initdb = onPath("initdb");
  return initdb ? join(initdb, "..") : undefined;
}

/**
 * Why the shared-store tests cannot run here, or undefined when they can. Under CI (CI=true) a missing server is
 * an error, not a skip: .ci/run installs them.
 */
export function sharedServersMissing(which: "redis" | "postgres"): string | undefined {
  const missing =
    which === "redis"
      ? redisBinary()
        ? undefined
        : "redis-server is not installed (apt-get install redis-server)"
      : postgresBinDir()
        ? undefined
        : "PostgreSQL is not installed (apt-get install postgresql)";
  if (missing && process.env.CI) throw new Error(`${missing}; .ci/run should have installed it`);
  return missing;
}

export async function startRedis(): Promise<TestServer> {
  const binary = redisBinary();
  if (!binary) throw new Error("redis-server is not installed");
  const dir = mkdtempSync(join(tmpdir(), "u2m-redis-"));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawnServer(binary, [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
      "--daemonize",
      "no",
      "--loglevel",
      "warning",
    ]);
    await waitFor(() => redisPing(port), child, "redis-server");
  };
  await start();
  const stop = () => stopServer(child, "SIGTERM");
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A PostgreSQL server of its own on a free loopback port; everyone is trusted, except the roles in
 * `passwordUsers`, which must log in with their password over TCP (scram-sha-256).
 */
export async function startPostgres(options: { passwordUsers?: string[] } = {}): Promise<TestServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed");
  const dir = mkdtempSync(join(tmpdir(), "u2m-postgres-"));
  const data = join(dir, "data");
  const owner = process.getuid?.() === 0 ? (systemUser("postgres") ?? systemUser("nobody")) : undefined;
  if (process.getuid?.() === 0 && !owner) throw new Error("running as root, and there is no postgres or nobody user");
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const as = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const init = spawnSync(
    join(bin, "initdb"),
    ["-D", data, "-U", "mcp", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
    { ...as, encoding: "utf8", cwd: dir, env: { ...process.env, LC_ALL: "C" } },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.error?.message}`);
  if (options.passwordUsers?.length) {
    // The first matching line wins: those roles need their password, everyone else stays trusted.
    const lines = options.passwordUsers.map((user) => `host all ${user} 127.0.0.1/32 scram-sha-256`);
    writeFileSync(
      join(data, "pg_hba.conf"),
      [...lines, "host all all 127.0.0.1/32 trust", "local all all trust", ""].join("\n"),
    );
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawnServer(
      join(bin, "postgres"),
      [
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        dir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=200",
      ],
      { ...as, cwd: dir },
    );
    await waitFor(() => postgresReady(port), child, "postgres");
  };
  await start();
  // Fast shutdown (SIGINT): clients are disconnected at once, data is kept.
  const stop = () => stopServer(child, "SIGINT");
  return {
    url: `postgres://mcp:not-the-password@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function spawnServer(binary: string, args: string[], options: { uid?: number; gid?: number; cwd?: string } = {}) {
  const child = spawn(binary, args, { ...options, stdio: ["ignore", "ignore", "pipe"] });
  let errors = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    errors = (errors + chunk).slice(-4000);
  });
  (child as ChildProcess & { errors: () => string }).errors = () => errors;
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

async function stopServer(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitFor(ready: () => Promise<boolean>, child: ChildProcess, name: string): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) {
      throw new Error(
        `${name} exited (${child.exitCode}): ${(child as ChildProcess & { errors: () => string }).errors()}`,
      );
    }
    if (await ready()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${name} did not get ready in 30 s`);
}

/** One PING over a raw socket: true on +PONG. */
function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.setTimeout(1000);
    let reply = "";
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) {
        socket.destroy();
        resolve(reply.startsWith("+PONG"));
      }
    });
    socket.on("error", () => resolve(false));
    socket.on("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function postgresReady(port: number): Promise<boolean> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ host: "127.0.0.1", port, user: "mcp", database: "postgres" });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/bin", "/sbin"])) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function systemUser(name: string): { uid: number; gid: number } | undefined {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(":") ?? [];
  return uid && gid ? { uid: Number(uid), gid: Number(gid) } : undefined;
}
