import { watch } from "node:fs";
import { closeSharedStores, createUpstreamContext, perUserAuth } from "../../app/context.ts";
import { discoveredResource } from "../../app/endpoint-check.ts";
import { loadOrGenerateApiKey } from "../../app/generated-api-key.ts";
import { stopGracefully, stopSignal } from "../../app/graceful-stop.ts";
import { launchCommand } from "../../app/launch-command.ts";
import { type ServeHandle, startServe } from "../../app/serve.ts";
import { pageFormToken } from "../../app/shared-page-token.ts";
import type { ServedUpstream } from "../../app/upstream-face.ts";
import { defaultAuthDir } from "../../config/defaults.ts";
import { readEnvironment } from "../../config/environment.ts";
import { describeError } from "../../lib/errors.ts";
import type { Logger } from "../../lib/logger.ts";
import { openUrl } from "../../lib/open-url.ts";
import { PublicOrigin } from "../../server/identity/index.ts";
import type { CliArgs } from "../args.ts";
import { configNotices, printConfigNotices } from "../config-notices.ts";
import { EXIT } from "../exit-codes.ts";
import {
  configFor,
  configuredServers,
  forgetLoadedConfig,
  type ResolvedServer,
  resolveServer,
} from "../resolve-server.ts";
import { launchOptions } from "../suggest-command.ts";
import { runtimeFor } from "./require.ts";

/**
 * `[serve] <url or name>`: the HTTP face until SIGINT/SIGTERM. Without a URL and with a config file, every
 * configured server, each at /servers/<name>/…; SIGHUP (and a change of the file) reloads it.
 */
export async function serveCommand(args: CliArgs, out: (text: string) => void): Promise<number> {
  const config = configFor(args);
  // Without a URL or name, a config file's servers are served as named upstreams (reloadable), even just one.
  const many = !args.url && !args.serverName && config !== undefined && config.servers.length > 0;
  const servers = many && config ? configuredServers(config) : [resolveServer(args, "serve", config)];
  printConfigNotices(configNotices(config), (line) => process.stderr.write(`${line}\n`));
  const auths = new Set<Closable>();
  let logger: Logger | undefined;
  const identity = args.serve.identity;
  const perUser = identity.mode.kind !== "none";
  // The redirect URI's base: --public-url, or (in a mode trusting its front) learnt from its X-Forwarded-Host.
  const publicOrigin = new PublicOrigin(identity.publicUrl);
  const served = async (server: ResolvedServer): Promise<ServedUpstream> => {
    // With several upstreams the status page is the one browser tab (startServe opens it), not one per server.
    const runtime = {
      ...runtimeFor(args, server),
      ...(servers.length > 1 ? { openBrowser: false } : {}),
      ...(identity.publicUrl ? { publicUrl: identity.publicUrl } : {}),
    };
    const ctx = await createUpstreamContext(server.upstream, runtime, {
      callback: "external",
      logFormat: args.serve.logFormat,
      ...(logger ? { logger } : {}),
    });
    logger ??= ctx.logger;
    // Several users: one core per person (their own grant), instead of the upstream's one.
    const auth = perUser ? perUserAuth(ctx, () => publicOrigin.baseUrl, args.serve.maxGrants) : ctx.auth;
    if (perUser) await ctx.auth?.close();
    if (auth) auths.add(auth);
    return {
      name: server.name ?? "default",
      upstream: ctx.upstream,
      auth,
      upstreamTransport: server.transport,
      discoveredResource: () => discoveredResource(ctx),
      rateLimit: server.rateLimit,
      protocol: server.protocol,
      ignoreTools: server.ignoreTools,
      eraStore: { store: ctx.store, key: ctx.storeKey },
    };
  };
  const entries = await Promise.all(servers.map(served));
  const first = entries[0] as ServedUpstream;
  const handle = await startServe({
    upstream: first.upstream,
    runtime: args.runtime,
    auth: first.auth,
    ...(many
      ? { upstreams: entries }
      : {
          upstreamTransport: first.upstreamTransport,
          rateLimit: first.rateLimit,
          protocol: first.protocol,
          ignoreTools: first.ignoreTools,
          eraStore: first.eraStore,
          ...(servers[0]?.name ? { name: servers[0].name } : {}),
        }),
    logFormat: args.serve.logFormat,
    logger,
    host: args.serve.host,
    port: args.runtime.port,
    apiKey: args.serve.apiKey ?? (args.serve.generateApiKey ? await generatedApiKey(args.runtime.authDir) : undefined),
    allowOrigins: args.serve.allowOrigins,
    allowHosts: args.serve.allowHosts,
    maxStreams: args.serve.maxStreams,
    maxStreamsPerSession: args.serve.maxStreamsPerSession,
    maxSessions: args.serve.maxSessions,
    sessionIdleMs: args.serve.sessionIdleMs,
    keepAliveMs: args.serve.keepAliveMs,
    identity,
    publicOrigin,
    formToken: first.eraStore ? await pageFormToken(first.eraStore.store) : undefined,
    checkUpstream: true,
    discoveredResource: first.discoveredResource,
    launch: launchCommand({
      authDir: args.runtime.authDir,
      defaultAuthDir: defaultAuthDir(),
      configPath: config?.path,
      port: args.runtime.port,
      options: launchOptions(args.argv ?? []),
    }),
    openPage: args.runtime.openBrowser
      ? (url) => openUrl(url, { browserCommand: readEnvironment().browser })
      : async (url) => void process.stderr.write(`Open ${url} to sign in to each server.\n`),
  });
  out(readyMessage(handle, many ? entries : undefined, first.upstream.url));

  const stopReloading =
    many && config ? watchConfig(config.path, () => reload(handle, args, served, auths, logger)) : undefined;
  const signal = await stopSignal();
  logger?.info(`Shutting down (${signal}).`);
  stopReloading?.();
  await stopGracefully(handle, {
    logger,
    closeRest: async () => {
      await Promise.all([...auths].map((auth) => auth.close()));
      // After the cores (a sign-in or refresh still running may need the store), the shared store's connections.
      for (const location of await closeSharedStores()) logger?.info(`Closed the token store ${location}.`);
    },
  });
  return EXIT.ok;
}

