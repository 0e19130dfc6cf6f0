import { createStore, createUpstreamContext } from "../../app/context.ts";
import { createLogger } from "../../lib/logger.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { storedUpstreams } from "../stored-upstreams.ts";
import { requireAuth } from "./require.ts";

/** `clear [<url>]`: revoke (when the AS supports RFC 7009) and delete stored credentials, for one server or all. */
export async function clearCommand(args: CliArgs, out: (text: string) => void): Promise<number> {
  if (args.url) {
    const ctx = await createUpstreamContext({ ...args.upstream, url: args.url }, args.runtime, {
      callback: "external",
    });
    const auth = requireAuth(ctx.auth, args.url);
    const { revoked } = await auth.clear();
    out(`Signed out of ${auth.serverUrl}${revoked ? " (tokens revoked at the authorization server)" : ""}.`);
    return EXIT.ok;
  }
  const logger = createLogger({ level: args.runtime.debug ? "debug" : "warn" });
  const store = createStore(args.runtime, (message) => logger.warn(message));
  const entries = await storedUpstreams(store, args.runtime, logger);
  for (const { auth } of entries) {
    const { revoked } = await auth.clear();
    out(`Signed out of ${auth.serverUrl}${revoked ? " (tokens revoked)" : ""}.`);
  }
  if (entries.length === 0) out(`No stored sign-ins in ${store.location}.`);
  return EXIT.ok;
}
