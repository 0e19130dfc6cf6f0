import { createUpstreamContext } from "../../app/context.ts";
import { runStdio } from "../../app/stdio.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { requireUrl } from "./require.ts";

/** `stdio <url>`: MCP on stdin/stdout until stdin closes. Nothing but MCP messages is written to stdout. */
export async function stdioCommand(args: CliArgs): Promise<number> {
  const url = requireUrl(args, "stdio");
  const ctx = await createUpstreamContext({ ...args.upstream, url }, args.runtime, { callback: "own-listener" });
  const stop = new AbortController();
  process.once("SIGTERM", () => stop.abort());
  process.once("SIGINT", () => stop.abort());
  try {
    await runStdio({
      upstream: ctx.upstream,
      runtime: ctx.runtime,
      auth: ctx.auth,
      logger: ctx.logger,
      signal: stop.signal,
    });
  } finally {
    await ctx.auth?.close();
  }
  return EXIT.ok;
}
