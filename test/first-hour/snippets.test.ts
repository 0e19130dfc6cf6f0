// First hour, snippets: what `clients` and the status page print works as pasted. The installed CLI (packed
// tarball, on PATH) signs in once against the oidc-provider AS in front of an SDK MCP server with a token directory
// that is not the default; then every stdio snippet's command is spawned exactly as a host would (its command and
// args, a host's small environment: PATH and HOME only) and an SDK client calls a tool through it, getting the
// signed-in user's answer (the same sign-in, no second one). The HTTP snippets' URL is used with the `serve`
// command `clients` names.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { HEADLESS_BROWSER_PATH } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { type InstalledCli, installCliFromTarball } from "./support/installed-cli.ts";
import { freePort } from "./support/mcp-wire.ts";

const USER = "snippet-user";

let cli: InstalledCli;
let as: TestAuthServer;
let mcp: TestMcpServer;
let work: string;
let authDir: string;
let port: number;
/** `clients <url>` output, one entry per "## Title — where" section. */
let sections: Map<string, string>;
let serveLine: string;

before(async () => {
  cli = installCliFromTarball();
  as = await startAuthServer();
  mcp = await startMcpServer({ authServer: as });
  work = mkdtempSync(join(tmpdir(), "u2m-first-hour-snippets-"));
  authDir = join(work, "tokens");
  port = await freePort();
  const signIn = await cli.run(["auth", mcp.url, "--auth-dir", authDir, "--port", String(port)], {
    env: { BROWSER: HEADLESS_BROWSER_PATH, TEST_BROWSER_LOGIN: USER },
  });
  assert.equal(signIn.code, 0, signIn.stderr);
  const clients = await cli.run(["clients", mcp.url, "--auth-dir", authDir, "--port", String(port)]);
  assert.equal(clients.code, 0, clients.stderr);
  sections = parseSections(clients.stdout);
  serveLine = /^HTTP hosts need the proxy running: (.+)$/m.exec(clients.stdout)?.[1] ?? "";
});
after(async () => {
  cli.remove();
  await mcp.close();
  await as.close();
  rmSync(work, { recursive: true, force: true });
});

