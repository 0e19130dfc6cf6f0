/**
 * Child process for store-cas.test.ts. Prints "loaded", then acts when told "go <t0>" on stdin (t0: epoch ms, so
 * the racers start together):
 *   cas    <dir> <key> <id> <target>  from t0 until the tokens record reaches revision <target>: read it, pause 0-2 ms
 *                                     (a caller's work between read and write), write "<id>:<revision + 1>" with
 *                                     expectedRevision (null while there is none); prints
 *                                     "cas <revisions won, comma separated> <conflicts>"
 *   create <dir> <key> <id> <count>   for i in 1..count, at t0 + i × 15 ms: write the tokens record of key i (the key
 *                                     with i in its last hex digits) with expectedRevision null; prints
 *                                     "create <i won, comma separated>"
 * Every write goes through the file store, so these processes share nothing but the directory.
 */
import { isProxyError } from "../../../src/lib/errors.ts";
import { FileTokenStore } from "../../../src/store/file-store.ts";
import { tokensRecord } from "./records.ts";

const [mode, dir, key, id, countArg] = process.argv.slice(2);
if (!mode || !dir || !key || !id || !countArg) throw new Error("usage: cas-worker.ts <mode> <dir> <key> <id> <n>");
const count = Number(countArg);
const store = new FileTokenStore({ dir });

/** The key for record i of the create race: the base key with its last 4 hex digits replaced (as the test does). */
function createKey(base: string, i: number): string {
  return `${base.slice(0, -4)}${i.toString(16).padStart(4, "0")}`;
}

const sleepUntil = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

async function cas(t0: number): Promise<string> {
  const won: number[] = [];
  let conflicts = 0;
  await sleepUntil(t0);
  for (;;) {
    const current = await store.read(key!, "tokens");
    const revision = current?.revision ?? 0;
    if (revision >= count) break;
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
    try {
      const written = await store.write(key!, "tokens", tokensRecord(`${id}:${revision + 1}`), {
        expectedRevision: current ? revision : null,
      });
      if (written !== revision + 1) throw new Error(`wrote revision ${written} after reading ${revision}`);
      won.push(written);
    } catch (error) {
      if (!isProxyError(error, "STORE_CONFLICT")) throw error;
      conflicts++;
    }
  }
  return `cas ${won.join(",")} ${conflicts}`;
}

async function create(t0: number): Promise<string> {
  const won: number[] = [];
  for (let i = 1; i <= count; i++) {
    await sleepUntil(t0 + i * 15);
    try {
      await store.write(createKey(key!, i), "tokens", tokensRecord(`${id}:created`), { expectedRevision: null });
      won.push(i);
    } catch (error) {
      if (!isProxyError(error, "STORE_CONFLICT")) throw error;
    }
  }
  return `create ${won.join(",")}`;
}

process.stdin.setEncoding("utf8").once("data", (goLine: string) => {
  process.stdin.pause();
  const t0 = Number(goLine.trim().split(" ")[1]);
  (mode === "cas" ? cas(t0) : create(t0)).then(
    (line) => {
      process.stdout.write(`${line}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
});
process.stdout.write("loaded\n");
