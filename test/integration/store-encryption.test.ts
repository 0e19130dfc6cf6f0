// Encryption at rest as users meet it: the built CLI (dist/main.js) signing in against the real authorization
// server with a store key, through `auth` and through the stdio face; then a wrong and a missing key, and a
// rekey (and decrypt, encrypt) round trip through `store`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { isSealedEnvelope, StoreKey } from "../../src/store/record-cipher.ts";
import { SealedTokenStore } from "../../src/store/sealed-store.ts";
import { startAuthServer, type TestAuthServer } from "../fixtures/auth-server.ts";
import { HEADLESS_BROWSER_PATH } from "../fixtures/headless-login.ts";
import { startMcpServer, type TestMcpServer } from "../fixtures/mcp-server.ts";
import { BIN, cli, freePort, type Run } from "./support/built-cli.ts";

interface KeyOnDisk {
  key: StoreKey;
  file: string;
  text: string;
}

async function keyFile(dir: string, name: string): Promise<KeyOnDisk> {
  const bytes = randomBytes(32);
  const text = bytes.toString("base64");
  const file = join(dir, name);
  await writeFile(file, `${text}\n`, { mode: 0o600 });
  return { key: new StoreKey(bytes), file, text };
}

/** Every file in the directory: name → inode and content, to show that nothing changed. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    out[name] = `${(await stat(join(dir, name))).ino}:${await readFile(join(dir, name), "utf8")}`;
  }
  return out;
}

/** The secrets a sign-in stored (read back with the key), and the forms they could be written in. */
async function storedSecrets(authDir: string, key: StoreKey): Promise<string[]> {
  const backend = new FileTokenStore({ dir: authDir });
  const store = new SealedTokenStore(backend, { key });
  const secrets: string[] = [];
  for (const upstream of await store.keys()) {
    for (const grant of await store.grantKeys(upstream)) {
      const tokens = await store.read(grant, "tokens");
      for (const value of [tokens?.tokens.access_token, tokens?.tokens.refresh_token, tokens?.tokens.id_token]) {
        if (value) secrets.push(value);
      }
    }
    const client = await store.read(upstream, "client_info");
    if (client?.client.client_secret) secrets.push(client.client.client_secret);
  }
  return secrets.flatMap((secret) => [
    secret,
    Buffer.from(secret).toString("base64"),
    Buffer.from(secret).toString("base64url"),
    Buffer.from(secret).toString("hex"),
  ]);
}

/** Asserts every file of the store is an envelope sealed with `key` and contains none of the secrets. */
async function assertNoSecretOnDisk(authDir: string, key: StoreKey): Promise<number> {
  const secrets = await storedSecrets(authDir, key);
  assert.ok(secrets.length >= 8, "an access and a refresh token at least were stored");
  const names = await readdir(authDir);
  assert.ok(names.length >= 2);
  for (const name of names) {
    const text = await readFile(join(authDir, name), "utf8");
    for (const secret of secrets) assert.ok(!text.includes(secret), `a stored secret is in ${name}`);
    if (name.endsWith(".json")) {
      const record = JSON.parse(text);
      assert.ok(isSealedEnvelope(record), `${name} is encrypted`);
      assert.equal(record.sealed.kid, key.id);
    }
  }
  return secrets.length / 4;
}

