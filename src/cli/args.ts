import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_CALLBACK_HOST, DEFAULT_PORT, type RuntimeOptions, type UpstreamOptions } from "../config/options.ts";
import { ProxyError } from "../lib/errors.ts";
import { usageLine } from "./help.ts";

export const COMMANDS = ["serve", "stdio", "auth", "status", "refresh", "clear", "list", "clients", "help"] as const;
export type Command = (typeof COMMANDS)[number];

export interface CliArgs {
  command: Command;
  /** The upstream URL (positional or UPSTREAM_MCP_URL), when given. */
  url: string | undefined;
  /** A server name instead of a URL (`auth jira`): resolved against the config file. */
  serverName: string | undefined;
  /** --config FILE (or env MCP_U2M_PROXY_CONFIG), when given. */
  configPath: string | undefined;
  /** --all: every configured server. */
  all: boolean;
  /** The arguments as given, for suggestions that repeat the user's options (suggest-command.ts). */
  argv: readonly string[];
  /** The command `help` was asked about, or the command whose --help was asked for. */
  helpTopic: string | undefined;
  help: boolean;
  version: boolean;
  json: boolean;
  force: boolean;
  upstream: Omit<UpstreamOptions, "url">;
  runtime: RuntimeOptions;
  serve: {
    host: string;
    apiKey: string | undefined;
    allowOrigins: string[];
    allowHosts: string[];
    /** Limits on what the face holds open (undefined: the face's defaults). */
    maxStreams: number | undefined;
    maxStreamsPerSession: number | undefined;
    maxSessions: number | undefined;
    sessionIdleMs: number | undefined;
    /** `--log-format`: "json" for one JSON object per log line, with an access-log line per relayed request. */
    logFormat: "text" | "json";
  };
  /** The upstream's transport when the user knows it (skips detection). */
  transport: "streamable-http" | "sse" | undefined;
  /** Things the user should know about their options (printed once on stderr before the command runs). */
  warnings: string[];
}

const OPTIONS = {
  "client-id": { type: "string" },
  "client-secret": { type: "string" },
  "client-metadata-url": { type: "string" },
  scope: { type: "string" },
  "authorize-param": { type: "string", multiple: true },
  header: { type: "string", multiple: true, short: "H" },
  "no-resource": { type: "boolean" },
  "allow-pkce-unverified": { type: "boolean" },
  "auth-dir": { type: "string" },
  port: { type: "string", short: "p" },
  "callback-host": { type: "string" },
  "no-browser": { type: "boolean" },
  "allow-insecure-http": { type: "boolean" },
  debug: { type: "boolean" },
  host: { type: "string" },
  "api-key": { type: "string" },
  "api-key-file": { type: "string" },
  "allow-origin": { type: "string", multiple: true },
  "allow-host": { type: "string", multiple: true },
  transport: { type: "string" },
  "max-streams": { type: "string" },
  "max-streams-per-session": { type: "string" },
  "max-sessions": { type: "string" },
  "session-idle-timeout": { type: "string" },
  "log-format": { type: "string" },
  config: { type: "string" },
  all: { type: "boolean" },
  json: { type: "boolean" },
  force: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

/** Parses argv (without node and script) and env into normalised options. Flags win over env, env over defaults. */
export function parseCliArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliArgs {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    // Node's messages are long-winded; keep the first sentence ("Unknown option '--x'").
    throw usage(`${(error as Error).message.split(/\.\s/)[0]?.replace(/\.$/, "")}.`);
  }
  const { values, positionals } = parsed;
  const [first, ...rest] = positionals;
  const isCommand = first !== undefined && (COMMANDS as readonly string[]).includes(first);
  // A bare word where a command goes is a mistyped command (`signin`), never a URL.
  if (first !== undefined && !isCommand && !looksLikeAddress(first)) throw unknownCommand(first);
  const command: Command = isCommand ? (first as Command) : "serve";
  const args = isCommand ? rest : positionals;
  if (args.length > 1 && command !== "help") {
    throw usage(`Unexpected argument "${args[1]}": ${command} takes one server.`, command);
  }
  const target = command === "help" ? undefined : parseTarget(args[0] ?? nonEmpty(env.UPSTREAM_MCP_URL), command);
  const warnings: string[] = [];
  // Only serve uses the inbound key: other commands (and --help) must not fail on a key file set in the environment.
  const usesApiKey = command === "serve" && values.help !== true && values.version !== true;

  return {
    command,
    url: target?.url,
    serverName: target?.name,
    configPath: values.config ?? nonEmpty(env.MCP_U2M_PROXY_CONFIG),
    all: values.all === true,
    argv,
    helpTopic: command === "help" ? args[0] : values.help && isCommand ? command : undefined,
    help: command === "help" || values.help === true,
    version: values.version === true,
    json: values.json === true,
    force: values.force === true,
    upstream: {
      clientId: values["client-id"],
      clientSecret: values["client-secret"],
      clientMetadataUrl: values["client-metadata-url"],
      scope: values.scope,
      authorizeParams: parsePairs(values["authorize-param"] ?? []),
      headers: parseHeaders(values.header ?? []),
      sendResource: values["no-resource"] !== true,
      allowPkceUnverified: values["allow-pkce-unverified"] === true,
    },
    runtime: {
      authDir: resolve(values["auth-dir"] ?? nonEmpty(env.MCP_AUTH_DIR) ?? join(homedir(), ".mcp", "auth")),
      port: parsePort(values.port ?? nonEmpty(env.OAUTH_CALLBACK_PORT)),
      callbackHost: values["callback-host"] ?? DEFAULT_CALLBACK_HOST,
      openBrowser: values["no-browser"] !== true,
      debug: values.debug === true,
      allowInsecureHttp: values["allow-insecure-http"] === true,
    },
    serve: {
      host: values.host ?? "127.0.0.1",
      apiKey: usesApiKey ? inboundApiKey(values, env, warnings) : undefined,
      allowOrigins: values["allow-origin"] ?? [],
      allowHosts: values["allow-host"] ?? [],
      maxStreams: parseCount("--max-streams", values["max-streams"]),
      maxStreamsPerSession: parseCount("--max-streams-per-session", values["max-streams-per-session"]),
      maxSessions: parseCount("--max-sessions", values["max-sessions"]),
      sessionIdleMs: mapDefined(parseCount("--session-idle-timeout", values["session-idle-timeout"]), (s) => s * 1000),
      logFormat: parseLogFormat(values["log-format"]),
    },
    transport: parseTransport(values.transport),
    warnings,
  };
}

