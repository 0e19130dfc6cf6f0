import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { type ConfigFile, type ConfiguredServer, loadConfigFile } from "../config/config-file.ts";
import type { UpstreamOptions } from "../config/options.ts";
import { ProxyError } from "../lib/errors.ts";
import type { CliArgs } from "./args.ts";
import { usageLine } from "./help.ts";

/** The config file's default name, read from the working directory when present. */
export const DEFAULT_CONFIG_FILE = "mcp-u2m-proxy.json";

/** One server a command works on: a URL given on the command line, or a config file's entry. */
export interface ResolvedServer {
  /** The config name, when the server comes from the config file. */
  name: string | undefined;
  upstream: UpstreamOptions;
  transport: "streamable-http" | "sse" | undefined;
  allowInsecureHttp: boolean;
  rateLimit?: ConfiguredServer["rateLimit"];
}

const loaded = new Map<string, ConfigFile>();

/**
 * The config file in use: --config FILE (or MCP_U2M_PROXY_CONFIG), which must exist, else ./mcp-u2m-proxy.json
 * when there is one. Undefined without either.
 */
export function configFor(
  args: CliArgs,
  cwd = process.cwd(),
  env: NodeJS.ProcessEnv = process.env,
): ConfigFile | undefined {
  const explicit = args.configPath !== undefined;
  const path = resolve(cwd, args.configPath ?? DEFAULT_CONFIG_FILE);
  if (!explicit && !existsSync(path)) return undefined;
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

/** The configured servers as ResolvedServers (for `serve` without a URL, `auth --all`, `status`, `list`). */
export function configuredServers(config: ConfigFile): ResolvedServer[] {
  return config.servers.map(fromConfig);
}

/**
 * The one server of a command: the URL given (command-line options apply), the named config entry, or the only
 * configured one. A usage error (exit 2) names what is missing or unknown and shows the right form.
 */
export function resolveServer(args: CliArgs, command: string, config = configFor(args)): ResolvedServer {
  if (args.url) {
    return {
      name: config?.servers.find((server) => sameUrl(server.upstream.url, args.url as string))?.name,
      upstream: { ...args.upstream, url: args.url },
      transport: args.transport,
      allowInsecureHttp: false,
    };
  }
  if (args.serverName) {
    const server = config?.servers.find((candidate) => candidate.name === args.serverName);
    if (server) return fromConfig(server);
    const skipped = config?.skipped.find((entry) => entry.name === args.serverName);
    const names = config?.servers.map((candidate) => candidate.name) ?? [];
    throw new ProxyError(
      "USAGE",
      skipped
        ? `The server "${args.serverName}" in ${config?.path} is not served: ${skipped.reason}.`
        : config
          ? `No server is named "${args.serverName}" in ${config.path}.`
          : `"${args.serverName}" is not a URL, and there is no config file to name servers (--config FILE or ./${DEFAULT_CONFIG_FILE}).`,
      {
        hint:
          names.length > 0
            ? `Configured servers: ${names.join(", ")}. Or give the server's URL, e.g. https://mcp.example.com/mcp.`
            : `Give the server's URL, e.g. "mcp-u2m-proxy ${command} https://mcp.example.com/mcp".`,
      },
    );
  }
  const only = config?.servers.length === 1 ? config.servers[0] : undefined;
  if (only) return fromConfig(only);
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

function fromConfig(server: ConfiguredServer): ResolvedServer {
  return {
    name: server.name,
    upstream: server.upstream,
    transport: server.transport,
    allowInsecureHttp: server.allowInsecureHttp,
    rateLimit: server.rateLimit,
  };
}

function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href.replace(/\/$/, "") === new URL(b).href.replace(/\/$/, "");
  } catch {
    return false;
  }
}
