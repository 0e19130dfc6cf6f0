// `npm run demo`: the whole flow on this machine, with no account anywhere.
//
// 1. Starts a real OAuth authorization server (oidc-provider) and an MCP server that only accepts its tokens,
//    both on 127.0.0.1.
// 2. Signs in with `mcp-u2m-proxy auth` (discovery, client registration, PKCE, consent, token exchange).
//    A scripted browser logs in as "alice"; with --browser your own browser opens instead (any name and password).
// 3. Runs the proxy's HTTP face and calls tools through http://127.0.0.1:PORT/mcp with a plain MCP client that has
//    no credentials at all: the proxy adds the token.
// 4. Prints the configuration an MCP client would use (the command that runs this checkout, with the demo's token
//    directory) and calls a tool through the stdio snippet, as a host would. With --keep it keeps running so you
//    can open the status page and try the snippets.
//
// Tokens go to a temporary directory, not ~/.mcp/auth.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { launchCommand } from "../src/app/launch-command.ts";
import { clientConfigs } from "../src/server/client-config.ts";
import { startAuthServer } from "../test/fixtures/auth-server.ts";
import { HEADLESS_BROWSER_PATH } from "../test/fixtures/headless-login.ts";
import { startMcpServer } from "../test/fixtures/mcp-server.ts";

const BIN = join(import.meta.dirname, "../dist/main.js");
const keep = process.argv.includes("--keep");
const realBrowser = process.argv.includes("--browser");

