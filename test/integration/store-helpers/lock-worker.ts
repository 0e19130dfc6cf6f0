/**
 * Child process for store-lock.test.ts. Prints "loaded", then acts when told "go" on stdin:
 *   count <dir> <key> <iterations> [staleMs]  withLock(refresh) read-modify-write of a counter, checking that no one
 *                                            else is inside at the same time; prints "done" (or "overlap", exit 3)
 *   hold  <dir> <key> <name> [staleMs]        takes the lock, prints "locked", holds it until killed
 *   try   <dir> <key> <name> <waitMs> [staleMs] prints "acquired <ms>" or "error <code> <message>"
 *   race  <dir> <key> <rounds> <periodMs> <plant> told "go <t0>": at t0 + r × periodMs tries the refresh lock once
 *                                            (waitMs 0) and holds it 20 ms. With plant=1, plants before each round a lock that
 *                                            looks abandoned an hour ago. Prints "race <wins> <overlaps> <planted>"
 * The counter is the access_token of the key's tokens record.
 */
import { mkdir, utimes } from "node:fs/promises";
import { join } from "node:path";
import { isProxyError } from "../../../src/lib/errors.ts";
import { FileTokenStore } from "../../../src/store/file-store.ts";
import { enter, incrementUnderLock } from "./counter.ts";

const [mode, dirArg, keyArg, arg, arg2] = process.argv.slice(2);
if (!mode || !dirArg || !keyArg) throw new Error("usage: lock-worker.ts <mode> <dir> <key> …");
const dir: string = dirArg;
const key: string = keyArg;

function storeWith(staleMs: string | undefined): FileTokenStore {
  return new FileTokenStore({ dir, ...(staleMs ? { lockStaleMs: Number(staleMs) } : {}) });
}

async function run(goLine: string): Promise<void> {
  const started = Date.now();
  switch (mode) {
    case "count": {
      const store = storeWith(arg2);
      for (let i = 0; i < Number(arg); i++) {
        const ok = await incrementUnderLock(store, key, join(dir, `${key}.inside`));
        if (!ok) {
          process.stdout.write("overlap\n");
          process.exit(3);
        }
        if (i === 0) process.stdout.write(`first ${Date.now() - started}\n`);
      }
      process.stdout.write("done\n");
      return;
    }
    case "hold": {
      const store = storeWith(arg2);
      await store.withLock(key, arg as "refresh", async () => {
        process.stdout.write("locked\n");
        await new Promise(() => {});
      });
      return;
    }
    case "try": {
      const store = storeWith(process.argv[7]);
      try {
        await store.withLock(key, arg as "refresh", async () => {}, { waitMs: Number(arg2) });
        process.stdout.write(`acquired ${Date.now() - started}\n`);
      } catch (error) {
        if (!isProxyError(error)) throw error;
        process.stdout.write(`error ${error.code} ${error.message}\n`);
      }
      return;
    }
    case "race": {
      const store = new FileTokenStore({ dir });
      const [rounds, period, plant] = [Number(arg), Number(arg2), process.argv[7] === "1"];
      const t0 = Number(goLine.split(" ")[1]);
      const lockPath = join(dir, `${key}.refresh.lock`);
      let wins = 0;
      let overlaps = 0;
      let planted = 0;
      for (let round = 0; round < rounds; round++) {
        const at = t0 + round * period;
        // The planter plants between rounds (a round's winner holds the lock for 20 ms), everyone races at `at`.
        if (plant) {
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - period / 2 - Date.now())));
          if (await plantStaleLock(lockPath)) planted++;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
        await store
          .withLock(
            key,
            "refresh",
            async () => {
              wins++;
              if (!(await enter(join(dir, `${key}.inside`)))) overlaps++;
            },
            { waitMs: 0 },
          )
          .catch((error: unknown) => {
            if (!isProxyError(error, "STORE_ERROR")) throw error;
          });
      }
      process.stdout.write(`race ${wins} ${overlaps} ${planted}\n`);
      return;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

/** A lock directory whose mtime says its owner stopped refreshing it an hour ago; false if one exists already. */
async function plantStaleLock(lockPath: string): Promise<boolean> {
  try {
    await mkdir(lockPath);
  } catch {
    return false;
  }
  const hourAgo = new Date(Date.now() - 3_600_000);
  await utimes(lockPath, hourAgo, hourAgo);
  return true;
}

process.stdin.setEncoding("utf8").once("data", (goLine: string) => {
  process.stdin.pause();
  run(goLine.trim()).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
});
process.stdout.write("loaded\n");
