/**
 * Crash-safe file writes and private directories: the two file-system primitives the token store is built on.
 * A reader of a file written here sees the complete old content or the complete new content, never a mix —
 * after a killed process (rename is atomic) and, as far as the file system honours fsync, after a power loss.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface WriteFileAtomicOptions {
  /** Mode of the written file, applied with fchmod so the umask cannot widen or narrow it. Default 0o600. */
  mode?: number;
}

/** Marker between a target's name and the temp-file suffix: `<name>.tmp-<pid>-<random>`. */
const TEMP_MARKER = ".tmp-";

/**
 * Writes `data` to `path` atomically: a temp file in the same directory (so the rename never crosses file
 * systems), created exclusively with the final mode, fsynced, renamed over the target, then the directory is
 * fsynced so the rename itself is durable. On failure the temp file is removed and the target is untouched.
 *
 * A process killed mid-write leaves its temp file behind (`<name>.tmp-<pid>-<hex>`); {@link removeStaleTempFiles}
 * cleans those up.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o600;
  const temp = join(dirname(path), `${basename(path)}${TEMP_MARKER}${process.pid}-${randomBytes(6).toString("hex")}`);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    // "wx": never follow or reuse an existing file at the temp name.
    handle = await open(temp, "wx", mode);
    await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
  } catch (error) {
    await handle?.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
  await fsyncDirectory(dirname(path));
}

/**
 * fsyncs a directory so a rename or unlink in it survives a power loss. Some platforms (Windows) cannot open or
 * fsync a directory; there the rename is as durable as the OS makes it and we carry on.
 */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (error) {
    if (!isErrno(error, "EISDIR", "EPERM", "EINVAL", "EBADF", "EACCES")) throw error;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Removes temp files of `target` (`<name>.tmp-<pid>-<hex>`) left by killed writers: those whose writer process
 * no longer exists, and any older than `maxAgeMs` (pid reuse). A live writer's temp file is left alone.
 * Assumes the directory is not shared between machines (a pid is only meaningful on this host).
 * Best effort: returns how many it removed and never throws.
 */
export async function removeStaleTempFiles(target: string, maxAgeMs = 10 * 60_000): Promise<number> {
  const dir = dirname(target);
  const prefix = `${basename(target)}${TEMP_MARKER}`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number.parseInt(name.slice(prefix.length), 10);
    const path = join(dir, name);
    let stale = !Number.isInteger(pid) || pid <= 0 || (pid !== process.pid && !isProcessAlive(pid));
    if (!stale) {
      const info = await stat(path).catch(() => undefined);
      stale = info !== undefined && Date.now() - info.mtimeMs > maxAgeMs;
    }
    if (!stale) continue;
    try {
      await rm(path, { force: true });
      removed++;
    } catch {
      // Someone else's file or already gone: not ours to worry about.
    }
  }
  return removed;
}

export interface PrivateDirResult {
  /** The directory did not exist and was created (mode 0700). */
  created: boolean;
  /** The directory existed with group/other permissions and was tightened to 0700; the old mode is in previousMode. */
  tightened: boolean;
  previousMode?: number;
}

/**
 * `mkdir -p` with mode 0700, and tightens an existing directory to 0700 (older tools left ~/.mcp/auth at 0755).
 * The returned flags let the caller say so once. Throws if the path exists and is not a directory.
 */
export async function ensurePrivateDir(dir: string): Promise<PrivateDirResult> {
  const created = (await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined;
  const info = await stat(dir);
  if (!info.isDirectory()) {
    throw Object.assign(new Error(`${dir} exists and is not a directory`), { code: "ENOTDIR" });
  }
  const mode = info.mode & 0o777;
  if (mode === 0o700) return { created, tightened: false };
  // A fresh directory can still differ (umask removing owner bits); only an existing one is "tightened".
  await chmod(dir, 0o700);
  return created ? { created, tightened: false } : { created, tightened: true, previousMode: mode };
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return isErrno(error, "EPERM");
  }
}

/** True when `error` is a Node system error with one of these codes. */
export function isErrno(error: unknown, ...codes: string[]): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { code?: unknown }).code === "string" &&
    codes.includes((error as { code: string }).code)
  );
}
