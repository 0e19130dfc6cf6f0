import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { ProxyError } from "../lib/errors.ts";
import { expandVariables, UnsetVariable } from "./env-expand.ts";
import { mcpRemoteArgs, parseMcpRemoteArgs } from "./mcp-remote-entry.ts";
import type { UpstreamOptions } from "./options.ts";

/**
 * The config file: the format people already have. A root `mcpServers` (Claude Code, Cursor, Claude Desktop,
 * FastMCP) or `servers` (VS Code) whose remote entries (`url`, `type`/`transport`, `headers`) and `mcp-remote`
 * command entries become upstreams. Our own keys live under `"mcp-u2m-proxy"` inside an entry; unknown keys are
 * kept by the host and ignored here. Plain stdio entries are listed as skipped, never run.
 */
export interface ConfiguredServer {
  /** A safe path segment: `/servers/<name>/…` and `auth <name>`. */
  name: string;
  upstream: UpstreamOptions;
  transport?: "streamable-http" | "sse" | undefined;
  /** mcp-remote's --allow-http was given for this entry. */
  allowInsecureHttp: boolean;
  rateLimit?: { requestsPerMinute: number; burst: number } | undefined;
  /** How the entry was written: a remote entry, or an mcp-remote command. */
  source: "remote" | "mcp-remote";
}

export interface ConfigFile {
  path: string;
  servers: ConfiguredServer[];
  /** Entries that are not served, and why (stdio commands, disabled entries). */
  skipped: { name: string; reason: string }[];
  /** Things the user should know (ignored mcp-remote flags). */
  warnings: string[];
}

/** What a `/servers/<name>` segment and a store-safe name allow. */
export const SERVER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const TYPES: Record<string, "streamable-http" | "sse" | undefined> = {
  http: "streamable-http",
  "streamable-http": "streamable-http",
  streamableHttp: "streamable-http",
  sse: "sse",
};

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new ProxyError(
      "CONFIG_INVALID",
      `The config file ${path} ${missing ? "does not exist" : "cannot be read"}.`,
      {
        hint: "Check the path given to --config (or MCP_U2M_PROXY_CONFIG).",
        cause: error,
      },
    );
  }
  return parseConfig(text, path, env);
}

export function parseConfig(text: string, path: string, env: NodeJS.ProcessEnv = process.env): ConfigFile {
  const file = basename(path);
  let root: unknown;
  try {
    root = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw new ProxyError("CONFIG_INVALID", `${path} is not valid JSON${jsonPosition(text, error)}.`, {
      hint: "Fix the JSON (a trailing comma or a missing quote, usually) and try again.",
      cause: error,
    });
  }
  if (!isObject(root)) throw invalid(path, "the file must hold a JSON object with mcpServers (or servers).");
  const rootKey = isObject(root.mcpServers) ? "mcpServers" : isObject(root.servers) ? "servers" : undefined;
  if (!rootKey) {
    throw invalid(path, 'it has no "mcpServers" (Claude Code, Cursor, Claude Desktop) or "servers" (VS Code) object.');
  }
  const entries = root[rootKey] as Record<string, unknown>;
  const result: ConfigFile = { path, servers: [], skipped: [], warnings: [] };
  for (const [name, raw] of Object.entries(entries)) {
    const where = `${file}: server "${name.slice(0, 64)}"`;
    if (!isObject(raw)) throw invalid(path, `server "${name}" must be an object.`);
    if (!SERVER_NAME_PATTERN.test(name) || name === "." || name === "..") {
      throw new ProxyError(
        "CONFIG_INVALID",
        `${where}: the name must be 1-64 letters, digits, ".", "_" or "-" (it becomes /servers/<name>/mcp).`,
        {
          hint: `Rename the entry in ${path}, e.g. "${name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "") || "server"}".`,
        },
      );
    }
    const own = isObject(raw["mcp-u2m-proxy"]) ? (raw["mcp-u2m-proxy"] as Record<string, unknown>) : {};
    if (raw.disabled === true || raw.enabled === false || own.enabled === false) {
      result.skipped.push({ name, reason: "disabled" });
      continue;
    }
    try {
      const server = readEntry(name, raw, own, env, where, result.warnings);
      if (server) result.servers.push(server);
      else result.skipped.push({ name, reason: "a stdio command (this proxy only relays remote servers)" });
    } catch (error) {
      if (error instanceof ProxyError) throw error;
      if (error instanceof UnsetVariable) {
        throw new ProxyError("CONFIG_INVALID", `${where}: ${error.message}.`, {
          hint: `Set ${error.variable}, or give a default as \${${error.variable}:-value}.`,
        });
      }
      throw new ProxyError("CONFIG_INVALID", `${where}: ${(error as Error).message}.`, {
        hint: `Fix the entry in ${path}.`,
      });
    }
  }
  return result;
}

