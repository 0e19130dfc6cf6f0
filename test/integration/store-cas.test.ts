/**
 * The file store's compare-and-set across real processes: processes racing read-then-write on one record through
 * FileTokenStore each win a revision at most once between them (every revision handed out exactly once, no update
 * lost), and racing creators (expectedRevision null) produce exactly one creator per record.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { bundleHelper, type Child, killHard, spawnHelper } from "./store-helpers/child.ts";

const root = mkdtempSync(join(tmpdir(), "store-cas-"));
const build = mkdtempSync(join(tmpdir(), "store-cas-build-"));
const children: Child[] = [];
let bundled: string | undefined;
before(async () => {
  bundled = await bundleHelper("./cas-worker.ts", build);
});
after(async () => {
  await Promise.all(children.map(killHard));
  rmSync(root, { recursive: true, force: true });
  rmSync(build, { recursive: true, force: true });
});

/** Starts workers, waits until all have loaded, then has them start together; resolves with each one's result line. */
async function race(args: (id: string) => string[], ids: string[], prefix: string): Promise<Map<string, string>> {
  const workers = ids.map((id) => {
    const child = spawnHelper("./cas-worker.ts", args(id), bundled);
    children.push(child);
    return { id, child };
  });
  await Promise.all(workers.map(({ child }) => child.waitForLine((line) => line === "loaded", 60_000)));
  const t0 = Date.now() + 300;
  for (const { child } of workers) child.process.stdin!.write(`go ${t0}\n`);
  const results = new Map<string, string>();
  for (const { id, child } of workers) {
    results.set(id, await child.waitForLine((line) => line.startsWith(prefix), 120_000));
    assert.equal(await child.exited, 0, child.stderr());
  }
  return results;
}

const numbers = (list: string | undefined) => (list ? list.split(",").map(Number) : []);
const leftovers = (dir: string) => readdirSync(dir).filter((name) => name.endsWith(".lock") || name.endsWith(".break"));

describe("file store compare-and-set across processes", { concurrency: true }, () => {
  test("two processes racing read + compare-and-set on one record: exactly one wins each revision", async (t) => {
    const dir = join(root, "cas");
    const key = "00000000000000000000000000000ca5";
    const TARGET = 150;
    const results = await race((id) => ["cas", dir, key, id, String(TARGET)], ["A", "B"], "cas ");
    const won = new Map<number, string>();
    let conflicts = 0;
    for (const [id, line] of results) {
      const [, list, lost] = line.split(" ");
      conflicts += Number(lost);
      for (const revision of numbers(list)) {
        assert.equal(won.get(revision), undefined, `revision ${revision} won by ${won.get(revision)} and by ${id}`);
        won.set(revision, id);
      }
    }
    assert.deepEqual(
      [...won.keys()].sort((a, b) => a - b),
      Array.from({ length: TARGET }, (_, i) => i + 1),
      "every revision was won by exactly one process",
    );
    // What is stored is the last winner's write, at the last revision.
    const record = await new FileTokenStore({ dir }).read(key, "tokens");
    assert.equal(record?.revision, TARGET);
    assert.equal(record?.tokens.access_token, `${won.get(TARGET)}:${TARGET}`);
    assert.deepEqual(leftovers(dir), []);
    const byA = [...won.values()].filter((id) => id === "A").length;
    t.diagnostic(`${TARGET} revisions: A won ${byA}, B won ${TARGET - byA}; ${conflicts} compare-and-sets lost`);
  });

  test("two processes creating the same records (expectedRevision null): exactly one creator per record", async (t) => {
    const dir = join(root, "create");
    const base = "00000000000000000000000000000000";
    const COUNT = 60;
    const results = await race((id) => ["create", dir, base, id, String(COUNT)], ["A", "B"], "create ");
    const creator = new Map<number, string>();
    for (const [id, line] of results) {
      for (const i of numbers(line.split(" ")[1])) {
        assert.equal(creator.get(i), undefined, `record ${i} created by ${creator.get(i)} and by ${id}`);
        creator.set(i, id);
      }
    }
    assert.equal(creator.size, COUNT, "every record was created by one of them");
    const store = new FileTokenStore({ dir });
    for (let i = 1; i <= COUNT; i++) {
      const record = await store.read(`${base.slice(0, -4)}${i.toString(16).padStart(4, "0")}`, "tokens");
      assert.equal(record?.revision, 1, `record ${i}`);
      assert.equal(record?.tokens.access_token, `${creator.get(i)}:created`, `record ${i} is its creator's`);
    }
    assert.deepEqual(leftovers(dir), []);
    const byA = [...creator.values()].filter((id) => id === "A").length;
    t.diagnostic(`${COUNT} records: A created ${byA}, B ${COUNT - byA}`);
  });
});
