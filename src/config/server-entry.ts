import { basename, isAbsolute, resolve } from "node:path";
import type { ProxyError } from "../lib/errors.ts";
import { type ConfigPlace, configError, shown } from "./config-error.ts";
import { expandVariables, VariableError, type VariableSource } from "./env-expand.ts";
import { McpRemoteArgError, mcpRemoteArgs, parseMcpRemoteArgs } from "./mcp-remote-entry.ts";
import { ownEnabled, readOwnKeys } from "./own-keys.ts";

export type Transport = "streamable-http" | "sse";

export interface OAuthSettings {
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  clientMetadataUrl?: string | undefined;
  scope?: string | undefined;
  /** false: leave the RFC 8707 `resource` parameter out (for authorization servers that reject it). */
  resource: boolean;
  authorizeParams: Record<string, string>;
  /** true: send the OpenID Connect ID token as the bearer instead of the access token (Cognito, AgentCore). */
  useIdToken?: boolean | undefined;
  /** The one issuer accepted from authorization server metadata that names another than its URL (RFC 8414 §3.3). */
  acceptIssuer?: string | undefined;
}

export interface RateLimit {
  requestsPerMinute: number;
  burst: number;
}

/** One served server of a config file, variables expanded, before any command-line option is applied. */
export interface ServerEntry {
  /** A safe path segment: `/servers/<name>/…`, `auth <name>`, part of store keys. */
  name: string;
  url: string;
  /** Undefined: detected (Streamable HTTP first, then legacy SSE). */
  transport: Transport | undefined;
  /** The upstream's MCP wire era (`"mcp-u2m-proxy".protocol`); undefined: probed. */
  protocol: "legacy" | "modern" | undefined;
  /** Static headers, names lowercased. An `authorization` header replaces OAuth. */
  headers: Record<string, string>;
  oauth: OAuthSettings;
  /** mcp-remote's --allow-http was given. */
  allowInsecureHttp: boolean;
  rateLimit: RateLimit | undefined;
  /** Tools hidden from clients (mcp-remote's --ignore-tool, `"mcp-u2m-proxy".ignoreTools`; proxy/tool-filter.ts). */
  ignoreTools: string[];
  /** How the entry was written: a remote entry, or an mcp-remote command. */
  source: "remote" | "mcp-remote";
  /** What was read but has no effect here (mcp-remote flags, other hosts' keys), each with why. */
  ignored: string[];
  /** The entry's keys this proxy does not read, as written (the host's own: `description`, `timeout`, …). */
  extra: Record<string, unknown>;
}

/** What an entry of the file is: a server to serve, or one to list as skipped (stdio, disabled). */
export type EntryReading = { kind: "server"; entry: ServerEntry } | { kind: "skipped"; reason: string };

export interface EntryContext {
  /** The config file's path: errors name it, relative file arguments resolve against its folder. */
  path: string;
  env: NodeJS.ProcessEnv;
  readFile: (path: string) => string;
}

/** Names allowed for a served server: a safe path segment and store-key part, never "." or "..", not a flag. */
export const SERVER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Keys read here (remote entries, mcp-remote commands, FastMCP `auth`, Claude Code `oauth`); others are extra. */
const READ_KEYS = new Set(["url", "httpUrl", "serverUrl", "type", "transport", "headers", "command", "args", "env"]);
const STATE_KEYS = new Set(["disabled", "enabled", "mcp-u2m-proxy", "oauth", "auth"]);

