/**
 * The client under test for the official MCP conformance suite (`conformance client --command …`), built on the
 * project's OAuth core: `UpstreamAuth` (own callback listener on a free port, a fresh in-memory store per run)
 * gives tokens to `createAuthorizedFetch`, which the SDK v2 Client's Streamable HTTP transport uses. The "browser"
 * follows the mock authorization server's redirects to our loopback callback.
 *
 * Run: `node --import tsx test/conformance/conformance-client.ts <server URL>` (run-conformance.ts compiles it
 * first, for start-up speed) with the suite's env:
 * MCP_CONFORMANCE_SCENARIO, MCP_CONFORMANCE_CONTEXT (JSON, e.g. pre-registered client_id/client_secret),
 * MCP_CONFORMANCE_PROTOCOL_VERSION. Connects, lists tools, calls the first one, exits 0; on any failure exits 1
 * with one line on stderr (scenarios such as auth/iss-wrong-issuer expect exactly that).
 * CONFORMANCE_STORE=file uses the FileTokenStore in a temporary directory instead of memory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createAuthorizedFetch } from "../../src/auth/authorized-fetch.ts";
import { createUpstreamAuth } from "../../src/auth/upstream-auth.ts";
import type { RuntimeOptions, UpstreamOptions } from "../../src/config/options.ts";
import { CALLBACK_PATH } from "../../src/config/options.ts";
import { ProxyError } from "../../src/lib/errors.ts";
import { createLogger } from "../../src/lib/logger.ts";
import { isLoopbackHost } from "../../src/lib/loopback.ts";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import type { TokenStore } from "../../src/store/token-store.ts";

/** The client id the suite's CIMD scenario expects (a URL that need not resolve; the mock AS knows it). */
const CIMD_CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json";
/** Redirect hops the "browser" follows before giving up. */
const MAX_HOPS = 10;
/** Seconds since the process started at each step, for the timing line. */
const marks: string[] = [];

interface ConformanceContext {
  client_id?: string;
  client_secret?: string;
  client_metadata_url?: string;
}

async function main(): Promise<void> {
  const serverUrl = process.argv.at(-1);
  if (!serverUrl || !/^https?:\/\//.test(serverUrl)) throw new Error("usage: conformance-client.ts <server URL>");
  const context = parseContext(process.env.MCP_CONFORMANCE_CONTEXT);

  const upstream: UpstreamOptions = {
    url: serverUrl,
    clientId: context.client_id,
    clientSecret: context.client_secret,
    clientMetadataUrl: context.client_metadata_url ?? CIMD_CLIENT_METADATA_URL,
    authorizeParams: {},
    headers: {},
    sendResource: true,
  };
  let tempDir: string | undefined;
  let store: TokenStore;
  if (process.env.CONFORMANCE_STORE === "file") {
    tempDir = mkdtempSync(join(tmpdir(), "mcp-conformance-"));
    store = new FileTokenStore({ dir: tempDir });
  } else store = new MemoryTokenStore();
  const runtime: RuntimeOptions = {
    authDir: tempDir ?? "memory",
    port: 0, // a free port per run: scenarios run in parallel
    callbackHost: "127.0.0.1",
    openBrowser: true,
    debug: false,
    allowInsecureHttp: false,
  };
  const logger = createLogger({
    level: process.env.CONFORMANCE_DEBUG ? "debug" : "warn",
    prefix: "conformance-client",
  });
  const auth = createUpstreamAuth(upstream, runtime, {
    store,
    logger,
    callback: "own-listener",
    openUrl: followToCallback,
    printSignInUrl: () => {},
  });

  const client = new Client(
    { name: "mcp-u2m-proxy-conformance", version: "0.0.0" },
    { capabilities: {}, versionNegotiation: { mode: "auto" } },
  );
  const transport = new StreamableHTTPClientTransport(new URL(serverUrl), {
    fetch: createAuthorizedFetch(auth, { signInWaitMs: 20_000 }),
  });
  mark("start");
  try {
    await client.connect(transport);
    mark("connected");
    const { tools } = await client.listTools();
    const first = tools[0];
    if (first) await client.callTool({ name: first.name, arguments: {} });
    mark("called");
  } finally {
    await client.close().catch(() => {});
    await auth.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }
}

/**
 * A browser that auto-approves: GETs the authorization URL and follows Location hops (redirect: "manual", so each
 * hop is seen) until the loopback callback, which it GETs so the listener receives the code (or the error).
 */
async function followToCallback(authorizationUrl: string): Promise<void> {
  let url = new URL(authorizationUrl);
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const response = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(10_000) });
    await response.body?.cancel().catch(() => {});
    if (isCallback(url)) return;
    const location = response.headers.get("location");
    if (response.status < 300 || response.status >= 400 || !location) {
      throw new Error(`the authorization server answered ${response.status} without a redirect`);
    }
    url = new URL(location, url);
  }
  throw new Error(`more than ${MAX_HOPS} redirects`);
}

function isCallback(url: URL): boolean {
  return isLoopbackHost(url.hostname) && url.pathname === CALLBACK_PATH;
}

function parseContext(raw: string | undefined): ConformanceContext {
  if (!raw) return {};
  try {
    return JSON.parse(raw) as ConformanceContext;
  } catch {
    return {};
  }
}

main().then(
  () => exit(0),
  (error: unknown) => {
    const line = error instanceof ProxyError ? error.toLine() : error instanceof Error ? error.message : String(error);
    process.stderr.write(`conformance-client: ${line.split("\n")[0]}\n`);
    exit(1);
  },
);

function mark(name: string): void {
  marks.push(`${name} ${process.uptime().toFixed(2)}`);
}

function exit(code: number): never {
  // The runner reports how close each run came to the suite's 30 s limit (start-up included).
  if (process.env.CONFORMANCE_TIMING) {
    process.stderr.write(
      `conformance-client: exit ${code} after ${process.uptime().toFixed(2)} s (${marks.join(", ")})\n`,
    );
  }
  process.exit(code);
}
