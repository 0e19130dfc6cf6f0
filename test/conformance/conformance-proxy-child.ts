/**
 * What the conformance clients that run the real proxy (`node dist/main.js stdio|serve <server URL>`) share: the
 * proxy's flags and environment from the suite's MCP_CONFORMANCE_CONTEXT, a private token directory, the MCP
 * exchange each scenario needs (list tools, call the first), and the exit protocol the runner reads (exit 0, or 1
 * with one `conformance-client: ` line on stderr; a timing line with CONFORMANCE_TIMING).
 *
 * Used by conformance-stdio-client.ts (SDK v2 over stdio), conformance-v1-stdio-client.ts (SDK v1 over stdio) and
 * conformance-v1-http-client.ts (SDK v1 over the HTTP face). The suite runs scenarios in parallel, so every proxy
 * gets its own callback port and token directory.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The client id the suite's CIMD scenario expects (a URL that need not resolve; the mock AS knows it). */
const CIMD_CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json";
/** The repository root: found from this file, whether it runs from test/conformance/ or from a compiled copy. */
export const REPO = findRepo(dirname(fileURLToPath(import.meta.url)));
export const PROXY = join(REPO, "dist", "main.js");
const BROWSER = join(REPO, "test", "fixtures", "headless-browser.mjs");

interface ConformanceContext {
  client_id?: string;
  client_secret?: string;
  client_metadata_url?: string;
}

/** The proxy run for one scenario: its command-line flags (after `stdio|serve <url>`), environment and token dir. */
export interface ProxySetup {
  flags: string[];
  env: Record<string, string>;
  authDir: string;
  /** CONFORMANCE_DEBUG=1: the proxy writes a debug log into its token directory, which is then kept. */
  debug: boolean;
}

/** The server URL the suite appended as the last argument. */
export function serverUrlArgument(usage: string): string {
  const serverUrl = process.argv.at(-1);
  if (!serverUrl || !/^https?:\/\//.test(serverUrl)) throw new Error(`usage: ${usage} <server URL>`);
  return serverUrl;
}

/**
 * Flags from the suite's context (pre-registered client, CIMD URL) and an environment with a fresh token directory
 * (MCP_AUTH_DIR), the given callback port (OAUTH_CALLBACK_PORT) and the headless browser (BROWSER).
 */
export function proxySetup(callbackPort: number): ProxySetup {
  const context = parseContext(process.env.MCP_CONFORMANCE_CONTEXT);
  const flags: string[] = [];
  if (context.client_id) flags.push("--client-id", context.client_id);
  if (context.client_secret) flags.push("--client-secret", context.client_secret);
  flags.push("--client-metadata-url", context.client_metadata_url ?? CIMD_CLIENT_METADATA_URL);
  const debug = Boolean(process.env.CONFORMANCE_DEBUG);
  if (debug) flags.push("--debug");

  const authDir = mkdtempSync(join(tmpdir(), "mcp-conformance-proxy-"));
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  Object.assign(env, {
    OAUTH_CALLBACK_PORT: String(callbackPort),
    MCP_AUTH_DIR: authDir,
    // openUrl splits BROWSER on whitespace and runs it without a shell.
    BROWSER: `${process.execPath} ${BROWSER}`,
  });
  return { flags, env, authDir, debug };
}

/** Removes the token directory, or keeps it (and says where) when debugging. */
export function cleanUp(setup: ProxySetup): void {
  if (setup.debug) process.stderr.write(`conformance-client: kept ${setup.authDir}\n`);
  else rmSync(setup.authDir, { recursive: true, force: true });
}

/** The part of an SDK Client (v1 or v2) a scenario uses. */
interface ToolClient {
  listTools(): Promise<{ tools: Array<{ name: string }> }>;
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
}

/**
 * Lists the tools and calls the first one (the scenarios' tools take no arguments). A tool error is a result, not
 * a thrown error: a refused step-up must still fail the run.
 */
export async function listAndCallFirstTool(client: ToolClient): Promise<void> {
  const { tools } = await client.listTools();
  const first = tools[0];
  if (!first) return;
  const result = (await client.callTool({ name: first.name, arguments: {} })) as {
    isError?: boolean;
    content?: Array<{ text?: string }>;
  };
  if (result.isError) {
    const text = (result.content ?? [])
      .map((c) => c.text ?? "")
      .join(" ")
      .slice(0, 200);
    throw new Error(`tools/call ${first.name} returned an error: ${text}`);
  }
}

/** Seconds since the process started at each step, for the timing line. */
const marks: string[] = [];

export function mark(name: string): void {
  marks.push(`${name} ${process.uptime().toFixed(2)}`);
}

/**
 * Runs the client's main and exits: 0, or 1 with the error's first line on stderr (scenarios such as
 * auth/iss-wrong-issuer expect exactly that).
 */
export function runClient(main: () => Promise<void>): void {
  main().then(
    () => exit(0),
    (error: unknown) => {
      const line = error instanceof Error ? error.message : String(error);
      process.stderr.write(`conformance-client: ${line.split("\n")[0]}\n`);
      exit(1);
    },
  );
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