const TYPES: Record<string, Transport | "stdio"> = {
  http: "streamable-http",
  "streamable-http": "streamable-http",
  streamableHttp: "streamable-http",
  sse: "sse",
  stdio: "stdio",
};

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Reads one entry of `mcpServers`/`servers`. Throws CONFIG_INVALID naming the file, the server and the key. */
export function readServerEntry(name: string, raw: unknown, context: EntryContext): EntryReading {
  const at = (key?: string): ConfigPlace => ({ path: context.path, server: name, key });
  if (!isObject(raw)) throw configError(at(), `must be an object (got ${shown(raw)})`);
  // Our own "enabled" wins over the host's, so an entry a host has switched off can still be served here.
  const enabled = ownEnabled(raw["mcp-u2m-proxy"], at) ?? !(raw.disabled === true || raw.enabled === false);
  if (!enabled) return { kind: "skipped", reason: "disabled" };

  const urlKeys = ["url", "httpUrl", "serverUrl"].filter((key) => raw[key] !== undefined);
  const type = readType(raw, at);
  if (urlKeys.length > 1) {
    throw configError(at(urlKeys[1]), `cannot be given with "${urlKeys[0]}": keep one URL`);
  }
  if (urlKeys.length > 0 && raw.command !== undefined) {
    throw configError(at("command"), `cannot be given with "${urlKeys[0]}": an entry is a URL or a command`);
  }
  if (urlKeys.length === 0 && raw.command === undefined) {
    throw configError(
      at(),
      type === "stdio" ? `has "type": "stdio" but no "command"` : `has neither "url" nor "command"`,
      `Give the server's URL as "url", e.g. "url": "https://mcp.example.com/mcp", in ${context.path}.`,
    );
  }
  if (!SERVER_NAME_PATTERN.test(name) && (urlKeys.length > 0 || isMcpRemote(raw))) throw unsafeName(name, context);

  const ignored: string[] = [];
  let entry: ServerEntry;
  if (urlKeys.length > 0) {
    entry = readRemote(name, raw, urlKeys[0] as string, type, context, ignored);
  } else {
    if (typeof raw.command !== "string")
      throw configError(at("command"), `must be a string (got ${shown(raw.command)})`);
    const remote = mcpRemoteArgs(raw.command, raw.args);
    if (!remote) {
      const program = basename(raw.command.split(/\s+/)[0] ?? raw.command);
      return {
        kind: "skipped",
        reason: `a stdio command (${program}): this proxy relays remote servers, never runs one`,
      };
    }
    entry = readMcpRemote(name, raw, remote, context, ignored);
  }
  applyOwnKeys(entry, raw["mcp-u2m-proxy"], context);
  return { kind: "server", entry };
}

function readRemote(
  name: string,
  raw: Record<string, unknown>,
  urlKey: string,
  type: Transport | "stdio" | undefined,
  context: EntryContext,
  ignored: string[],
): ServerEntry {
  const at = (key?: string): ConfigPlace => ({ path: context.path, server: name, key });
  if (type === "stdio") throw configError(at("type"), `is "stdio" but the entry has a "${urlKey}"`);
  const expand = (value: string, key: string) => expandAt(value, context.env, at(key));
  const rawUrl = raw[urlKey];
  if (typeof rawUrl !== "string") throw configError(at(urlKey), `must be a string (got ${shown(rawUrl)})`);
  const url = checkUrl(expand(rawUrl, urlKey), at(urlKey));
  const headers = readHeaders(raw.headers, (value, key) => expand(value, key), at);
  // FastMCP: "auth" is "oauth" or a bearer token. Headers win: they are the form every host understands.
  if (typeof raw.auth === "string" && raw.auth !== "oauth" && headers.authorization === undefined) {
    const token = expand(raw.auth, "auth").trim();
    if (token) headers.authorization = `Bearer ${token}`;
  }
  const oauth: OAuthSettings = { resource: true, authorizeParams: {} };
  readHostOAuth(raw.oauth, oauth, ignored, (value, key) => expand(value, key));
  return {
    name,
    url,
    // Gemini CLI's httpUrl is a Streamable HTTP endpoint (its url is SSE, left to detection here).
    transport: type ?? (urlKey === "httpUrl" ? "streamable-http" : undefined),
    headers,
    oauth,
    allowInsecureHttp: false,
    rateLimit: undefined,
    protocol: undefined,
    ignoreTools: [],
    source: "remote",
    ignored,
    extra: extraKeys(raw),
  };
}

