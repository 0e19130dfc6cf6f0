import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULTS, defaultAuthDir } from "../config/defaults.ts";
import { type Environment, readEnvironment } from "../config/environment.ts";
import { type IdentityOptions, parseIdentityOptions } from "../config/identity-options.ts";
import { DEFAULT_CALLBACK_HOST, DEFAULT_PORT, type RuntimeOptions, type UpstreamOptions } from "../config/options.ts";
import { type ConfigLocation, findConfigPath } from "../config/resolve-config.ts";
import { configuredKeychainService, configuredNewStoreKey, configuredStoreKey } from "../config/store-key-source.ts";
import { ProxyError } from "../lib/errors.ts";
import { browserCanBeOpened } from "../lib/open-url.ts";
import type { StoreKey } from "../store/record-cipher.ts";
import { parseStoreUrl } from "../store/store-url.ts";
import {
  assertServerUrlScheme,
  checkClientMetadataUrl,
  checkHostName,
  checkIssuer,
  looksLikeAddress,
  parseTarget,
} from "./input-checks.ts";
import { COMMAND_ALIASES, optionError, unknownCommand, usageError } from "./usage-error.ts";

export const COMMANDS = [
  "serve",
  "stdio",
  "auth",
  "status",
  "refresh",
  "clear",
  "list",
  "clients",
  "store",
  "help",
] as const;
export type Command = (typeof COMMANDS)[number];

/** `store <action>`: the store's encryption at rest (docs/storage.md). */
export const STORE_ACTIONS = ["status", "encrypt", "rekey", "decrypt"] as const;
export type StoreAction = (typeof STORE_ACTIONS)[number];

