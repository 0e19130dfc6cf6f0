import { createStore, createUpstreamContext } from "../../app/context.ts";
import type { AuthStatus } from "../../auth/auth-client.ts";
import { createLogger } from "../../lib/logger.ts";
import type { TokenStore } from "../../store/token-store.ts";
import type { CliArgs } from "../args.ts";
import { configNotices, printConfigNotices } from "../config-notices.ts";
import { EXIT } from "../exit-codes.ts";
import { formatStatus, formatUserGrants } from "../format.ts";
import { configFor, configuredServers, resolveServer } from "../resolve-server.ts";
import { statusesOf, storedUpstreams } from "../stored-upstreams.ts";
import { commandFor } from "../suggest-command.ts";
import { isUsable, matchesUser, type UserGrant, userGrantsOf } from "../user-grants.ts";
import { requireAuth, runtimeFor } from "./require.ts";

/** A status as `status`/`list` show it: the config name when the server is configured. */
export interface NamedStatus extends AuthStatus {
  name?: string | undefined;
  /** Configured with a static Authorization header: no sign-in to have. */
  staticAuthorization?: boolean | undefined;
  /** The per-user grants `serve --identity` stored for this upstream (absent when it has none). */
  users?: UserGrant[] | undefined;
  /** Tools the proxy hides from clients for this server (config `ignoreTools`, --ignore-tool). */
  hiddenTools?: string[] | undefined;
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
    const status: NamedStatus = await requireAuth(ctx.auth, server.upstream.url).status();
    if (server.ignoreTools.length > 0) status.hiddenTools = server.ignoreTools;
    const users = await usersOf(ctx.store, status.storeKey, args.user);
    if (users) status.users = users;
    if (args.json) {
      const named = { ...status, ...(server.name ? { name: server.name } : {}) };
      out(JSON.stringify({ ...named, warnings: configNotices(config) }, null, 2));
    } else if (args.user !== undefined && !users?.length) {
      out(`No stored grant of user "${args.user}" for ${status.serverUrl}.`);
    } else if (users?.length) {
      out(perUserBlock(status, ctx.store.location));
    } else if (nothingStored(status)) {
      out(`Not signed in to ${status.serverUrl}. Sign in with: ${commandFor(args, "auth", server)}`);
    } else out(formatStatus(status, ctx.store.location));
    return isUsableStatus(status, args.user) ? EXIT.ok : EXIT.notSignedIn;
  }
  const all = await allStatuses(args);
  if (!args.json) printConfigNotices(all.warnings, err);
  if (args.json) out(JSON.stringify({ servers: all.statuses, warnings: all.warnings }, null, 2));
  else if (all.statuses.length === 0) out(nothingListed(args, all.location));
  else {
    out(
      all.statuses
        .map((status) => {
          if (status.staticAuthorization)
            return `${status.name}: ${status.serverUrl}\n  static Authorization header (no sign-in)`;
          const block = status.users?.length
            ? perUserBlock(status, all.location)
            : nothingStored(status)
              ? `${status.serverUrl}\n  signed in:            no`
              : formatStatus(status, all.location);
          return status.name ? `${status.name}: ${block}` : block;
        })
        .join("\n\n"),
    );
  }
  // With --user: whether that person can use what is listed; else whether every configured server is usable (one
  // whose sign-ins are per user counts as usable when one of its users' grants is).
  if (args.user !== undefined) {
    return all.statuses.some((status) => isUsableStatus(status, args.user)) ? EXIT.ok : EXIT.notSignedIn;
  }
  const unusable = all.statuses.some(
    (status) => status.name && !status.staticAuthorization && !isUsableStatus(status, undefined),
  );
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
    statuses.push({
      ...(await ctx.auth.status()),
      name: server.name,
      ...(server.ignoreTools.length > 0 ? { hiddenTools: server.ignoreTools } : {}),
    });
  }
  const configuredKeys = new Set(statuses.map((status) => status.storeKey));
  const stored = await statusesOf(await storedUpstreams(store, args.runtime, logger));
  statuses.push(...stored.filter((status) => !configuredKeys.has(status.storeKey)));
  for (const status of statuses) {
    const users = await usersOf(store, status.storeKey, args.user);
    if (users) status.users = users;
  }
  // --user narrows the answer to the upstreams that person has a grant for.
  const shown = args.user === undefined ? statuses : statuses.filter((status) => status.users?.length);
  return { statuses: shown, location: store.location, warnings: configNotices(config) };
}

/**
 * The upstream's per-user grants (those matching `user` when given); undefined when it has none and no `user` was
 * asked for, so a single-user store's answer is what it always was.
 */
async function usersOf(store: TokenStore, key: string, user: string | undefined): Promise<UserGrant[] | undefined> {
  if (key === "") return user === undefined ? undefined : [];
  const grants = await userGrantsOf(store, key);
  if (user !== undefined) return grants.filter((grant) => matchesUser(grant, user));
  return grants.length > 0 ? grants : undefined;
}

/** Signed in (the default grant), or, for upstreams whose sign-ins are per user, one usable user grant. */
function isUsableStatus(status: NamedStatus, user: string | undefined): boolean {
  if (user !== undefined) return (status.users ?? []).some(isUsable);
  return status.staticAuthorization === true || status.signedIn || (status.users ?? []).some(isUsable);
}

/** An upstream whose sign-ins are per user: its registration, then each user's grant. */
function perUserBlock(status: NamedStatus, location: string): string {
  const lines = [status.serverUrl];
  if (status.signedIn) lines.push(`  signed in:            yes${status.account ? ` (as ${status.account})` : ""}`);
  if (status.issuer) lines.push(`  authorization server: ${status.issuer}`);
  if (status.clientId) lines.push(`  client:               ${status.clientId} (${status.clientSource ?? "unknown"})`);
  for (const adjustment of status.adjustments ?? []) lines.push(`  adjusted:             ${adjustment}`);
  lines.push(`  stored in:            ${location}`);
  lines.push(`  users (${status.users?.length ?? 0}):`);
  lines.push(...formatUserGrants(status.users ?? [], "    "));
  return lines.join("\n");
}

/** What `status` and `list` say when there is nothing to show. */
export function nothingListed(args: CliArgs, location: string): string {
  return args.user === undefined
    ? `No configured servers and no stored sign-ins in ${location}.`
    : `No stored grant of user "${args.user}" in ${location}.`;
}

function nothingStored(status: AuthStatus): boolean {
  return !status.signedIn && !status.hasRefreshToken && !status.clientId && !status.signInUrl && !status.expiresAt;
}
