// Paste-back through a real pseudo-terminal: the built CLI's `auth --no-browser` runs with a pty as its terminal, so
// stdin is a TTY as for a person on an SSH session. The test plays that person's browser on another machine: it
// signs in with the scripted browser, stops at the redirect (which never reaches the loopback listener), and types
// the address into the terminal: first a wrong one (explained, asked again), then the right one.
//
// The pty: python3's `pty.spawn` (standard library, on the CI machine) rather than util-linux `script -qfec`, since
// it takes the argv as is (no shell command line to quote), copies our pipe to the pty and back, and its exit status
// is the child's. The child's stdout and stderr both arrive on the one pty output, with \r\n line ends.
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

const PTY_SPAWN = "import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))";

let authServer: TestAuthServer;
let server: TestMcpServer;
let authDir: string;

before(async () => {
  authServer = await startAuthServer();
  server = await startMcpServer({ authServer, transport: "streamable-stateful" });
  authDir = mkdtempSync(join(tmpdir(), "paste-back-"));
});
after(async () => {
  await server?.close();
  await authServer?.close();
  rmSync(authDir, { recursive: true, force: true });
});

/** No BROWSER and no display, as on a remote machine. */
function headlessEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", MCP_AUTH_DIR: authDir };
}

class PtyRun {
  output = "";
  readonly exited: Promise<number | null>;
  private readonly child;

  constructor(args: string[]) {
    this.child = spawn("python3", ["-c", PTY_SPAWN, process.execPath, BIN, ...args], {
      env: headlessEnv(),
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => {
      this.output += chunk;
    });
    this.child.stderr.on("data", (chunk) => {
      this.output += String(chunk);
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  /** What the terminal shows from `from` on, once `pattern` appears in it. */
  async waitFor(pattern: RegExp, from = 0): Promise<RegExpExecArray> {
    const started = Date.now();
    for (;;) {
      const match = pattern.exec(this.output.slice(from));
      if (match) return match;
      if (Date.now() - started > 30_000) throw new Error(`not on the terminal: ${pattern}\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Types a line and presses Enter. */
  type(line: string): void {
    this.child.stdin.write(`${line}\r`);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

describe("paste-back through a pseudo-terminal", () => {
  test("auth --no-browser: a wrong address is explained, the pasted redirect signs in, a tool call works", async () => {
    const run = new PtyRun(["auth", server.url, "--no-browser", "--port", "0"]);
    try {
      const [, authorizationUrl] = await run.waitFor(/(http:\/\/127\.0\.0\.1:\d+\/authorize\?\S+)/);
      assert.ok(authorizationUrl);
      await run.waitFor(/paste the address it ends on \(http:\/\/127\.0\.0\.1:\d+\/oauth\/callback\?…\) here/);
      // The person's browser elsewhere: signs in, then lands on an address this machine's listener never sees.
      const login = await completeLoginInBrowser(authorizationUrl, { login: "frank", deliver: false });
      assert.equal(login.callbackStatus, 0, "the redirect was not requested");
      const redirect = new URL(login.callbackUrl);
      assert.ok(redirect.searchParams.get("code"));

      const wrongState = new URL(redirect);
      wrongState.searchParams.set("state", "not-this-sign-in");
      let mark = run.output.length;
      run.type(wrongState.href);
      await run.waitFor(/unknown, was already used, or has expired\. Paste the address again/, mark);

      mark = run.output.length;
      run.type(`${redirect.origin}/elsewhere${redirect.search}`);
      await run.waitFor(/is not this sign-in's redirect address/, mark);
      assert.equal(authServer.stats.tokenRequests.authorization_code, 0, "no code exchanged for a wrong paste");

      run.type(redirect.href);
      assert.equal(await run.exited, 0, run.output);
      assert.match(run.output, /Signed in\./);
      assert.equal(authServer.stats.tokenRequests.authorization_code, 1);
    } finally {
      run.kill();
    }

    const client = new Client({ name: "paste-back-test", version: "1.0.0" });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, "stdio", server.url, "--port", "0"],
        env: headlessEnv(),
        stderr: "pipe",
      }),
    );
    try {
      const result = await client.callTool({ name: "whoami", arguments: {} });
      const text = (result.content as Array<{ text?: string }>)[0]?.text ?? "";
      assert.equal(JSON.parse(text).sub, "frank");
    } finally {
      await client.close();
    }
  });
});