/**
 * The inbound API key from --api-key or --api-key-file (flags win over env MCP_PROXY_API_KEY and
 * MCP_PROXY_API_KEY_FILE). A key file keeps the secret out of the process list and shell history.
 */
function inboundApiKey(
  values: { "api-key"?: string | undefined; "api-key-file"?: string | undefined },
  env: NodeJS.ProcessEnv,
  warnings: string[],
): string | undefined {
  const flag = values["api-key"];
  const flagFile = values["api-key-file"];
  if (flag !== undefined && flagFile !== undefined) throw usage("Give --api-key or --api-key-file, not both.");
  if (flag !== undefined) return flag;
  if (flagFile !== undefined) return readApiKeyFile(flagFile, "--api-key-file", warnings);
  const fromEnv = nonEmpty(env.MCP_PROXY_API_KEY);
  const envFile = nonEmpty(env.MCP_PROXY_API_KEY_FILE);
  if (fromEnv !== undefined && envFile !== undefined) {
    throw usage("Set MCP_PROXY_API_KEY or MCP_PROXY_API_KEY_FILE, not both.");
  }
  return envFile === undefined ? fromEnv : readApiKeyFile(envFile, "MCP_PROXY_API_KEY_FILE", warnings);
}

/** The key is the file's first line, trimmed. */
function readApiKeyFile(raw: string, source: string, warnings: string[]): string {
  const path = resolve(raw);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : "cannot be read";
    throw new ProxyError("USAGE", `The API key file ${path} (${source}) ${reason}.`, {
      hint: "Write the key on the first line of a file only you can read (chmod 600), and pass its path.",
      cause: error,
    });
  }
  const key = text.split(/\r?\n/, 1)[0]?.trim() ?? "";
  if (!key) {
    throw new ProxyError("USAGE", `The API key file ${path} (${source}) has no key on its first line.`, {
      hint: "Write the key on the first line of the file.",
    });
  }
  if (process.platform !== "win32" && (statSync(path).mode & 0o044) !== 0) {
    warnings.push(`The API key file ${path} can be read by other users; run \`chmod 600 ${path}\`.`);
  }
  return key;
}

function parseTransport(raw: string | undefined): CliArgs["transport"] {
  if (raw === undefined || raw === "auto") return undefined;
  if (raw === "streamable-http" || raw === "http") return "streamable-http";
  if (raw === "sse") return "sse";
  throw usage(`--transport must be streamable-http, sse or auto, not "${raw}".`);
}

function parseLogFormat(raw: string | undefined): "text" | "json" {
  if (raw === undefined || raw === "text" || raw === "json") return raw ?? "text";
  throw usage(`--log-format must be text or json, not "${raw}".`, "serve");
}