export interface CliArgs {
  command: Command;
  /** The upstream URL (positional or UPSTREAM_MCP_URL), when given. */
  url: string | undefined;
  /** A server name instead of a URL (`auth jira`): resolved against the config file. */
  serverName: string | undefined;
  /**
   * When the name also reads as a host without its scheme (`my.server`), the URL it would be: a configured server
   * of that name wins, else resolving it is a usage error that shows both forms.
   */
  serverNameAsUrl: string | undefined;
  /** The config file: --config FILE, else env MCP_U2M_PROXY_CONFIG, else ./mcp-u2m-proxy.json when it exists. */
  configLocation: ConfigLocation | undefined;
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
  /** `status`/`list --user WHO`: only that person's per-user grants (grant id, e-mail or user name). */
  user: string | undefined;
  upstream: Omit<UpstreamOptions, "url">;
  runtime: RuntimeOptions;
  /** --keychain: the OS keychain service whose entry runCli reads (or creates) into `runtime.storeKey`. */
  keychainService: string | undefined;
  serve: {
    host: string;
    apiKey: string | undefined;
    allowOrigins: string[];
    allowHosts: string[];
    /** Limits on what the face holds open (undefined: the face's defaults). */
    maxStreams: number | undefined;
    maxStreamsPerSession: number | undefined;
    maxSessions: number | undefined;
    /** Users' auth cores held in memory per upstream (--max-grants; undefined: the default). */
    maxGrants: number | undefined;
    sessionIdleMs: number | undefined;
    /**
     * `--generate-api-key` (env MCP_PROXY_GENERATE_API_KEY=1): without a key of its own, use the one in the token
     * directory's `api-key` file, generated (and printed once) at the first start.
     */
    generateApiKey: boolean;
    /** `--keep-alive SECONDS`: SSE comments on quiet streams after this long; 0 off (undefined: the default). */
    keepAliveMs: number | undefined;
    /** `--log-format`: "json" for one JSON object per log line, with an access-log line per relayed request. */
    logFormat: "text" | "json";
    /** `--identity`, `--admin`, `--public-url`: who is calling, and where the proxy is reached. */
    identity: IdentityOptions;
  };
  /** The upstream's transport when the user knows it (skips detection). */
  transport: "streamable-http" | "sse" | undefined;
  /** `--protocol`: the upstream's MCP wire era when the user knows it (skips the probe); undefined probes. */
  protocol: "legacy" | "modern" | undefined;
  /** `--ignore-tool`: tools to hide from clients, added to the config entry's (proxy/tool-filter.ts). */
  ignoreTools: string[];
  /** `store <action>`: what to do, and for `rekey` the new key (--new-store-key-file, MCP_PROXY_NEW_STORE_KEY). */
  store: { action: StoreAction; newKey: StoreKey | undefined };
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
  "use-id-token": { type: "boolean" },
  "allow-pkce-unverified": { type: "boolean" },
  "accept-issuer": { type: "string" },
  "auth-dir": { type: "string" },
  store: { type: "string" },
  "store-key-file": { type: "string" },
  keychain: { type: "boolean" },
  "new-store-key-file": { type: "string" },
  port: { type: "string", short: "p" },
  "callback-host": { type: "string" },
  "no-browser": { type: "boolean" },
  device: { type: "boolean" },
  "allow-insecure-http": { type: "boolean" },
  debug: { type: "boolean" },
  host: { type: "string" },
  "api-key": { type: "string" },
  "api-key-file": { type: "string" },
  "allow-origin": { type: "string", multiple: true },
  "allow-host": { type: "string", multiple: true },
  transport: { type: "string" },
  protocol: { type: "string" },
  "ignore-tool": { type: "string", multiple: true },
  "max-streams": { type: "string" },
  "max-streams-per-session": { type: "string" },
  "max-sessions": { type: "string" },
  "max-grants": { type: "string" },
  "session-idle-timeout": { type: "string" },
  "keep-alive": { type: "string" },
  "store-lease": { type: "string" },
  "generate-api-key": { type: "boolean" },
  "log-format": { type: "string" },
  identity: { type: "string" },
  "identity-header": { type: "string" },
  "identity-audience": { type: "string" },
  "identity-issuer": { type: "string" },
  "identity-claim": { type: "string" },
  admin: { type: "string", multiple: true },
  "public-url": { type: "string" },
  config: { type: "string" },
  all: { type: "boolean" },
  json: { type: "boolean" },
  force: { type: "boolean" },
  user: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

/**
 * Parses argv (without node and script) and the environment (default: the process's) into normalised options.
 * Flags win over env, env over defaults.
 */
export function parseCliArgs(argv: string[], env?: NodeJS.ProcessEnv): CliArgs {
  const environment = readEnvironment(env);
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw optionError(
      error,
      Object.keys(OPTIONS).map((name) => `--${name}`),
      argv.find((word) => (COMMANDS as readonly string[]).includes(word)),
    );
  }
  const { values, positionals } = parsed;
  const [first, ...rest] = positionals;
  const isCommand = first !== undefined && (COMMANDS as readonly string[]).includes(first);
  // A bare word where a command goes is a mistyped command (`signin`), never a URL.
  if (first !== undefined && !isCommand && !looksLikeAddress(first)) throw unknownCommand(first, COMMANDS);
  const command: Command = isCommand ? (first as Command) : "serve";
  const args = isCommand ? rest : positionals;
  if (args.length > 1 && command !== "help") {
    throw usage(`Unexpected argument "${args[1]}": ${command} takes one server.`, command);
  }
  const storeAction = command === "store" ? parseStoreAction(args[0]) : "status";
  const target =
    command === "help" || command === "store" ? undefined : parseTarget(args[0] ?? environment.upstreamUrl, command);
  if (target?.url) assertServerUrlScheme(target.url, values["allow-insecure-http"] === true, command);
  const warnings: string[] = [];
  // Only serve (and clients, whose HTTP snippets then send the key) use the inbound key: other commands (and --help)
  // must not fail on a key file set in the environment.
  const usesApiKey = (command === "serve" || command === "clients") && values.help !== true && values.version !== true;
  // Every command that opens the token store reads its key (a bad key fails before anything is touched).
  const usesStore = command !== "help" && command !== "clients" && values.help !== true && values.version !== true;
  const apiKey = usesApiKey ? inboundApiKey(values, environment, warnings) : undefined;
  const keychainService =
    usesStore && (values.keychain === true || environment.keychain)
      ? configuredKeychainService(values["store-key-file"], environment)
      : undefined;
  // Only serve has callers to tell apart; the other commands act for the person at the terminal.
  const identity = parseIdentityOptions(command === "serve" && usesApiKey ? values : {}, apiKey);
  // On Databricks Apps the platform's proxy is the only way in: listen where it connects, on the port it names.
  const onApps = identity.mode.kind === "databricks-apps";
  const portSource = values.port ?? environment.port ?? (onApps ? environment.databricksAppPort : undefined);

