// --keychain as users meet it: the built CLI keeps the store key in a real Secret Service (GNOME Keyring on a
// private D-Bus, test/support/secret-service.ts), signs in against the real authorization server with it, and
// every record on disk is sealed with that key. Then: two first runs at once agree on one key, and a machine
// without a keychain, or --keychain beside a key file, gets a clear error and nothing is written.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { isSealedEnvelope, parseStoreKey } from "../../src/store/record-cipher.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { type SecretService, startSecretService } from "../support/secret-service.ts";
import { cli, freePort } from "./support/built-cli.ts";

const run = promisify(execFile);

/** The password the Secret Service holds for `service`'s store key, read by another process (or null). */
async function keychainEntry(keyring: SecretService, service: string): Promise<string | null> {
  const script = `const { Entry } = require("@napi-rs/keyring");
process.stdout.write(JSON.stringify(new Entry(process.argv[1], "store-key").getPassword() ?? null));`;
  const { stdout } = await run(process.execPath, ["-e", script, service], {
    env: { ...process.env, ...keyring.env },
    cwd: join(import.meta.dirname, "../.."),
  });
  return JSON.parse(stdout) as string | null;
}

describe("--keychain: the store key in the OS keychain", () => {
  let keyring: SecretService;
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let dir: string;
  let authDir: string;
  let common: string[];
  const service = `mcp-u2m-proxy-test-${randomBytes(4).toString("hex")}`;
  const env = () => ({ ...keyring.env, MCP_PROXY_KEYCHAIN_SERVICE: service });

  before(async () => {
    keyring = await startSecretService();
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    dir = await mkdtemp(join(tmpdir(), "u2m-keychain-"));
    authDir = join(dir, "auth");
    common = ["--auth-dir", authDir, "--port", String(await freePort())];
  });
  after(async () => {
    await mcp?.close();
    await as?.close();
    await keyring?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("auth --keychain creates the key in the keychain; every record on disk is sealed with it", async () => {
    assert.equal(await keychainEntry(keyring, service), null, "no key before the first run");
    const auth = await cli(["auth", mcp.url, ...common, "--keychain"], { ...env(), TEST_BROWSER_LOGIN: "erin" });
    assert.equal(auth.code, 0, auth.stderr);
    const stored = await keychainEntry(keyring, service);
    assert.ok(stored, "the key is in the keychain");
    const key = parseStoreKey(stored, "the keychain entry");
    const names = (await readdir(authDir)).filter((name) => name.endsWith(".json"));
    assert.ok(names.length >= 2, names.join(", "));
    for (const name of names) {
      const text = await readFile(join(authDir, name), "utf8");
      const record = JSON.parse(text);
      assert.ok(isSealedEnvelope(record), `${name} is encrypted`);
      assert.equal(record.sealed.kid, key.id);
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}/, `no token in ${name}`);
    }
    assert.ok(!(await readdir(authDir)).includes(".keychain-key.lock"), "the creation lock is gone");

    // Later runs read the same key (the environment variable works as the flag does); without it, exit 6.
    const status = await cli(["status", mcp.url, "--json", ...common], { ...env(), MCP_PROXY_KEYCHAIN: "1" });
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).account, "erin");
    assert.equal(await keychainEntry(keyring, service), stored, "the key was not replaced");
    const without = await cli(["status", mcp.url, ...common], env());
    assert.equal(without.code, 6, without.stderr);
    assert.match(without.stderr, new RegExp(`encrypted with store key ${key.id}`));
  });

  test("two first runs at once agree on one key, past a stale creation lock", async () => {
    const fresh = `${service}-race`;
    const freshDir = join(dir, "race");
    const census = () =>
      cli(["store", "status", "--json", "--keychain", "--auth-dir", freshDir], {
        ...keyring.env,
        MCP_PROXY_KEYCHAIN_SERVICE: fresh,
      });
    // A lock left by a process that died while creating the key (older than 10 s) is taken over.
    const staleLock = join(freshDir, ".keychain-key.lock");
    await mkdir(staleLock, { recursive: true, mode: 0o700 });
    await utimes(staleLock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const runs = await Promise.all([census(), census(), census()]);
    for (const result of runs) assert.equal(result.code, 0, result.stderr);
    const ids = runs.map((result) => JSON.parse(result.stdout).keyId);
    const stored = await keychainEntry(keyring, fresh);
    assert.ok(stored);
    assert.deepEqual(ids, Array(3).fill(parseStoreKey(stored, "the keychain entry").id));
    assert.ok(!(await readdir(freshDir)).includes(".keychain-key.lock"), "the stale lock is gone");
  });

  test("no keychain on this machine: a clear error naming the alternative, and nothing written", async () => {
    const nowhere = join(dir, "no-keychain");
    const result = await cli(["auth", mcp.url, "--keychain", "--auth-dir", nowhere], {
      DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, "no-bus")}`,
      MCP_PROXY_KEYCHAIN_SERVICE: service,
    });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /The OS keychain cannot be reached \(service "mcp-u2m-proxy-test-/);
    assert.match(result.stderr, /--store-key-file FILE/);
    assert.deepEqual(await readdir(nowhere).catch(() => []), [], "no record was written");
  });

  test("--keychain beside another store key is refused", async () => {
    const file = join(dir, "own.key");
    await writeFile(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    const both = await cli(["status", mcp.url, ...common, "--keychain", "--store-key-file", file], env());
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /--keychain and --store-key-file both give the store key/);
    const variable = await cli(["status", mcp.url, ...common, "--keychain"], {
      ...env(),
      MCP_PROXY_STORE_KEY: randomBytes(32).toString("base64"),
    });
    assert.equal(variable.code, 2, variable.stderr);
    assert.match(variable.stderr, /--keychain and MCP_PROXY_STORE_KEY both give the store key/);
  });
});