function readMcpRemote(
  name: string,
  raw: Record<string, unknown>,
  remote: { args: string[]; offset: number },
  context: EntryContext,
  ignored: string[],
): ServerEntry {
  const at = (key?: string): ConfigPlace => ({ path: context.path, server: name, key });
  // The host starts mcp-remote with the entry's "env", and mcp-remote expands ${VAR} from it: layer it over ours.
  const entryEnv = isObject(raw.env) ? raw.env : {};
  const source: VariableSource = (variable) => {
    const value = entryEnv[variable];
    if (typeof value !== "string") return context.env[variable];
    return expandAt(value, context.env, at(`env.${variable}`));
  };
  const argKey = (index: number) => `args[${index}]`;
  const args = remote.args.map((arg, i) => expandAt(arg, source, at(argKey(remote.offset + i))));
  const folder = resolve(context.path, "..");
  const readFile = (file: string, index: number) => {
    const full = isAbsolute(file) ? file : resolve(folder, file);
    let text: string;
    try {
      text = context.readFile(full);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
      throw configError(at(argKey(index)), `names the file ${full}, which cannot be read (${code})`);
    }
    return expandAt(text, source, at(argKey(index)));
  };
  let parsed: ReturnType<typeof parseMcpRemoteArgs>;
  try {
    parsed = parseMcpRemoteArgs(args, readFile, remote.offset);
  } catch (error) {
    if (error instanceof McpRemoteArgError) throw configError(at(argKey(error.index)), error.message);
    throw error;
  }
  ignored.push(...parsed.ignored);
  return {
    name,
    url: checkUrl(parsed.url, at(argKey(remote.offset + args.indexOf(parsed.url)))),
    transport: parsed.transport,
    headers: parsed.headers,
    oauth: {
      clientId: parsed.clientId,
      clientSecret: parsed.clientSecret,
      clientMetadataUrl: parsed.clientMetadataUrl,
      scope: parsed.scope,
      resource: parsed.sendResource,
      authorizeParams: parsed.authorizeParams,
      useIdToken: parsed.useIdToken,
    },
    allowInsecureHttp: parsed.allowHttp,
    rateLimit: undefined,
    protocol: undefined,
    ignoreTools: parsed.ignoreTools,
    source: "mcp-remote",
    ignored,
    extra: extraKeys(raw),
  };
}

/** Our own keys win over what the host's entry or mcp-remote's flags said. */
function applyOwnKeys(entry: ServerEntry, rawOwn: unknown, context: EntryContext): void {
  const at = (key?: string): ConfigPlace => ({ path: context.path, server: entry.name, key });
  const own = readOwnKeys(rawOwn, at, (value, key) => expandAt(value, context.env, at(key)));
  const oauth = entry.oauth;
  oauth.clientId = own.oauth.clientId ?? oauth.clientId;
  oauth.clientSecret = own.oauth.clientSecret ?? oauth.clientSecret;
  oauth.clientMetadataUrl = own.oauth.clientMetadataUrl ?? oauth.clientMetadataUrl;
  oauth.scope = own.oauth.scope ?? oauth.scope;
  if (own.oauth.resource !== undefined) oauth.resource = own.oauth.resource;
  if (own.oauth.useIdToken !== undefined) oauth.useIdToken = own.oauth.useIdToken;
  if (own.oauth.acceptIssuer !== undefined) oauth.acceptIssuer = own.oauth.acceptIssuer;
  Object.assign(oauth.authorizeParams, own.oauth.authorizeParams);
  entry.rateLimit = own.rateLimit;
  entry.protocol = own.protocol;
  entry.ignoreTools = [...new Set([...entry.ignoreTools, ...own.ignoreTools])];
  entry.ignored.push(...own.ignored);
  if (oauth.clientSecret !== undefined && oauth.clientId === undefined) {
    throw configError(at("mcp-u2m-proxy.oauth.clientSecret"), `needs a "clientId" beside it`);
  }
}

