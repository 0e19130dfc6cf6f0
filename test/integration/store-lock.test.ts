/**
 * The file store's lock across real processes: no lost update under contention, a kill -9'd holder's lock is
 * broken, a long-held lock is kept fresh (not broken), and a busy lock times out with STORE_ERROR.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { bundleHelper, type Child, killHard, spawnHelper } from "./store-helpers/child.ts";
import { incrementUnderLock } from "./store-helpers/counter.ts";

const root = mkdtempSync(join(tmpdir(), "store-lock-"));
const build = mkdtempSync(join(tmpdir(), "store-lock-build-"));
const children: Child[] = [];
let bundled: string | undefined;
before(async () => {
  bundled = await bundleHelper("./lock-worker.ts", build);
});
after(async () => {
  await Promise.all(children.map(killHard));
  rmSync(root, { recursive: true, force: true });
  rmSync(build, { recursive: true, force: true });
});

/** Starts a worker and waits until it has loaded (it acts on go()). */
async function worker(...args: string[]): Promise<Child & { go(): void }> {
  const child = spawnHelper("./lock-worker.ts", args, bundled);
  children.push(child);
  await child.waitForLine((line) => line === "loaded", 60_000);
  return Object.assign(child, { go: () => child.process.stdin!.write("go\n") });
}

const counterOf = async (store: FileTokenStore, key: string) =>
  Number((await store.read(key, "tokens"))?.tokens.access_token);
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const leftovers = (dir: string) => readdirSync(dir).filter((name) => name.endsWith(".lock") || name.endsWith(".break"));

