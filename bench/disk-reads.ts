/**
 * "No disk read per request", checked rather than assumed: strace(1) attaches to a running proxy (all threads,
 * `-f`, so libuv's thread pool, where Node does file I/O, is seen too) while a batch of tool calls goes through,
 * and every `openat` and every read from a regular file in that window is counted (`-y` names each descriptor's
 * file; sockets, pipes, eventfds and /dev are not files on disk).
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

export interface DiskReadCheck {
  calls: number;
  /** openat(2) calls during the batch (any path). */
  opens: number;
  /** read/pread64 calls on regular files during the batch. */
  fileReads: number;
  /** A few distinct file paths opened or read (for the report). */
  files: string[];
}

export function straceAvailable(): boolean {
  return spawnSync("strace", ["-V"], { stdio: "ignore" }).status === 0;
}

/** Runs `batch` while strace watches `pid`; returns what it saw. Throws when strace cannot attach. */
export async function checkDiskReads(
  pid: number,
  workDir: string,
  calls: number,
  batch: () => Promise<void>,
): Promise<DiskReadCheck> {
  const out = join(workDir, `strace-${pid}.txt`);
  const strace = spawn("strace", ["-f", "-y", "-e", "trace=openat,open,read,pread64", "-p", String(pid), "-o", out], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const attached = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`strace did not attach: ${stderr.trim()}`)), 10_000);
    strace.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      if (/attached/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    strace.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`strace exited (${code}): ${stderr.trim()}`));
    });
  });
  const exited = once(strace, "exit");
  try {
    await attached;
    await batch();
  } finally {
    strace.kill("SIGINT");
    await exited;
  }
  const text = readFileSync(out, "utf8");
  rmSync(out, { force: true });
  return { calls, ...countFileAccess(text) };
}

function countFileAccess(trace: string): Omit<DiskReadCheck, "calls"> {
  let opens = 0;
  let fileReads = 0;
  const files = new Set<string>();
  for (const line of trace.split("\n")) {
    const call = /^\d+\s+(openat|open|read|pread64)\((.*)$/.exec(line);
    if (!call) continue;
    if (call[1] === "openat" || call[1] === "open") {
      opens++;
      const path = /"([^"]*)"/.exec(call[2] ?? "")?.[1];
      if (path) files.add(path);
      continue;
    }
    const fd = /^\d+<([^>]*)>/.exec(call[2] ?? "")?.[1];
    if (fd?.startsWith("/") && !fd.startsWith("/dev/")) {
      fileReads++;
      files.add(fd);
    }
  }
  return { opens, fileReads, files: [...files].slice(0, 5) };
}
