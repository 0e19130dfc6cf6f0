import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { chmodOwn, ensurePrivateDir, fsyncDirectory, isErrno, openOwn } from "../lib/atomic-file.ts";
import { ProxyError } from "../lib/errors.ts";
import { rememberSecret } from "../lib/known-secrets.ts";

/** The file, in the token directory, that holds the key `--generate-api-key` made. */
export const GENERATED_API_KEY_FILE = "api-key";

export interface GeneratedApiKey {
  key: string;
  path: string;
  /** Made now (the caller prints it, once); false when an earlier start made it. */
  created: boolean;
}

/**
 * The inbound API key of a proxy started with `--generate-api-key` and no key of its own (a container: the Dockerfile
 * sets MCP_PROXY_GENERATE_API_KEY=1): the one in `<dir>/api-key` when an earlier start made it, else a new random
 * one (32 bytes, base64url) written there 0600 in a 0700 directory. Several replicas starting at once on one volume
 * agree on one key: the file is linked into place only if absent (never renamed over another replica's key).
 */
export async function loadOrGenerateApiKey(dir: string): Promise<GeneratedApiKey> {
  const path = join(dir, GENERATED_API_KEY_FILE);
  const existing = await readKeyFile(path);
  if (existing !== undefined) return { key: existing, path, created: false };
  await ensurePrivateDir(dir);
  const key = randomBytes(32).toString("base64url");
  rememberSecret(key);
  const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(`${key}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
  } catch (error) {
    if (!isErrno(error, "EEXIST")) throw storeError(path, error);
    // Another replica was first: its key is the one.
    const theirs = await readKeyFile(path);
    if (theirs === undefined) throw storeError(path, error);
    return { key: theirs, path, created: false };
  } finally {
    await unlink(temp).catch(() => {});
  }
  await fsyncDirectory(dir);
  return { key, path, created: true };
}

/** The key on the file's first line; undefined when there is no file. Tightens a file others could read. */
async function readKeyFile(path: string): Promise<string | undefined> {
  let opened: Awaited<ReturnType<typeof openOwn>>;
  try {
    opened = await openOwn(path, constants.O_RDONLY);
  } catch (error) {
    if (isErrno(error, "ENOENT")) return undefined;
    throw storeError(path, error);
  }
  let text: string;
  try {
    text = await opened.handle.readFile("utf8");
  } finally {
    await opened.handle.close();
  }
  if ((opened.info.mode & 0o077) !== 0) await chmodOwn(path, 0o600);
  const key = text.split(/\r?\n/, 1)[0]?.trim() ?? "";
  if (!key) {
    throw new ProxyError("STORE_ERROR", `The generated API key file ${path} is empty.`, {
      hint: "Delete it to have a new key generated at the next start (clients then need the new key).",
    });
  }
  rememberSecret(key);
  return key;
}

function storeError(path: string, error: unknown): ProxyError {
  if (error instanceof ProxyError) return error;
  return new ProxyError("STORE_ERROR", `The generated API key file ${path} cannot be read or written.`, {
    hint: "Check that the token directory (MCP_AUTH_DIR, the container's volume) is writable by the proxy's user.",
    cause: error,
  });
}