describe("file store lock across processes", { concurrency: true }, () => {
  test("6 processes × 30 and 30 in-process increments under the refresh lock: no lost update, never two inside", async (t) => {
    const dir = join(root, "counter");
    const key = "00000000000000000000000000000001";
    const PROCESSES = 6;
    const EACH = 30;
    const IN_PROCESS = 30;
    const workers = await Promise.all(Array.from({ length: PROCESSES }, () => worker("count", dir, key, String(EACH))));
    for (const w of workers) w.go();
    // Meanwhile this process increments too, through two store instances and concurrent calls.
    const mine = [new FileTokenStore({ dir }), new FileTokenStore({ dir })];
    const local = await Promise.all(
      Array.from({ length: IN_PROCESS }, (_, i) => incrementUnderLock(mine[i % 2]!, key, join(dir, `${key}.inside`))),
    );
    assert.ok(local.every(Boolean), "no overlap seen in this process");
    for (const w of workers) {
      await w.waitForLine((line) => line === "done", 120_000);
      assert.equal(await w.exited, 0, w.stderr());
    }
    const total = PROCESSES * EACH + IN_PROCESS;
    assert.equal(await counterOf(mine[0]!, key), total);
    assert.deepEqual(leftovers(dir), []);
    t.diagnostic(`${PROCESSES} processes + this one, ${total} increments, final count ${total}`);
  });

  test("a lock held by a process that is kill -9'd is broken (default 10 s staleness); the waiters all proceed", async (t) => {
    const dir = join(root, "killed");
    const key = "00000000000000000000000000000002";
    const holder = await worker("hold", dir, key, "refresh");
    holder.go();
    await holder.waitForLine((line) => line === "locked");
    const waiters = await Promise.all(Array.from({ length: 4 }, () => worker("count", dir, key, "5")));
    for (const w of waiters) w.go();
    await delay(500);
    const store = new FileTokenStore({ dir });
    assert.ok(Number.isNaN(await counterOf(store, key)), "nobody got in while the holder lived");

    const killedAt = Date.now();
    await killHard(holder);
    const firsts: number[] = [];
    for (const w of waiters) {
      await w.waitForLine((line) => line.startsWith("first "), 60_000);
      firsts.push(Date.now() - killedAt);
      await w.waitForLine((line) => line === "done", 60_000);
      assert.equal(await w.exited, 0, w.stderr());
    }
    assert.equal(await counterOf(store, key), 20);
    assert.deepEqual(leftovers(dir), []);
    const brokenAfter = Math.min(...firsts);
    // Staleness is judged by the lock's mtime, refreshed every 5 s: broken 5-10 s after the kill, plus scheduling.
    assert.ok(brokenAfter < 30_000, `broken ${brokenAfter} ms after the kill`);
    t.diagnostic(`holder killed; first waiter in ${brokenAfter} ms after the kill; 4 waiters × 5 increments = 20`);
  });

  test("a stale lock and breaker left by a crashed run are broken at once; 6 processes finding them together enter one at a time", async (t) => {
    const dir = join(root, "leftover");
    const key = "00000000000000000000000000000005";
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const name of [`${key}.refresh.lock`, `${key}.refresh.lock.break`]) {
      mkdirSync(join(dir, name));
      utimesSync(join(dir, name), hourAgo, hourAgo);
    }
    const workers = await Promise.all(Array.from({ length: 6 }, () => worker("count", dir, key, "3")));
    const started = Date.now();
    for (const w of workers) w.go();
    for (const w of workers) {
      await w.waitForLine((line) => line === "done", 60_000);
      assert.equal(await w.exited, 0, w.stderr());
    }
    assert.equal(await counterOf(new FileTokenStore({ dir }), key), 18);
    assert.deepEqual(leftovers(dir), []);
    t.diagnostic(`6 processes × 3 increments after a leftover lock: 18 in ${Date.now() - started} ms`);
  });

  test("6 processes racing to break a stale lock, 25 times: never two inside (proper-lockfile alone lets two in)", async (t) => {
    const dir = join(root, "race");
    const key = "00000000000000000000000000000006";
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ROUNDS = "25";
    const PERIOD = "200";
    const workers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => worker("race", dir, key, ROUNDS, PERIOD, i === 0 ? "1" : "0")),
    );
    const t0 = Date.now() + 400;
    for (const w of workers) w.process.stdin!.write(`go ${t0}\n`);
    let wins = 0;
    let overlaps = 0;
    let planted = 0;
    for (const w of workers) {
      const line = await w.waitForLine((l) => l.startsWith("race "), 60_000);
      const [won, overlapped, plants] = line.split(" ").slice(1).map(Number);
      wins += won!;
      overlaps += overlapped!;
      planted += plants!;
      assert.equal(await w.exited, 0, w.stderr());
    }
    assert.equal(overlaps, 0);
    assert.ok(planted > 0 && wins >= planted, `${wins} entries, ${planted} stale locks planted`);
    assert.deepEqual(leftovers(dir), []);
    t.diagnostic(`${planted} stale locks planted and raced for, ${wins} entries, ${overlaps} overlaps`);
  });

  test("a lock held longer than the staleness period is kept fresh and not broken; others time out", async (t) => {
    const dir = join(root, "long");
    const key = "00000000000000000000000000000003";
    const store = new FileTokenStore({ dir, lockStaleMs: 2000 });
    const contender = await worker("try", dir, key, "sign-in", "5000", "2000");
    let outcome = "";
    await store.withLock(key, "sign-in", async () => {
      contender.go();
      outcome = await contender.waitForLine((line) => line.startsWith("acquired") || line.startsWith("error"), 60_000);
    });
    // The contender waited 5 s — 2.5 times the staleness period — and never broke the lock.
    assert.match(outcome, /^error STORE_ERROR Timed out after 5 s waiting for the sign-in lock/);
    const after = await worker("try", dir, key, "sign-in", "5000", "2000");
    after.go();
    assert.match(
      await after.waitForLine((line) => line.startsWith("acquired") || line.startsWith("error")),
      /^acquired/,
    );
    assert.deepEqual(leftovers(dir), []);
    t.diagnostic(`held 5+ s with 2 s staleness: ${outcome.slice(0, 60)}…`);
  });

  test("a lock held by another process makes withLock time out with STORE_ERROR naming the lock", async () => {
    const dir = join(root, "busy");
    const key = "00000000000000000000000000000004";
    const holder = await worker("hold", dir, key, "refresh");
    holder.go();
    await holder.waitForLine((line) => line === "locked");
    const store = new FileTokenStore({ dir });
    await assert.rejects(
      store.withLock(key, "refresh", async () => "never", { waitMs: 400 }),
      (error: unknown) => {
        assert.ok(isProxyError(error, "STORE_ERROR"));
        assert.match(error.message, /Timed out after 400 ms waiting for the refresh lock of 0+4/);
        assert.match(error.hint ?? "", /refreshing tokens/);
        return true;
      },
    );
    // A clean exit (SIGTERM) releases the lock at once.
    holder.process.kill("SIGTERM");
    await holder.exited;
    assert.equal(await store.withLock(key, "refresh", async () => "free", { waitMs: 2000 }), "free");
    assert.equal(existsSync(join(dir, `${key}.refresh.lock`)), false);
  });
});
