import { createRequire } from "node:module";
import type { Agent, Dispatcher, Pool } from "undici";
import { readEnvironment } from "../config/environment.ts";

type PoolConstructor = new (origin: string, options?: Pool.Options) => Pool;
type AgentConstructor = new (options?: Agent.Options) => Agent;

const require = createRequire(import.meta.url);
let PoolClass: PoolConstructor | undefined;
let AgentClass: AgentConstructor | undefined;

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

/** undici's Agent (a Pool per origin), loaded the same way as the Pool. */
function agentClass(): AgentConstructor {
  if (!AgentClass) {
    try {
      AgentClass = require("undici/lib/dispatcher/agent.js") as AgentConstructor;
    } catch {
      AgentClass = (require("undici") as { Agent: AgentConstructor }).Agent;
    }
  }
  return AgentClass;
}

/** A keep-alive connection pool to one upstream origin. */
export function createUpstreamPool(origin: string, options: Pool.Options): Pool {
  const Pool = poolClass();
  return new Pool(origin, options);
}

/**
 * The keep-alive connections of one upstream's message path (the stdio face, the HTTP face's bridges), owned by
 * that upstream and closed with it, instead of the process-wide dispatcher of `fetch`. An Agent rather than a Pool:
 * it routes by each request's own origin, so a request to another origin can never go down this upstream's sockets.
 * Connections are not capped: long-lived streams (GET, `subscriptions/listen`) each hold one.
 * Undefined when HTTP(S)_PROXY is set: the global dispatcher is then the env proxy agent, which must be used.
 */
export function createMessagePathDispatcher(): Dispatcher | undefined {
  if (readEnvironment().outboundProxy) return undefined;
  const Agent = agentClass();
  return new Agent({ keepAliveTimeout: 30_000 });
}
