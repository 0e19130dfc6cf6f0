/**
 * Where the store's encryption key comes from: `--store-key-file FILE`, else MCP_PROXY_STORE_KEY (the key itself)
 * or MCP_PROXY_STORE_KEY_FILE; and for `store rekey` the new key, `--new-store-key-file FILE` or
 * MCP_PROXY_NEW_STORE_KEY. A key file must be a regular file of the current user that no one else can read or
 * write (chmod 600): a key others can read protects nothing, so such a file is refused, not warned about.
 * With `--keychain` (MCP_PROXY_KEYCHAIN=1) the key lives in the OS keychain instead (keychain-store-key.ts).
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ProxyError } from "../lib/errors.ts";
import { parseStoreKey, type StoreKey } from "../store/record-cipher.ts";
import type { Environment } from "./environment.ts";
import { DEFAULT_KEYCHAIN_SERVICE } from "./keychain-store-key.ts";

/** The store key configured, or undefined when there is none (records are then written as plaintext). */
export function configuredStoreKey(flagFile: string | undefined, environment: Environment): StoreKey | undefined {
  if (flagFile !== undefined) return readStoreKeyFile(flagFile, "--store-key-file");
  if (environment.storeKey !== undefined && environment.storeKeyFile !== undefined) {
    throw new ProxyError("USAGE", "Set MCP_PROXY_STORE_KEY or MCP_PROXY_STORE_KEY_FILE, not both.", {
      hint: "Unset one of them (a key file keeps the key out of the environment of child processes).",
    });
  }
  if (environment.storeKeyFile !== undefined) {
    return readStoreKeyFile(environment.storeKeyFile, "MCP_PROXY_STORE_KEY_FILE");
  }
  return environment.storeKey === undefined ? undefined : parseStoreKey(environment.storeKey, "MCP_PROXY_STORE_KEY");
}

/**
 * With `--keychain` (or MCP_PROXY_KEYCHAIN=1): the keychain service the key is read from, or created in, before the
 * command runs (keychainStoreKey, async). Another key source beside it is a usage error.
 */
export function configuredKeychainService(flagFile: string | undefined, environment: Environment): string {
  const others: Array<[string, unknown]> = [
    ["--store-key-file", flagFile],
    ["MCP_PROXY_STORE_KEY", environment.storeKey],
    ["MCP_PROXY_STORE_KEY_FILE", environment.storeKeyFile],
  ];
  const other = others.find(([, value]) => value !== undefined)?.[0];
  if (other) {
    throw new ProxyError("USAGE", `--keychain and ${other} both give the store key.`, {
      hint: "Keep one: the OS keychain (--keychain, MCP_PROXY_KEYCHAIN=1) or a key of your own.",
    });
  }
  return environment.keychainService ?? DEFAULT_KEYCHAIN_SERVICE;
}

/** The key `store rekey` moves the records to. */
export function configuredNewStoreKey(flagFile: string | undefined, environment: Environment): StoreKey | undefined {
  if (flagFile !== undefined) return readStoreKeyFile(flagFile, "--new-store-key-file");
  return environment.newStoreKey === undefined
    ? undefined
    : parseStoreKey(environment.newStoreKey, "MCP_PROXY_NEW_STORE_KEY");
}

/** Reads a key file: its first line, as for MCP_PROXY_STORE_KEY, after checking who may read it. */
export function readStoreKeyFile(raw: string, source: string): StoreKey {
  const path = resolve(raw);
  let fd: number;
  try {
    // No-follow: the mode checked must be the key file's own, not a link's target someone swapped in.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT" ? "does not exist" : code === "ELOOP" ? "is a symbolic link" : `cannot be read (${code})`;
    throw new ProxyError("USAGE", `The store key file ${path} (${source}) ${reason}.`, {
      hint: "Write the key (openssl rand -base64 32) on the first line of a file only you can read (chmod 600), and pass its path.",
      cause: error,
    });
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) {
      throw new ProxyError("USAGE", `The store key file ${path} (${source}) is not a regular file.`, {
        hint: "Pass the path of a file holding the key on its first line.",
      });
    }
    if (process.platform !== "win32") {
      const uid = process.getuid?.();
      if (uid !== undefined && info.uid !== uid) {
        throw new ProxyError(
          "USAGE",
          `The store key file ${path} (${source}) is owned by uid ${info.uid}, not you (uid ${uid}).`,
          { hint: `Use a key file of your own (chown it to yourself, then chmod 600 ${path}).` },
        );
      }
      if ((info.mode & 0o077) !== 0) {
        const mode = `0${(info.mode & 0o777).toString(8).padStart(3, "0")}`;
        throw new ProxyError(
          "USAGE",
          `The store key file ${path} (${source}) can be read or written by other users (mode ${mode}); not using it.`,
          { hint: `Run \`chmod 600 ${path}\`, and consider the key exposed if others could read it: rekey.` },
        );
      }
    }
    const text = readFileSync(fd, "utf8");
    return parseStoreKey(text.split(/\r?\n/, 1)[0] ?? "", `The store key file ${path} (${source})`);
  } finally {
    closeSync(fd);
  }
}
