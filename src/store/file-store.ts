/**
 * The default TokenStore: JSON files in a private directory (by default ~/.mcp/auth, resolved by the caller).
 * Layout, modes, locking and corruption handling are documented in docs/storage.md.
 */
import { constants, lstatSync, mkdirSync } from "node:fs";
import { lstat, readdir, rename, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  assertOwnEntry,
  chmodOwn,
  ensurePrivateDir,
  fsyncDirectory,
  isErrno,
  openOwn,
  removeStaleTempFiles,
  UnsafePathError,
  writeFileAtomic,
} from "../lib/atomic-file.ts";
import { ProxyError } from "../lib/errors.ts";
import { rememberSecretsIn } from "../lib/redact.ts";
import type { acquireFileLock } from "./file-lock.ts";
import { newHeldLock } from "./lease-lock.ts";
import { withRecordLock } from "./record-lock.ts";
import { assertWritableRecord, parseStoredRecord, RECORD_KINDS } from "./record-schemas.ts";
import { nextRevision, revisionOf, withRevision } from "./revisions.ts";
import { assertRecordKey, assertStoreKey, assertUpstreamKey, isPrincipalGrantKey } from "./store-key.ts";
import type { HeldLock, RecordKind, RecordTypes, StoredRecord, TokenStore, WriteOptions } from "./token-store.ts";

export interface FileTokenStoreOptions {
  /**
   * The directory for the records (created 0700; an existing one is tightened to 0700). It, and every record in it,
   * must be owned by the current user and not be a symbolic link, else operations fail with STORE_UNSAFE.
   */
  dir: string;
  /**
   * Told about things worth a line in the log that do not stop anything: a corrupt record moved aside, a directory
   * or file whose permissions were tightened, a record from a newer version, a lock lost to a stall. Messages name
   * files and reasons, never record contents.
   */
  onWarning?: (message: string) => void;
  /** A lock not refreshed for this long is considered abandoned and broken. Default 10 s, minimum 2 s. */
  lockStaleMs?: number;
  /** Default `waitMs` of withLock. Default 30 s. */
  lockWaitMs?: number;
}

const LOCK_NAMES = new Set(["refresh", "sign-in"]);
const SUFFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** `<upstream key>[.u<hex>]_<kind>.json`: group 1 the upstream key, group 2 the grant suffix, group 3 the kind. */
const RECORD_FILE =
  /^([A-Za-z0-9-]{1,64})(\.u[0-9a-f]{16})?_(tokens|client_info|discovery|protocol|sign_in|page_secret)\.json$/;

export class FileTokenStore implements TokenStore {
  readonly location: string;
  readonly #dir: string;
  readonly #warn: (message: string) => void;
  readonly #staleMs: number;
  readonly #waitMs: number;
  #ready: Promise<void> | undefined;
  /** Warnings that would repeat on every read (a newer-version or unreadable file) are given once. */
  readonly #warned = new Set<string>();

  constructor(options: FileTokenStoreOptions) {
    this.#dir = resolve(options.dir);
    this.location = this.#dir;
    this.#warn = options.onWarning ?? (() => {});
    this.#staleMs = Math.max(2000, options.lockStaleMs ?? 10_000);
    this.#waitMs = options.lockWaitMs ?? 30_000;
  }

