import { createUpstreamContext } from "../../app/context.ts";
import { discoveredResource } from "../../app/endpoint-check.ts";
import { startServe } from "../../app/serve.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { requireUrl } from "./require.ts";

/** `[serve] <url>`: the HTTP face until SIGINT/SIGTERM. */
export async function serveCommand(args: CliArgs, out: (text: string) => void): Promise<number> {
  const url = requireUrl(args, "serve");
  const ctx = await createUpstreamContext({ ...args.upstream, url }, args.runtime, { callback: "external" });
  const handle = await startServe({
    upstream: ctx.upstream,
    runtime: ctx.runtime,
    auth: ctx.auth,
    logger: ctx.logger,
    host: args.serve.host,
    port: args.runtime.port,
    apiKey: args.serve.apiKey,
    allowOrigins: args.serve.allowOrigins,
    allowHosts: args.serve.allowHosts,
    maxStreams: args.serve.maxStreams,
    maxStreamsPerSession: args.serve.maxStreamsPerSession,
    maxSessions: args.serve.maxSessions,
    sessionIdleMs: args.serve.sessionIdleMs,
    upstreamTransport: args.transport,
    checkUpstream: true,
    discoveredResource: () => discoveredResource(ctx),
  });
  out(`mcp-u2m-proxy ${url} is ready:
  Streamable HTTP  ${handle.url}/mcp
  legacy SSE       ${handle.url}/sse
  status page      ${handle.url}/
Press Ctrl+C to stop.`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  ctx.logger.info("Shutting down.");
  await handle.close();
  await ctx.auth?.close();
  return EXIT.ok;
}
