import { createUpstreamContext } from "../../app/context.ts";
import { stopSignal } from "../../app/graceful-stop.ts";
import { runStdio } from "../../app/stdio.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { resolveServer } from "../resolve-server.ts";
import { runtimeFor } from "./require.ts";

/** `stdio <url or name>`: MCP on stdin/stdout until stdin closes. Nothing but MCP messages is written to stdout. */
export async function stdioCommand(args: CliArgs): Promise<number> {
  const server = resolveServer(args, "stdio");
  const ctx = await createUpstreamContext(server.upstream, runtimeFor(args, server), { callback: "own-listener" });
  const stop = new AbortController();
  // Not process.once: the listener must stay while the face closes (see stopSignal); a second signal exits 1.
  void stopSignal().then(() => stop.abort());
  try {
    await runStdio({
      upstream: ctx.upstream,
      runtime: ctx.runtime,
      auth: ctx.auth,
      logger: ctx.logger,
      signal: stop.signal,
      ...(server.transport ? { transport: server.transport } : {}),
      protocol: server.protocol,
      ignoreTools: server.ignoreTools,
      eraStore: { store: ctx.store, key: ctx.storeKey },
    });
  } finally {
    await ctx.auth?.close();
  }
  return EXIT.ok;
}
