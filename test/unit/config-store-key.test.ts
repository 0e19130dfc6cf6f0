/** Where the store key comes from: --store-key-file, MCP_PROXY_STORE_KEY(_FILE), the new key of a rekey; file checks. */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseCliArgs } from "../../src/cli/args.ts";
import { readEnvironment } from "../../src/config/environment.ts";
import { configuredNewStoreKey, configuredStoreKey, readStoreKeyFile } from "../../src/config/store-key-source.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { StoreKey } from "../../src/store/record-cipher.ts";

const dir = mkdtempSync(join(tmpdir(), "store-key-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const bytesA = Buffer.alloc(32, 7);
const bytesB = Buffer.alloc(32, 9);
const idA = new StoreKey(bytesA).id;
const idB = new StoreKey(bytesB).id;

function keyFile(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

test("the key from the environment, a key file, or the flag (which wins)", () => {
  const file = keyFile("a.key", `${bytesB.toString("base64")}\nignored second line\n`);
  const env = (vars: Record<string, string>) => readEnvironment(vars);
  assert.equal(configuredStoreKey(undefined, env({})), undefined);
  assert.equal(configuredStoreKey(undefined, env({ MCP_PROXY_STORE_KEY: bytesA.toString("hex") }))?.id, idA);
  assert.equal(configuredStoreKey(undefined, env({ MCP_PROXY_STORE_KEY_FILE: file }))?.id, idB);
  assert.equal(configuredStoreKey(file, env({ MCP_PROXY_STORE_KEY: bytesA.toString("hex") }))?.id, idB);
  assert.throws(
    () => configuredStoreKey(undefined, env({ MCP_PROXY_STORE_KEY: "x", MCP_PROXY_STORE_KEY_FILE: file })),
    (e: unknown) => isProxyError(e, "USAGE") && /not both/.test(e.message),
  );
  assert.equal(configuredNewStoreKey(undefined, env({ MCP_PROXY_NEW_STORE_KEY: bytesA.toString("base64") }))?.id, idA);
  assert.equal(configuredNewStoreKey(file, env({}))?.id, idB);
});

test("a key file others can read or write, a link, a directory or a missing file is refused, naming the file", () => {
  for (const mode of [0o644, 0o640, 0o604, 0o620]) {
    const path = keyFile(`open-${mode.toString(8)}.key`, bytesA.toString("hex"), mode);
    assert.throws(
      () => readStoreKeyFile(path, "--store-key-file"),
      (e: unknown) =>
        isProxyError(e, "USAGE") &&
        e.message.includes(
          `${path} (--store-key-file) can be read or written by other users (mode 0${mode.toString(8)})`,
        ) &&
        e.hint!.includes(`chmod 600 ${path}`),
    );
  }
  const target = keyFile("target.key", bytesA.toString("hex"));
  symlinkSync(target, join(dir, "link.key"));
  const cases: [string, RegExp][] = [
    [join(dir, "link.key"), /is a symbolic link/],
    [dir, /is not a regular file/],
    [join(dir, "absent.key"), /does not exist/],
    [keyFile("short.key", "abc"), /is not a store key/],
  ];
  for (const [path, reason] of cases) {
    assert.throws(
      () => readStoreKeyFile(path, "MCP_PROXY_STORE_KEY_FILE"),
      (e: unknown) => isProxyError(e, "USAGE") && e.message.includes(path) && reason.test(e.message),
      path,
    );
  }
  assert.equal(readStoreKeyFile(target, "--store-key-file").id, idA);
});

test("the CLI reads the key for commands that open the store, and the new key for store rekey", () => {
  const file = keyFile("cli.key", bytesA.toString("hex"));
  const newFile = keyFile("cli-new.key", bytesB.toString("hex"));
  const args = parseCliArgs(["status", "--store-key-file", file], {});
  assert.equal(args.runtime.storeKey?.id, idA);
  assert.equal(
    parseCliArgs(["auth", "https://mcp.example.com/mcp"], { MCP_PROXY_STORE_KEY: bytesB.toString("hex") }).runtime
      .storeKey?.id,
    idB,
  );
  const rekey = parseCliArgs(["store", "rekey", "--store-key-file", file, "--new-store-key-file", newFile], {});
  assert.equal(rekey.command, "store");
  assert.equal(rekey.store.action, "rekey");
  assert.equal(rekey.store.newKey?.id, idB);
  assert.equal(parseCliArgs(["store"], {}).store.action, "status");
  assert.throws(
    () => parseCliArgs(["store", "rotate"], {}),
    (e: unknown) => isProxyError(e, "USAGE") && /status, encrypt, rekey, decrypt/.test(e.message),
  );
  // --help and commands that never open the store do not fail on a bad key in the environment.
  assert.equal(parseCliArgs(["status", "--help"], { MCP_PROXY_STORE_KEY: "bad" }).runtime.storeKey, undefined);
  assert.throws(
    () => parseCliArgs(["status"], { MCP_PROXY_STORE_KEY: "bad" }),
    (e: unknown) => isProxyError(e, "USAGE") && /MCP_PROXY_STORE_KEY is not a store key/.test(e.message),
  );
});
