/**
 * The client under test for the official MCP conformance suite through the proxy's stdio face: an SDK v2 Client
 * (StdioClientTransport) drives the real `node dist/main.js stdio <server URL>` (run `npm run build` first), which
 * signs in with test/fixtures/headless-browser.mjs as its BROWSER (it follows the mock authorization server's
 * redirects to the proxy's loopback callback). Each run gets its own callback port and token directory, since the
 * suite runs scenarios in parallel (conformance-proxy-child.ts).
 *
 * Run: `node --import tsx test/conformance/conformance-stdio-client.ts <server URL>` (run-conformance.ts compiles
 * it first) with the suite's env: MCP_CONFORMANCE_SCENARIO, MCP_CONFORMANCE_CONTEXT (JSON, e.g. pre-registered
 * client_id/client_secret). Connects, lists tools, calls the first one, closes (stdin closes, so the proxy exits),
 * exits 0. On any failure — including a JSON-RPC error from the proxy when the sign-in or a step-up was refused —
 * exits 1 with one line on stderr (scenarios such as auth/iss-wrong-issuer expect exactly that).
 */
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
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

/**
 * The SDK probes the era on a short-lived sibling process (stderr discarded) when the transport is exactly
 * StdioClientTransport, and in place for a subclass: in place, one proxy runs per scenario and its log is kept.
 */
class InPlaceStdioTransport extends StdioClientTransport {}

async function main(): Promise<void> {
  const serverUrl = serverUrlArgument("conformance-stdio-client.ts");
  const setup = proxySetup(await freePort());
  const transport = new InPlaceStdioTransport({
    command: process.execPath,
    args: [PROXY, "stdio", serverUrl, ...setup.flags],
    env: setup.env,
    cwd: REPO,
    stderr: "pipe",
  });
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
    await listAndCallFirstTool(client);
    mark("called");
  } finally {
    await client.close().catch(() => {});
    cleanUp(setup);
  }
}

/**
 * The era the suite's mock servers speak, pinned: "auto" would fall back from a failed probe by starting the proxy
 * anew.
 */
function negotiationMode(version: string | undefined): "legacy" | { pin: string } {
  return version === "2026-07-28" ? { pin: version } : "legacy";
}

runClient(main);
