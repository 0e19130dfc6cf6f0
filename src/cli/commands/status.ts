import { createStore, createUpstreamContext } from "../../app/context.ts";
import { createLogger } from "../../lib/logger.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { formatStatus } from "../format.ts";
import { statusesOf, storedUpstreams } from "../stored-upstreams.ts";
import { requireAuth } from "./require.ts";

/** `status [<url>]`: exit 0 when <url> has usable tokens, 1 when not; without <url>, every stored server. */
export async function statusCommand(args: CliArgs, out: (text: string) => void): Promise<number> {
  if (args.url) {
    const ctx = await createUpstreamContext({ ...args.upstream, url: args.url }, args.runtime, {
      callback: "external",
    });
    const status = await requireAuth(ctx.auth, args.url).status();
    out(args.json ? JSON.stringify(status, null, 2) : formatStatus(status, ctx.store.location));
    return status.signedIn ? EXIT.ok : EXIT.notSignedIn;
  }
  const logger = createLogger({ level: args.runtime.debug ? "debug" : "warn" });
  const store = createStore(args.runtime, (message) => logger.warn(message));
  const statuses = await statusesOf(await storedUpstreams(store, args.runtime, logger));
  if (args.json) out(JSON.stringify(statuses, null, 2));
  else if (statuses.length === 0) out(`No stored sign-ins in ${store.location}.`);
  else out(statuses.map((status) => formatStatus(status, store.location)).join("\n\n"));
  return EXIT.ok;
}
