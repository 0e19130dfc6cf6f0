/**
 * Crash-safe file writes and private directories: the two file-system primitives the token store is built on.
 * A reader of a file written here sees the complete old content or the complete new content, never a mix —
 * after a killed process (rename is atomic) and, as far as the file system honours fsync, after a power loss.
 *
 * Nothing here follows a symbolic link at the path it is given or uses an entry owned by another user
 * ({@link UnsafePathError}): a link planted at a record's path must not redirect reads, writes or chmods.
 * Only the last path component is checked; the parents are the caller's choice (macOS's /tmp is itself a link).
 */
import { randomBytes } from "node:crypto";
import { constants, readlinkSync, type Stats } from "node:fs";
import { chmod, type FileHandle, lstat, mkdir, open, readdir, rename, rm, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** 0 where the platform lacks them (Windows): there an lstat before the open stands in for O_NOFOLLOW. */
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;

/** A path the store refuses to use: a symbolic link, or an entry owned by another user. */
export class UnsafePathError extends Error {
  readonly code = "EUNSAFE";
  constructor(
    readonly path: string,
    readonly problem: "symlink" | "owner",
    message: string,
  ) {
    super(message);
    this.name = "UnsafePathError";
  }
}

/** The current user's uid; undefined where there is none (Windows), which skips the owner check. */
function currentUid(): number | undefined {
  return typeof process.getuid === "function" ? process.getuid() : undefined;
}

/**
 * Throws UnsafePathError if `info` (an lstat or fstat of `path`) is a symbolic link or owned by someone else.
 * Synchronous so the store's synchronous sidecarPath can use it too.
 */
export function assertOwnEntry(path: string, info: Stats): void {
  if (info.isSymbolicLink()) {
    let to = "";
    try {
      to = ` (to ${readlinkSync(path)})`;
    } catch {
      // Gone or replaced meanwhile: the refusal stands, just without the target.
    }
    throw new UnsafePathError(path, "symlink", `${path} is a symbolic link${to}.`);
  }
  const uid = currentUid();
  if (uid !== undefined && info.uid !== uid) {
    throw new UnsafePathError(path, "owner", `${path} is owned by uid ${info.uid}, not you (uid ${uid}).`);
  }
}

/**
 * After a failed no-follow open (ELOOP, ENOTDIR with O_DIRECTORY or EEXIST with O_EXCL, by flags and platform):
 * a symbolic link at `path` becomes UnsafePathError, anything else is rethrown.
 */
async function explainOpenError(path: string, error: unknown): Promise<never> {
  const info = await lstat(path).catch(() => undefined);
  if (info?.isSymbolicLink()) assertOwnEntry(path, info);
  throw error;
}

/**
 * Opens `path` (flags from fs.constants) without following a symbolic link there, and refuses an entry owned by
 * another user. Returns the handle and its fstat, so a caller's chmod (fchmod) applies to exactly what was checked.
 */
export async function openOwn(path: string, flags: number): Promise<{ handle: FileHandle; info: Stats }> {
  if (O_NOFOLLOW === 0) {
    const before = await lstat(path).catch(() => undefined);
    if (before?.isSymbolicLink()) assertOwnEntry(path, before);
  }
  const handle = await open(path, flags | O_NOFOLLOW).catch((error: unknown) => explainOpenError(path, error));
  try {
    const info = await handle.stat();
    assertOwnEntry(path, info);
    return { handle, info };
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
}

/** chmod without following a link at `path` (fchmod on a no-follow handle), refusing someone else's entry. */
export async function chmodOwn(path: string, mode: number): Promise<void> {
  const { handle } = await openOwn(path, constants.O_RDONLY);
  try {
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

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
  let handle: FileHandle | undefined;
  let created = false;
  try {
    // Never follow or reuse an existing entry at the temp name (a link planted there is refused, not written through).
    handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, mode).catch(
      (error: unknown) => explainOpenError(temp, error),
    );
    created = true;
    await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
  } catch (error) {
    await handle?.close().catch(() => {});
    // Only our own temp file: an entry that was already at the name is not ours to delete.
    if (created) await unlink(temp).catch(() => {});
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
      const info = await lstat(path).catch(() => undefined);
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
 * The returned flags let the caller say so once. Throws if the path exists and is not a directory, and
 * UnsafePathError if it is a symbolic link or owned by another user (checked before anything is changed).
 */
export async function ensurePrivateDir(dir: string): Promise<PrivateDirResult> {
  let created = false;
  const existing = await lstat(dir).catch((error: unknown) => {
    if (isErrno(error, "ENOENT")) return undefined;
    throw error;
  });
  // mkdir -p would happily accept a link to a directory, so it only runs when nothing is there.
  if (!existing) created = (await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined;
  // fchmod on a no-follow handle where the platform can open directories that way; a lstat check before the chmod
  // elsewhere (Windows) and for a directory of ours we may not read (mode 0300, say).
  const opened =
    O_NOFOLLOW === 0 || O_DIRECTORY === 0
      ? undefined
      : await openOwn(dir, constants.O_RDONLY | O_DIRECTORY).catch((error: unknown) => {
          if (isErrno(error, "EACCES")) return undefined;
          throw error;
        });
  if (!opened) {
    const info = await lstat(dir);
    assertOwnEntry(dir, info);
    assertDirectory(dir, info);
    const mode = info.mode & 0o777;
    if (mode !== 0o700) await chmod(dir, 0o700);
    return tightenResult(created, mode);
  }
  const { handle, info } = opened;
  try {
    assertDirectory(dir, info);
    const mode = info.mode & 0o777;
    if (mode !== 0o700) await handle.chmod(0o700);
    return tightenResult(created, mode);
  } finally {
    await handle.close();
  }
}

function assertDirectory(dir: string, info: Stats): void {
  if (!info.isDirectory()) {
    throw Object.assign(new Error(`${dir} exists and is not a directory`), { code: "ENOTDIR" });
  }
}

function tightenResult(created: boolean, mode: number): PrivateDirResult {
  if (mode === 0o700) return { created, tightened: false };
  // A fresh directory can still differ (umask removing owner bits); only an existing one is "tightened".
  return created ? { created, tightened: false } : { created, tightened: true, previousMode: mode };
}

/** Whether a process with this pid exists on this host (one owned by someone else counts). */
export function isProcessAlive(pid: number): boolean {
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
