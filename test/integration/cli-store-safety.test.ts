// The built CLI refuses an unsafe token store (a planted symbolic link, a directory owned by someone else) with
// the store exit code and a message naming the path, before reading, tightening or contacting anything.
import assert from "node:assert/strict";
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { EXIT } from "../../src/cli/exit-codes.ts";
import { storeKey } from "../../src/store/store-key.ts";
import { tokensRecord } from "./store-helpers/records.ts";
import { cli } from "./support/built-cli.ts";

// Nothing listens here and nothing should be asked: the store is refused first.
const URL = "http://127.0.0.1:9/mcp";
const KEY = storeKey(URL);
const root = mkdtempSync(join(tmpdir(), "u2m-cli-store-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const modeOf = (path: string) => lstatSync(path).mode & 0o777;

/** A world-readable tokens record for another account, outside the store. */
function planted(): string {
  const path = join(root, `planted${++n}.json`);
  writeFileSync(
    path,
    JSON.stringify(tokensRecord("fake-planted-token", { server_url: URL, account: "mallory@example.com" })),
  );
  chmodSync(path, 0o644);
  return path;
}

describe("CLI and an unsafe token store", () => {
  test("status <url> with a symlink planted at the tokens path exits 6 naming the link, and reads nothing", async () => {
    const authDir = join(root, `auth${++n}`);
    mkdirSync(authDir, { mode: 0o700 });
    const target = planted();
    const link = join(authDir, `${KEY}_tokens.json`);
    symlinkSync(target, link);
    const run = await cli(["status", URL, "--auth-dir", authDir]);
    assert.equal(run.code, EXIT.store, run.stderr);
    assert.ok(run.stderr.includes(`Refusing to use the token store: ${link} is a symbolic link`), run.stderr);
    assert.match(run.stderr, /Remove the link .*--auth-dir/);
    assert.doesNotMatch(run.stdout + run.stderr, /mallory|fake-planted-token/);
    assert.equal(modeOf(target), 0o644);
  });

  test("status <url> with --auth-dir a symlink to a directory exits 6 and leaves the directory's mode", async () => {
    const real = join(root, `real${++n}`);
    mkdirSync(real);
    chmodSync(real, 0o755);
    const authDir = join(root, `link${n}`);
    symlinkSync(real, authDir);
    const run = await cli(["status", URL, "--auth-dir", authDir]);
    assert.equal(run.code, EXIT.store, run.stderr);
    assert.ok(run.stderr.includes(`${authDir} is a symbolic link (to ${real})`), run.stderr);
    assert.equal(modeOf(real), 0o755);
  });

  test("status <url> with --auth-dir owned by another uid exits 6 and does not tighten it", {
    skip: process.getuid?.() === 0 ? false : "needs root to chown a directory to another uid",
  }, async () => {
    const authDir = join(root, `foreign${++n}`);
    mkdirSync(authDir);
    chmodSync(authDir, 0o755);
    chownSync(authDir, 12345, 12345);
    const run = await cli(["status", URL, "--auth-dir", authDir]);
    assert.equal(run.code, EXIT.store, run.stderr);
    assert.ok(run.stderr.includes(`${authDir} is owned by uid 12345, not you (uid 0)`), run.stderr);
    assert.match(run.stderr, /Fix its ownership .*--auth-dir/);
    assert.equal(modeOf(authDir), 0o755);
  });
});
