/**
 * A short exclusive lock around one record's read-compare-rename, across processes: what makes the file store's
 * revisions and compare-and-set hold when several processes share the directory.
 *
 * Not the refresh/sign-in locks of file-lock.ts: those are held for seconds to minutes and judged stale by an mtime
 * their holder refreshes every few seconds, so a holder killed mid-hold delays everyone by 5-10 s. A write holds
 * its lock for milliseconds, and a process killed while writing was most likely killed in the middle of one; so this
 * lock is a file naming its owner (host name and pid), broken at once when that process no longer exists, and only
 * after `staleMs` otherwise (an owner on another host, or not yet written). Breaking happens under a short-lived
 * `<lock>.break` directory, after checking again under it, as in file-lock.ts.
 */
import { constants } from "node:fs";
import { lstat, mkdir, open, rmdir, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { isErrno, isProcessAlive } from "../lib/atomic-file.ts";
import { ProxyError } from "../lib/errors.ts";
import { KeyedMutex } from "./keyed-mutex.ts";

/** One queue per lock path for the whole process, so two stores on one directory serialise here, not by polling. */
const inProcess = new KeyedMutex();
const HOST = hostname();
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);

export interface RecordLockOptions {
  /** Give up after this long (in-process and cross-process waiting together): ProxyError STORE_ERROR. */
  waitMs: number;
  /** A lock older than this whose owner cannot be checked (another host, no owner written) is broken. */
  staleMs: number;
  /** Told when the lock was found taken over at release (this process held it for longer than staleMs). */
  onLost?: (message: string) => void;
}

interface Held {
  ino: number;
  dev: number;
}

/**
 * Runs fn while holding the lock file `lockPath`. fn's result and errors pass through; the lock is released either
 * way. File-system errors other than "held by someone else" (ENOENT when the directory is gone, say) are thrown
 * as they are, for the caller to wrap.
 */
export async function withRecordLock<T>(
  lockPath: string,
  options: RecordLockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + options.waitMs;
  const releaseLocal = await inProcess.acquire(lockPath, options.waitMs);
  if (!releaseLocal) throw timedOut(lockPath, options.waitMs);
  try {
    const held = await acquire(lockPath, deadline, options);
    try {
      return await fn();
    } finally {
      await release(lockPath, held, options.onLost);
    }
  } finally {
    releaseLocal();
  }
}

async function acquire(lockPath: string, deadline: number, options: RecordLockOptions): Promise<Held> {
  for (let attempt = 0; ; attempt++) {
    const held = await tryCreate(lockPath);
    if (held) return held;
    if (await breakIfStale(lockPath, options.staleMs)) continue;
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw timedOut(lockPath, options.waitMs);
    // 1, 2, 4 … capped at 20 ms, ±50 %: a write is over in milliseconds, and waiters should not move in step.
    await sleep(Math.min(remaining, Math.min(20, 2 ** Math.min(attempt, 5)) * (0.5 + Math.random())));
  }
}

/** Creates the lock file with its owner in it; undefined when it exists already. */
async function tryCreate(lockPath: string): Promise<Held | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(lockPath, CREATE_FLAGS, 0o600);
  } catch (error) {
    if (isErrno(error, "EEXIST")) return undefined;
    throw error;
  }
  try {
    await handle.writeFile(`${HOST}\n${process.pid}\n`);
    const info = await handle.stat();
    await handle.close();
    return { ino: info.ino, dev: info.dev };
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(lockPath).catch(() => {});
    throw error;
  }
}

/** Whether the lock at lockPath may be broken now; "gone" when there is none. */
async function isStale(lockPath: string, staleMs: number): Promise<boolean | "gone"> {
  let info: Awaited<ReturnType<typeof lstat>>;
  try {
    info = await lstat(lockPath);
  } catch (error) {
    if (isErrno(error, "ENOENT")) return "gone";
    throw error;
  }
  if (info.isFile()) {
    const owner = await readOwner(lockPath);
    // A pid is only meaningful on its own host; this process's own pid is alive by definition.
    if (owner && owner.host === HOST && owner.pid !== process.pid && !isProcessAlive(owner.pid)) return true;
  }
  return info.mtimeMs < Date.now() - staleMs;
}

/**
 * Removes lockPath if it is stale. Only one process at a time may (the breaker directory), and it checks again once
 * it holds the breaker, so a lock taken meanwhile is never removed. True when the lock is gone: worth retrying now.
 */
async function breakIfStale(lockPath: string, staleMs: number): Promise<boolean> {
  const first = await isStale(lockPath, staleMs);
  if (first !== true) return first === "gone";
  const breaker = `${lockPath}.break`;
  try {
    await mkdir(breaker);
  } catch (error) {
    if (!isErrno(error, "EEXIST")) throw error;
    // Someone is breaking it now; a breaker older than staleMs was left by a process killed while breaking.
    const since = await stat(breaker).then(
      (info) => info.mtimeMs,
      () => undefined,
    );
    if (since !== undefined && since < Date.now() - staleMs) await rmdir(breaker).catch(() => {});
    return false;
  }
  try {
    const again = await isStale(lockPath, staleMs);
    if (again !== true) return again === "gone";
    await unlink(lockPath).catch((error: unknown) => {
      if (!isErrno(error, "ENOENT")) throw error;
    });
    return true;
  } finally {
    await rmdir(breaker).catch(() => {});
  }
}

/** The owner a lock file names, or undefined while it is still being written (or is not ours to read). */
async function readOwner(lockPath: string): Promise<{ host: string; pid: number } | undefined> {
  try {
    const handle = await open(lockPath, READ_FLAGS);
    try {
      const buffer = Buffer.alloc(512);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      const [host, pid] = buffer.toString("utf8", 0, bytesRead).split("\n");
      const parsed = Number(pid);
      return host && Number.isInteger(parsed) && parsed > 0 ? { host, pid: parsed } : undefined;
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}

async function release(lockPath: string, held: Held, onLost: ((message: string) => void) | undefined): Promise<void> {
  const info = await lstat(lockPath).catch(() => undefined);
  // Gone (the directory was removed, say) or another's: someone judged it stale and broke it; nothing to undo.
  if (!info) return;
  if (info.ino !== held.ino || info.dev !== held.dev) {
    onLost?.(`The write lock ${lockPath} was broken while this process held it (it stalled); left the new one alone.`);
    return;
  }
  await unlink(lockPath).catch((error: unknown) => {
    if (!isErrno(error, "ENOENT")) throw error;
  });
}

function timedOut(lockPath: string, waitMs: number): ProxyError {
  return new ProxyError("STORE_ERROR", `Timed out after ${waitMs} ms waiting for the write lock ${lockPath}.`, {
    hint: `Another mcp-u2m-proxy process is writing this record and has not finished; if none is running, remove ${lockPath}.`,
    details: { lockPath, waitMs },
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