  return {
    command,
    url: target?.url,
    serverName: target?.name,
    serverNameAsUrl: target?.asUrl,
    configLocation: findConfigPath({ flag: values.config, env }),
    all: values.all === true,
    argv,
    helpTopic: command === "help" ? helpTopic(args[0]) : values.help && isCommand ? command : undefined,
    help: command === "help" || values.help === true,
    version: values.version === true,
    json: values.json === true,
    force: values.force === true,
    user: parseUser(values.user),
    upstream: {
      clientId: values["client-id"],
      clientSecret: values["client-secret"],
      clientMetadataUrl: checkClientMetadataUrl(values["client-metadata-url"], command),
      scope: values.scope,
      authorizeParams: parsePairs(values["authorize-param"] ?? []),
      headers: parseHeaders(values.header ?? []),
      sendResource: values["no-resource"] !== true,
      useIdToken: values["use-id-token"] === true,
      allowPkceUnverified: values["allow-pkce-unverified"] === true,
      acceptIssuer: checkIssuer(values["accept-issuer"], command),
    },
    runtime: {
      ...storeOptions(values["auth-dir"] ?? environment.authDir, values.store ?? environment.store),
      storeLeaseMs: mapDefined(
        parseSeconds(
          values["store-lease"] === undefined ? "MCP_PROXY_STORE_LEASE" : "--store-lease",
          values["store-lease"] ?? environment.storeLease,
          { min: 1, max: 300, minText: "1" },
        ),
        (s) => s * 1000,
      ),
      port: parsePort(portSource, values.port === undefined),
      callbackHost: checkHostName("--callback-host", values["callback-host"], command) ?? DEFAULT_CALLBACK_HOST,
      openBrowser: values["no-browser"] !== true,
      signInMethod: values.device === true ? "device" : "auto",
      browserAvailable: browserCanBeOpened({
        browserCommand: environment.browser,
        display: environment.display,
        path: environment.path,
      }),
      debug: values.debug === true,
      allowInsecureHttp: values["allow-insecure-http"] === true,
      storeKey: usesStore && !keychainService ? configuredStoreKey(values["store-key-file"], environment) : undefined,
    },
    serve: {
      host: checkHostName("--host", values.host, command) ?? (onApps ? "0.0.0.0" : DEFAULTS.serveHost),
      apiKey,
      allowOrigins: values["allow-origin"] ?? [],
      allowHosts: values["allow-host"] ?? [],
      maxStreams: parseCount("--max-streams", values["max-streams"]),
      maxStreamsPerSession: parseCount("--max-streams-per-session", values["max-streams-per-session"]),
      maxSessions: parseCount("--max-sessions", values["max-sessions"]),
      maxGrants: parseCount("--max-grants", values["max-grants"]),
      sessionIdleMs: mapDefined(parseCount("--session-idle-timeout", values["session-idle-timeout"]), (s) => s * 1000),
      generateApiKey: values["generate-api-key"] === true || environment.generateApiKey,
      keepAliveMs: mapDefined(parseSeconds("--keep-alive", values["keep-alive"]), (s) => s * 1000),
      logFormat: parseLogFormat(values["log-format"]),
      identity,
    },
    transport: parseTransport(values.transport),
    protocol: parseProtocol(values.protocol),
    ignoreTools: parseToolPatterns(values["ignore-tool"] ?? []),
    store: {
      action: storeAction,
      newKey:
        usesStore && storeAction === "rekey"
          ? configuredNewStoreKey(values["new-store-key-file"], environment)
          : undefined,
    },
    keychainService,
    warnings,
  };
}

/**
 * The inbound API key from --api-key or --api-key-file (flags win over env MCP_PROXY_API_KEY and
 * MCP_PROXY_API_KEY_FILE). A key file keeps the secret out of the process list and shell history.
 */
