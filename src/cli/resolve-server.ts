import { type ConfigFile, loadConfigFile, type ServerEntry } from "../config/config-file.ts";
import { DEFAULTS } from "../config/defaults.ts";
import { environmentVariables } from "../config/environment.ts";
import type { UpstreamOptions } from "../config/options.ts";
import { toUpstreamOptions } from "../config/resolve-config.ts";
import { ProxyError } from "../lib/errors.ts";
import type { CliArgs } from "./args.ts";
import { usageLine } from "./help.ts";

/** One server a command works on: a URL given on the command line, or a config file's entry. */
export interface ResolvedServer {
  /** The config name, when the server comes from the config file. */
  name: string | undefined;
  upstream: UpstreamOptions;
  transport: "streamable-http" | "sse" | undefined;
  /** `--protocol` or the entry's `"mcp-u2m-proxy".protocol`; undefined: probed. */
  protocol: "legacy" | "modern" | undefined;
  /** Tools hidden from clients: the entry's `ignoreTools` and `--ignore-tool` together. */
  ignoreTools: string[];
  allowInsecureHttp: boolean;
  rateLimit?: ServerEntry["rateLimit"];
}

const loaded = new Map<string, ConfigFile>();

/**
 * The config file in use (args.configLocation: --config FILE, MCP_U2M_PROXY_CONFIG or ./mcp-u2m-proxy.json), read
 * once per process; undefined without one. A named file that is missing is CONFIG_INVALID (exit 2).
 */
export function configFor(
  args: Pick<CliArgs, "configLocation">,
  env: NodeJS.ProcessEnv = environmentVariables(),
): ConfigFile | undefined {
  const path = args.configLocation?.path;
  if (path === undefined) return undefined;
  let config = loaded.get(path);
  if (!config) {
    config = loadConfigFile(path, env);
    loaded.set(path, config);
  }
  return config;
}

/** Forgets what was read, so the next configFor() reads the file again (a reload). */
export function forgetLoadedConfig(): void {
  loaded.clear();
}

/**
 * The configured servers as ResolvedServers (for `serve` without a URL, `auth --all`, `status`, `list`): each as
 * its entry says; the command line's server options are for one server, never applied to all of them.
 */
export function configuredServers(config: ConfigFile): ResolvedServer[] {
  return config.servers.map((entry) => fromConfig(entry));
}

/**
 * The one server of a command: the URL given (command-line options apply), the named config entry or the only
 * configured one (the command line's options win over the entry's). A usage error (exit 2) names what is missing
 * or unknown and shows the right form.
 */
export function resolveServer(args: CliArgs, command: string, config = configFor(args)): ResolvedServer {
  if (args.url) {
    return {
      name: config?.servers.find((server) => sameUrl(server.url, args.url as string))?.name,
      upstream: { ...args.upstream, url: args.url },
      transport: args.transport,
      protocol: args.protocol,
      ignoreTools: args.ignoreTools,
      allowInsecureHttp: false,
    };
  }
  if (args.serverName) {
    const server = config?.servers.find((candidate) => candidate.name === args.serverName);
    if (server) return fromConfig(server, args);
    const skipped = config?.skipped.find((entry) => entry.name === args.serverName);
    const names = config?.servers.map((candidate) => candidate.name) ?? [];
    if (!skipped && args.serverNameAsUrl !== undefined) {
      throw nameOrUrl(args.serverName, args.serverNameAsUrl, command, config, names);
    }
    throw new ProxyError(
      "USAGE",
      skipped
        ? `The server "${args.serverName}" in ${config?.path} is not served: ${skipped.reason}.`
        : config
          ? `No server is named "${args.serverName}" in ${config.path}.`
          : `"${args.serverName}" is not a URL, and there is no config file to name servers (--config FILE or ./${DEFAULTS.configFile}).`,
      {
        hint:
          names.length > 0
            ? `Configured servers: ${names.join(", ")}. Or give the server's URL, e.g. https://mcp.example.com/mcp.`
            : `Give the server's URL, e.g. "mcp-u2m-proxy ${command} https://mcp.example.com/mcp".`,
      },
    );
  }
  const only = config?.servers.length === 1 ? config.servers[0] : undefined;
  if (only) return fromConfig(only, args);
  const names = config?.servers.map((server) => server.name) ?? [];
  throw new ProxyError(
    "USAGE",
    `${command} needs the MCP server's URL${names.length > 0 ? " or a server name" : ""}.`,
    {
      hint:
        names.length > 0
          ? `Configured servers: ${names.join(", ")}, e.g. "mcp-u2m-proxy ${command} ${names[0]}".`
          : `${usageLine(command) ?? ""} e.g. "mcp-u2m-proxy ${command} https://mcp.example.com/mcp" (or set UPSTREAM_MCP_URL).`.trim(),
    },
  );
}

/** A dotted word that names no configured server: it was a host without its scheme, or a name mistyped. */
function nameOrUrl(
  word: string,
  asUrl: string,
  command: string,
  config: ConfigFile | undefined,
  names: string[],
): ProxyError {
  const where = config ? `no server in ${config.path} is named "${word}"` : "there is no config file to name it";
  return new ProxyError("USAGE", `"${word}" has no scheme (a server URL starts with https://) and ${where}.`, {
    hint:
      names.length > 0
        ? `Did you mean "mcp-u2m-proxy ${command} ${asUrl}"? Or a configured server, e.g. "mcp-u2m-proxy ${command} ${names[0]}" (configured: ${names.join(", ")}).`
        : `Did you mean "mcp-u2m-proxy ${command} ${asUrl}"? Or give a server's name from a config file (--config FILE or ./${DEFAULTS.configFile}).`,
  });
}

/** A config entry as the program takes it; `args` (a single resolved server) adds the command line's options. */
function fromConfig(
  entry: ServerEntry,
  args?: Pick<CliArgs, "upstream" | "transport" | "protocol" | "ignoreTools">,
): ResolvedServer {
  return {
    name: entry.name,
    upstream: toUpstreamOptions(entry, args?.upstream),
    transport: args?.transport ?? entry.transport,
    protocol: args?.protocol ?? entry.protocol,
    ignoreTools: [...new Set([...entry.ignoreTools, ...(args?.ignoreTools ?? [])])],
    allowInsecureHttp: entry.allowInsecureHttp,
    rateLimit: entry.rateLimit,
  };
}

function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href.replace(/\/$/, "") === new URL(b).href.replace(/\/$/, "");
  } catch {
    return false;
  }
}
