// First hour, item 3: `auth` and `serve` check that the URL is an MCP endpoint. The installed CLI (packed tarball)
// against the oidc-provider AS and an SDK MCP server: a mistyped path that the server's resource metadata covers
// (sign-in works, the URL does not), and `serve` in front of a server that is down and comes up later.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { HEADLESS_BROWSER_PATH } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { type InstalledCli, installCliFromTarball } from "./support/installed-cli.ts";
import { freePort } from "./support/mcp-wire.ts";

interface Health {
  ok: boolean;
  signedIn: boolean;
  upstream?: { url?: string; reachable?: boolean; era?: string; error?: string; checkedAt?: string };
}

let cli: InstalledCli;
let work: string;
const cleanups: (() => Promise<void>)[] = [];
before(() => {
  cli = installCliFromTarball();
  work = mkdtempSync(join(tmpdir(), "u2m-first-hour-endpoint-"));
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cli.remove();
  rmSync(work, { recursive: true, force: true });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("auth at a path that is not the MCP endpoint", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  before(async () => {
    as = await startAuthServer();
    // Metadata at the origin's root too: discovery and the sign-in succeed for /mcp/wrong (the server answers 404).
    mcp = await startMcpServer({ authServer: as, rootMetadata: true });
    cleanups.push(
      () => mcp.close(),
      () => as.close(),
    );
  });

  test("signs in and saves the tokens, then says it is not an MCP endpoint, names the one meant, exits 4", async () => {
    const wrong = `${mcp.origin}/mcp/wrong`;
    const authDir = join(work, "auth-wrong");
    const common = ["--auth-dir", authDir, "--port", String(await freePort())];
    const run = await cli.run(["auth", wrong, ...common], { env: { BROWSER: HEADLESS_BROWSER_PATH } });
    assert.equal(run.code, 4, `exit ${run.code}: ${run.stderr}`);
    assert.match(run.stdout, /^Signed in\./);
    assert.match(
      run.stderr,
      new RegExp(
        `Signed in, but ${escapeRegExp(wrong)} is not an MCP endpoint \\(HTTP 404\\) — did you mean ${escapeRegExp(mcp.url)}\\?`,
      ),
    );
    // The suggestion keeps the user's options: pasted, it uses the same token directory and callback port.
    assert.match(run.stderr, new RegExp(`run "mcp-u2m-proxy auth ${escapeRegExp(`${mcp.url} ${common.join(" ")}`)}"`));
    assert.doesNotMatch(run.stderr, /unexpected error/);

    // The tokens were saved: status says signed in, and a second auth reuses them (and says the same).
    const status = await cli.run(["status", wrong, "--auth-dir", authDir]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /signed in: +yes/);
    const again = await cli.run(["auth", wrong, ...common]);
    assert.equal(again.code, 4, again.stderr);
    assert.match(again.stderr, /Already signed in, but .* is not an MCP endpoint \(HTTP 404\) — did you mean/);
  });

  test("the right URL: signed in, exit 0, nothing on stderr about the endpoint", async () => {
    const run = await cli.run(
      ["auth", mcp.url, "--auth-dir", join(work, "auth-right"), "--port", String(await freePort())],
      {
        env: { BROWSER: HEADLESS_BROWSER_PATH },
      },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Signed in\./);
    assert.doesNotMatch(run.stderr, /not an MCP endpoint|could not be reached/);
  });
});

describe("serve in front of a server that is down", () => {
  let child: ChildProcess;
  let stderr = "";
  let base: string;
  let upstreamPort: number;

  before(async () => {
    upstreamPort = await freePort();
    const facePort = await freePort();
    base = `http://127.0.0.1:${facePort}`;
    child = cli.start([
      "serve",
      `http://127.0.0.1:${upstreamPort}/mcp`,
      "--port",
      String(facePort),
      "--auth-dir",
      join(work, "serve-auth"),
      "--header",
      "Authorization: Bearer first-hour-static",
    ]);
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    let stdout = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
        if (/is ready/.test(stdout)) resolve();
      });
      child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    cleanups.push(async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    });
  });

  async function health(): Promise<Health> {
    const response = await fetch(`${base}/healthz`);
    assert.equal(response.status, 200);
    return (await response.json()) as Health;
  }

  test("warns once at start, keeps running, /healthz says unreachable; once the server is up, ok", async () => {
    const url = `http://127.0.0.1:${upstreamPort}/mcp`;
    for (let i = 0; i < 500 && !stderr.includes("Serving anyway"); i++) await new Promise((r) => setTimeout(r, 20));
    const warnings = stderr.split("\n").filter((line) => line.includes("warn:"));
    assert.equal(warnings.length, 1, stderr);
    assert.match(
      warnings[0] ?? "",
      new RegExp(`The MCP server ${escapeRegExp(url)} could not be reached: connection refused\\. Serving anyway`),
    );

    const down = await health();
    assert.equal(down.ok, false);
    assert.equal(down.signedIn, true);
    assert.equal(down.upstream?.reachable, false);
    assert.match(down.upstream?.error ?? "", /could not be reached: connection refused/);
    assert.equal(child.exitCode, null, "serve keeps running");

    const upstream = await startMcpServer({ auth: false, port: upstreamPort });
    cleanups.push(() => upstream.close());
    // /healthz probes at most every few seconds: poll, bounded.
    let up = await health();
    for (let i = 0; i < 120 && !up.ok; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      up = await health();
    }
    assert.equal(up.ok, true, JSON.stringify(up));
    assert.equal(up.upstream?.reachable, true);
    assert.equal(up.upstream?.era, "2025");
    assert.equal(up.upstream?.error, undefined);
  });
});
