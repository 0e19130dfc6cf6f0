/**
 * The client under test for the official MCP conformance suite through the proxy's stdio face: an SDK v2 Client
 * (StdioClientTransport) drives the real `node dist/main.js stdio <server URL>` (run `npm run build` first), which
 * signs in with test/fixtures/headless-browser.mjs as its BROWSER (it follows the mock authorization server's
 * redirects to the proxy's loopback callback). Each run gets its own callback port and token directory, since the
 * suite runs scenarios in parallel.
 *
 * Run: `node --import tsx test/conformance/conformance-stdio-client.ts <server URL>` (run-conformance.ts compiles
 * it first) with the suite's env: MCP_CONFORMANCE_SCENARIO, MCP_CONFORMANCE_CONTEXT (JSON, e.g. pre-registered
 * client_id/client_secret). Connects, lists tools, calls the first one, closes (stdin closes, so the proxy exits),
 * exits 0. On any failure — including a JSON-RPC error from the proxy when the sign-in or a step-up was refused —
 * exits 1 with one line on stderr (scenarios such as auth/iss-wrong-issuer expect exactly that).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

/** The client id the suite's CIMD scenario expects (a URL that need not resolve; the mock AS knows it). */
const CIMD_CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json";
/** The repository root: found from this file, whether it runs from test/conformance/ or from a compiled copy. */
const REPO = findRepo(dirname(fileURLToPath(import.meta.url)));
const PROXY = join(REPO, "dist", "main.js");
const BROWSER = join(REPO, "test", "fixtures", "headless-browser.mjs");
/**
 * The SDK probes the era on a short-lived sibling process (stderr discarded) when the transport is exactly
 * StdioClientTransport, and in place for a subclass: in place, one proxy runs per scenario and its log is kept.
 */
class InPlaceStdioTransport extends StdioClientTransport {}

/** Seconds since the process started at each step, for the timing line. */
const marks: string[] = [];

interface ConformanceContext {
  client_id?: string;
  client_secret?: string;
  client_metadata_url?: string;
}

async function main(): Promise<void> {
  const serverUrl = process.argv.at(-1);
  if (!serverUrl || !/^https?:\/\//.test(serverUrl)) throw new Error("usage: conformance-stdio-client.ts <server URL>");
  const context = parseContext(process.env.MCP_CONFORMANCE_CONTEXT);
  const args = [PROXY, "stdio", serverUrl];
  if (context.client_id) args.push("--client-id", context.client_id);
  if (context.client_secret) args.push("--client-secret", context.client_secret);
  args.push("--client-metadata-url", context.client_metadata_url ?? CIMD_CLIENT_METADATA_URL);
  // CONFORMANCE_DEBUG=1: the proxy writes a debug log into its token directory, which is then kept.
  const debug = Boolean(process.env.CONFORMANCE_DEBUG);
  if (debug) args.push("--debug");

  const authDir = mkdtempSync(join(tmpdir(), "mcp-conformance-stdio-"));
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  Object.assign(env, {
    OAUTH_CALLBACK_PORT: String(await freePort()),
    MCP_AUTH_DIR: authDir,
    // openUrl splits BROWSER on whitespace and runs it without a shell.
    BROWSER: `${process.execPath} ${BROWSER}`,
  });
  const transport = new InPlaceStdioTransport({ command: process.execPath, args, env, cwd: REPO, stderr: "pipe" });
  // The proxy's log lines go to our stderr, which the suite saves next to checks.json.
  transport.stderr?.on("data", (chunk: Buffer) => process.stderr.write(chunk));
  const client = new Client(
    { name: "mcp-u2m-proxy-conformance-stdio", version: "0.0.0" },
    { capabilities: {}, versionNegotiation: { mode: negotiationMode(process.env.MCP_CONFORMANCE_PROTOCOL_VERSION) } },
  );
  mark("start");
  try {
    await client.connect(transport);
    mark("connected");
    const { tools } = await client.listTools();
    const first = tools[0];
    if (first) {
      const result = await client.callTool({ name: first.name, arguments: {} });
      // A tool error is a result, not a thrown error: a refused step-up must still fail the run.
      if (result.isError) throw new Error(`tools/call ${first.name} returned an error: ${textOf(result)}`);
    }
    mark("called");
  } finally {
    await client.close().catch(() => {});
    if (debug) process.stderr.write(`conformance-client: kept ${authDir}\n`);
    else rmSync(authDir, { recursive: true, force: true });
  }
}

/**
 * The era the suite's mock servers speak, pinned: "auto" would fall back from a failed probe by starting the proxy
 * anew.
 */
function negotiationMode(version: string | undefined): "legacy" | { pin: string } {
  return version === "2026-07-28" ? { pin: version } : "legacy";
}

function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ text?: string }> }).content ?? [];
  return content
    .map((c) => c.text ?? "")
    .join(" ")
    .slice(0, 200);
}

/** A port that was free a moment ago (the proxy binds it for its callback listener). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject()));
    });
  });
}

/** The nearest directory with a package.json: the repository, also from the compiled copy under test-results/. */
function findRepo(start: string): string {
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
  }
  throw new Error(`no package.json above ${start}`);
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
    const line = error instanceof Error ? error.message : String(error);
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
