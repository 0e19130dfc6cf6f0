// The container's entrypoint, run outside Docker (this machine has the docker client but no engine): the Dockerfile's
// CMD and ENV, read from the Dockerfile itself, run from the repository (the image's /app), its /data volume a temp
// directory. It binds 0.0.0.0, answers /healthz, generates an API key (0600 file in the volume, printed once), refuses
// MCP requests without it and takes them with it, stops on SIGTERM with exit 0; a restart reuses the key without
// printing it; and without key generation (or a key) the same command refuses to listen beyond loopback. With the
// store key from compose.yaml's env file (made as its comment says), a real sign-in leaves only sealed records.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { startAuthServer } from "../fixtures/auth-server.ts";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { freePort } from "../fixtures/ports.ts";
import { composeEnvFile, parseEnvFile } from "../support/compose-file.ts";
import { parseDockerfile } from "../support/dockerfile.ts";
import { listensOnAllInterfaces } from "../support/listening.ts";

const REPO = resolve(import.meta.dirname, "../..");
const image = parseDockerfile(readFileSync(join(REPO, "Dockerfile"), "utf8")).at(-1);

interface Entrypoint {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exit: Promise<number | null>;
}

/** The image's CMD with its ENV (the volume and port mapped to test ones); resolves once ready or exited. */
async function runEntrypoint(env: Record<string, string>): Promise<Entrypoint> {
  const cmd = image?.cmd;
  assert.ok(cmd && cmd[0] === "node", "CMD runs node");
  // The test's own environment minus the proxy's variables, so nothing set here leaks into the run.
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(MCP_|UPSTREAM_MCP_URL|OAUTH_CALLBACK_PORT)/.test(name)),
  );
  const child = spawn(process.execPath, cmd.slice(1), {
    cwd: REPO,
    env: { ...base, ...image?.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exit = new Promise<number | null>((resolveExit) => child.once("exit", (code) => resolveExit(code)));
  await new Promise<void>((resolveReady) => {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (/is ready/.test(stdout)) resolveReady();
    });
    void exit.then(() => resolveReady());
  });
  return { child, stderr: () => stderr, stdout: () => stdout, exit };
}

/** Resolves once the entrypoint's stderr matches `pattern` (or it exited), with the match. */
function stderrMatch(entry: Entrypoint, pattern: RegExp): Promise<RegExpExecArray | null> {
  return new Promise((resolveMatch) => {
    const check = () => {
      const match = pattern.exec(entry.stderr());
      if (match) resolveMatch(match);
    };
    entry.child.stderr?.on("data", check);
    void entry.exit.then(() => resolveMatch(pattern.exec(entry.stderr())));
    check();
  });
}

async function stop(entry: Entrypoint): Promise<number | null> {
  if (entry.child.exitCode === null) entry.child.kill("SIGTERM");
  return entry.exit;
}

function initialize(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "entrypoint-test", version: "1" },
      },
    }),
  });
}

