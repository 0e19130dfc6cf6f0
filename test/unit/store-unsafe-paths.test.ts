/**
 * The file store refuses symbolic links and entries owned by another user, for the token directory and for each
 * record, before reading or changing anything: a planted link is never read, written through or chmodded.
 * Foreign owners are made with chownSync to another uid, which needs root (the norm where these tests run).
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, mock, test } from "node:test";
import { ensurePrivateDir, UnsafePathError, writeFileAtomic } from "../../src/lib/atomic-file.ts";
import { isProxyError, type ProxyError } from "../../src/lib/errors.ts";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { storeKey } from "../../src/store/store-key.ts";
import { asStored, SERVER_URL, tokensRecord } from "../integration/store-helpers/records.ts";

const root = mkdtempSync(join(tmpdir(), "store-unsafe-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const KEY = storeKey(SERVER_URL);
const OTHER_UID = 12345;
const modeOf = (path: string) => lstatSync(path).mode & 0o777;
const fresh = () => join(root, `c${++n}`);
const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
/** chown to another uid needs root; elsewhere the owner tests cannot set themselves up. */
const ownerSkip = uid === 0 ? false : "needs root to chown a file to another uid";

function open(dir: string) {
  const warnings: string[] = [];
  const store = new FileTokenStore({ dir, onWarning: (message) => warnings.push(message) });
  return { store, warnings };
}

/** A tokens record for someone else, somewhere else, readable by all: what an attacker would plant. */
function plantedRecord(): string {
  const path = join(fresh(), "planted_tokens.json");
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, JSON.stringify(tokensRecord("fake-planted-token", { account: "mallory@example.com" })));
  chmodSync(path, 0o644);
  return path;
}

/** The hint of the ProxyError `promise` rejects with. */
async function hintOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => assert.fail("expected a rejection"),
    (rejection: unknown) => rejection,
  );
  assert.ok(isProxyError(error));
  return error.hint ?? "";
}

function isUnsafe(pattern: RegExp, path: string) {
  return (error: unknown): boolean => {
    assert.ok(isProxyError(error, "STORE_UNSAFE"), `expected STORE_UNSAFE, got ${String(error)}`);
    const proxyError = error as ProxyError;
    assert.match(proxyError.message, pattern);
    assert.ok(proxyError.message.includes(path), proxyError.message);
    assert.match(proxyError.hint ?? "", /--auth-dir/);
    assert.equal(proxyError.details?.path, path);
    return true;
  };
}

describe("FileTokenStore refuses symbolic links", () => {
  test("a symlink planted at the tokens path is refused on read; its target is neither read nor chmodded", async () => {
    const dir = fresh();
    const { store, warnings } = open(dir);
    await store.keys();
    const target = plantedRecord();
    const before = readFileSync(target, "utf8");
    const link = store.recordPath(KEY, "tokens");
    symlinkSync(target, link);
    await assert.rejects(store.read(KEY, "tokens"), isUnsafe(/is a symbolic link \(to .*planted_tokens\.json\)/, link));
    assert.match(
      await hintOf(store.read(KEY, "tokens")),
      /^Remove the link \(the store never follows links\), or choose a directory of your own with --auth-dir/,
    );
    assert.equal(modeOf(target), 0o644);
    assert.equal(readFileSync(target, "utf8"), before);
    assert.ok(lstatSync(link).isSymbolicLink(), "the link is left in place, not quarantined");
    assert.deepEqual(warnings, []);
  });

  test("a symlink as the token directory is refused, and the directory it points to is not tightened", async () => {
    const real = fresh();
    mkdirSync(real);
    chmodSync(real, 0o755);
    const dir = fresh();
    symlinkSync(real, dir);
    const { store, warnings } = open(dir);
    for (const call of [
      () => store.keys(),
      () => store.read(KEY, "tokens"),
      () => store.write(KEY, "tokens", tokensRecord()),
    ]) {
      await assert.rejects(call(), isUnsafe(/is a symbolic link/, dir));
    }
    assert.throws(() => store.sidecarPath(KEY, "debug.log"), isUnsafe(/is a symbolic link/, dir));
    assert.equal(modeOf(real), 0o755);
    assert.deepEqual(readdirSync(real), []);
    assert.deepEqual(warnings, []);
  });

  test("ensurePrivateDir refuses a dangling symlink instead of creating its target", async () => {
    const dir = fresh();
    const target = fresh();
    symlinkSync(target, dir);
    await assert.rejects(ensurePrivateDir(dir), (error: unknown) => error instanceof UnsafePathError);
    assert.equal(existsSync(target), false);
  });

  test("a missing directory is still created, 0700", async () => {
    const dir = join(fresh(), "auth");
    const { store } = open(dir);
    await store.write(KEY, "tokens", tokensRecord());
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(await store.read(KEY, "tokens"), asStored(tokensRecord()));
  });
});

