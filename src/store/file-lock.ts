/**
 * A cross-process exclusive lock on a path, for the file store's refresh and sign-in locks.
 *
 * proper-lockfile does the locking: the lock is a directory made with mkdir (atomic on every local file system),
 * and while held its mtime is touched every `staleMs / 2` so a long hold (a 5-minute sign-in) stays fresh.
 * Two things are added around it:
 * - An in-process queue in front (proper-lockfile answers ELOCKED to a second lock from the same process
 *   rather than waiting), shared by every store instance in the process.
 * - Stale-lock breaking done here, under a short "breaker" lock, instead of by proper-lockfile: its own
 *   stat-then-rmdir lets two waiters that both saw the dead lock remove each other's fresh lock and both enter.
 *   Here a waiter removes a stale lock only while holding `<lock>.break` and after re-checking the mtime.
 */
import { mkdir, rmdir, stat } from "node:fs/promises";
import lockfile from "proper-lockfile";
import { isErrno } from "../lib/atomic-file.ts";
import { KeyedMutex, type Release } from "./keyed-mutex.ts";

/** One queue per lock path for the whole process, so two stores on the same directory also serialise. */
const inProcess = new KeyedMutex();

export interface FileLockOptions {
  /** Give up after this long (in-process and cross-process waiting together). */
  waitMs: number;
  /** A lock whose mtime is older than this belongs to a dead (or stalled) process and is broken. Min 2000. */
  staleMs: number;
  /** Told when a held lock was lost (the process stalled for over staleMs and someone broke it). */
  onCompromised?: (error: Error) => void;
}

export type AcquireResult = { ok: true; release: () => Promise<void> } | { ok: false; reason: "timeout" };

/**
 * Acquires the lock directory `lockPath`, waiting with small jittered pauses until `waitMs` runs out.
 * Resolves `{ ok: false }` on timeout; rejects on file-system errors other than "held by someone else".
 */
export async function acquireFileLock(lockPath: string, options: FileLockOptions): Promise<AcquireResult> {
  const deadline = Date.now() + options.waitMs;
  const staleMs = Math.max(2000, options.staleMs);
  const releaseLocal = await inProcess.acquire(lockPath, options.waitMs);
  if (!releaseLocal) return { ok: false, reason: "timeout" };
  try {
    for (let attempt = 0, retriesNow = 0; ; attempt++) {
      const release = await tryLock(lockPath, staleMs, options.onCompromised);
      if (release) return { ok: true, release: releaser(release, releaseLocal) };
      // Gone (broken here or released meanwhile): try again at once, even past the deadline, but not forever.
      if ((await breakIfStale(lockPath, staleMs)) && retriesNow++ < 3) continue;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        releaseLocal();
        return { ok: false, reason: "timeout" };
      }
      // 10, 20, 40 … capped at 100 ms (a free lock is noticed soon; a stat+mkdir ten times a second costs nothing),
      // ±50 % so waiting processes do not move in step.
      const pause = Math.min(100, 10 * 2 ** Math.min(attempt, 4)) * (0.5 + Math.random());
      await sleep(Math.min(pause, remaining));
    }
  } catch (error) {
    releaseLocal();
    throw error;
  }
}

async function tryLock(
  lockPath: string,
  staleMs: number,
  onCompromised: ((error: Error) => void) | undefined,
): Promise<(() => Promise<void>) | undefined> {
  try {
    return await lockfile.lock(lockPath, {
      lockfilePath: lockPath,
      realpath: false,
      retries: 0,
      // proper-lockfile never calls a lock stale itself (we do, safely, in breakIfStale) …
      stale: Number.POSITIVE_INFINITY,
      // … but still refreshes the mtime at this interval, which is what others judge staleness by.
      update: staleMs / 2,
      onCompromised: (error) => onCompromised?.(error),
    });
  } catch (error) {
    if (isErrno(error, "ELOCKED", "EEXIST")) return undefined;
    throw error;
  }
}

/**
 * Removes `lockPath` if its mtime is older than staleMs. Only one process at a time may do this (the breaker
 * lock), and it re-checks the mtime once it holds the breaker, so a lock taken meanwhile is never removed.
 * Returns true when the lock is gone (removed here, or vanished), i.e. worth retrying at once.
 */
async function breakIfStale(lockPath: string, staleMs: number): Promise<boolean> {
  const first = await mtimeOf(lockPath);
  if (first === undefined) return true;
  if (first >= Date.now() - staleMs) return false;
  const breaker = `${lockPath}.break`;
  try {
    await mkdir(breaker);
  } catch (error) {
    if (!isErrno(error, "EEXIST")) throw error;
    // Another waiter is breaking it right now. A breaker itself older than staleMs was left by a process killed in
    // those few microseconds: remove it so stale locks can be broken again.
    const since = await mtimeOf(breaker);
    if (since !== undefined && since < Date.now() - staleMs) await rmdir(breaker).catch(() => {});
    return false;
  }
  try {
    const again = await mtimeOf(lockPath);
    if (again === undefined) return true;
    if (again >= Date.now() - staleMs) return false;
    await rmdir(lockPath).catch((error: unknown) => {
      if (!isErrno(error, "ENOENT")) throw error;
    });
    return true;
  } finally {
    await rmdir(breaker).catch(() => {});
  }
}

async function mtimeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (error) {
    if (isErrno(error, "ENOENT")) return undefined;
    throw error;
  }
}

function releaser(release: () => Promise<void>, releaseLocal: Release): () => Promise<void> {
  let done = false;
  return async () => {
    if (done) return;
    done = true;
    try {
      await release();
    } catch (error) {
      // ERELEASED: already lost (compromised); ENOENT/ENOTACQUIRED: someone removed it. Nothing left to undo.
      if (!isErrno(error, "ERELEASED", "ENOTACQUIRED", "ENOENT")) throw error;
    } finally {
      releaseLocal();
    }
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
