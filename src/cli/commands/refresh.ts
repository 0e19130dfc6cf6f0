import { createUpstreamContext } from "../../app/context.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { formatStatus } from "../format.ts";
import { requireAuth, requireUrl } from "./require.ts";

/** `refresh <url>`: refresh now with the stored refresh token. */
export async function refreshCommand(args: CliArgs, out: (text: string) => void): Promise<number> {
  const url = requireUrl(args, "refresh");
  const ctx = await createUpstreamContext({ ...args.upstream, url }, args.runtime, { callback: "external" });
  const auth = requireAuth(ctx.auth, url);
  await auth.refresh();
  out(`Refreshed.\n${formatStatus(await auth.status(), ctx.store.location)}`);
  return EXIT.ok;
}