/** An auth core the command closes at the end (UpstreamAuth, or a per-user one). */
interface Closable {
  close(): Promise<void>;
}

/**
 * `--generate-api-key` without a key of its own: the stored one, or a new one printed here once (on stderr, like
 * sign-in URLs: the container's log is where its operator looks). Never through the logger.
 */
async function generatedApiKey(authDir: string): Promise<string> {
  const { key, path, created } = await loadOrGenerateApiKey(authDir);
  process.stderr.write(
    created
      ? `\nGenerated an API key for this proxy (stored in ${path}, mode 0600; shown only this once):\n\n  ${key}\n\nMCP clients send it as "Authorization: Bearer <key>" or "X-API-Key: <key>".\n\n`
      : `Using the API key in ${path} (generated at an earlier start).\n`,
  );
  return key;
}

function readyMessage(handle: ServeHandle, entries: readonly ServedUpstream[] | undefined, url: string): string {
  if (!entries) {
    return `mcp-u2m-proxy ${url} is ready:
  Streamable HTTP  ${handle.url}/mcp
  legacy SSE       ${handle.url}/sse
  status page      ${handle.url}/
Press Ctrl+C to stop.`;
  }
  const width = Math.max(...entries.map((entry) => entry.name.length));
  const lines = entries.map(
    (entry) =>
      `  ${entry.name.padEnd(width)}  ${handle.url}/servers/${entry.name}/mcp  (legacy SSE: …/sse)  ← ${entry.upstream.url}`,
  );
  return `mcp-u2m-proxy is ready with ${entries.length} servers:\n${lines.join("\n")}\n  status page  ${handle.url}/\nPress Ctrl+C to stop; SIGHUP reloads the config.`;
}

/** Reloads on SIGHUP and when the file changes (debounced: editors write in several steps). */
function watchConfig(path: string, reload: () => Promise<void>): () => void {
  let timer: NodeJS.Timeout | undefined;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), 300);
  };
  process.on("SIGHUP", soon);
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(path, soon);
    watcher.on("error", () => {});
  } catch {
    // A file that cannot be watched is still reloaded on SIGHUP.
  }
  return () => {
    clearTimeout(timer);
    process.off("SIGHUP", soon);
    watcher?.close();
  };
}

async function reload(
  handle: ServeHandle,
  args: CliArgs,
  served: (server: ResolvedServer) => Promise<ServedUpstream>,
  auths: Set<Closable>,
  logger: Logger | undefined,
): Promise<void> {
  try {
    forgetLoadedConfig();
    const config = configFor(args);
    if (!config) throw new Error("the config file is gone");
    const entries = await Promise.all(configuredServers(config).map(served));
    const result = await handle.reload(entries);
    for (const retired of result.retired) {
      auths.delete(retired as unknown as Closable);
      await (retired as unknown as Closable).close();
    }
    const changes = [
      ...result.added.map((name) => `+${name}`),
      ...result.removed.map((name) => `-${name}`),
      ...result.changed.map((name) => `~${name}`),
    ];
    logger?.info(`Reloaded ${config.path}: ${changes.length > 0 ? changes.join(" ") : "no changes"}.`);
  } catch (error) {
    // A broken edit must not take the running servers down: keep them, say what is wrong.
    logger?.warn(`Could not reload the config (${describeError(error)}); the servers keep running as they were.`);
  }
}