/** Claude Code's own `oauth` of a remote entry: its pre-registered client id and scopes are used here too. */
function readHostOAuth(
  raw: unknown,
  oauth: OAuthSettings,
  ignored: string[],
  expand: (value: string, key: string) => string,
): void {
  if (!isObject(raw)) return;
  for (const [key, value] of Object.entries(raw)) {
    if (key === "clientId" && typeof value === "string") oauth.clientId = expand(value, "oauth.clientId");
    else if (key === "scopes" && typeof value === "string") oauth.scope = expand(value, "oauth.scopes");
    else if (key === "callbackPort") {
      ignored.push(
        "oauth.callbackPort (the callback is on the proxy's --port; the client must allow its redirect URI)",
      );
    } else ignored.push(`oauth.${key} (not read here; this proxy's own keys go under "mcp-u2m-proxy".oauth)`);
  }
}

function readType(raw: Record<string, unknown>, at: (key?: string) => ConfigPlace): Transport | "stdio" | undefined {
  let found: Transport | "stdio" | undefined;
  for (const key of ["type", "transport"]) {
    const value = raw[key];
    if (value === undefined) continue;
    const type = typeof value === "string" ? TYPES[value] : undefined;
    if (!type) throw configError(at(key), `must be one of http, streamable-http, sse (got ${shown(value)})`);
    if (found !== undefined && found !== type) throw configError(at(key), `disagrees with "type"`);
    found = type;
  }
  return found;
}

function readHeaders(
  raw: unknown,
  expand: (value: string, key: string) => string,
  at: (key?: string) => ConfigPlace,
): Record<string, string> {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw configError(at("headers"), `must be an object of header names and values`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const key = `headers.${name}`;
    if (!HEADER_NAME.test(name)) throw configError(at(key), `is not a valid header name`);
    if (typeof value !== "string") throw configError(at(key), `must be a string (got ${shown(value)})`);
    const expanded = expand(value, key).trim();
    if (/[\r\n]/.test(expanded)) throw configError(at(key), `has a line break in its value`);
    // `${TOKEN:-}` with TOKEN unset means "no such header", never an empty one (an empty Authorization would
    // still switch OAuth off).
    if (expanded) headers[name.toLowerCase()] = expanded;
  }
  return headers;
}

/** An absolute http(s) URL without credentials in it. */
function checkUrl(value: string, place: ConfigPlace): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw configError(place, `must be an http(s) URL (got ${shown(value.replace(/[?#].*$/s, ""))})`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw configError(place, `must be an http(s) URL (got a ${url.protocol}// URL)`);
  }
  if (url.username || url.password) {
    throw configError(place, `must not hold a user name or password`, `Send credentials as "headers" instead.`);
  }
  return value.trim();
}

/** Expands variables in one value, turning a VariableError into CONFIG_INVALID at `place`. */
export function expandAt(value: string, source: VariableSource, place: ConfigPlace): string {
  try {
    return expandVariables(value, source);
  } catch (error) {
    if (!(error instanceof VariableError)) throw error;
    if (error.kind === "unset") {
      throw configError(
        place,
        `uses \${${error.variable}}, which is not set`,
        `Set ${error.variable} in the proxy's environment, or give a default: \${${error.variable}:-value}.`,
      );
    }
    if (error.kind === "prompt") {
      throw configError(
        place,
        `uses \${${error.variable}}, a VS Code input prompt this proxy cannot show`,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the syntax, shown to the user
        "Put the value in an environment variable and write ${env:NAME} (VS Code reads that form too).",
      );
    }
    throw configError(
      place,
      `has ${error.message}`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the syntax, shown to the user
      "Write ${NAME}, ${env:NAME} or ${NAME:-default}; $${ is a literal ${.",
    );
  }
}

function unsafeName(name: string, context: EntryContext): ProxyError {
  const suggestion =
    name
      .replace(/[^A-Za-z0-9._-]+/g, "-")
      .replace(/^[^A-Za-z0-9]+/, "")
      .slice(0, 64) || "server";
  return configError(
    { path: context.path, server: name },
    `has an unsafe name: a name is 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit (it becomes /servers/<name>/mcp)`,
    `Rename the entry in ${context.path}, e.g. "${suggestion}".`,
  );
}

function isMcpRemote(raw: Record<string, unknown>): boolean {
  return mcpRemoteArgs(raw.command, raw.args) !== undefined;
}

function extraKeys(raw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(raw).filter(([key]) => !READ_KEYS.has(key) && !STATE_KEYS.has(key)));
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
