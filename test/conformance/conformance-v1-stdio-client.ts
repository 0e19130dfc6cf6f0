/**
 * The client under test for the official MCP conformance suite through the proxy's stdio face, as a 2025-era host
 * sees it: an SDK v1 Client (`@modelcontextprotocol/sdk`, which speaks the 2025-11-25 session wire: `initialize`
 * first) drives the real `node dist/main.js stdio <server URL>` (run `npm run build` first). The proxy signs in
 * with test/fixtures/headless-browser.mjs as its BROWSER; each run has its own callback port and token directory
 * (conformance-proxy-child.ts).
 *
 * Run: `node --import tsx test/conformance/conformance-v1-stdio-client.ts <server URL>` (run-conformance.ts
 * compiles it first) with the suite's env (MCP_CONFORMANCE_SCENARIO, MCP_CONFORMANCE_CONTEXT). Connects, lists
 * tools, calls the first one, closes (stdin closes, so the proxy exits), exits 0; on any failure exits 1 with one
 * line on stderr.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
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

async function main(): Promise<void> {
  const serverUrl = serverUrlArgument("conformance-v1-stdio-client.ts");
  const setup = proxySetup(await freePort());
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [PROXY, "stdio", serverUrl, ...setup.flags],
    env: setup.env,
    cwd: REPO,
    stderr: "pipe",
  });
  // The proxy's log lines go to our stderr, which the suite saves next to checks.json.
  transport.stderr?.on("data", (chunk: Buffer) => process.stderr.write(chunk));
  const client = new Client({ name: "mcp-u2m-proxy-conformance-v1-stdio", version: "0.0.0" }, { capabilities: {} });
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

runClient(main);
