/** The lock tests' critical section: read-modify-write of a counter, with a detector for two holders at once. */
import { mkdir, rmdir } from "node:fs/promises";
import type { TokenStore } from "../../../src/store/token-store.ts";
import { tokensRecord } from "./records.ts";

/**
 * Under the key's refresh lock: marks "inside" by creating `insideMarker` (mkdir fails if another holder is inside),
 * reads the counter (the tokens record's access_token), waits a little, writes counter + 1, removes the mark.
 * Returns false if someone else was inside at the same time (the lock failed).
 */
export async function incrementUnderLock(store: TokenStore, key: string, insideMarker: string): Promise<boolean> {
  return store.withLock(key, "refresh", async () => {
    try {
      await mkdir(insideMarker);
    } catch {
      return false;
    }
    const current = Number((await store.read(key, "tokens"))?.tokens.access_token ?? "0");
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
    await store.write(key, "tokens", tokensRecord(String(current + 1)));
    await rmdir(insideMarker);
    return true;
  });
}

/** Marks "inside" for 20 ms; false if someone else was inside (mkdir of the marker failed). */
export async function enter(insideMarker: string): Promise<boolean> {
  try {
    await mkdir(insideMarker);
  } catch {
    return false;
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  await rmdir(insideMarker);
  return true;
}
