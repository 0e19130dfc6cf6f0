import { createStore, createUpstreamContext } from "../../app/context.ts";
import type { AuthStatus } from "../../auth/auth-client.ts";
import { createLogger } from "../../lib/logger.ts";
import type { CliArgs } from "../args.ts";
import { configNotices, printConfigNotices } from "../config-notices.ts";
import { EXIT } from "../exit-codes.ts";
import { formatStatus } from "../format.ts";
import { configFor, configuredServers, resolveServer } from "../resolve-server.ts";
import { statusesOf, storedUpstreams } from "../stored-upstreams.ts";
import { commandFor } from "../suggest-command.ts";
import { requireAuth, runtimeFor } from "./require.ts";

/** A status as `status`/`list` show it: the config name when the server is configured. */
export interface NamedStatus extends AuthStatus {
  name?: string | undefined;
  /** Configured with a static Authorization header: no sign-in to have. */
  staticAuthorization?: boolean | undefined;
}

/**
 * `status [<url or name>]`: exit 0 when the server has usable tokens, 1 when not. Without one: every configured
 * and every stored server; exit 1 when a configured one is unusable. The config file's warnings go to `err`, or
 * with --json into the answer's "warnings".
 */
export async function statusCommand(
  args: CliArgs,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  if (args.url || args.serverName) {
    const config = configFor(args);
    const server = resolveServer(args, "status", config);
    if (!args.json) printConfigNotices(configNotices(config), err);
    const ctx = await createUpstreamContext(server.upstream, runtimeFor(args, server), { callback: "external" });
    const status = await requireAuth(ctx.auth, server.upstream.url).status();
    if (args.json) {
      const named = { ...status, ...(server.name ? { name: server.name } : {}) };
      out(JSON.stringify({ ...named, warnings: configNotices(config) }, null, 2));
    } else if (nothingStored(status)) {
      out(`Not signed in to ${status.serverUrl}. Sign in with: ${commandFor(args, "auth", server)}`);
    } else out(formatStatus(status, ctx.store.location));
    return status.signedIn ? EXIT.ok : EXIT.notSignedIn;
  }
  const all = await allStatuses(args);
  if (!args.json) printConfigNotices(all.warnings, err);
  if (args.json) out(JSON.stringify({ servers: all.statuses, warnings: all.warnings }, null, 2));
  else if (all.statuses.length === 0) out(`No configured servers and no stored sign-ins in ${all.location}.`);
  else {
    out(
      all.statuses
        .map((status) => {
          if (status.staticAuthorization)
            return `${status.name}: ${status.serverUrl}\n  static Authorization header (no sign-in)`;
          const block = nothingStored(status)
            ? `${status.serverUrl}\n  signed in:            no`
            : formatStatus(status, all.location);
          return status.name ? `${status.name}: ${block}` : block;
        })
        .join("\n\n"),
    );
  }
  const unusable = all.statuses.some((status) => status.name && !status.staticAuthorization && !status.signedIn);
  return unusable ? EXIT.notSignedIn : EXIT.ok;
}

/**
 * Configured servers first (in file order), then stored sign-ins no configured server accounts for; with the
 * config file's warnings (configNotices).
 */
export async function allStatuses(
  args: CliArgs,
): Promise<{ statuses: NamedStatus[]; location: string; warnings: string[] }> {
  const logger = createLogger({ level: args.runtime.debug ? "debug" : "warn" });
  const store = createStore(args.runtime, (message) => logger.warn(message));
  const config = configFor(args);
  const statuses: NamedStatus[] = [];
  for (const server of config ? configuredServers(config) : []) {
    const ctx = await createUpstreamContext(server.upstream, runtimeFor(args, server), {
      callback: "external",
      logger,
    });
    if (!ctx.auth) {
      statuses.push({
        name: server.name,
        serverUrl: server.upstream.url,
        signedIn: true,
        hasRefreshToken: false,
        scopes: [],
        storeKey: "",
        staticAuthorization: true,
      });
      continue;
    }
    statuses.push({ ...(await ctx.auth.status()), name: server.name });
  }
  const configuredKeys = new Set(statuses.map((status) => status.storeKey));
  const stored = await statusesOf(await storedUpstreams(store, args.runtime, logger));
  statuses.push(...stored.filter((status) => !configuredKeys.has(status.storeKey)));
  return { statuses, location: store.location, warnings: configNotices(config) };
}

function nothingStored(status: AuthStatus): boolean {
  return !status.signedIn && !status.hasRefreshToken && !status.clientId && !status.signInUrl && !status.expiresAt;
}
