/**
 * The paths the same SDK client code is measured on. Every `open()` starts from nothing (a new client and, for a
 * proxy, a new process) and ends at the first tool result, so the time it takes is "start to first result".
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import {
  Client,
  type ClientOptions,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type Transport,
} from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { Agent } from "undici";
import { dispatcherFetch, headerRecord } from "../src/lib/dispatcher-fetch.ts";
import { LeanHttpClientTransport } from "../src/proxy/lean-http-client-transport.ts";
import { echo } from "./workloads.ts";

export type PathId =
  | "direct"
  | "http"
  | "http-10"
  | "floor-undici"
  | "floor-node-http"
  | "stdio"
  | "mcp-remote"
  | "direct-sse"
  | "http-sse"
  | "http-sse-bridged"
  | "floor-sse-upstream"
  | "direct-2026"
  | "floor-2026"
  | "stdio-era"
  | "http-era";

export interface PathSession {
  client: Client;
  /** The proxy process (undefined for direct paths). */
  pid: number | undefined;
  /** From the start (process spawn, or client creation for direct paths) to the first tool result, ms. */
  startMs: number;
  /** From the process spawn until it accepted connections (HTTP face only), ms. */
  listeningMs?: number;
  /** The proxy's stderr so far (for failure reports). */
  stderr(): string;
  close(): Promise<void>;
}

export interface PathDef {
  id: PathId;
  label: string;
  /** The direct path this one is compared with. */
  baseline: PathId;
  /** Another path measured in the same run whenever this one is (the many-upstreams case: the one-upstream face). */
  peer?: PathId;
  /** Which face's targets apply ("floor": the bare Node relay, for context only). */
  face: "direct" | "http" | "stdio" | "reference" | "floor" | "bridge";
  open(): Promise<PathSession>;
}

export interface PathContext {
  mcpUrl: string;
  sseUrl: string;
  /** The 2026-07-28-only upstream. */
  modernUrl: string;
  /** Bearer tokens from the test AS for the direct paths. */
  tokens: { mcp: string; sse: string; modern: string };
  /** Token directory the proxy signed in to (its real OAuth path: `auth` through the headless browser). */
  proxyAuthDir: string;
  /** MCP_REMOTE_CONFIG_DIR with mcp-remote's store pre-seeded, and the callback port its client was registered for. */
  mcpRemote: { configDir: string; callbackPort: number };
  /** Node options for proxy processes, before the script (e.g. `--cpu-prof`, not allowed in NODE_OPTIONS). */
  nodeArgs?: string[];
  /** The many-upstreams config file and the entry the client calls; without it there is no "http-10" path. */
  manyUpstreams?: { file: string; measured: string; count: number };
}

export const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
const PROXY_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const MCP_REMOTE_MAIN = fileURLToPath(new URL("../node_modules/mcp-remote/dist/proxy.js", import.meta.url));
const BARE_RELAY = fileURLToPath(new URL("./bare-relay.mjs", import.meta.url));

const CLIENT_INFO = { name: "mcp-u2m-proxy-bench", version: "1.0.0" };

