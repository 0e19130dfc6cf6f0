/**
 * Child process for store-crash.test.ts: once told "go" on stdin, rewrites one tokens record forever, alternating
 * two large payloads, and prints "ready" after the first complete write. The test kills it with SIGKILL.
 * Usage: crash-writer.ts <dir> <key>
 */
import { FileTokenStore } from "../../../src/store/file-store.ts";
import { crashPayload } from "./records.ts";

const [dir, key] = process.argv.slice(2);
if (!dir || !key) throw new Error("usage: crash-writer.ts <dir> <key>");
const store = new FileTokenStore({ dir });

process.stdin.once("data", async () => {
  process.stdin.pause();
  for (let i = 0; ; i++) {
    await store.write(key, "tokens", crashPayload(i % 2 === 0 ? "a" : "b"));
    if (i === 0) process.stdout.write("ready\n");
  }
});
process.stdout.write("loaded\n");