function inboundApiKey(
  values: { "api-key"?: string | undefined; "api-key-file"?: string | undefined },
  environment: Environment,
  warnings: string[],
): string | undefined {
  const flag = values["api-key"];
  const flagFile = values["api-key-file"];
  if (flag !== undefined && flagFile !== undefined) throw usage("Give --api-key or --api-key-file, not both.");
  if (flag !== undefined) return flag;
  if (flagFile !== undefined) return readApiKeyFile(flagFile, "--api-key-file", warnings);
  const fromEnv = environment.apiKey;
  const envFile = environment.apiKeyFile;
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

function parseStoreAction(raw: string | undefined): StoreAction {
  if (raw === undefined) return "status";
  if ((STORE_ACTIONS as readonly string[]).includes(raw)) return raw as StoreAction;
  throw usage(`"store ${raw}" is not a store action: use one of ${STORE_ACTIONS.join(", ")}.`, "store");
}

function parseTransport(raw: string | undefined): CliArgs["transport"] {
  if (raw === undefined || raw === "auto") return undefined;
  if (raw === "streamable-http" || raw === "http") return "streamable-http";
  if (raw === "sse") return "sse";
  throw usage(`--transport must be streamable-http, sse or auto, not "${raw}".`);
}

function parseToolPatterns(raw: string[]): string[] {
  return raw.map((item) => {
    const pattern = item.trim();
    if (!pattern) throw usage(`--ignore-tool needs a tool name or a pattern with *, like --ignore-tool 'delete_*'.`);
    return pattern;
  });
}

function parseProtocol(raw: string | undefined): CliArgs["protocol"] {
  if (raw === undefined || raw === "auto") return undefined;
  if (raw === "legacy" || raw === "modern") return raw;
  throw usage(`--protocol must be auto, legacy (the 2025 session wire) or modern (2026-07-28), not "${raw}".`);
}

function parseUser(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.trim() === "") throw usage("--user needs a grant id (u + 16 hex digits), an e-mail or a user name.");
  return raw.trim();
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

/** A whole number of seconds within `range` (by default 0, meaning off, to a day) given to `source`, or undefined. */
function parseSeconds(
  source: string,
  raw: string | undefined,
  range = { min: 0, max: 86_400, minText: "0 (off)" },
): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(value) || value < range.min || value > range.max) {
    throw usage(`${source} must be a whole number of seconds from ${range.minText} to ${range.max}, not "${raw}".`);
  }
  return value;
}

function mapDefined<T, U>(value: T | undefined, map: (value: T) => U): U | undefined {
  return value === undefined ? undefined : map(value);
}

function parsePort(raw: string | undefined, fromEnv: boolean): number {
  if (raw === undefined) return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    const source = fromEnv ? "OAUTH_CALLBACK_PORT" : "--port";
    throw usage(`${source} must be a port number from 0 to 65535, not "${raw}".`);
  }
  return port;
}

function parsePairs(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const at = item.indexOf("=");
    if (at <= 0) throw usage(`--authorize-param needs KEY=VALUE, not "${item}".`);
    const key = item.slice(0, at);
    // These make the sign-in what it is (PKCE, state, where the code goes): an extra parameter must not replace them.
    const instead = PROTOCOL_PARAMS[key.toLowerCase()];
    if (instead !== undefined) {
      throw usage(`--authorize-param cannot set "${key}": the proxy sets it${instead ? `; ${instead}` : ""}.`);
    }
    out[key] = item.slice(at + 1);
  }
  return out;
}

/** Authorization request parameters the proxy sets itself, with the option that changes them when there is one. */
const PROTOCOL_PARAMS: Record<string, string> = {
  response_type: "",
  client_id: "use --client-id for a pre-registered client",
  redirect_uri: "use --port and --callback-host to change the callback",
  state: "",
  code_challenge: "",
  code_challenge_method: "",
  scope: 'use --scope "A B"',
  resource: "use --no-resource to leave it out",
};

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

function usage(message: string, command?: string): ProxyError {
  return usageError(message, command);
}

/** `help <command>`: a command, or another word for one (`help login`); a typo is a usage error naming the nearest. */
function helpTopic(word: string | undefined): string | undefined {
  if (word === undefined || (COMMANDS as readonly string[]).includes(word)) return word;
  const alias = COMMAND_ALIASES[word.toLowerCase()];
  if (alias) return alias;
  throw unknownCommand(word, COMMANDS);
}

/**
 * `--store URL` (env MCP_PROXY_STORE) and `--auth-dir`: `file:DIR` is the file store in DIR (like --auth-dir; an
 * explicit --auth-dir wins), `file:` the --auth-dir one, and a redis:// or postgres:// URL a shared store (checked
 * here, so a typo fails before anything runs, named without its password).
 */
function storeOptions(authDir: string | undefined, store: string | undefined): { authDir: string; storeUrl?: string } {
  const location = store === undefined ? undefined : parseStoreUrl(store);
  if (location === undefined || location.backend === "file") {
    const dir = authDir ?? (location?.backend === "file" ? location.dir : undefined) ?? defaultAuthDir();
    return { authDir: resolve(dir) };
  }
  if (location.backend === "memory") {
    throw new ProxyError("USAGE", "--store memory: is for tests only; the proxy needs a store that outlives it.", {
      hint: "Use file:DIR, redis://HOST:PORT or postgres://USER@HOST:PORT/DB.",
    });
  }
  return { authDir: resolve(authDir ?? defaultAuthDir()), storeUrl: location.url };
}