/** The environment of proxy processes: ours, without proxy settings or a BROWSER (no sign-in should happen). */
export function childEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(https?_proxy|all_proxy|no_proxy|browser|node_options)$/i.test(name)) continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function definePaths(ctx: PathContext): PathDef[] {
  const node = ctx.nodeArgs ?? [];
  const bearer = (token: string) => ({ requestInit: { headers: { authorization: `Bearer ${token}` } } });
  return [
    {
      id: "direct",
      label: "direct /mcp",
      baseline: "direct",
      face: "direct",
      open: () => openDirect(new StreamableHTTPClientTransport(new URL(ctx.mcpUrl), bearer(ctx.tokens.mcp))),
    },
    {
      id: "http",
      label: "HTTP face /mcp",
      baseline: "direct",
      face: "http",
      open: () =>
        openHttpProcess(
          (port) => [PROXY_MAIN, "serve", ctx.mcpUrl, ...proxyFlags(ctx, port)],
          {},
          ctx,
          (base) => new StreamableHTTPClientTransport(new URL(`${base}/mcp`)),
        ),
    },
    ...(ctx.manyUpstreams ? [manyUpstreamsPath(ctx, ctx.manyUpstreams)] : []),
    ...(["undici", "node-http"] as const).map(
      (client): PathDef => ({
        id: `floor-${client}`,
        label: `bare relay, ${client === "undici" ? "undici" : "node:http"} (floor)`,
        baseline: "direct",
        face: "floor",
        open: () =>
          openHttpProcess(
            (port) => [BARE_RELAY, client, ctx.mcpUrl, String(port)],
            { BENCH_BEARER: ctx.tokens.mcp },
            ctx,
            (base) => new StreamableHTTPClientTransport(new URL(`${base}/mcp`)),
          ),
      }),
    ),
    {
      id: "stdio",
      label: "stdio face",
      baseline: "direct",
      face: "stdio",
      open: () =>
        openStdio(
          new StdioClientTransport({
            command: process.execPath,
            args: [
              ...node,
              PROXY_MAIN,
              "stdio",
              ctx.mcpUrl,
              "--auth-dir",
              ctx.proxyAuthDir,
              "--port",
              "0",
              "--no-browser",
            ],
            env: childEnvironment(),
            cwd: REPO_ROOT,
            stderr: "pipe",
          }),
        ),
    },
    {
      id: "mcp-remote",
      label: "mcp-remote 0.15.1",
      baseline: "direct",
      face: "reference",
      open: () =>
        openStdio(
          new StdioClientTransport({
            command: process.execPath,
            args: [...node, MCP_REMOTE_MAIN, ctx.mcpUrl, String(ctx.mcpRemote.callbackPort)],
            env: childEnvironment({ MCP_REMOTE_CONFIG_DIR: ctx.mcpRemote.configDir }),
            cwd: REPO_ROOT,
            stderr: "pipe",
          }),
        ),
    },
    {
      id: "direct-sse",
      label: "direct SSE",
      baseline: "direct-sse",
      face: "direct",
      open: () => openDirect(new SSEClientTransport(new URL(ctx.sseUrl), bearer(ctx.tokens.sse))),
    },
    {
      id: "http-sse",
      label: "HTTP face /sse",
      baseline: "direct-sse",
      face: "http",
      open: () =>
        openHttpProcess(
          (port) => [PROXY_MAIN, "serve", ctx.sseUrl, ...proxyFlags(ctx, port)],
          {},
          ctx,
          (base) => new SSEClientTransport(new URL(`${base}/sse`)),
        ),
    },
    {
      // A legacy client in front of a Streamable HTTP upstream: the face bridges messages (MessageBridge over the
      // upstream client transport), so this path measures that transport too.
      id: "http-sse-bridged",
      label: "HTTP face /sse, Streamable HTTP upstream (bridged)",
      baseline: "direct-sse",
      face: "http",
      open: () =>
        openHttpProcess(
          (port) => [PROXY_MAIN, "serve", ctx.mcpUrl, ...proxyFlags(ctx, port)],
          {},
          ctx,
          (base) => new SSEClientTransport(new URL(`${base}/sse`)),
        ),
    },
    {
      // What the bridged /sse path's upstream costs without any proxy hop: the same SDK client, in this process,
      // over the proxy's own upstream transport (the lean Streamable HTTP transport on an undici pool) straight to
      // the stateful Streamable HTTP upstream. Compared with direct SSE, it is the least the bridged path can be.
      id: "floor-sse-upstream",
      label: "direct /mcp over the proxy's upstream transport (the bridged /sse floor)",
      baseline: "direct-sse",
      face: "floor",
      open: () => openDirect(leanUpstreamTransport(ctx.mcpUrl, ctx.tokens.mcp)),
    },
    {
      // The 2026-07-28 wire end to end: an SDK v2 client pinned to 2026-07-28 (stateless, no initialize).
      id: "direct-2026",
      label: "direct /mcp, 2026-07-28 client and upstream",
      baseline: "direct-2026",
      face: "direct",
      open: () =>
        openDirect(new StreamableHTTPClientTransport(new URL(ctx.modernUrl), bearer(ctx.tokens.modern)), MODERN_CLIENT),
    },
    {
      // The least one more HTTP hop costs on the 2026-07-28 wire: the bare relay between a 2026-07-28 client and
      // the same upstream. The era bridge on /mcp adds that hop (and the bridging) to the direct 2026-07-28 path.
      id: "floor-2026",
      label: "bare relay, undici, 2026-07-28 client and upstream (floor)",
      baseline: "direct-2026",
      face: "floor",
      open: () =>
        openHttpProcess(
          (port) => [BARE_RELAY, "undici", ctx.modernUrl, String(port)],
          { BENCH_BEARER: ctx.tokens.modern },
          ctx,
          (base) => new StreamableHTTPClientTransport(new URL(`${base}/mcp`)),
          MODERN_CLIENT,
        ),
    },
    {
      // A 2025 client (initialize, sessions) through the stdio face's era bridge to the 2026-07-28-only upstream.
      id: "stdio-era",
      label: "stdio face, 2025 client → 2026-07-28 upstream (era bridge)",
      baseline: "direct-2026",
      face: "bridge",
      open: () =>
        openStdio(
          new StdioClientTransport({
            command: process.execPath,
            args: [...node, PROXY_MAIN, "stdio", ctx.modernUrl, ...proxyFlags(ctx, 0)],
            env: childEnvironment(),
            cwd: REPO_ROOT,
            stderr: "pipe",
          }),
        ),
    },
    {
      // The same through the HTTP face's /mcp: the proxy owns the 2025 session and bridges each request.
      id: "http-era",
      label: "HTTP face /mcp, 2025 client → 2026-07-28 upstream (era bridge)",
      baseline: "direct-2026",
      face: "bridge",
      open: () =>
        openHttpProcess(
          (port) => [PROXY_MAIN, "serve", ctx.modernUrl, ...proxyFlags(ctx, port)],
          {},
          ctx,
          (base) => new StreamableHTTPClientTransport(new URL(`${base}/mcp`)),
        ),
    },
  ];
}

