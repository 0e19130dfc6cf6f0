import { createRequire } from "node:module";
import type { Pool } from "undici";

type PoolConstructor = new (origin: string, options?: Pool.Options) => Pool;

const require = createRequire(import.meta.url);
let PoolClass: PoolConstructor | undefined;

/**
 * undici's Pool without the rest of undici: its index loads fetch, WebSocket, caches and more (about 10 MB of heap
 * and 80 ms at start) that the relay never uses. undici 7 has no exports map, so the file is reachable; should a
 * release move it, the full package is loaded instead.
 */
function poolClass(): PoolConstructor {
  if (!PoolClass) {
    try {
      PoolClass = require("undici/lib/dispatcher/pool.js") as PoolConstructor;
    } catch {
      PoolClass = (require("undici") as { Pool: PoolConstructor }).Pool;
    }
  }
  return PoolClass;
}

/** A keep-alive connection pool to one upstream origin. */
export function createUpstreamPool(origin: string, options: Pool.Options): Pool {
  const Pool = poolClass();
  return new Pool(origin, options);
}
