/**
 * Crash safety of the file store: a writer rewriting a tokens record in a tight loop is SIGKILLed at random moments,
 * many times; after every kill the record must be one of the two complete payloads, never a torn or mixed one,
 * and temp files of killed writers must not pile up; nor may their write locks hold up the next writer.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { bundleHelper, type Child, killHard, spawnHelper } from "./store-helpers/child.ts";
import { crashPayload } from "./store-helpers/records.ts";

const KILLS = 50;
const KEY = "c0ffee00c0ffee00c0ffee00c0ffee00";
const root = mkdtempSync(join(tmpdir(), "store-crash-"));
const build = mkdtempSync(join(tmpdir(), "store-crash-build-"));
const children: Child[] = [];
after(async () => {
  await Promise.all(children.map(killHard));
  rmSync(root, { recursive: true, force: true });
  rmSync(build, { recursive: true, force: true });
});

let bundled: string | undefined;
const spawnWriter = () => {
  const child = spawnHelper("./crash-writer.ts", [root, KEY], bundled);
  children.push(child);
  return child;
};
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tempFiles = () => readdirSync(root).filter((name) => name.includes(".tmp-"));

test(`a tokens record survives ${KILLS} SIGKILLs of its writer mid-loop: always old or new, never torn`, async (t) => {
  bundled = await bundleHelper("./crash-writer.ts", build);
  const warnings: string[] = [];
  const reader = new FileTokenStore({ dir: root, onWarning: (message) => warnings.push(message) });
  const payloads = { a: crashPayload("a"), b: crashPayload("b") };
  const seen = { a: 0, b: 0 };
  let killedMidWrite = 0;

  // Keep one writer loaded ahead, so tsx start-up overlaps the previous writer's run.
  let next = spawnWriter();
  await next.waitForLine((line) => line === "loaded");
  for (let kill = 0; kill < KILLS; kill++) {
    const writer = next;
    writer.process.stdin!.write("go\n");
    next = spawnWriter();
    await writer.waitForLine((line) => line === "ready");
    await delay(Math.random() * 40);
    await killHard(writer);
    assert.equal(writer.process.signalCode, "SIGKILL", `writer ${kill} was killed, did not fail: ${writer.stderr()}`);

    const record = await reader.read(KEY, "tokens");
    assert.ok(record, `record present after kill ${kill}`);
    const which = record.obtained_at === 1 ? "a" : "b";
    const { revision, ...content } = record;
    assert.deepEqual(content, payloads[which], `after kill ${kill} the record is payload ${which}, complete`);
    assert.ok(Number.isInteger(revision) && revision >= 1, `revision ${revision}`);
    seen[which]++;

    // At most the killed writer's temp file; the next writer's first write removes it.
    const temps = tempFiles();
    assert.ok(temps.length <= 1, `temp files after kill ${kill}: ${temps.join(", ")}`);
    if (temps.length === 1) {
      assert.ok(temps[0]!.includes(`.tmp-${writer.process.pid}-`), `the leftover is the killed writer's: ${temps[0]}`);
      killedMidWrite++;
    }
    await next.waitForLine((line) => line === "loaded");
  }
  await killHard(next);

  assert.deepEqual(warnings, [], "no record was ever found corrupt");
  assert.ok(seen.a + seen.b === KILLS);
  // Once the writer crashes are over, the next write cleans up whatever the last one left.
  await reader.write(KEY, "tokens", payloads.a);
  assert.deepEqual(tempFiles(), []);
  assert.deepEqual(readdirSync(root), [`${KEY}_tokens.json`]);
  t.diagnostic(
    `kills ${KILLS}; read back a ${seen.a}, b ${seen.b}; killed mid-write ${killedMidWrite}; ` +
      `writers ${bundled ? "bundled" : "through tsx"}`,
  );
});
