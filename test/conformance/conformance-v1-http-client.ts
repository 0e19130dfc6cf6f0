/**
 * The client under test for the official MCP conformance suite through the proxy's HTTP face, as a 2025-era host
 * sees it: this starts the real `node dist/main.js serve <server URL> --port N` (run `npm run build` first), then
 * an SDK v1 Client (`@modelcontextprotocol/sdk`, the 2025-11-25 session wire) talks Streamable HTTP to
 * `http://127.0.0.1:N/mcp`. The proxy starts its sign-in at start-up with test/fixtures/headless-browser.mjs as its
 * BROWSER; requests that arrive meanwhile wait for it (bounded), so the client does not retry. In serve the OAuth
 * callback is the face's own `/oauth/callback`, so the free port N is both the listen and the callback port (also
 * given as OAUTH_CALLBACK_PORT); each run has its own port and token directory (conformance-proxy-child.ts).
 *
 * Run: `node --import tsx test/conformance/conformance-v1-http-client.ts <server URL>` (run-conformance.ts
 * compiles it first) with the suite's env (MCP_CONFORMANCE_SCENARIO, MCP_CONFORMANCE_CONTEXT). Connects, lists
 * tools, calls the first one, closes, stops the proxy (SIGTERM, then waits for it), exits 0; on any failure exits 1
 * with one line on stderr.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { freePort } from "../fixtures/ports.ts";
import {
  cleanUp,
  listAndCallFirstTool,
  mark,
  PROXY,
  proxySetup,
  REPO,
  runClient,
  serverUrlArgument,
} from "./conformance-proxy-child.ts";

/** How long the proxy may take to listen (it prints its ready message right after binding, before any sign-in). */
const READY_TIMEOUT_MS = 15_000;
/** How long the proxy may take to stop after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 5_000;

async function main(): Promise<void> {
  const serverUrl = serverUrlArgument("conformance-v1-http-client.ts");
  const port = await freePort();
  const setup = proxySetup(port);
  mark("start");
  const proxy = spawn(process.execPath, [PROXY, "serve", serverUrl, "--port", String(port), ...setup.flags], {
    cwd: REPO,
    env: setup.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // The proxy's ready message and log lines go to our stderr, which the suite saves next to checks.json.
  proxy.stdout?.on("data", (chunk: Buffer) => process.stderr.write(chunk));
  proxy.stderr?.on("data", (chunk: Buffer) => process.stderr.write(chunk));
  let client: Client | undefined;
  try {
    const mcpUrl = await proxyReady(proxy);
    mark("listening");
    client = new Client({ name: "mcp-u2m-proxy-conformance-v1-http", version: "0.0.0" }, { capabilities: {} });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)));
    mark("connected");
    await listAndCallFirstTool(client);
    mark("called");
  } finally {
    await client?.close().catch(() => {});
    await stopProxy(proxy);
    cleanUp(setup);
  }
}

/** The face's /mcp URL from the ready message on stdout; rejects when the proxy exits or is slow to listen. */
function proxyReady(proxy: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let lastError = "";
    const onStdout = (chunk: Buffer) => {
      stdout += chunk.toString();
      const url = /Streamable HTTP\s+(http:\/\/\S+\/mcp)\s/.exec(stdout)?.[1];
      if (url) finish(() => resolve(url));
    };
    const onStderr = (chunk: Buffer) => {
      const lines = chunk.toString().trim().split("\n");
      lastError = lines.at(-1) ?? lastError;
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      finish(() => reject(new Error(`the proxy exited (${signal ?? code}) before it listened: ${lastError}`)));
    const timer = setTimeout(
      () => finish(() => reject(new Error(`the proxy did not listen within ${READY_TIMEOUT_MS / 1000} s`))),
      READY_TIMEOUT_MS,
    );
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      proxy.stdout?.off("data", onStdout);
      proxy.stderr?.off("data", onStderr);
      proxy.off("exit", onExit);
      settle();
    };
    proxy.stdout?.on("data", onStdout);
    proxy.stderr?.on("data", onStderr);
    proxy.on("exit", onExit);
  });
}

/** SIGTERM (the proxy closes its face and auth core), then waits for it to exit; SIGKILL past the bound. */
async function stopProxy(proxy: ChildProcess): Promise<void> {
  if (proxy.exitCode !== null || proxy.signalCode !== null) return;
  const exited = once(proxy, "exit");
  proxy.kill("SIGTERM");
  const timer = setTimeout(() => proxy.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

runClient(main);
