/**
 * Child process for store-lock.test.ts. Prints "loaded", then acts when told "go" on stdin:
 *   count <dir> <key> <iterations> [staleMs]  withLock(refresh) read-modify-write of a counter, checking that no one
 *                                            else is inside at the same time; prints "done" (or "overlap", exit 3)
 *   hold  <dir> <key> <name> [staleMs]        takes the lock, prints "locked", holds it until killed
 *   try   <dir> <key> <name> <waitMs> [staleMs] prints "acquired <ms>" or "error <code> <message>"
 * The counter is the access_token of the key's tokens record.
 */
import { join } from "node:path";
import { isProxyError } from "../../../src/lib/errors.ts";
import { FileTokenStore } from "../../../src/store/file-store.ts";
import { incrementUnderLock } from "./counter.ts";

const [mode, dirArg, keyArg, arg, arg2] = process.argv.slice(2);
if (!mode || !dirArg || !keyArg) throw new Error("usage: lock-worker.ts <mode> <dir> <key> …");
const dir: string = dirArg;
const key: string = keyArg;

function storeWith(staleMs: string | undefined): FileTokenStore {
  return new FileTokenStore({ dir, ...(staleMs ? { lockStaleMs: Number(staleMs) } : {}) });
}

async function run(): Promise<void> {
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
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

process.stdin.once("data", () => {
  process.stdin.pause();
  run().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
});
process.stdout.write("loaded\n");