const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m` : text);
const step = (n: number, text: string) => console.log(`\n${bold(`[${n}] ${text}`)}`);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function env(authDir: string, port: number): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env, MCP_AUTH_DIR: authDir, OAUTH_CALLBACK_PORT: String(port) };
  if (realBrowser) delete base.BROWSER;
  else base.BROWSER = HEADLESS_BROWSER_PATH;
  return base;
}

/** Runs the proxy CLI, showing its output indented. */
function runProxy(args: string[], childEnv: NodeJS.ProcessEnv): Promise<number> {
  console.log(dim(`$ mcp-u2m-proxy ${args.join(" ")}`));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    const show = (chunk: Buffer) => process.stdout.write(chunk.toString().replace(/^(?=.)/gm, "    "));
    child.stdout.on("data", show);
    child.stderr.on("data", show);
    child.once("error", reject);
    child.once("exit", (code) => resolve(code ?? 1));
  });
}

/** Starts `mcp-u2m-proxy serve` and resolves once it says it is ready. */
function startProxy(args: string[], childEnv: NodeJS.ProcessEnv): Promise<ChildProcess> {
  console.log(dim(`$ mcp-u2m-proxy ${args.join(" ")}`));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let ready = false;
    const show = (chunk: Buffer) => {
      const text = chunk.toString();
      process.stdout.write(text.replace(/^(?=.)/gm, "    "));
      if (!ready && /ready/.test(text)) {
        ready = true;
        resolve(child);
      }
    };
    child.stdout.on("data", show);
    child.stderr.on("data", show);
    child.once("error", reject);
    child.once("exit", (code) => {
      if (!ready) reject(new Error(`the proxy exited with code ${code} before it was ready`));
    });
  });
}

/** Stops the proxy and waits for it to exit (its own stop line is the last thing it prints), at most 10 s. */
async function stopProxy(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = once(child, "close"); // after its output is read, not just its exit
  child.kill("SIGTERM");
  const cap = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await closed;
  clearTimeout(cap);
}

async function main(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "mcp-u2m-proxy-demo-"));
  const authDir = join(dir, "auth");
  const as = await startAuthServer();
  const mcp = await startMcpServer({ authServer: as });
  let proxy: ChildProcess | undefined;
  try {
    step(1, "A local OAuth authorization server and an MCP server that requires its tokens");
    console.log(`    authorization server  ${as.issuer}  (oidc-provider: DCR, PKCE, RFC 8707 audience-bound JWTs)`);
    console.log(`    MCP server            ${mcp.url}  (answers 401 without a token)`);
    const anonymous = await fetch(mcp.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    console.log(`    POST ${mcp.url} without a token → HTTP ${anonymous.status}`);
    console.log(`      WWW-Authenticate: ${anonymous.headers.get("www-authenticate")}`);

    const port = await freePort();
    step(2, "Sign in once with the proxy");
    console.log(
      realBrowser
        ? "    Your browser opens the sign-in page: log in with any name and password, then approve."
        : "    A scripted browser (test/fixtures/headless-browser.mjs, given as BROWSER) logs in as alice and approves.",
    );
    const authCode = await runProxy(["auth", mcp.url], env(authDir, port));
    if (authCode !== 0) throw new Error(`sign-in failed (exit ${authCode})`);
    await runProxy(["list"], env(authDir, port));

    step(3, "Run the proxy and use the MCP server through it, with no credentials on the client");
    proxy = await startProxy(["serve", mcp.url, "--no-browser"], env(authDir, port));
    const endpoint = `http://127.0.0.1:${port}/mcp`;
    const client = new Client({ name: "demo-client", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(endpoint)));
    const { tools } = await client.listTools();
    console.log(`    tools/list via ${endpoint} → ${tools.map((tool) => tool.name).join(", ")}`);
    for (const [name, args] of [
      ["whoami", {}],
      ["echo", { text: "Hello through mcp-u2m-proxy" }],
    ] as const) {
      const result = await client.callTool({ name, arguments: args });
      const text = (result.content as Array<{ type: string; text?: string }>).map((part) => part.text ?? "").join(" ");
      console.log(`    tools/call ${name} → ${text}`);
    }
    await client.close();

    step(4, "Point any MCP client at the proxy");
    // The snippets the status page and `clients` print, with the command that runs this checkout's proxy and the
    // demo's token directory and port, so a host's stdio process shares the sign-in above.
    const launch = launchCommand({
      authDir,
      defaultAuthDir: join(homedir(), ".mcp", "auth"),
      port,
      script: BIN,
    });
    const snippets = clientConfigs({
      upstreamUrl: mcp.url,
      proxyBaseUrl: `http://127.0.0.1:${port}`,
      apiKeyRequired: false,
      launch,
    });
    const snippet = (id: string) => snippets.find((entry) => entry.id === id)?.text ?? "";
    const desktop = Object.values(JSON.parse(snippet("claude-desktop")).mcpServers)[0];
    const row = (label: string, value: string) => console.log(`    ${`${label}:`.padEnd(49)}${value}`);
    row("Streamable HTTP (Cursor, VS Code, Claude Code)", endpoint);
    row("legacy SSE", snippet("legacy-sse"));
    row("stdio (Claude Desktop)", JSON.stringify(desktop));
    row("every host's snippet", [launch.command, ...launch.args, "clients", mcp.url].join(" "));
    row("status page", `http://127.0.0.1:${port}/`);
    const { command, args: stdioArgs } = desktop as { command: string; args: string[] };
    const stdioClient = new Client({ name: "demo-stdio-host", version: "1.0.0" });
    await stdioClient.connect(new StdioClientTransport({ command, args: stdioArgs, stderr: "ignore" }));
    const viaStdio = await stdioClient.callTool({ name: "whoami", arguments: {} });
    const whoami = (viaStdio.content as Array<{ text?: string }>).map((part) => part.text ?? "").join(" ");
    console.log(`    tools/call whoami through the stdio snippet (no second sign-in) → ${whoami}`);
    await stdioClient.close();
    if (keep) {
      console.log(`\n${bold("Running.")} Open http://127.0.0.1:${port}/ in a browser; press Ctrl+C to stop.`);
      await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
    }
    console.log(
      `\n${bold("Done.")} The demo signed in once, and every call went through the proxy with a valid token.`,
    );
    return 0;
  } finally {
    if (proxy) await stopProxy(proxy);
    await mcp.close();
    await as.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
