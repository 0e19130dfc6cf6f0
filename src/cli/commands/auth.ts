import { createUpstreamContext } from "../../app/context.ts";
import { ProxyError } from "../../lib/errors.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { formatStatus } from "../format.ts";
import { requireAuth, requireUrl } from "./require.ts";

/** `auth <url>`: reuse valid tokens (refreshing if they are about to expire), else sign in; save. */
export async function authCommand(args: CliArgs, out: (text: string) => void): Promise<number> {
  const url = requireUrl(args, "auth");
  const ctx = await createUpstreamContext({ ...args.upstream, url }, args.runtime, { callback: "own-listener" });
  const auth = requireAuth(ctx.auth, url);
  try {
    const before = await auth.status();
    if (before.signedIn && !args.force) {
      const fresh = (before.expiresInSeconds ?? Number.POSITIVE_INFINITY) > 60;
      if (
        fresh ||
        (await auth.refresh().then(
          () => true,
          () => false,
        ))
      ) {
        out(`Already signed in.\n${formatStatus(await auth.status(), ctx.store.location)}`);
        return EXIT.ok;
      }
    }
    await auth.signIn({ force: args.force });
    const after = await auth.status();
    if (!after.signedIn) throw new ProxyError("SIGN_IN_REQUIRED", `Sign-in to ${url} did not produce tokens.`);
    out(`Signed in.\n${formatStatus(after, ctx.store.location)}`);
    return EXIT.ok;
  } finally {
    await auth.close();
  }
}
