import type { Server } from "node:http";
import type { Dispatcher } from "undici";
import type { RuntimeOptions, UpstreamOptions } from "../config/options.ts";
import { callbackAddresses, listenCallbackAddress, listenOn } from "../lib/callback-bind.ts";
import { ProxyError } from "../lib/errors.ts";
import { createHardenedHttpServer, type InboundTimeouts, inboundTimeouts } from "../lib/hardened-http-server.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { HttpRelay } from "../proxy/http-relay.ts";
import { StreamLimits } from "../proxy/stream-limits.ts";
import { UpstreamHealth } from "../proxy/upstream-health.ts";
import { createRequestListener, type FaceAuthClient } from "../server/http-face.ts";
import { API_KEY_HEADER, RequestGuard } from "../server/request-guard.ts";
import type { TransportBridges } from "../server/transport-bridges.ts";
import { checkUpstreamAtStart, signInAtStart } from "./sign-in-at-start.ts";

/**
 * `mcp-u2m-proxy [serve] [<url>]`: the HTTP face in front of one upstream MCP server.
 * The CLI resolves flags and environment into these options; everything here is already validated input.
 */
export interface ServeOptions {
  upstream: UpstreamOptions;
  runtime: RuntimeOptions;
  /** The OAuth core for the upstream, created with `callback: "external"`; undefined with a static Authorization header. */
  auth?: FaceAuthClient | undefined;
  logger?: Logger | undefined;
  /** Address to bind (--host, default 127.0.0.1). A non-loopback address requires apiKey. */
  host?: string | undefined;
  /** Port (--port); defaults to runtime.port, which the OAuth redirect URI also uses. 0 picks a free one. */
  port?: number | undefined;
  /** Inbound secret (--api-key or MCP_PROXY_API_KEY), checked on every MCP request. */
  apiKey?: string | undefined;
  /** Browser origins allowed besides loopback ones (--allow-origin); "*" allows any. */
  allowOrigins?: readonly string[] | undefined;
  /** Host header names allowed besides loopback and the bound address (--allow-host), e.g. behind a reverse proxy. */
  allowHosts?: readonly string[] | undefined;
  /** How long an MCP request waits for a sign-in under way (default 45 s). */
  signInWaitMs?: number | undefined;
  /** Request body limit (default 4 MB; 413 above). */
  maxBodyBytes?: number | undefined;
  /** How long to wait for the upstream's response headers (default 120 s; then 504 / a JSON-RPC error). */
  upstreamTimeoutMs?: number | undefined;
  /** Connections kept to the upstream for requests (default 128); long-lived streams have their own. */
  upstreamConnections?: number | undefined;
  /** Long-lived streams open at once (GET streams, `/sse`, `subscriptions/listen`; default 2000); 503 above. */
  maxStreams?: number | undefined;
  /** Long-lived streams open at once within one MCP session (default 4). */
  maxStreamsPerSession?: number | undefined;
  /** Sessions the proxy holds itself (bridged) end after this long without use (default 10 min). */
  sessionIdleMs?: number | undefined;
  /** Sessions the proxy holds itself, at most (default 1000); a new one above gets 503. */
  maxSessions?: number | undefined;
  /**
   * Inbound socket timeouts: request headers (default 20 s), whole request (60 s), idle keep-alive (65 s), and a
   * socket without traffic and without a response the client still reads (60 s). Streams are not limited.
   */
  timeouts?: Partial<InboundTimeouts> | undefined;
  /** Outbound dispatcher for the relay (default: its own pool, or an env proxy agent when HTTP(S)_PROXY is set). */
  dispatcher?: Dispatcher | undefined;
  /** The upstream's transport when known (--transport); otherwise detected once and remembered. */
  upstreamTransport?: "streamable-http" | "sse" | undefined;
  /** Bridge clients whose transport the upstream does not speak (default true). */
  bridging?: boolean | undefined;
  /** Start a sign-in at start-up when there are no valid tokens (default true). */
  signInAtStart?: boolean | undefined;
  /**
   * Probe the upstream as an MCP endpoint at start (one warning line when it is down or not MCP; the sign-in at
   * start uses the same probe) and report its reachability and era on /healthz. The CLI's `serve` turns it on.
   */
  checkUpstream?: boolean | undefined;
  /** The upstream's protected resource metadata `resource`, for the start-up check's "did you mean". */
  discoveredResource?: (() => Promise<string | undefined>) | undefined;
}

