import { createStore, createUpstreamContext } from "../../app/context.ts";
import type { ClearOutcome, UpstreamAuth } from "../../auth/upstream-auth.ts";
import { createLogger } from "../../lib/logger.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { resolveServer } from "../resolve-server.ts";
import { storedUpstreams } from "../stored-upstreams.ts";
import { requireAuth, runtimeFor } from "./require.ts";

/**
 * `clear [<url or name>]`: revoke (when the AS supports RFC 7009) and delete stored credentials, for one server or
 * all. A failed revocation is reported with what the server said and exits 5; the local records go either way.
 */
export async function clearCommand(args: CliArgs, out: (text: string) => void): Promise<number> {
  if (args.url || args.serverName) {
    const server = resolveServer(args, "clear");
    const ctx = await createUpstreamContext(server.upstream, runtimeFor(args, server), { callback: "external" });
    const auth = requireAuth(ctx.auth, server.upstream.url);
    return report(auth, await auth.clear(), out);
  }
  const logger = createLogger({ level: args.runtime.debug ? "debug" : "warn" });
  const store = createStore(args.runtime, (message) => logger.warn(message));
  const entries = await storedUpstreams(store, args.runtime, logger);
  if (entries.length === 0) {
    out(`No stored sign-ins in ${store.location}; nothing to clear.`);
    return EXIT.ok;
  }
  let code: number = EXIT.ok;
  for (const { auth } of entries) code = Math.max(code, report(auth, await auth.clear(), out));
  return code;
}

function report(auth: UpstreamAuth, outcome: ClearOutcome, out: (text: string) => void): number {
  const url = auth.serverUrl;
  if (!outcome.hadRecords) {
    out(`Not signed in to ${url}; nothing to clear.`);
    return EXIT.ok;
  }
  switch (outcome.revocation) {
    case "revoked":
      out(`Signed out of ${url}: the tokens were revoked at the authorization server and deleted here.`);
      return EXIT.ok;
    case "no-tokens":
      out(`Not signed in to ${url} (there were no tokens); the stored client registration was deleted.`);
      return EXIT.ok;
    case "unsupported":
      out(
        `Signed out of ${url}: the tokens were deleted here but not revoked (the authorization server offers no revocation); the access token stays valid upstream${until(outcome)}.`,
      );
      return EXIT.ok;
    case "no-client":
      out(
        `Signed out of ${url}: the tokens were deleted here but not revoked (no client registration was stored to revoke them with); the access token stays valid upstream${until(outcome)}.`,
      );
      return EXIT.ok;
    case "failed":
      out(
        `The tokens for ${url} were deleted here, but revoking them failed (${outcome.failure}${outcome.clientUnknown ? ": the authorization server no longer knows this proxy's client" : ""}); the access token stays valid upstream${until(outcome)}.`,
      );
      return EXIT.authServer;
  }
}

function until(outcome: ClearOutcome): string {
  return outcome.expiresAt ? ` until it expires (${outcome.expiresAt})` : " until it expires";
}
