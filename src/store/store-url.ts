/**
 * `--store URL` (env MCP_PROXY_STORE): which backend and where. `file:DIR` (the default, DIR as --auth-dir),
 * `redis://…` / `rediss://…` (node-redis URL), `postgres://…` / `postgresql://…` (libpq URL; what it leaves out is
 * taken from the standard PG* variables, so a bare `postgres:` uses PGHOST, PGUSER, … alone).
 * Messages about a store name it by {@link redactStoreUrl}: never with its password.
 */
import { ProxyError } from "../lib/errors.ts";

export type StoreLocation =
  | { backend: "file"; dir: string | undefined }
  | { backend: "memory" }
  | { backend: "redis"; url: string }
  | { backend: "postgres"; url: string };

/** Parses a store URL. `file:` with no directory means the --auth-dir one (undefined here). */
export function parseStoreUrl(text: string): StoreLocation {
  const value = text.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase();
  switch (scheme) {
    case "file": {
      const rest = value.slice("file:".length);
      const dir = rest.startsWith("//") ? decodeURIComponent(new URL(value).pathname) : rest;
      return { backend: "file", dir: dir === "" ? undefined : dir };
    }
    case "memory":
      return { backend: "memory" };
    case "redis":
    case "rediss":
      assertParses(value);
      return { backend: "redis", url: value };
    case "postgres":
    case "postgresql":
      if (!/^postgres(ql)?:\/?\/?$/i.test(value)) assertParses(value);
      return { backend: "postgres", url: value };
    default:
      throw new ProxyError("USAGE", `Unknown token store ${JSON.stringify(redactStoreUrl(value))}.`, {
        hint: "Use file:DIR, redis://HOST:PORT[/DB] or postgres://USER@HOST:PORT/DB (or postgres: with PG* variables).",
      });
  }
}

/** The URL with any password replaced by `***`, for messages and logs. */
export function redactStoreUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    for (const name of ["password", "sslpassword"]) {
      if (parsed.searchParams.has(name)) parsed.searchParams.set(name, "***");
    }
    return parsed.href;
  } catch {
    // Not a URL we can take apart: drop everything between "//" and "@", where a password would be.
    return url.replace(/\/\/[^/@]*@/, "//***@");
  }
}

function assertParses(value: string): void {
  try {
    new URL(value);
  } catch {
    throw new ProxyError("USAGE", `The token store URL ${JSON.stringify(redactStoreUrl(value))} is not a valid URL.`, {
      hint: "Write it as redis://[USER:PASSWORD@]HOST:PORT[/DB] or postgres://USER[:PASSWORD]@HOST:PORT/DB.",
    });
  }
}
