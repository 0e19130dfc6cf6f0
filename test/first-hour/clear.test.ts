// First hour, item 6: `clear` tells the truth. Against an authorization server whose revocation answers 400, `clear`
// says revocation failed and that the token stays valid until it expires, deletes the local records and exits 5 (for
// one server and for all); a server never signed in has nothing to clear; and a `serve` already running stops using
// the cleared tokens: its next request reaches the upstream without them and signs in anew. The installed CLI
// (packed tarball) with the scripted browser, against oidc-provider and an SDK upstream.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { HEADLESS_BROWSER_PATH } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { type InstalledCli, installCliFromTarball } from "./support/installed-cli.ts";
import { freePort, INITIALIZE, type RpcAnswer } from "./support/mcp-wire.ts";

const browser = { BROWSER: HEADLESS_BROWSER_PATH };

let cli: InstalledCli;
let work: string;
let as: TestAuthServer;
let mcp: TestMcpServer;
const children: ChildProcess[] = [];
before(async () => {
  cli = installCliFromTarball();
  work = mkdtempSync(join(tmpdir(), "u2m-first-hour-clear-"));
  as = await startAuthServer({ refuseRevocation: 400 });
  mcp = await startMcpServer({ authServer: as });
});
after(async () => {
  for (const child of children) await stop(child);
  await mcp.close();
  await as.close();
  cli.remove();
  rmSync(work, { recursive: true, force: true });
});

async function signedIn(name: string): Promise<{ dir: string; common: string[] }> {
  const dir = join(work, name);
  const common = ["--auth-dir", dir, "--port", String(await freePort())];
  const run = await cli.run(["auth", mcp.url, ...common], { env: browser });
  assert.equal(run.code, 0, run.stderr);
  return { dir, common };
}

/** POSTs initialize to the proxy's /mcp; the answer is the JSON body or the SSE event that carries id 1. */
async function initialize(baseUrl: string): Promise<{ status: number; answer: RpcAnswer | undefined }> {
  const response = await fetch(`${baseUrl}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify(INITIALIZE),
  });
  const text = await response.text();
  const bodies = response.headers.get("content-type")?.startsWith("text/event-stream")
    ? text.split("\n").flatMap((line) => (line.startsWith("data: {") ? [line.slice(6)] : []))
    : [text];
  const answer = bodies.map((body) => JSON.parse(body) as RpcAnswer).find((message) => message.id === 1);
  return { status: response.status, answer };
}

function records(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith(".json"));
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

describe("clear when the authorization server refuses the revocation", () => {
  test("says revocation failed and the token stays valid until it expires, deletes the records, exits 5", async () => {
    const { dir, common } = await signedIn("one");
    assert.notDeepEqual(records(dir), []);
    const revocations = as.stats.revocations;
    const clear = await cli.run(["clear", mcp.url, ...common]);
    assert.equal(clear.code, 5, clear.stdout + clear.stderr);
    assert.equal(as.stats.revocations, revocations + 1);
    assert.match(clear.stdout, /revoking them failed \(.*\/revoke: it answered HTTP 400 invalid_request/);
    assert.match(clear.stdout, /the access token stays valid upstream until it expires \(\d{4}-\d\d-\d\dT/);
    assert.doesNotMatch(clear.stdout, /Signed out/);
    assert.doesNotMatch(clear.stdout + clear.stderr, /eyJ/, "no token printed");
    assert.deepEqual(records(dir), [], "the local records are gone");
    const status = await cli.run(["status", mcp.url, ...common]);
    assert.equal(status.code, 1, status.stdout);
  });

  test("clear with no URL (every stored server) exits 5 when a revocation failed", async () => {
    const { dir, common } = await signedIn("all");
    const clear = await cli.run(["clear", "--auth-dir", dir]);
    assert.equal(clear.code, 5, clear.stdout + clear.stderr);
    assert.match(clear.stdout, /revoking them failed/);
    assert.deepEqual(records(dir), []);
    // Nothing left: a second clear has nothing to do.
    const again = await cli.run(["clear", mcp.url, ...common]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to clear/);
  });
});

test("clear of a server never signed in says there is nothing to clear and exits 0", async () => {
  const run = await cli.run(["clear", mcp.url, "--auth-dir", join(work, "never")]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), `Not signed in to ${mcp.url}; nothing to clear.`);
  assert.equal(run.stderr, "");
});

test("a running serve stops using tokens cleared by another process", async () => {
  const { dir } = await signedIn("serve");
  const port = await freePort();
  const child = cli.start(["serve", mcp.url, "--auth-dir", dir, "--port", String(port)], { env: browser });
  children.push(child);
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    let stdout = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (/is ready/.test(stdout)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  const base = `http://127.0.0.1:${port}`;

  const before = await initialize(base);
  assert.equal(before.status, 200, JSON.stringify(before.answer));
  assert.ok(before.answer?.result, JSON.stringify(before.answer));
  assert.equal(mcp.stats.authorizationKinds.at(-1), "bearer");

  const clear = await cli.run(["clear", mcp.url, "--auth-dir", dir]);
  assert.equal(clear.code, 5, clear.stdout);
  const codeExchanges = as.stats.tokenRequests.authorization_code;
  mcp.resetStats();

  // The old token is still valid upstream (revocation failed), so only the proxy can keep it from being used.
  const afterClear = await initialize(base);
  assert.equal(mcp.stats.authorizationKinds[0], "none", "the first request after clear carried no token");
  assert.ok(mcp.stats.unauthorized >= 1);
  // The proxy signed in again (the scripted browser completed it) and replayed the request with the new token.
  assert.equal(afterClear.status, 200, JSON.stringify(afterClear.answer));
  assert.ok(afterClear.answer?.result, `${JSON.stringify(afterClear.answer)} ${stderr}`);
  assert.equal(as.stats.tokenRequests.authorization_code, codeExchanges + 1, "a new sign-in, not the old token");
  assert.equal(mcp.stats.authorizationKinds.at(-1), "bearer");
  await stop(child);
});
