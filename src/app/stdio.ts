import type { Readable, Writable } from "node:stream";
import type { AuthClient } from "../auth/auth-client.ts";
import { createAuthorizedFetch, type FetchLike } from "../auth/authorized-fetch.ts";
import type { RuntimeOptions, UpstreamOptions } from "../config/options.ts";
import type { Logger } from "../lib/logger.ts";
import { EraVerdicts } from "../proxy/era/era-verdicts.ts";
import { MessageBridge } from "../proxy/message-bridge.ts";
import { clearOnSignInChange, ResultCache } from "../proxy/result-cache.ts";
import { StdioFaceTransport } from "../proxy/stdio-face.ts";
import { toolFilterOf } from "../proxy/tool-filter.ts";
import { UpstreamConnector, type UpstreamTransportKind } from "../proxy/upstream-connector.ts";
import { createMessagePathDispatcher } from "../proxy/upstream-pool.ts";
import type { TokenStore } from "../store/token-store.ts";
import { signInAtStart } from "./sign-in-at-start.ts";

export interface RunStdioOptions {
  upstream: UpstreamOptions;
  runtime: RuntimeOptions;
  /** The upstream's auth client; undefined when a static `Authorization` header (--header) replaces OAuth. */
  auth: AuthClient | undefined;
  /** Must write to stderr (or a file): stdout carries MCP messages only. */
  logger: Logger;
  /** Default process.stdin / process.stdout. */
  input?: Readable;
  output?: Writable;
  /** The upstream wire when known (skips detection). */
  transport?: UpstreamTransportKind;
  /** The upstream's MCP wire era when known (`--protocol`); otherwise probed when needed and remembered. */
  protocol?: "legacy" | "modern" | undefined;
  /** Tools hidden from the client (`--ignore-tool`, config `ignoreTools`): names or `*` patterns. */
  ignoreTools?: readonly string[] | undefined;
  /** Where the probed era is remembered (the upstream's key in the store); in memory only without it. */
  eraStore?: { store: TokenStore; key: string } | undefined;
  /** Base fetch under the authorized fetch (default global fetch). */
  fetch?: FetchLike;
  /** Aborting it closes the bridge at once (requests in flight are not waited for). */
  signal?: AbortSignal;
  /** How long a request waits for a sign-in under way before it is answered with the sign-in URL (default 45 s). */
  signInWaitMs?: number | undefined;
  /** Longest wait, once stdin has ended, for answers to the requests still in flight (default 10 s). */
  drainMs?: number;
}

const DEFAULT_DRAIN_MS = 10_000;

/**
 * `mcp-u2m-proxy stdio <url>`: newline-delimited JSON-RPC on stdin/stdout ↔ the upstream over Streamable HTTP or
 * legacy SSE (detected on the first message), with the token on every upstream request.
 *
 * If there is no usable token at start, the sign-in starts at once (browser or printed URL; one per upstream across
 * processes). Meanwhile client requests wait for the sign-in (bounded, `signInWaitMs`); when it does not
 * complete in time they are answered with a JSON-RPC error that carries the sign-in URL.
 *
 * When stdin ends, the requests already sent still get their answers (`echo '<request>' | mcp-u2m-proxy stdio URL`
 * prints the response), for at most `drainMs`; then the upstream session is ended (DELETE) and this resolves.
 * `signal` (SIGTERM, SIGINT) closes at once. The caller owns `auth` and closes it afterwards.
 */
export async function runStdio(options: RunStdioOptions): Promise<void> {
  const { upstream, auth, logger } = options;
  // This upstream's own keep-alive connections, closed when the bridge ends.
  const dispatcher = createMessagePathDispatcher();
  const fetch = createAuthorizedFetch(auth, {
    headers: upstream.headers,
    dispatcher,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.signInWaitMs !== undefined ? { signInWaitMs: options.signInWaitMs } : {}),
  });
  const eras = new EraVerdicts({
    url: new URL(upstream.url),
    fetch,
    store: options.eraStore,
    choice: options.protocol ?? "auto",
    logger,
  });
  // One user behind this process: one grant, so `private` and `public` results are both reused here.
  const cache = { results: new ResultCache(), upstream: upstream.url, grant: () => "stdio" };
  const unsubscribeCache = auth && clearOnSignInChange(auth, cache.results, upstream.url);
  const connector = new UpstreamConnector({
    url: upstream.url,
    fetch,
    logger,
    hint: options.transport,
    eras,
    cache,
    // The stdio face writes large answers as they arrive (streamed-response.ts).
    streamLargeResponses: true,
  });
  const downstream = new StdioFaceTransport({
    ...(options.input ? { input: options.input } : {}),
    ...(options.output ? { output: options.output } : {}),
    logger,
  });
  const tools = toolFilterOf(options.ignoreTools);
  if (tools)
    logger.info("hiding tools from the client", { upstream: upstream.url, patterns: options.ignoreTools?.join(" ") });
  const bridge = new MessageBridge(downstream, connector.createTransport(), {
    upstreamName: upstream.url,
    logger,
    reconnect: () => connector.createTransport(),
    progressBarrier: true,
    tools,
  });
  downstream.oninputend = () => {
    logger.debug("stdin ended; answering the requests in flight, then closing");
    void bridge.finish(options.drainMs ?? DEFAULT_DRAIN_MS);
  };

  const stop = () => void bridge.close();
  if (options.signal?.aborted) {
    unsubscribeCache?.();
    await dispatcher?.destroy().catch(() => {});
    return;
  }
  options.signal?.addEventListener("abort", stop, { once: true });
  // The CLI passes `signal` and owns the signals; a bare call on the process's own stdio handles them here.
  const ownsProcessStdio = options.input === undefined && options.signal === undefined;
  if (ownsProcessStdio) {
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  }
  try {
    // The browser opens while the host is still starting, not on its first request (which then joins it).
    if (auth) void signInAtStart(auth, upstream, logger);
    await bridge.start();
    logger.debug(`stdio proxy for ${upstream.url} ready`);
    await bridge.closed;
  } finally {
    unsubscribeCache?.();
    await dispatcher?.destroy().catch(() => {});
    options.signal?.removeEventListener("abort", stop);
    if (ownsProcessStdio) {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
    }
  }
}
