/**
 * The store's encryption key kept in the OS keychain (`--keychain`): macOS Keychain, Windows Credential Manager, or
 * the Linux Secret Service (GNOME Keyring, KWallet), through @napi-rs/keyring. Records on disk are then sealed with
 * a key that only the user's unlocked login session can read, and no key file or variable is needed. The key is
 * created (32 random bytes) on first use, under the file store's cross-process lock in the token directory, so that
 * two processes starting at once cannot each create a key and seal records with one the keychain no longer holds.
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ProxyError } from "../lib/errors.ts";
import { acquireFileLock } from "../store/file-lock.ts";
import { parseStoreKey, type StoreKey } from "../store/record-cipher.ts";

/** The keychain entry's service name unless MCP_PROXY_KEYCHAIN_SERVICE names another (tests use their own). */
export const DEFAULT_KEYCHAIN_SERVICE = "mcp-u2m-proxy";
const ACCOUNT = "store-key";
/** A creation lock older than this was left by a process that died while creating the key. */
const STALE_LOCK_MS = 10_000;
const LOCK_WAIT_MS = 15_000;

interface KeyringEntry {
  getPassword(): string | null | undefined;
  setPassword(password: string): void;
}
type EntryConstructor = new (service: string, account: string) => KeyringEntry;

/** The store key in the keychain under `service`, created when there is none. */
export async function keychainStoreKey(service: string, authDir: string): Promise<StoreKey> {
  const entry = openEntry(service);
  const source = `The store key in the OS keychain (service "${service}", account "${ACCOUNT}")`;
  const existing = read(entry, service);
  if (existing !== undefined) return parseStoreKey(existing, source);
  return withCreationLock(authDir, () => {
    // Another process may have created it while this one waited for the lock.
    const now = read(entry, service);
    if (now !== undefined) return parseStoreKey(now, source);
    const created = randomBytes(32).toString("base64");
    try {
      entry.setPassword(created);
    } catch (error) {
      throw unavailable(service, error);
    }
    const stored = read(entry, service);
    if (stored !== created) {
      throw new ProxyError("STORE_ERROR", `The OS keychain did not keep the new store key (service "${service}").`, {
        hint: "Check that the keychain is unlocked and writable, or pass --store-key-file FILE instead of --keychain.",
      });
    }
    return parseStoreKey(created, source);
  });
}

function openEntry(service: string): KeyringEntry {
  let Entry: EntryConstructor;
  try {
    // Loaded only in this mode: a native module, with a prebuilt binary per platform.
    Entry = (createRequire(import.meta.url)("@napi-rs/keyring") as { Entry: EntryConstructor }).Entry;
  } catch (error) {
    throw new ProxyError(
      "USAGE",
      `The OS keychain cannot be used on this platform (${process.platform}-${process.arch}).`,
      {
        hint: "Pass --store-key-file FILE (a key from: openssl rand -base64 32) instead of --keychain.",
        cause: error,
      },
    );
  }
  try {
    return new Entry(service, ACCOUNT);
  } catch (error) {
    throw unavailable(service, error);
  }
}

function read(entry: KeyringEntry, service: string): string | undefined {
  try {
    return entry.getPassword() ?? undefined;
  } catch (error) {
    throw unavailable(service, error);
  }
}

function unavailable(service: string, error: unknown): ProxyError {
  const reason = error instanceof Error ? (error.message.split("\n", 1)[0] ?? "") : String(error);
  return new ProxyError(
    "STORE_ERROR",
    `The OS keychain cannot be reached (service "${service}"): ${reason.replace(/\.?$/, ".")}`,
    {
      hint:
        process.platform === "linux"
          ? "On Linux --keychain needs a running, unlocked Secret Service (GNOME Keyring or KWallet) in this session; over SSH or in a container pass --store-key-file FILE instead."
          : "Unlock the keychain and try again, or pass --store-key-file FILE instead of --keychain.",
      cause: error,
    },
  );
}

/** Runs `create` holding the lock `<authDir>/.keychain-key.lock` (file-lock.ts: a dead holder's lock is broken). */
async function withCreationLock<T>(authDir: string, create: () => T): Promise<T> {
  await mkdir(authDir, { recursive: true, mode: 0o700 });
  const lock = join(authDir, ".keychain-key.lock");
  const held = await acquireFileLock(lock, { waitMs: LOCK_WAIT_MS, staleMs: STALE_LOCK_MS });
  if (!held.ok) {
    throw new ProxyError("STORE_ERROR", `Another process holds ${lock} while it creates the store key.`, {
      hint: `If no other mcp-u2m-proxy is starting, delete ${lock} and try again.`,
    });
  }
  try {
    return create();
  } finally {
    await held.release();
  }
}
