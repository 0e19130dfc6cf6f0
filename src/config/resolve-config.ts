import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { DEFAULTS } from "./defaults.ts";
import { readEnvironment } from "./environment.ts";
import type { UpstreamOptions } from "./options.ts";
import type { ServerEntry } from "./server-entry.ts";

/** The config file in use and what named it. */
export interface ConfigLocation {
  /** Absolute. */
  path: string;
  from: "--config" | "MCP_U2M_PROXY_CONFIG" | "default";
}

/**
 * The config file: `--config FILE` > env MCP_U2M_PROXY_CONFIG > `./mcp-u2m-proxy.json` when it exists. A file
 * named by the flag or the variable is returned whether or not it exists (loading it then says it is missing);
 * undefined when none is named and there is no default file. Relative paths resolve against `cwd`; a leading `~/`
 * is the home directory (a variable set in a host's `env` block is not expanded by a shell).
 */
export function findConfigPath(options: {
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
}): ConfigLocation | undefined {
  const cwd = options.cwd ?? process.cwd();
  const flag = options.flag?.trim() ? options.flag.trim() : undefined;
  if (flag !== undefined) return { path: absolute(flag, cwd), from: "--config" };
  const fromEnv = readEnvironment(options.env).configPath;
  if (fromEnv !== undefined) return { path: absolute(fromEnv, cwd), from: "MCP_U2M_PROXY_CONFIG" };
  const fallback = resolve(cwd, DEFAULTS.configFile);
  return existsSync(fallback) ? { path: fallback, from: "default" } : undefined;
}

/**
 * The UpstreamOptions the rest of the program takes, from a config entry and (optionally) the command-line options
 * given with it. A command-line value wins over the entry's; headers and authorization parameters are merged
 * (command line wins per name); client credentials go as a pair (a --client-id on the command line takes its
 * --client-secret, not the file's); either side can switch the `resource` parameter off. Returns new objects: the
 * entry is never changed.
 */
export function toUpstreamOptions(
  entry: ServerEntry,
  flags: Partial<Omit<UpstreamOptions, "url">> = {},
): UpstreamOptions {
  const ownClient = flags.clientId === undefined;
  return {
    url: entry.url,
    clientId: ownClient ? entry.oauth.clientId : flags.clientId,
    clientSecret: ownClient ? entry.oauth.clientSecret : flags.clientSecret,
    clientMetadataUrl: flags.clientMetadataUrl ?? entry.oauth.clientMetadataUrl,
    scope: flags.scope ?? entry.oauth.scope,
    authorizeParams: { ...entry.oauth.authorizeParams, ...flags.authorizeParams },
    headers: { ...entry.headers, ...lowercaseNames(flags.headers ?? {}) },
    sendResource: entry.oauth.resource && flags.sendResource !== false,
    useIdToken: flags.useIdToken === true || entry.oauth.useIdToken === true,
    allowPkceUnverified: flags.allowPkceUnverified === true,
    acceptIssuer: flags.acceptIssuer ?? entry.oauth.acceptIssuer,
  };
}

function lowercaseNames(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

function absolute(path: string, cwd: string): string {
  if (path === "~") return homedir();
  if (path.startsWith("~/")) return join(homedir(), path.slice(2));
  return resolve(cwd, path);
}