describe("the container entrypoint, outside Docker", () => {
  let upstream: TestMcpServer;
  let work: string;
  before(async () => {
    upstream = await startMcpServer({ auth: false, transport: "streamable-stateful" });
    work = mkdtempSync(join(tmpdir(), "u2m-entrypoint-"));
  });
  after(async () => {
    await upstream?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("first start: 0.0.0.0, /healthz, a generated key (0600, printed once) guarding /mcp; restart reuses it", async () => {
    const data = join(work, "data");
    const port = await freePort();
    const env = { MCP_AUTH_DIR: data, OAUTH_CALLBACK_PORT: String(port), UPSTREAM_MCP_URL: upstream.url };
    const first = await runEntrypoint(env);
    let key: string;
    try {
      assert.equal(first.child.exitCode, null, `running; stderr:\n${first.stderr()}`);
      assert.ok(listensOnAllInterfaces(port), "bound to 0.0.0.0");
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);

      const file = join(data, "api-key");
      key = readFileSync(file, "utf8").trim();
      assert.match(key, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(data).mode & 0o777, 0o700);
      assert.equal(first.stderr().split(key).length - 1, 1, "the key is printed exactly once");
      assert.ok(!first.stdout().includes(key), "not on stdout");

      const mcpUrl = `http://127.0.0.1:${port}/mcp`;
      assert.equal((await initialize(mcpUrl)).status, 403, "no key: refused");
      assert.equal((await initialize(mcpUrl, { authorization: "Bearer wrong" })).status, 403, "wrong key: refused");
      const accepted = await initialize(mcpUrl, { authorization: `Bearer ${key}` });
      assert.equal(accepted.status, 200);
      await accepted.body?.cancel();
    } finally {
      assert.equal(await stop(first), 0, `exit code; stderr:\n${first.stderr()}`);
    }

    const second = await runEntrypoint(env);
    try {
      assert.equal(second.child.exitCode, null, `running; stderr:\n${second.stderr()}`);
      assert.ok(!second.stderr().includes(key), "a restart does not print the key again");
      assert.match(second.stderr(), /Using the API key in .*api-key/);
      const accepted = await initialize(`http://127.0.0.1:${port}/mcp`, { "x-api-key": key });
      assert.equal(accepted.status, 200, "the stored key still works");
      await accepted.body?.cancel();
    } finally {
      assert.equal(await stop(second), 0);
    }
  });

  test("with compose.yaml's store key env file, a sign-in leaves only encrypted records in the volume", async () => {
    const envFileName = composeEnvFile(readFileSync(join(REPO, "compose.yaml"), "utf8"));
    assert.ok(envFileName, "compose.yaml names an env file");
    // What the recipe's comment runs: MCP_PROXY_STORE_KEY=$(openssl rand -base64 32), 0600.
    const envFile = join(work, envFileName);
    writeFileSync(envFile, `MCP_PROXY_STORE_KEY=${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    const as = await startAuthServer();
    const guarded = await startMcpServer({ authServer: as, transport: "streamable-stateful" });
    const data = join(work, "sealed");
    const port = await freePort();
    const run = await runEntrypoint({
      ...parseEnvFile(readFileSync(envFile, "utf8")),
      MCP_AUTH_DIR: data,
      OAUTH_CALLBACK_PORT: String(port),
      UPSTREAM_MCP_URL: guarded.url,
    });
    try {
      assert.equal(run.child.exitCode, null, `running; stderr:\n${run.stderr()}`);
      const printed = await stderrMatch(run, /opening this URL in a browser:\s+(\S+)/);
      assert.ok(printed?.[1], `the sign-in URL; stderr:\n${run.stderr()}`);
      const login = await completeLoginInBrowser(printed[1]);
      assert.equal(login.callbackStatus, 200);
      await stderrMatch(run, /Signed in to /);
      const records = readdirSync(data).filter((name) => name.endsWith(".json"));
      assert.ok(
        records.some((name) => name.endsWith("_tokens.json")),
        records.join(", "),
      );
      for (const name of records) {
        const text = readFileSync(join(data, name), "utf8");
        assert.ok("sealed" in (JSON.parse(text) as object), `${name} is an encrypted envelope`);
        assert.doesNotMatch(text, /access_token|refresh_token|client_id/, `${name} shows nothing in clear`);
      }
    } finally {
      // Exit 0 after a sign-in (which took the file store's locks) is the graceful stop, not the lock library's
      // re-raised SIGTERM.
      assert.equal(await stop(run), 0, `exit code; stderr:\n${run.stderr()}`);
      await guarded.close();
      await as.close();
    }
  });

  test("without key generation and without a key, the same command refuses to listen on 0.0.0.0", async () => {
    const port = await freePort();
    const run = await runEntrypoint({
      MCP_AUTH_DIR: join(work, "no-key"),
      OAUTH_CALLBACK_PORT: String(port),
      UPSTREAM_MCP_URL: upstream.url,
      MCP_PROXY_GENERATE_API_KEY: "0",
    });
    const code = await run.exit;
    assert.notEqual(code, 0);
    assert.match(run.stderr(), /API key/);
    assert.equal(listensOnAllInterfaces(port), false);
  });
});
