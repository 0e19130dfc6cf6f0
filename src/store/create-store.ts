/**
 * The one place a TokenStore backend is chosen and built, so callers name a backend instead of a class and a new
 * backend (a shared one for several replicas, say) is added here and nowhere else.
 */
import { ProxyError } from "../lib/errors.ts";
import { FileTokenStore } from "./file-store.ts";
import { MemoryTokenStore } from "./memory-store.ts";
import { PostgresTokenStore } from "./postgres-store.ts";
import { RedisTokenStore } from "./redis-store.ts";
import type { TokenStore } from "./token-store.ts";

/** The backends this build knows. */
export const STORE_BACKENDS = ["file", "memory", "redis", "postgres"] as const;
export type StoreBackend = (typeof STORE_BACKENDS)[number];

export interface CreateStoreOptions {
  /**
   * `file`: JSON files in `dir` (the default layout, docs/storage.md). `memory`: this process only, for tests.
   * `redis`, `postgres`: a server shared by several replicas, at `url` (docs/scale-out.md).
   */
  backend: StoreBackend;
  /** The server of a shared backend: redis://… or postgres://… (`postgres:` alone: the PG* variables). */
  url?: string | undefined;
  /** The directory of the file backend (absolute, resolved by the caller; e.g. ~/.mcp/auth). Required for `file`. */
  dir?: string | undefined;
  /**
   * Told about things worth a line in the log that stop nothing (a corrupt record moved aside, permissions
   * tightened, a lock lost). Messages name files and reasons, never record contents.
   */
  onWarning?: ((message: string) => void) | undefined;
  /** Default `waitMs` of withLock (and the file backend's write lock). Default 30 s. */
  lockWaitMs?: number | undefined;
  /** A shared backend's lease on a lock, renewed while held (the backend's default when undefined: 10 s). */
  leaseMs?: number | undefined;
}

/**
 * Builds the store for a backend. The overloads keep the concrete type for callers that use a backend's extras
 * (the file store's `recordPath`, a non-optional `sidecarPath`).
 *
 * @throws ProxyError USAGE when the file backend has no directory, a shared one no URL, or the backend is unknown (a name from a
 *   config file or the environment, say).
 */
export function createStore(options: CreateStoreOptions & { backend: "file" }): FileTokenStore;
export function createStore(options: CreateStoreOptions & { backend: "memory" }): MemoryTokenStore;
export function createStore(options: CreateStoreOptions & { backend: "redis" }): RedisTokenStore;
export function createStore(options: CreateStoreOptions & { backend: "postgres" }): PostgresTokenStore;
export function createStore(options: CreateStoreOptions): TokenStore;
export function createStore(options: CreateStoreOptions): TokenStore {
  const lockWait = options.lockWaitMs === undefined ? {} : { lockWaitMs: options.lockWaitMs };
  switch (options.backend) {
    case "file":
      if (!options.dir) {
        throw new ProxyError("USAGE", "The file token store needs a directory.", {
          hint: "Pass dir (e.g. ~/.mcp/auth, expanded), or choose --auth-dir / MCP_AUTH_DIR.",
        });
      }
      return new FileTokenStore({
        dir: options.dir,
        ...(options.onWarning ? { onWarning: options.onWarning } : {}),
        ...lockWait,
      });
    case "memory":
      return new MemoryTokenStore(lockWait);
    case "redis":
    case "postgres": {
      if (!options.url) {
        throw new ProxyError("USAGE", `The ${options.backend} token store needs a URL.`, {
          hint: "Pass --store redis://HOST:PORT or --store postgres://USER@HOST:PORT/DB (env MCP_PROXY_STORE).",
        });
      }
      const shared = {
        url: options.url,
        ...(options.onWarning ? { onWarning: options.onWarning } : {}),
        ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
        ...lockWait,
      };
      return options.backend === "redis" ? new RedisTokenStore(shared) : new PostgresTokenStore(shared);
    }
    default:
      throw new ProxyError("USAGE", `Unknown token store backend ${JSON.stringify(String(options.backend))}.`, {
        hint: `Choose one of: ${STORE_BACKENDS.join(", ")}.`,
        details: { backend: String(options.backend) },
      });
  }
}
