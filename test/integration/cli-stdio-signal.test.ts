// `mcp-u2m-proxy stdio` (the built bin) ends cleanly on SIGTERM after it signed in: the sign-in took the file
// store's lock, whose library (proper-lockfile, through signal-exit) re-raises a signal it finds no other listener
// for. With the CLI's listener removed on the first signal (process.once), the process died of that re-raised
// SIGTERM instead of closing its session; now it exits 0.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { HEADLESS_BROWSER_PATH } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { BIN } from "./support/built-cli.ts";

describe("stdio stops cleanly on SIGTERM after a sign-in", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let dir: string;

  before(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as, transport: "streamable-stateful" });
    dir = await mkdtemp(join(tmpdir(), "cli-stdio-signal-"));
  });

  after(async () => {
    await mcp?.close();
    await as?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("signs in through the scripted browser, answers initialize, then SIGTERM exits 0", async (t) => {
    const child = spawn(
      process.execPath,
      [BIN, "stdio", mcp.url, "--auth-dir", dir, "--port", String(await freePort())],
      {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, BROWSER: HEADLESS_BROWSER_PATH },
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    // Its stdin stays open, so a failed assertion would otherwise leave it running and the file never ending.
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    let stdout = "";
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const answered = new Promise<void>((resolve) => {
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('"id":1')) resolve();
      });
    });
    child.stdin.write(
      `${JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "signal-test", version: "1" } },
      })}\n`,
    );
    await Promise.race([answered, exited]);
    assert.match(stdout, /"result"/, `initialize answered after the sign-in; stderr:\n${stderr}`);
    child.kill("SIGTERM");
    const [code, signal] = await exited;
    assert.equal(signal, null, `not killed by the signal; stderr:\n${stderr}`);
    assert.equal(code, 0, stderr);
  });
});