/** A positive whole number given to `flag`, or undefined when it was not given. */
function parseCount(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw usage(`${flag} must be a whole number of at least 1, not "${raw}".`);
  return value;
}

function mapDefined<T, U>(value: T | undefined, map: (value: T) => U): U | undefined {
  return value === undefined ? undefined : map(value);
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usage(`--port must be a port number, not "${raw}".`);
  return port;
}

function parsePairs(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const at = item.indexOf("=");
    if (at <= 0) throw usage(`--authorize-param needs KEY=VALUE, not "${item}".`);
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

function parseHeaders(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const at = item.indexOf(":");
    const name = item.slice(0, at).trim();
    if (at <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
      throw usage(`--header needs "Name: value", not "${item}".`);
    const value = item.slice(at + 1).trim();
    if (/[\r\n]/.test(value)) throw usage(`--header ${name} has a line break in its value.`);
    out[name.toLowerCase()] = value;
  }
  return out;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value?.trim() ? value.trim() : undefined;
}

function usage(message: string, command?: string): ProxyError {
  const line = command ? usageLine(command) : undefined;
  return new ProxyError("USAGE", message, {
    hint: line
      ? `${line}; run "mcp-u2m-proxy ${command} --help" for its options.`
      : 'Run "mcp-u2m-proxy --help" for usage.',
  });
}

/** Other words people type for a command. */
const ALIASES: Record<string, Command> = {
  signin: "auth",
  login: "auth",
  "sign-in": "auth",
  authenticate: "auth",
  logout: "clear",
  signout: "clear",
  "sign-out": "clear",
  revoke: "clear",
  ls: "list",
  run: "serve",
  start: "serve",
  proxy: "serve",
  whoami: "status",
  config: "clients",
};

/** The command closest to a mistyped one: an alias, else the one within two edits. */
export function nearestCommand(word: string): Command | undefined {
  const lower = word.toLowerCase();
  if (ALIASES[lower]) return ALIASES[lower];
  let best: { command: Command; distance: number } | undefined;
  for (const command of COMMANDS) {
    const distance = editDistance(lower, command);
    if (distance <= 2 && (!best || distance < best.distance)) best = { command, distance };
  }
  return best?.command;
}

function unknownCommand(word: string): ProxyError {
  const shown = JSON.stringify(word.slice(0, 40));
  const nearest = nearestCommand(word);
  if (nearest) {
    return new ProxyError("USAGE", `Unknown command ${shown}. Did you mean "${nearest}"?`, {
      hint: `${usageLine(nearest) ?? `Usage: mcp-u2m-proxy ${nearest}`}`,
    });
  }
  return new ProxyError("USAGE", `Unknown command ${shown}.`, {
    hint: `Commands: ${COMMANDS.join(", ")}; a server is given as its URL (https://…). Run "mcp-u2m-proxy --help".`,
  });
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** A URL, or something meant as one (a host with a dot, a port or a path): never taken for a command. */
function looksLikeAddress(word: string): boolean {
  return /[./:]/.test(word) || word.toLowerCase().startsWith("localhost");
}

/** A server name from a config file: what a `/servers/<name>` path segment allows. */
const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The server a command is for: an absolute http(s) URL, or a config file's server name. Anything else is a usage
 * error that shows the right form (`mcp.example.com/mcp` → `https://mcp.example.com/mcp`).
 */
export function parseTarget(
  raw: string | undefined,
  command: string,
): { url: string; name?: undefined } | { name: string; url?: undefined } | undefined {
  if (raw === undefined) return undefined;
  const value = raw.trim();
  const shown = JSON.stringify(value.slice(0, 200));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw usage(`${shown} is not a valid URL.`, command);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new ProxyError("INVALID_URL", `${url.protocol}// URLs are not MCP server URLs.`, {
        hint: `Give the server's https URL, e.g. "mcp-u2m-proxy ${command} https://mcp.example.com/mcp".`,
      });
    }
    return { url: value };
  }
  if (looksLikeAddress(value)) {
    const guess = `${/^(localhost|127\.|\[::1\])/i.test(value) ? "http" : "https"}://${value}`;
    let valid = true;
    try {
      new URL(guess);
    } catch {
      valid = false;
    }
    throw new ProxyError("USAGE", `${shown} has no scheme: a server URL starts with https://.`, {
      hint: valid
        ? `Did you mean "mcp-u2m-proxy ${command} ${guess}"?`
        : `Give the URL in full, e.g. https://mcp.example.com/mcp.`,
    });
  }
  if (SERVER_NAME.test(value)) return { name: value };
  throw usage(`${shown} is not a URL (https://…) or a server name.`, command);
}