export interface ServeHandle {
  /** Base URL of the face, e.g. "http://127.0.0.1:8000" (MCP endpoint: `${url}/mcp`). */
  readonly url: string;
  readonly port: number;
  /** Stops listening, ends open streams and closes upstream connections. Does not close `auth`. */
  close(): Promise<void>;
}

/**
 * Builds and starts the HTTP face. Listens first (the OAuth callback is this server's `/oauth/callback`), then,
 * without valid tokens, starts a sign-in (the core prints the URL) and serves meanwhile: MCP requests wait for
 * it, bounded, then get a JSON-RPC error naming the sign-in URL.
 * Refuses to start on a non-loopback address without an inbound API key.
 */
export async function startServe(options: ServeOptions): Promise<ServeHandle> {
  const logger = options.logger ?? silentLogger;
  const host = options.host ?? "127.0.0.1";
  const guard = new RequestGuard({
    bindHost: host,
    allowOrigins: options.allowOrigins,
    allowHosts: options.allowHosts,
    apiKey: options.apiKey,
  });
  const requestedPort = options.port ?? options.runtime.port;
  if (options.auth && requestedPort !== options.runtime.port) {
    logger.warn(
      `Serving on port ${requestedPort} but the OAuth redirect URI uses port ${options.runtime.port}; sign-ins will not come back here.`,
    );
  }

  let dispatcher = options.dispatcher;
  let ownDispatcher: Dispatcher | undefined;
  const env = process.env;
  if (!dispatcher && (env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy)) {
    // Corporate proxies: honour HTTP(S)_PROXY and NO_PROXY on the hot path too (undici in full only then).
    const { EnvHttpProxyAgent } = await import("undici");
    ownDispatcher = new EnvHttpProxyAgent();
    dispatcher = ownDispatcher;
  }

  const servers: Server[] = [];
  const streamLimits = new StreamLimits({
    maxStreams: options.maxStreams,
    maxStreamsPerSession: options.maxStreamsPerSession,
  });
  const relay = new HttpRelay({
    upstreamUrl: options.upstream.url,
    auth: options.auth,
    headers: options.upstream.headers,
    logger,
    maxBodyBytes: options.maxBodyBytes,
    signInWaitMs: options.signInWaitMs,
    upstreamTimeoutMs: options.upstreamTimeoutMs,
    connections: options.upstreamConnections,
    streamConnections: streamLimits.maxStreams,
    dispatcher,
    dropRequestHeaders: [API_KEY_HEADER],
  });
  // Bridging loads the SDK (tens of MB, ~0.3 s): only when a client first needs it, never for the pass-through.
  let bridging: Promise<TransportBridges> | undefined;
  const bridges =
    options.bridging === false
      ? undefined
      : () => {
          bridging ??= import("../server/transport-bridges.ts").then(
            ({ TransportBridges }) =>
              new TransportBridges({
                upstreamUrl: options.upstream.url,
                auth: options.auth,
                headers: options.upstream.headers,
                logger,
                maxBodyBytes: relay.maxBodyBytes,
                sessionIdleMs: options.sessionIdleMs,
                maxSessions: options.maxSessions,
              }),
          );
          return bridging;
        };
  const auth = options.auth;
  const health = options.checkUpstream
    ? new UpstreamHealth({
        url: options.upstream.url,
        headers: options.upstream.headers,
        token: auth ? () => auth.getAccessToken() : undefined,
      })
    : undefined;
  // A sign-in (or sign-out) changes what the probe sees: the next /healthz probes again.
  const unsubscribeHealth = health && auth?.onStateChange(() => health.invalidate());
  const listener = createRequestListener({
    upstreamUrl: options.upstream.url,
    auth: options.auth,
    relay,
    guard,
    logger,
    bridges,
    upstreamTransport: options.upstreamTransport,
    streamLimits,
    health,
  });

  const timeouts = inboundTimeouts(FACE_TIMEOUTS, options.timeouts);
  const makeServer = () => createHardenedHttpServer(listener, timeouts, { noDelay: true });
  const closeServers = () =>
    Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );

  const primary = makeServer();
  // "localhost" may resolve to ::1 first; bind 127.0.0.1 explicitly and add ::1 below.
  const bindHost = host === "localhost" ? "127.0.0.1" : host;
  let port: number;
  try {
    port = await listen(primary, requestedPort, bindHost);
  } catch (error) {
    await relay.close();
    await ownDispatcher?.close().catch(() => {});
    throw error;
  }
  servers.push(primary);
  // With --port 0 the OAuth redirect URI must name the port actually bound: the auth core reads runtime.port.
  if (options.runtime.port === 0 && requestedPort === 0) options.runtime.port = port;
  // With OAuth, the face must own every address the redirect URI's host reaches ("localhost": 127.0.0.1 and ::1),
  // or another local process listening on the one left free receives the browser's code and state.
  const callbackOnly = options.auth
    ? callbackAddresses(options.runtime.callbackHost).filter((address) => !bindCovers(bindHost, address))
    : [];
  try {
    for (const address of callbackOnly) {
      const server = makeServer();
      if (await listenCallbackAddress(server, port, address)) servers.push(server);
    }
  } catch (error) {
    await closeServers();
    await relay.close();
    await ownDispatcher?.close().catch(() => {});
    throw error;
  }
  const baseUrl = `http://${urlHost(host)}:${port}`;
  relay.signInPageUrl = `${baseUrl}/`;
  logger.debug(`Serving ${relay.upstream.href} at ${baseUrl}/mcp (legacy SSE: ${baseUrl}/sse; page: ${baseUrl}/)`);

  // Without tokens, a probe's 401 starts the sign-in (single-flight with the sign-ins that early requests' 401s
  // start: one browser tab). With the check on, that probe also warns when the upstream is down or not MCP.
  if (health) {
    void checkUpstreamAtStart({
      url: options.upstream.url,
      headers: options.upstream.headers,
      health,
      logger,
      auth,
      signIn: options.signInAtStart !== false,
      resource: options.discoveredResource,
    });
  } else if (auth && options.signInAtStart !== false) {
    void signInAtStart(auth, options.upstream, logger);
  }

  let closing: Promise<void> | undefined;
  return {
    url: baseUrl,
    port,
    close: () => {
      closing ??= (async () => {
        unsubscribeHealth?.();
        await closeServers();
        await (await bridging)?.close();
        await relay.close();
        await ownDispatcher?.close().catch(() => {});
      })();
      return closing;
    },
  };
}

const FACE_TIMEOUTS: InboundTimeouts = { headersMs: 20_000, requestMs: 60_000, keepAliveMs: 65_000, idleMs: 60_000 };

async function listen(server: Server, port: number, host: string): Promise<number> {
  try {
    return await listenOn(server, port, host);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    throw new ProxyError("CALLBACK_PORT_IN_USE", `Port ${port} on ${host} is already in use.`, {
      hint: "Stop what uses it, or pick another with --port (or OAUTH_CALLBACK_PORT).",
      cause: error,
    });
  }
}

/** Whether listening on `bindHost` already receives connections to `address` (wildcards cover their family). */
function bindCovers(bindHost: string, address: string): boolean {
  if (bindHost === address || bindHost === "::" || bindHost === "") return true;
  return bindHost === "0.0.0.0" && !address.includes(":");
}

/** The host part of the face's URL: wildcard binds are reached on loopback; IPv6 literals get brackets. */
function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}
