// The relay's upstream connections (one pool for requests, one for streams), apart: their sizing is a job of its own.
import type { Dispatcher } from "undici";
import { DEFAULTS } from "../config/defaults.ts";
import { DEFAULT_MAX_STREAMS } from "./stream-limits.ts";
import { createUpstreamPool } from "./upstream-pool.ts";

const DEFAULT_CONNECTIONS = DEFAULTS.upstreamConnections;

/** The dispatchers one relay sends through; `owned` when the relay made them (and so must close them). */
export interface RelayDispatchers {
  /** For requests (and the responses they stream). */
  requests: Dispatcher;
  /** For long-lived streams (GET streams, `/sse`, `subscriptions/listen`). */
  streams: Dispatcher;
  owned: boolean;
}

export interface RelayPoolOptions {
  /** Used for both instead of pools of our own (e.g. an EnvHttpProxyAgent); not ours to close. */
  dispatcher?: Dispatcher | undefined;
  /** Connections kept to the upstream origin for requests. */
  connections?: number | undefined;
  /** Most connections for long-lived streams. */
  streamConnections?: number | undefined;
}

/** The given dispatcher for everything, or two pools to `origin`: one for requests, one for long-lived streams. */
export function relayDispatchers(origin: string, options: RelayPoolOptions): RelayDispatchers {
  if (options.dispatcher) return { requests: options.dispatcher, streams: options.dispatcher, owned: false };
  // One pool per upstream origin: keep-alive connections, enough of them for 64+ requests in flight, and no
  // pipelining (an MCP POST may stream for minutes and would block everything queued behind it).
  // Long-lived streams get a pool of their own, so idle streams never hold the connections requests need.
  const pool = (connections: number) =>
    createUpstreamPool(origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 60_000,
      connect: { timeout: 10_000 },
    });
  return {
    requests: pool(options.connections ?? DEFAULT_CONNECTIONS),
    streams: pool(options.streamConnections ?? DEFAULT_MAX_STREAMS),
    owned: true,
  };
}