/** The proxy's upstream transport with a bearer token on every request, as the auth core would add it. */
function leanUpstreamTransport(url: string, token: string): Transport {
  const pooled = dispatcherFetch(new Agent({ keepAliveTimeout: 30_000 }));
  const authorized = (input: string | URL, init: RequestInit = {}) =>
    pooled(input, { ...init, headers: { ...headerRecord(init.headers), authorization: `Bearer ${token}` } });
  return new LeanHttpClientTransport(new URL(url), authorized);
}

/** Client options of a 2026-07-28 client: the modern era only, no `initialize`. */
const MODERN_CLIENT: ClientOptions = { versionNegotiation: { mode: { pin: "2026-07-28" } } };

/** `serve --config FILE` with several configured upstreams; the client uses `/servers/<measured>/mcp`. */
function manyUpstreamsPath(ctx: PathContext, many: NonNullable<PathContext["manyUpstreams"]>): PathDef {
  return {
    id: "http-10",
    label: `HTTP face, ${many.count} upstreams, /servers/${many.measured}/mcp`,
    baseline: "direct",
    peer: "http",
    face: "http",
    open: () =>
      openHttpProcess(
        (port) => [PROXY_MAIN, "serve", "--config", many.file, ...proxyFlags(ctx, port)],
        {},
        ctx,
        (base) =>
          new StreamableHTTPClientTransport(new URL(`${base}/servers/${encodeURIComponent(many.measured)}/mcp`)),
      ),
  };
}

async function firstResult(client: Client, transport: Transport): Promise<void> {
  await client.connect(transport);
  await echo(client);
}

async function openDirect(transport: Transport, options?: ClientOptions): Promise<PathSession> {
  const started = performance.now();
  const client = new Client(CLIENT_INFO, options);
  await firstResult(client, transport);
  return {
    client,
    pid: undefined,
    startMs: performance.now() - started,
    stderr: () => "",
    close: () => closeClient(client, transport),
  };
}

async function openStdio(transport: StdioClientTransport): Promise<PathSession> {
  let stderr = "";
  const started = performance.now();
  const client = new Client(CLIENT_INFO);
  try {
    // The transport spawns the process in start(), which connect() calls; stderr exists from then on.
    const connecting = client.connect(transport);
    transport.stderr?.on("data", (chunk: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += chunk.toString("utf8");
    });
    await connecting;
    await echo(client);
  } catch (error) {
    await client.close().catch(() => {});
    throw new Error(`${describe(error)}; stderr:\n${stderr}`);
  }
  const startMs = performance.now() - started;
  return {
    client,
    pid: transport.pid ?? undefined,
    startMs,
    stderr: () => stderr,
    close: () => client.close(),
  };
}

function proxyFlags(ctx: PathContext, port: number): string[] {
  return ["--auth-dir", ctx.proxyAuthDir, "--port", String(port), "--no-browser"];
}

/** Spawns an HTTP proxy process (`args(port)` after node's own options), waits for "ready" on stdout, connects. */
async function openHttpProcess(
  args: (port: number) => string[],
  env: Record<string, string>,
  ctx: PathContext,
  makeTransport: (base: string) => Transport,
  clientOptions?: ClientOptions,
): Promise<PathSession> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [...(ctx.nodeArgs ?? []), ...args(port)], {
    cwd: REPO_ROOT,
    env: childEnvironment(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    if (stderr.length < 64 * 1024) stderr += chunk.toString("utf8");
  });
  const client = new Client(CLIENT_INFO, clientOptions);
  try {
    await waitForOutput(child, /ready/, 30_000);
    const listeningMs = performance.now() - started;
    const transport = makeTransport(`http://127.0.0.1:${port}`);
    await firstResult(client, transport);
    const startMs = performance.now() - started;
    return {
      client,
      pid: child.pid,
      startMs,
      listeningMs,
      stderr: () => stderr,
      close: async () => {
        await closeClient(client, transport).catch(() => {});
        await stopProcess(child);
      },
    };
  } catch (error) {
    await client.close().catch(() => {});
    await stopProcess(child);
    throw new Error(`${describe(error)}; stderr:\n${stderr}`);
  }
}

/**
 * Ends the upstream session first (DELETE, MCP 2025-11-25 transports §Session Management): the fixture server keeps
 * every event of a live session for resumability, so sessions left open would grow the upstream's memory run by run.
 */
async function closeClient(client: Client, transport: Transport): Promise<void> {
  if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession().catch(() => {});
  await client.close();
}

/** Resolves once the child's stdout matches; rejects when it exits first or the time is up. */
function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => finish(new Error(`no ${pattern} on stdout after ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString("utf8");
      if (pattern.test(seen)) finish();
    };
    const onExit = (code: number | null) => finish(new Error(`the proxy exited (${code}) before it was ready`));
    const finish = (error?: Error) => {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.off("exit", onExit);
      if (error) reject(error);
      else resolve();
    };
    child.stdout?.on("data", onData);
    child.once("exit", onExit);
  });
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
