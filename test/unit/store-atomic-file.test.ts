import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ensurePrivateDir, removeStaleTempFiles, writeFileAtomic } from "../../src/lib/atomic-file.ts";

const root = mkdtempSync(join(tmpdir(), "store-atomic-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const dir = join(root, `d${++n}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
};
const modeOf = (path: string) => statSync(path).mode & 0o777;

/** Runs fn with the process umask set to `mask` (each test file runs in its own process). */
async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

describe("writeFileAtomic", () => {
  test("writes the data with mode 0600 and leaves no temp file", async () => {
    const dir = freshDir();
    const path = join(dir, "a.json");
    await writeFileAtomic(path, '{"a":1}');
    assert.equal(readFileSync(path, "utf8"), '{"a":1}');
    assert.equal(modeOf(path), 0o600);
    assert.deepEqual(readdirSync(dir), ["a.json"]);
  });

  for (const mask of [0, 0o022, 0o077]) {
    test(`mode is exactly the requested one under umask ${mask.toString(8).padStart(3, "0")}`, async () => {
      const dir = freshDir();
      await withUmask(mask, async () => {
        await writeFileAtomic(join(dir, "default"), "x");
        await writeFileAtomic(join(dir, "custom"), "x", { mode: 0o640 });
      });
      assert.equal(modeOf(join(dir, "default")), 0o600);
      assert.equal(modeOf(join(dir, "custom")), 0o640);
    });
  }

  test("replaces an existing file, and its wider mode with 0600", async () => {
    const dir = freshDir();
    const path = join(dir, "a.json");
    writeFileSync(path, "old");
    chmodSync(path, 0o644);
    await writeFileAtomic(path, Buffer.from("new"));
    assert.equal(readFileSync(path, "utf8"), "new");
    assert.equal(modeOf(path), 0o600);
    assert.deepEqual(readdirSync(dir), ["a.json"]);
  });

  test("on failure the target is untouched and the temp file removed", async () => {
    const dir = freshDir();
    const path = join(dir, "target");
    mkdirSync(path); // renaming a file over a directory fails
    writeFileSync(join(path, "inside"), "keep");
    await assert.rejects(writeFileAtomic(path, "data"), (error: NodeJS.ErrnoException) => {
      assert.ok(["EISDIR", "ENOTEMPTY", "EEXIST", "EPERM"].includes(error.code ?? ""), error.code);
      return true;
    });
    assert.deepEqual(readdirSync(dir), ["target"]);
    assert.equal(readFileSync(join(path, "inside"), "utf8"), "keep");
  });

  test("fails with ENOENT when the directory is missing", async () => {
    await assert.rejects(writeFileAtomic(join(root, "missing", "a"), "x"), { code: "ENOENT" });
  });
});

describe("removeStaleTempFiles", () => {
  test("removes temp files of dead writers and old ones, keeps live writers' and unrelated files", async () => {
    const dir = freshDir();
    const target = join(dir, "k_tokens.json");
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    assert.ok(dead && dead > 0);
    const names = {
      dead: `k_tokens.json.tmp-${dead}-aaaaaaaaaaaa`,
      garbage: "k_tokens.json.tmp-notapid",
      mineFresh: `k_tokens.json.tmp-${process.pid}-bbbbbbbbbbbb`,
      mineOld: `k_tokens.json.tmp-${process.pid}-cccccccccccc`,
      liveOther: `k_tokens.json.tmp-${process.ppid}-dddddddddddd`,
      otherRecord: `k_client_info.json.tmp-${dead}-eeeeeeeeeeee`,
      unrelated: "k_tokens.json",
    };
    for (const name of Object.values(names)) writeFileSync(join(dir, name), "x");
    const old = new Date(Date.now() - 20 * 60_000);
    utimesSync(join(dir, names.mineOld), old, old);

    assert.equal(await removeStaleTempFiles(target), 3);
    assert.deepEqual(
      readdirSync(dir).sort(),
      [names.mineFresh, names.liveOther, names.otherRecord, names.unrelated].sort(),
    );
  });

  test("a missing directory is not an error", async () => {
    assert.equal(await removeStaleTempFiles(join(root, "nope", "x.json")), 0);
  });
});

describe("ensurePrivateDir", () => {
  test("creates missing directories with mode 0700, even under umask 0", async () => {
    const dir = join(root, "p1", "nested", "auth");
    const result = await withUmask(0, () => ensurePrivateDir(dir));
    assert.deepEqual(result, { created: true, tightened: false });
    assert.equal(modeOf(dir), 0o700);
    assert.equal(modeOf(join(root, "p1", "nested")), 0o700);
  });

  test("tightens an existing 0755 directory once and says so", async () => {
    const dir = join(root, "p2");
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    assert.deepEqual(await ensurePrivateDir(dir), { created: false, tightened: true, previousMode: 0o755 });
    assert.equal(modeOf(dir), 0o700);
    assert.deepEqual(await ensurePrivateDir(dir), { created: false, tightened: false });
  });

  test("refuses a path that is a file", async () => {
    const path = join(root, "p3");
    writeFileSync(path, "x");
    await assert.rejects(ensurePrivateDir(path));
  });
});
