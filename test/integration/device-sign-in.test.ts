// The RFC 8628 device sign-in end to end: the built CLI (dist/main.js) against the oidc-provider test authorization
// server with its device flow enabled and a real MCP server. The test plays the person on "another device": it
// reads the code the proxy printed on stderr and approves it with the scripted browser (the verification page, the
// confirmation, login, consent). Then a real SDK client calls a tool through the stdio face with the stored tokens.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { BIN } from "./support/built-cli.ts";

let authServer: TestAuthServer;
let server: TestMcpServer;
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "device-sign-in-"));
  dirs.push(dir);
  return dir;
}

before(async () => {
  authServer = await startAuthServer({ deviceFlow: true });
  server = await startMcpServer({ authServer, transport: "streamable-stateless" });
});
after(async () => {
  await server?.close();
  await authServer?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** No BROWSER and no display: the proxy can open no browser here, as on a remote machine. */
function headlessEnv(authDir: string): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", MCP_AUTH_DIR: authDir };
}

/** The verification URI with the code in it, once the proxy printed it on stderr. */
function waitForCode(stderr: () => string): Promise<{ complete: string; userCode: string }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      const text = stderr();
      const complete = /(http:\/\/127\.0\.0\.1:\d+\/device\?user_code=\S+)/.exec(text)?.[1];
      const userCode = /enter the code (\S+?)\)/.exec(text)?.[1];
      if (complete && userCode) return resolve({ complete, userCode });
      if (Date.now() - started > 30_000) return reject(new Error(`no device code on stderr:\n${text}`));
      setTimeout(check, 50);
    };
    check();
  });
}

function runAuth(args: string[], authDir: string) {
  const child = spawn(process.execPath, [BIN, "auth", server.url, "--port", "0", ...args], {
    env: headlessEnv(authDir),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

describe("device sign-in against oidc-provider", () => {
  test("auth --device: the code is shown, the person approves it elsewhere, a tool call works", async () => {
    const authDir = tempDir();
    const run = runAuth(["--device"], authDir);
    const { complete, userCode } = await waitForCode(run.stderr);
    assert.match(userCode, /^[A-Z]{4}-[A-Z]{4}$/);
    const login = await completeLoginInBrowser(complete, { login: "dora" });
    assert.deepEqual(login.pages, ["device-confirm", "login", "consent", "device-success"]);
    assert.equal(await run.exited, 0, run.stderr());
    assert.match(run.stdout(), /Signed in\./);
    assert.ok(authServer.stats.deviceAuthorizations >= 1);
    assert.ok(authServer.stats.deviceCodePolls >= 1);
    const device = authServer.stats.requests.find((request) => request.endpoint === "device_authorization");
    assert.equal(device?.resource, server.url, "RFC 8707 resource on the device authorization request");

    const client = new Client({ name: "device-test", version: "1.0.0" });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, "stdio", server.url, "--port", "0"],
        env: headlessEnv(authDir),
        stderr: "pipe",
      }),
    );
    try {
      const result = await client.callTool({ name: "whoami", arguments: {} });
      const text = (result.content as Array<{ text?: string }>)[0]?.text ?? "";
      assert.equal(JSON.parse(text).sub, "dora");
    } finally {
      await client.close();
    }
  });

  test("auth --device, denied on the verification page: exit 3 with SIGN_IN_DENIED's message", async () => {
    const run = runAuth(["--device"], tempDir());
    const { complete } = await waitForCode(run.stderr);
    const login = await completeLoginInBrowser(complete, { action: "deny" });
    assert.deepEqual(login.pages, ["device-confirm", "device-aborted"]);
    assert.equal(await run.exited, 3, run.stderr());
    assert.match(run.stderr(), /denied on the verification page/);
  });

  test("the stdio face signs in at start-up with the device flow by itself (--no-browser, no terminal)", async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, "stdio", server.url, "--port", "0", "--no-browser"],
      env: headlessEnv(tempDir()),
      stderr: "pipe",
    });
    let stderr = "";
    transport.stderr?.on("data", (chunk) => (stderr += chunk));
    const client = new Client({ name: "device-stdio-test", version: "1.0.0" });
    // The host's initialize waits for the sign-in under way (within the request's budget); the person approves
    // the code meanwhile.
    const connected = client.connect(transport);
    try {
      const { complete } = await waitForCode(() => stderr);
      await completeLoginInBrowser(complete, { login: "erin" });
      await connected;
      const result = await client.callTool({ name: "whoami", arguments: {} });
      const text = (result.content as Array<{ text?: string }>)[0]?.text ?? "";
      assert.equal(JSON.parse(text).sub, "erin");
      assert.doesNotMatch(stderr, /authorize\?/, "no browser sign-in URL: the device flow was chosen");
    } finally {
      await client.close();
    }
  });
});
