/** Spawning the store tests' child processes (TypeScript through tsx) and waiting for the lines they print. */
import { type ChildProcess, spawn } from "node:child_process";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Child {
  process: ChildProcess;
  /** Resolves with the first stdout line (after those already consumed) that satisfies `match`. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  stderr(): string;
}

/**
 * Bundles a helper script into one plain CommonJS file in outDir, so each child starts in plain node (~4x faster
 * than through tsx, which matters when a test spawns fifty of them). esbuild is what tsx runs on; if it cannot be
 * loaded, returns undefined and children run through tsx.
 */
export async function bundleHelper(script: string, outDir: string): Promise<string | undefined> {
  try {
    const esbuild = await import("esbuild");
    const outfile = join(outDir, basename(script).replace(/\.ts$/, ".cjs"));
    await esbuild.build({
      entryPoints: [fileURLToPath(new URL(script, import.meta.url))],
      outfile,
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      logLevel: "silent",
    });
    return outfile;
  } catch {
    return undefined;
  }
}

/** Spawns `script` (relative to this folder) through tsx, or `bundled` (from bundleHelper) with plain node. */
export function spawnHelper(script: string, args: string[], bundled?: string): Child {
  const argv = bundled ? [bundled] : ["--import", "tsx", fileURLToPath(new URL(script, import.meta.url))];
  const child = spawn(process.execPath, [...argv, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let buffer = "";
  let errors = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffer += chunk;
    let index = buffer.indexOf("\n");
    while (index >= 0) {
      lines.push(buffer.slice(0, index));
      buffer = buffer.slice(index + 1);
      index = buffer.indexOf("\n");
    }
    for (const listener of listeners) listener();
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    errors += chunk;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
      resolve(code ?? signal ?? "unknown");
      for (const listener of listeners) listener();
    }),
  );
  let consumed = 0;
  return {
    process: child,
    exited,
    stderr: () => errors,
    waitForLine(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          while (consumed < lines.length) {
            const line = lines[consumed++]!;
            if (match(line)) {
              done();
              resolve(line);
              return;
            }
          }
          if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(
              new Error(`child exited (${child.exitCode ?? child.signalCode}) before the line; stderr: ${errors}`),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out waiting for a line from ${script}; stderr: ${errors}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** SIGKILLs the child (if still running) and waits until it is gone. */
export async function killHard(child: Child): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL");
  await child.exited;
}
