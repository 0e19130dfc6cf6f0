// Six processes share one token store while the access token keeps expiring and the refresh token rotates:
// every expiry must cost exactly one refresh at the AS (the store's lock + re-read), and nobody gets invalid_grant.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { UpstreamAuth } from "../../src/auth/upstream-auth.ts";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";

const WORKERS = 6;
const TTL_SECONDS = 2;
const DURATION_MS = 7000;

let as: TestAuthServer;
let mcp: TestMcpServer;
let dir: string;

before(async () => {
  as = await startAuthServer({ accessTokenTtlSeconds: TTL_SECONDS, rotateRefreshToken: true });
  mcp = await startMcpServer({ authServer: as, transport: "streamable-stateless" });
  dir = await mkdtemp(join(tmpdir(), "u2m-concurrency-"));
});
after(async () => {
  await mcp.close();
  await as.close();
  await rm(dir, { recursive: true, force: true });
});

function runWorker(authDir: string): Promise<{ calls: number; errors: number; tokens: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(import.meta.dirname, "support/refresh-worker.ts"),
        authDir,
        mcp.url,
        String(DURATION_MS),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (err += chunk));
    child.once("error", reject);
    child.once("exit", (code) => {
      try {
        resolve({ ...JSON.parse(out.trim().split("\n").at(-1) ?? "{}"), code });
      } catch {
        reject(new Error(`worker printed no result (exit ${code}): ${err.slice(-500)}`));
      }
    });
  });
}

test(`${WORKERS} processes, rotating refresh tokens: one refresh per expiry, no invalid_grant`, async () => {
  const authDir = join(dir, "auth");
  const auth = new UpstreamAuth(
    { url: mcp.url, authorizeParams: {}, headers: {}, sendResource: true },
    { authDir, port: 0, callbackHost: "127.0.0.1", openBrowser: true, debug: false, allowInsecureHttp: false },
    {
      store: new FileTokenStore({ dir: authDir }),
      callback: "own-listener",
      printSignInUrl: () => {},
      openUrl: async (url) => void completeLoginInBrowser(url),
    },
  );
  await auth.signIn();
  await auth.close();
  as.resetStats();

  const started = Date.now();
  const times: number[] = [];
  let seen = 0;
  const poll = setInterval(() => {
    while (seen < as.stats.refreshSuccesses) {
      seen++;
      times.push(Date.now() - started);
    }
  }, 20);
  const results = await Promise.all(Array.from({ length: WORKERS }, () => runWorker(authDir)));
  clearInterval(poll);
  const elapsed = Date.now() - started;
  for (const result of results) {
    assert.equal(result.code, 0);
    assert.equal(result.errors, 0, "every call succeeded");
    assert.ok(result.calls > 10);
  }
  assert.equal(as.stats.invalidGrants, 0, "no rotated refresh token was spent twice");
  assert.equal(as.stats.refreshFailures, 0);
  // Tokens live 2 s and are refreshed in their last quarter: one refresh per ~1.5 s while the workers run. Six
  // processes refreshing on their own would make about six times as many. (A slow machine only makes fewer.)
  const window = elapsed - (times[0] ?? elapsed);
  const maxRefreshes = Math.ceil(window / 1500) + 1;
  assert.ok(as.stats.refreshSuccesses >= 2, `expiries happened (${as.stats.refreshSuccesses} refreshes)`);
  assert.equal(as.stats.tokenRequests.refresh_token, as.stats.refreshSuccesses, "every refresh request succeeded");
  assert.ok(
    as.stats.refreshSuccesses <= maxRefreshes,
    `${as.stats.refreshSuccesses} refreshes for ${WORKERS} processes; at most ${maxRefreshes} expected`,
  );
  console.log(
    `refresh concurrency: ${WORKERS} processes, ${results.reduce((n, r) => n + r.calls, 0)} calls, ` +
      `${as.stats.refreshSuccesses} refreshes at the AS, 0 invalid_grant`,
  );
});