describe("FileTokenStore refuses what another user owns", { skip: ownerSkip }, () => {
  test("a token directory owned by another uid is refused and its mode is not changed", async () => {
    const dir = fresh();
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    chownSync(dir, OTHER_UID, OTHER_UID);
    const { store, warnings } = open(dir);
    const owned = new RegExp(`is owned by uid ${OTHER_UID}, not you \\(uid ${uid}\\)`);
    await assert.rejects(store.read(KEY, "tokens"), isUnsafe(owned, dir));
    await assert.rejects(store.write(KEY, "tokens", tokensRecord()), isUnsafe(owned, dir));
    assert.throws(() => store.sidecarPath(KEY, "debug.log"), isUnsafe(owned, dir));
    assert.match(
      await hintOf(store.keys()),
      /^Fix its ownership \(chown it to yourself\) or remove it, or choose a directory of your own with --auth-dir/,
    );
    assert.equal(modeOf(dir), 0o755);
    assert.deepEqual(readdirSync(dir), []);
    assert.deepEqual(warnings, []);
  });

  test("a record file owned by another uid is refused on read, its mode unchanged", async () => {
    const dir = fresh();
    const { store, warnings } = open(dir);
    await store.write(KEY, "tokens", tokensRecord());
    const path = store.recordPath(KEY, "tokens");
    chmodSync(path, 0o644);
    chownSync(path, OTHER_UID, OTHER_UID);
    await assert.rejects(
      store.read(KEY, "tokens"),
      isUnsafe(new RegExp(`is owned by uid ${OTHER_UID}, not you`), path),
    );
    assert.equal(modeOf(path), 0o644);
    assert.equal(lstatSync(path).uid, OTHER_UID);
    assert.deepEqual(warnings, []);
  });
});

describe("writeFileAtomic and a planted temp-file link", () => {
  test("a symlink planted at the temp-file path is not written through, nor removed", async (t) => {
    const dir = fresh();
    mkdirSync(dir, { mode: 0o700 });
    const victim = join(fresh(), "victim");
    mkdirSync(join(victim, ".."));
    writeFileSync(victim, "original");
    chmodSync(victim, 0o644);
    // Pin the random part of the temp name so the link can be planted where the next write will put its temp file.
    const random = Buffer.from("a1b2c3d4e5f6", "hex");
    t.mock.method(crypto, "randomBytes", () => random);
    syncBuiltinESMExports();
    t.after(() => {
      mock.restoreAll();
      syncBuiltinESMExports();
    });
    const { store } = open(dir);
    const path = store.recordPath(KEY, "tokens");
    const temp = `${path}.tmp-${process.pid}-a1b2c3d4e5f6`;
    symlinkSync(victim, temp);

    await assert.rejects(
      writeFileAtomic(path, "new data"),
      (error: unknown) => error instanceof UnsafePathError && error.path === temp && error.problem === "symlink",
    );
    await assert.rejects(store.write(KEY, "tokens", tokensRecord()), isUnsafe(/is a symbolic link/, temp));
    assert.equal(readFileSync(victim, "utf8"), "original");
    assert.equal(modeOf(victim), 0o644);
    assert.ok(lstatSync(temp).isSymbolicLink(), "an entry we did not create is not ours to delete");
    assert.equal(existsSync(path), false);
  });
});
