import { createUpstreamContext } from "../../app/context.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { formatStatus } from "../format.ts";
import { resolveServer } from "../resolve-server.ts";
import { requireAuth, runtimeFor } from "./require.ts";

/** `refresh <url or name>`: refresh now with the stored refresh token. */
export async function refreshCommand(args: CliArgs, out: (text: string) => void): Promise<number> {
  const server = resolveServer(args, "refresh");
  const ctx = await createUpstreamContext(server.upstream, runtimeFor(args, server), { callback: "external" });
  const auth = requireAuth(ctx.auth, server.upstream.url);
  await auth.refresh();
  out(`Refreshed.\n${formatStatus(await auth.status(), ctx.store.location)}`);
  return EXIT.ok;
}