  /** The file a record lives in: `<dir>/<key>_<kind>.json` (a grant key's tokens: `<key>.u<hex>_tokens.json`). */
  recordPath(key: string, kind: RecordKind): string {
    assertRecordKey(key, kind);
    return join(this.#dir, `${key}_${kind}.json`);
  }

  async stamp(key: string, kind: RecordKind): Promise<string> {
    // Synchronous on purpose: this runs once per proxied call, and a stat of a file in the private, local token
    // directory costs a few microseconds on the main thread, where the promise form costs about ten times that
    // (a thread-pool round trip) in CPU and in the call's latency.
    try {
      const info = lstatSync(this.recordPath(key, kind));
      return `${info.ino}:${info.mtimeMs}:${info.size}`;
    } catch {
      return "absent";
    }
  }

  async read<K extends RecordKind>(key: string, kind: K): Promise<StoredRecord<K> | undefined> {
    const path = this.recordPath(key, kind);
    await this.#ensureDir();
    let text: string;
    let identity: { ino: number; dev: number };
    try {
      // No-follow open, owner checked on the opened file: a planted link is refused, never read or chmodded.
      const { handle, info } = await openOwn(path, constants.O_RDONLY);
      try {
        identity = { ino: info.ino, dev: info.dev };
        if ((info.mode & 0o077) !== 0 && info.isFile()) {
          await handle.chmod(0o600);
          this.#warn(`${path} was readable by others (mode ${octal(info.mode)}); changed it to 0600.`);
        }
        text = await handle.readFile("utf8");
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (isErrno(error, "ENOENT")) return undefined;
      if (error instanceof UnsafePathError) throw this.#storeError(`read ${path}`, error);
      this.#warnOnce(`Could not read ${path} (${errorCode(error)}); treating the ${kind} record as absent.`);
      return undefined;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      await this.#quarantine(path, identity, "not valid JSON");
      return undefined;
    }
    const parsed = parseStoredRecord(kind, raw);
    if (parsed.ok) return rememberSecretsIn(withRevision(parsed.value, revisionOf(parsed.value)));
    if (parsed.newer) {
      this.#warnOnce(`${path}: ${parsed.reason}; leaving it alone and treating it as absent.`);
      return undefined;
    }
    await this.#quarantine(path, identity, parsed.reason);
    return undefined;
  }

  /**
   * Under the record's write lock (`<file>.lock`, see record-lock.ts): reads the stored revision, checks a
   * compare-and-set's expectation, and renames the new record into place, so revisions are never handed out twice,
   * across processes too.
   */
  async write<K extends RecordKind>(
    key: string,
    kind: K,
    value: RecordTypes[K],
    options?: WriteOptions,
  ): Promise<number> {
    const path = this.recordPath(key, kind);
    assertWritableRecord(kind, value);
    await this.#ensureDir();
    const writeLocked = () =>
      this.#underRecordLock(path, async () => {
        const revision = nextRevision(key, kind, await this.#storedRevision(key, kind), options);
        await writeFileAtomic(path, `${JSON.stringify(withRevision(value, revision), null, 2)}\n`, { mode: 0o600 });
        return revision;
      });
    let revision: number;
    try {
      revision = await writeLocked();
    } catch (error) {
      if (!isErrno(error, "ENOENT")) throw this.#storeError(`write ${path}`, error);
      // The directory was removed while we ran (`rm -rf ~/.mcp/auth` is a common reset): make it again.
      this.#ready = undefined;
      await this.#ensureDir();
      revision = await writeLocked().catch((again: unknown) => {
        throw this.#storeError(`write ${path}`, again);
      });
    }
    await removeStaleTempFiles(path);
    return revision;
  }

  async remove(key: string, kind?: RecordKind): Promise<void> {
    assertStoreKey(key);
    const paths = kind
      ? [this.recordPath(key, kind)]
      : isPrincipalGrantKey(key)
        ? [this.recordPath(key, "tokens")]
        : [...RECORD_KINDS.map((k) => this.recordPath(key, k)), ...(await this.#principalGrantFiles(key))];
    await this.#ensureDir();
    for (const path of paths) {
      try {
        // Under the write lock: a compare-and-set that read the record before cannot put it back afterwards.
        await this.#underRecordLock(path, () => unlink(path));
      } catch (error) {
        if (!isErrno(error, "ENOENT")) throw this.#storeError(`remove ${path}`, error);
      }
      await removeStaleTempFiles(path);
    }
    await fsyncDirectory(this.#dir).catch(() => {});
  }

  async keys(): Promise<string[]> {
    const keys = new Set<string>();
    for (const match of await this.#recordFiles()) keys.add(match[1]!);
    return [...keys].sort();
  }

  async grantKeys(upstreamKey: string): Promise<string[]> {
    assertUpstreamKey(upstreamKey);
    const grants: string[] = [];
    for (const match of await this.#recordFiles()) {
      if (match[1] === upstreamKey && match[3] === "tokens") grants.push(`${upstreamKey}${match[2] ?? ""}`);
    }
    return grants.sort();
  }

  /**
   * Holds `<dir>/<key>.<name>.lock` (a directory, proper-lockfile style) across processes and, through an
   * in-process queue, across callers in this process. See file-lock.ts for stale-lock breaking.
   */
  async withLock<T>(
    key: string,
    name: "refresh" | "sign-in",
    fn: (lock: HeldLock) => Promise<T>,
    options: { waitMs?: number } = {},
  ): Promise<T> {
    assertStoreKey(key);
    if (!LOCK_NAMES.has(name)) throw new ProxyError("INTERNAL", `Unknown lock name ${JSON.stringify(name)}.`);
    const lockPath = join(this.#dir, `${key}.${name}.lock`);
    await this.#ensureDir();
    const waitMs = options.waitMs ?? this.#waitMs;
    let acquired: Awaited<ReturnType<typeof acquireFileLock>>;
    const held = newHeldLock();
    try {
      // Loaded on first lock: reading a cached token at start-up needs no lock (proper-lockfile and its deps).
      const { acquireFileLock: acquire } = await import("./file-lock.ts");
      acquired = await acquire(lockPath, {
        waitMs,
        staleMs: this.#staleMs,
        onCompromised: (error) => {
          held.controller.abort(error);
          this.#warn(
            `Lost the ${name} lock ${lockPath} while holding it (${error.message}); another process may have taken it.`,
          );
        },
      });
    } catch (error) {
      throw this.#storeError(`lock ${lockPath}`, error);
    }
    if (!acquired.ok) {
      throw new ProxyError(
        "STORE_ERROR",
        `Timed out after ${formatMs(waitMs)} waiting for the ${name} lock of ${key} (${lockPath}).`,
        {
          hint:
            name === "sign-in"
              ? "Another mcp-u2m-proxy process is signing in to this server; finish or cancel that sign-in and retry."
              : "Another mcp-u2m-proxy process is refreshing tokens for this server; retry in a moment.",
          details: { lockPath, waitMs },
        },
      );
    }
    try {
      return await fn(held.lock);
    } finally {
      await acquired.release().catch((error: unknown) => {
        this.#warn(`Could not release ${lockPath} (${errorCode(error)}); it will be broken as stale.`);
      });
    }
  }

  /** `<dir>/<key>_<suffix>`, e.g. the debug log. The caller creates the file, with mode 0600. */
  sidecarPath(key: string, suffix: string): string {
    assertStoreKey(key);
    if (!SUFFIX_PATTERN.test(suffix) || suffix.includes("..") || RECORD_FILE.test(`${key}_${suffix}`)) {
      throw new ProxyError("INTERNAL", `Invalid sidecar suffix ${JSON.stringify(suffix.slice(0, 80))}.`);
    }
    // Callers may open it synchronously (the logger does), before any async store call made the directory.
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    this.#assertOwnDirSync();
    return join(this.#dir, `${key}_${suffix}`);
  }

  /** The record files in the directory, as RECORD_FILE matches. */
  async #recordFiles(): Promise<RegExpExecArray[]> {
    await this.#ensureDir();
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (error) {
      throw this.#storeError(`list ${this.#dir}`, error);
    }
    return names.map((name) => RECORD_FILE.exec(name)).filter((match) => match !== null);
  }

  /** The tokens files of an upstream's principal grants (not its default grant). */
  async #principalGrantFiles(upstreamKey: string): Promise<string[]> {
    return (await this.#recordFiles())
      .filter((match) => match[1] === upstreamKey && match[2] !== undefined)
      .map((match) => join(this.#dir, match[0]));
  }

  /** The revision of the record as stored now; undefined when there is none (or it reads as absent). */
  async #storedRevision(key: string, kind: RecordKind): Promise<number | undefined> {
    const current = await this.read(key, kind);
    return current === undefined ? undefined : current.revision;
  }

  #underRecordLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
    return withRecordLock(
      `${path}.lock`,
      { waitMs: this.#waitMs, staleMs: this.#staleMs, onLost: (message) => this.#warn(message) },
      fn,
    );
  }

  #ensureDir(): Promise<void> {
    this.#ready ??= ensurePrivateDir(this.#dir).then(
      (result) => {
        if (result.tightened) {
          this.#warn(
            `${this.#dir} was accessible by other users (mode ${octal(result.previousMode ?? 0)}); changed it to 0700.`,
          );
        }
      },
      (error: unknown) => {
        this.#ready = undefined;
        throw this.#storeError(`create ${this.#dir}`, error);
      },
    );
    return this.#ready;
  }

  /**
   * Moves a corrupt record aside to `<file>.corrupt-<timestamp>` (kept, 0600) so it is treated as absent without
   * being lost. Skipped when the file was replaced since we read it (a writer's rename won the race).
   */
  async #quarantine(path: string, identity: { ino: number; dev: number }, reason: string): Promise<void> {
    const current = await lstat(path).catch(() => undefined);
    if (!current || current.ino !== identity.ino || current.dev !== identity.dev) return;
    const target = `${path}.corrupt-${timestamp()}`;
    try {
      await rename(path, target);
    } catch (error) {
      if (isErrno(error, "ENOENT")) return;
      this.#warnOnce(`${path} is unreadable (${reason}) and could not be moved aside (${errorCode(error)}).`);
      return;
    }
    await chmodOwn(target, 0o600).catch(() => {});
    await fsyncDirectory(this.#dir).catch(() => {});
    this.#warn(`${path} was unreadable (${reason}); moved it to ${target} and treating the record as absent.`);
  }

  #warnOnce(message: string): void {
    if (this.#warned.has(message)) return;
    this.#warned.add(message);
    this.#warn(message);
  }

  /** ensurePrivateDir's link and owner checks, synchronously, for sidecarPath. */
  #assertOwnDirSync(): void {
    try {
      assertOwnEntry(this.#dir, lstatSync(this.#dir));
    } catch (error) {
      throw this.#storeError(`use ${this.#dir}`, error);
    }
  }

  #storeError(action: string, cause: unknown): ProxyError {
    if (cause instanceof ProxyError) return cause;
    if (cause instanceof UnsafePathError) return this.#unsafeError(cause);
    return new ProxyError("STORE_ERROR", `Could not ${action}: ${errorCode(cause)}.`, {
      hint: `Check that ${this.#dir} is writable by you and the disk is not full.`,
      cause,
    });
  }

  /** STORE_UNSAFE: the message says which path and what is wrong, the hint what to do about it. */
  #unsafeError(cause: UnsafePathError): ProxyError {
    const isDir = cause.path === this.#dir;
    const fix =
      cause.problem === "symlink"
        ? `Remove the link${isDir ? " and let the proxy create a real directory there" : ""} (the store never follows links)`
        : `Fix its ownership (chown it to yourself) or remove it`;
    return new ProxyError("STORE_UNSAFE", `Refusing to use the token store: ${cause.message}`, {
      hint: `${fix}, or choose a directory of your own with --auth-dir (MCP_AUTH_DIR).`,
      cause,
      details: { path: cause.path, problem: cause.problem },
    });
  }
}

function errorCode(error: unknown): string {
  if (typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string") {
    return (error as { code: string }).code;
  }
  return error instanceof Error ? error.message : String(error);
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

/** 20261127T144655123Z: sortable, no characters that are awkward in file names. */
function timestamp(): string {
  return new Date().toISOString().replace(/[-:.]/g, "");
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}