describe("clients: every host's snippet", () => {
  test("names every host, with the installed command, the token directory and the port in use", () => {
    for (const title of [
      "VS Code",
      "Cursor",
      "Claude Code",
      "Claude Desktop",
      "Windsurf",
      "Codex",
      "Gemini CLI",
      "opencode",
    ]) {
      assert.ok(sections.has(title), `a ${title} snippet: ${[...sections.keys()].join(", ")}`);
    }
    assert.ok([...sections.keys()].some((title) => /stdio/.test(title)));
    const desktop = desktopEntry(sections.get("Claude Desktop") ?? "");
    assert.equal(desktop.command, "mcp-u2m-proxy", "the command on PATH, not an unpublished npx package");
    assert.deepEqual(desktop.args, ["--auth-dir", authDir, "--port", String(port), "stdio", mcp.url]);
    assert.equal(sections.get("Claude Code"), `claude mcp add --transport http 127-0-0-1 http://127.0.0.1:${port}/mcp`);
    assert.deepEqual(shellWords(serveLine), [
      "mcp-u2m-proxy",
      "--auth-dir",
      authDir,
      "--port",
      String(port),
      "serve",
      mcp.url,
    ]);
  });

  for (const [title, read] of [
    ["Claude Desktop", (text: string) => desktopEntry(text)],
    ["stdio", (text: string) => fromShellLine(text)],
  ] as const) {
    // Bounded: a snippet that lost the token directory would wait for a sign-in nobody completes.
    test(`the ${title} snippet, spawned as a host does, answers a tool call with the same sign-in`, {
      timeout: 60_000,
    }, async () => {
      const key = [...sections.keys()].find((name) => name === title || name.includes(`(${title})`));
      const { command, args } = read(sections.get(key ?? "") ?? "");
      assert.equal(await whoamiOverStdio(command, args), USER);
    });
  }

  test("the HTTP snippets' URL, served by the serve command it names", { timeout: 60_000 }, async () => {
    const [command, ...args] = shellWords(serveLine);
    assert.equal(command, "mcp-u2m-proxy");
    const serve = await startServe(args);
    try {
      const vscode = JSON.parse(sections.get("VS Code") ?? "{}") as { servers: Record<string, { url: string }> };
      const url = Object.values(vscode.servers)[0]?.url ?? "";
      assert.equal(url, `http://127.0.0.1:${port}/mcp`);
      const client = new Client({ name: "first-hour-http-host", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      assert.equal(whoamiSub(await client.callTool({ name: "whoami", arguments: {} })), USER);
      await client.close();

      // The status page's stdio snippet comes from the same function, with serve's token directory.
      const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      const fromPage = unescapeHtml(/<code id="cfg-stdio">([^<]*)<\/code>/.exec(page)?.[1] ?? "");
      assert.equal(fromPage, sections.get([...sections.keys()].find((name) => /stdio/.test(name)) ?? ""));
      const { command: pageCommand, args: pageArgs } = fromShellLine(fromPage);
      assert.equal(await whoamiOverStdio(pageCommand, pageArgs), USER);
    } finally {
      await stop(serve);
    }
  });
});

describe("clients: the options that pick the client and sign-in are in the snippets", () => {
  let staticAs: TestAuthServer;
  let staticMcp: TestMcpServer;
  let staticDir: string;

  before(async () => {
    const staticPort = await freePort();
    staticAs = await startAuthServer({
      clients: [
        {
          client_id: "snippet-static",
          token_endpoint_auth_method: "none",
          redirect_uris: [`http://127.0.0.1:${staticPort}/oauth/callback`],
        },
      ],
    });
    staticMcp = await startMcpServer({ authServer: staticAs });
    staticDir = join(work, "static-tokens");
    const common = ["--auth-dir", staticDir, "--port", String(staticPort), "--client-id", "snippet-static"];
    const signIn = await cli.run(["auth", staticMcp.url, ...common, "--scope", "mcp:read"], {
      env: { BROWSER: HEADLESS_BROWSER_PATH, TEST_BROWSER_LOGIN: USER },
    });
    assert.equal(signIn.code, 0, signIn.stderr);
  });
  after(async () => {
    await staticMcp?.close();
    await staticAs?.close();
  });

  /** `clients` for the pre-registered client with `extra` options: its stdio command, and everything it printed. */
  async function stdioSnippet(extra: string[]): Promise<{ command: string; args: string[]; output: string }> {
    const common = ["--auth-dir", staticDir, "--client-id", "snippet-static", "--scope", "mcp:read"];
    const listed = await cli.run(["clients", staticMcp.url, ...common, ...extra]);
    assert.equal(listed.code, 0, listed.stderr);
    const sections = parseSections(listed.stdout);
    const stdioLine = sections.get([...sections.keys()].find((name) => /stdio/.test(name)) ?? "");
    return { ...fromShellLine(stdioLine ?? ""), output: listed.stdout + listed.stderr };
  }

  // The client id is part of the grant's store key: a snippet without it would look for another grant.
  test("a pre-registered client: the stdio snippet carries --client-id and answers with the same sign-in", {
    timeout: 60_000,
  }, async () => {
    const { command, args } = await stdioSnippet([]);
    assert.deepEqual(args.slice(-6), ["--client-id", "snippet-static", "--scope", "mcp:read", "stdio", staticMcp.url]);
    assert.equal(await whoamiOverStdio(command, args), USER);
  });

  // A server behind a gateway may need a header (a tenant, a routing key) to answer at all.
  test("upstream headers: the stdio snippet sends them; a credential header shows only a placeholder", {
    timeout: 60_000,
  }, async () => {
    const { command, args, output } = await stdioSnippet([
      "--header",
      "X-Tenant: acme",
      "--header",
      "X-Api-Key: k-snippet-secret",
    ]);
    assert.doesNotMatch(output, /k-snippet-secret/, "never the credential");
    const headers = args.flatMap((word, i) => (args[i - 1] === "--header" ? [word] : []));
    assert.deepEqual(headers, ["X-Tenant: acme", "X-Api-Key: <secret>"]);
    staticMcp.resetStats();
    assert.equal(await whoamiOverStdio(command, args), USER);
    assert.ok(staticMcp.stats.extraHeaders.includes("x-tenant: acme"), staticMcp.stats.extraHeaders.join(", "));
  });
});

/** Connects an SDK client to `command args` over stdio, with a host's environment, and returns whoami's `sub`. */
async function whoamiOverStdio(command: string, args: string[]): Promise<string> {
  const client = new Client({ name: "first-hour-stdio-host", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({
      command,
      args,
      env: { PATH: cli.env.PATH ?? "", HOME: cli.env.HOME ?? "" },
      cwd: work,
      stderr: "ignore",
    }),
  );
  try {
    return whoamiSub(await client.callTool({ name: "whoami", arguments: {} }));
  } finally {
    await client.close();
  }
}

function whoamiSub(result: unknown): string {
  const content = (result as { content?: Array<{ text?: string }> }).content ?? [];
  return (JSON.parse(content[0]?.text ?? "{}") as { sub?: string }).sub ?? "";
}

async function startServe(args: string[]): Promise<ChildProcess> {
  const child = cli.start(args);
  let stdout = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (/is ready/.test(stdout)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`serve exited ${code} before it was ready: ${stderr}`)));
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

function parseSections(output: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const block of output.split(/^## /m).slice(1)) {
    const newline = block.indexOf("\n");
    const title = block.slice(0, newline).split(" — ")[0] ?? "";
    map.set(title, block.slice(newline + 1).trim());
  }
  return map;
}

function desktopEntry(text: string): { command: string; args: string[] } {
  const config = JSON.parse(text) as { mcpServers: Record<string, { command: string; args: string[] }> };
  const entry = Object.values(config.mcpServers)[0];
  assert.ok(entry, text);
  return entry;
}

function fromShellLine(line: string): { command: string; args: string[] } {
  const [command, ...args] = shellWords(line);
  return { command: command ?? "", args };
}

/** Splits a POSIX shell line of plain and single-quoted words (what the snippets use). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/(?:'[^']*'|\\'|[^\s'\\]+)+/g)) {
    words.push(
      match[0].replace(
        /'([^']*)'|\\(')/g,
        (_all, quoted: string | undefined, escaped: string | undefined) => quoted ?? escaped ?? "",
      ),
    );
  }
  return words;
}

/** The page escapes `&<>"'` and backquote as numeric references. */
function unescapeHtml(text: string): string {
  return text.replace(/&#(\d+);/g, (_all, code: string) => String.fromCharCode(Number(code)));
}