describe("encrypted token store through the CLI", () => {
  let as: TestAuthServer;
  let mcp: TestMcpServer;
  let dir: string;
  let authDir: string;
  let common: string[];
  let keyA: KeyOnDisk;
  let keyB: KeyOnDisk;
  const outputs: string[] = [];

  before(async () => {
    as = await startAuthServer();
    mcp = await startMcpServer({ authServer: as });
    dir = await mkdtemp(join(tmpdir(), "u2m-encrypt-"));
    authDir = join(dir, "auth");
    common = ["--auth-dir", authDir, "--port", String(await freePort())];
    keyA = await keyFile(dir, "a.key");
    keyB = await keyFile(dir, "b.key");
  });
  after(async () => {
    await mcp.close();
    await as.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function run(args: string[], env?: Record<string, string>): Promise<Run> {
    const result = await cli(args, env);
    outputs.push(result.stdout, result.stderr);
    return result;
  }

  test("auth with --store-key-file: no token, refresh token or client secret in any file of the store", async () => {
    const auth = await run(["auth", mcp.url, ...common, "--store-key-file", keyA.file], { TEST_BROWSER_LOGIN: "dave" });
    assert.equal(auth.code, 0, auth.stderr);
    assert.match(auth.stdout, /Signed in\./);
    await assertNoSecretOnDisk(authDir, keyA.key);
    for (const name of await readdir(authDir)) assert.equal((await stat(join(authDir, name))).mode & 0o777, 0o600);
    // The same key from the environment reads it; a refresh writes it sealed again.
    const status = await run(["status", mcp.url, "--json", ...common], { MCP_PROXY_STORE_KEY: keyA.text });
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).account, "dave");
    const refresh = await run(["refresh", mcp.url, ...common], { MCP_PROXY_STORE_KEY_FILE: keyA.file });
    assert.equal(refresh.code, 0, refresh.stderr);
    await assertNoSecretOnDisk(authDir, keyA.key);
  });

  test("a wrong key or no key: exit 6 naming the key id needed, and nothing in the store changes", async () => {
    const before = await snapshot(authDir);
    const authorizations = as.stats.authorizationRequests;
    const wrong = await run(["status", mcp.url, ...common, "--store-key-file", keyB.file]);
    assert.equal(wrong.code, 6, wrong.stderr);
    assert.match(
      wrong.stderr,
      new RegExp(`encrypted with store key ${keyA.key.id}, not with the given key ${keyB.key.id}`),
    );
    assert.match(wrong.stderr, new RegExp(`Give the key whose id is ${keyA.key.id}`));
    const missing = await run(["list", ...common]);
    assert.equal(missing.code, 6, missing.stderr);
    assert.match(missing.stderr, new RegExp(`encrypted with store key ${keyA.key.id}, and no store key was given`));
    // Signing in again with the wrong key would replace the tokens: refused before any browser opens.
    const auth = await run(["auth", mcp.url, "--force", ...common], { MCP_PROXY_STORE_KEY: keyB.text });
    assert.equal(auth.code, 6, auth.stderr);
    assert.equal(as.stats.authorizationRequests, authorizations, "no sign-in was started");
    const clear = await run(["refresh", mcp.url, ...common], { MCP_PROXY_STORE_KEY: keyB.text });
    assert.equal(clear.code, 6);
    assert.deepEqual(await snapshot(authDir), before, "no file moved, rewritten or removed");
    const right = await run(["status", mcp.url, ...common, "--store-key-file", keyA.file]);
    assert.equal(right.code, 0, right.stderr);
  });

  test("store rekey moves every record to the new key; decrypt and encrypt round-trip too", async () => {
    const records = (await readdir(authDir)).filter((name) => name.endsWith(".json")).length;
    const rekey = await run([
      "store",
      "rekey",
      ...common,
      "--store-key-file",
      keyA.file,
      "--new-store-key-file",
      keyB.file,
    ]);
    assert.equal(rekey.code, 0, rekey.stderr);
    assert.match(
      rekey.stdout,
      new RegExp(`Rekeying ${records} of ${records} records .* to store key ${keyB.key.id} from ${keyA.key.id}`),
    );
    assert.match(rekey.stdout, new RegExp(`Rekeyed ${records} records to store key ${keyB.key.id}\\.`));
    await assertNoSecretOnDisk(authDir, keyB.key);
    const census = JSON.parse(
      (await run(["store", "status", "--json", ...common], { MCP_PROXY_STORE_KEY: keyB.text })).stdout,
    );
    assert.deepEqual(census.byKeyId, { [keyB.key.id]: records });
    assert.equal(census.keyId, keyB.key.id);

    const signedIn = await run(["status", mcp.url, ...common, "--store-key-file", keyB.file]);
    assert.equal(signedIn.code, 0, signedIn.stderr);
    const oldKey = await run(["status", mcp.url, ...common, "--store-key-file", keyA.file]);
    assert.equal(oldKey.code, 6);
    const again = await run([
      "store",
      "rekey",
      ...common,
      "--store-key-file",
      keyA.file,
      "--new-store-key-file",
      keyB.file,
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      new RegExp(`Rekeyed 0 records to store key ${keyB.key.id} \\(${records} already were\\)`),
    );

    const decrypt = await run(["store", "decrypt", ...common, "--store-key-file", keyB.file]);
    assert.equal(decrypt.code, 0, decrypt.stderr);
    for (const name of await readdir(authDir)) {
      assert.ok(!isSealedEnvelope(JSON.parse(await readFile(join(authDir, name), "utf8"))), name);
    }
    const plain = await run(["status", mcp.url, ...common]);
    assert.equal(plain.code, 0, plain.stderr);
    const encrypt = await run(["store", "encrypt", ...common], { MCP_PROXY_STORE_KEY: keyA.text });
    assert.equal(encrypt.code, 0, encrypt.stderr);
    assert.match(encrypt.stdout, new RegExp(`Encrypted ${records} records .* with store key ${keyA.key.id}`));
    await assertNoSecretOnDisk(authDir, keyA.key);
  });

  test("serve with the wrong key: MCP requests get an error naming the key id needed, the store is untouched", async () => {
    const before = await snapshot(authDir);
    const port = await freePort();
    const serve = spawn(process.execPath, [BIN, "serve", mcp.url, "--auth-dir", authDir, "--port", String(port)], {
      env: { ...process.env, MCP_PROXY_STORE_KEY: keyB.text, BROWSER: HEADLESS_BROWSER_PATH },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    serve.stdout.on("data", (chunk) => (output += chunk));
    serve.stderr.on("data", (chunk) => (output += chunk));
    const exited = once(serve, "exit");
    try {
      while (!output.includes("is ready")) {
        if (serve.exitCode !== null) assert.fail(`serve exited: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const response = await fetch(`http://127.0.0.1:${port}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
        }),
      });
      const body = (await response.json()) as { error?: { message: string; data?: Record<string, unknown> } };
      assert.equal(body.error?.data?.proxyError, "STORE_KEY_WRONG", JSON.stringify(body));
      assert.match(
        body.error!.message,
        new RegExp(`encrypted with store key ${keyA.key.id}, not with the given key ${keyB.key.id}`),
      );
      outputs.push(JSON.stringify(body));
    } finally {
      serve.kill("SIGTERM");
      await exited;
      outputs.push(output);
    }
    assert.deepEqual(await snapshot(authDir), before, "nothing moved, rewritten or removed");
  });

  test("a key file others can read is refused before the store is touched", async () => {
    const open = join(dir, "open.key");
    await writeFile(open, `${keyA.text}\n`, { mode: 0o644 });
    const before = await snapshot(authDir);
    const result = await run(["status", mcp.url, ...common, "--store-key-file", open]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /can be read or written by other users \(mode 0644\).*chmod 600/);
    assert.deepEqual(await snapshot(authDir), before);
  });

  test("the stdio face signs in and serves with a key from the environment, storing nothing in clear", async () => {
    const stdioDir = join(dir, "stdio-auth");
    const client = new Client({ name: "encrypt-test", version: "1.0.0" });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, "stdio", mcp.url, "--auth-dir", stdioDir, "--port", String(await freePort())],
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: process.env.HOME ?? dir,
          BROWSER: HEADLESS_BROWSER_PATH,
          TEST_BROWSER_LOGIN: "erin",
          MCP_PROXY_STORE_KEY: keyB.text,
        },
        stderr: "pipe",
      }),
    );
    try {
      const result = await client.callTool({ name: "whoami", arguments: {} });
      const text = (result as { content: Array<{ text?: string }> }).content[0]?.text ?? "";
      assert.match(text, /erin/);
    } finally {
      await client.close();
    }
    await assertNoSecretOnDisk(stdioDir, keyB.key);
  });

  test("no output ever contains a key or a stored secret", async () => {
    const secrets = await storedSecrets(authDir, keyA.key);
    for (const output of outputs) {
      for (const secret of [...secrets, keyA.text, keyB.text])
        assert.ok(!output.includes(secret), "a secret was printed");
    }
  });
});
