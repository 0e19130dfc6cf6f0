import { createStore, createUpstreamContext } from "../../app/context.ts";
import type { ClearOutcome, UpstreamAuth } from "../../auth/upstream-auth.ts";
import { createLogger } from "../../lib/logger.ts";
import type { TokenStore } from "../../store/token-store.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { resolveServer } from "../resolve-server.ts";
import { storedUpstreams } from "../stored-upstreams.ts";
import { matchesUser, userGrantsOf } from "../user-grants.ts";
import { requireAuth, runtimeFor } from "./require.ts";

/**
 * `clear [<url or name>]`: revoke (when the AS supports RFC 7009) and delete stored credentials, for one server or
 * all. A failed revocation is reported with what the server said and exits 5; the local records go either way.
 */
export async function clearCommand(args: CliArgs, out: (text: string) => void): Promise<number> {
  if (args.user !== undefined) return clearUser(args, args.user, out);
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

/**
 * `clear [<url or name>] --user WHO`: signs one person out (their per-user grant, as `serve --identity` stored it)
 * of that server or of every stored one; the registration and everyone else's grants stay. Exit 1 when WHO has none.
 */
async function clearUser(args: CliArgs, who: string, out: (text: string) => void): Promise<number> {
  let targets: UpstreamAuth[];
  let store: TokenStore;
  if (args.url || args.serverName) {
    const server = resolveServer(args, "clear");
    const ctx = await createUpstreamContext(server.upstream, runtimeFor(args, server), { callback: "external" });
    targets = [requireAuth(ctx.auth, server.upstream.url)];
    store = ctx.store;
  } else {
    const logger = createLogger({ level: args.runtime.debug ? "debug" : "warn" });
    store = createStore(args.runtime, (message) => logger.warn(message));
    targets = (await storedUpstreams(store, args.runtime, logger)).map((entry) => entry.auth);
  }
  let code: number = EXIT.ok;
  let found = 0;
  for (const auth of targets) {
    for (const grant of (await userGrantsOf(store, auth.storeKey)).filter((g) => matchesUser(g, who))) {
      found++;
      const outcome = await auth.clearGrant(`${auth.storeKey}.${grant.grant}`);
      code = Math.max(code, report(auth, outcome, out, grant.label ?? grant.grant));
    }
  }
  if (found === 0) {
    const where = targets.length === 1 ? (targets[0]?.serverUrl ?? store.location) : store.location;
    out(`No stored grant of user "${who}" for ${where}; nothing to clear.`);
    return EXIT.notSignedIn;
  }
  return code;
}

/** One line on what `clear` did; `person`: whose grant it was (with --user), else the upstream's own sign-in. */
function report(auth: UpstreamAuth, outcome: ClearOutcome, out: (text: string) => void, person?: string): number {
  const url = auth.serverUrl;
  const signedOut = person ? `Signed ${person} out of ${url}` : `Signed out of ${url}`;
  if (!outcome.hadRecords) {
    out(`Not signed in to ${url}; nothing to clear.`);
    return EXIT.ok;
  }
  switch (outcome.revocation) {
    case "revoked":
      out(`${signedOut}: the tokens were revoked at the authorization server and deleted here.`);
      return EXIT.ok;
    case "no-tokens":
      out(`Not signed in to ${url} (there were no tokens); the stored client registration was deleted.`);
      return EXIT.ok;
    case "unsupported":
      out(
        `${signedOut}: the tokens were deleted here but not revoked (the authorization server offers no revocation); the access token stays valid upstream${until(outcome)}.`,
      );
      return EXIT.ok;
    case "no-client":
      out(
        `${signedOut}: the tokens were deleted here but not revoked (no client registration was stored to revoke them with); the access token stays valid upstream${until(outcome)}.`,
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