function readEntry(
  name: string,
  raw: Record<string, unknown>,
  own: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  where: string,
  warnings: string[],
): ConfiguredServer | undefined {
  const expand = (value: string) => expandVariables(value, env);
  const oauth = isObject(own.oauth) ? (own.oauth as Record<string, unknown>) : {};
  const rateLimit = readRateLimit(own.rateLimit, where);
  let server: ConfiguredServer;
  if (typeof raw.url === "string") {
    const typeKey = raw.type !== undefined ? "type" : "transport";
    const typeValue = raw[typeKey];
    let transport: ConfiguredServer["transport"];
    if (typeValue !== undefined) {
      if (typeof typeValue !== "string" || !(typeValue in TYPES)) {
        throw new Error(`"${typeKey}" must be one of http, streamable-http, sse (got ${JSON.stringify(typeValue)})`);
      }
      transport = TYPES[typeValue];
    }
    server = {
      name,
      upstream: baseUpstream(expand(raw.url), readHeaders(raw.headers, expand)),
      transport,
      allowInsecureHttp: false,
      rateLimit,
      source: "remote",
    };
  } else {
    const args = mcpRemoteArgs(raw.command, raw.args);
    if (args === undefined) {
      if (raw.command === undefined) throw new Error('it has neither "url" nor "command"');
      return undefined;
    }
    const remote = parseMcpRemoteArgs(args.map(expand));
    if (remote.ignored.length > 0) {
      warnings.push(`${where}: mcp-remote options ignored here: ${remote.ignored.join(", ")}.`);
    }
    server = {
      name,
      upstream: {
        ...baseUpstream(remote.url, remote.headers),
        clientId: remote.clientId,
        clientSecret: remote.clientSecret,
        clientMetadataUrl: remote.clientMetadataUrl,
        scope: remote.scope,
        authorizeParams: remote.authorizeParams,
        sendResource: remote.sendResource,
      },
      transport: remote.transport,
      allowInsecureHttp: remote.allowHttp,
      rateLimit,
      source: "mcp-remote",
    };
  }
  const string = (key: string) => {
    const value = oauth[key];
    if (value === undefined) return undefined;
    if (typeof value !== "string") throw new Error(`"mcp-u2m-proxy".oauth.${key} must be a string`);
    return expand(value);
  };
  const upstream = server.upstream;
  upstream.clientId = string("clientId") ?? upstream.clientId;
  upstream.clientSecret = string("clientSecret") ?? upstream.clientSecret;
  upstream.clientMetadataUrl = string("clientMetadataUrl") ?? upstream.clientMetadataUrl;
  upstream.scope = string("scope") ?? upstream.scope;
  if (oauth.resource === false) upstream.sendResource = false;
  if (oauth.authorizeParams !== undefined) {
    if (!isObject(oauth.authorizeParams)) throw new Error('"mcp-u2m-proxy".oauth.authorizeParams must be an object');
    for (const [key, value] of Object.entries(oauth.authorizeParams)) {
      if (typeof value !== "string") throw new Error(`"mcp-u2m-proxy".oauth.authorizeParams.${key} must be a string`);
      upstream.authorizeParams[key] = expand(value);
    }
  }
  try {
    const url = new URL(upstream.url);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error();
  } catch {
    throw new Error(`"url" must be an http(s) URL (got ${JSON.stringify(upstream.url.slice(0, 200))})`);
  }
  return server;
}

function baseUpstream(url: string, headers: Record<string, string>): UpstreamOptions {
  return { url, headers, authorizeParams: {}, sendResource: true };
}

function readHeaders(raw: unknown, expand: (value: string) => string): Record<string, string> {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw new Error('"headers" must be an object of header names and values');
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== "string") throw new Error(`"headers".${key} must be a string`);
    const expanded = expand(value);
    if (/[\r\n]/.test(expanded)) throw new Error(`"headers".${key} has a line break in its value`);
    headers[key.toLowerCase()] = expanded;
  }
  return headers;
}

function readRateLimit(raw: unknown, where: string): ConfiguredServer["rateLimit"] {
  if (raw === undefined) return undefined;
  const limit = raw as { requestsPerMinute?: unknown; burst?: unknown };
  const perMinute = limit.requestsPerMinute;
  const burst = limit.burst ?? perMinute;
  if (!isObject(raw) || !isPositiveInteger(perMinute) || !isPositiveInteger(burst)) {
    throw new ProxyError(
      "CONFIG_INVALID",
      `${where}: "mcp-u2m-proxy".rateLimit needs whole numbers requestsPerMinute (and burst) of at least 1.`,
      { hint: 'For example "rateLimit": {"requestsPerMinute": 120, "burst": 20}.' },
    );
  }
  return { requestsPerMinute: perMinute, burst };
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(path: string, message: string): ProxyError {
  return new ProxyError("CONFIG_INVALID", `${basename(path)}: ${message}`, {
    hint: `Fix ${path}; see docs/config-file.md for the format.`,
  });
}

/** " at line L, column C" from JSON.parse's message (Node 20 gives a position, Node 22 a line and column). */
function jsonPosition(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return ` at line ${lineColumn[1]}, column ${lineColumn[2]}`;
  const position = /position (\d+)/.exec(message);
  if (!position) return "";
  const before = text.slice(0, Number(position[1]));
  const line = before.split("\n").length;
  return ` at line ${line}, column ${before.length - before.lastIndexOf("\n")}`;
}
