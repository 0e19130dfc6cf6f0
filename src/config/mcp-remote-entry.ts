/**
 * An existing `mcp-remote` entry (`"command": "npx", "args": ["-y", "mcp-remote", "<url>", "--header", …]`) read
 * as a remote server, so a host's config can be pointed at this proxy unchanged. The flags are mcp-remote 0.15's
 * (its `parseCommandLineArgs`): those with an equivalent here are mapped, the others are named in `ignored` with
 * the reason (the caller warns), and nothing is ever run.
 */
export interface McpRemoteEntry {
  url: string;
  headers: Record<string, string>;
  transport?: "streamable-http" | "sse" | undefined;
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  clientMetadataUrl?: string | undefined;
  scope?: string | undefined;
  authorizeParams: Record<string, string>;
  sendResource: boolean;
  /** mcp-remote's --use-id-token: the ID token is the bearer. */
  useIdToken: boolean;
  allowHttp: boolean;
  /** mcp-remote's --ignore-tool patterns: tools this proxy hides too (proxy/tool-filter.ts). */
  ignoreTools: string[];
  /** "--flag (why)" for each flag without an equivalent here. */
  ignored: string[];
}

/** An mcp-remote argument that is wrong; `index` is its place in the entry's `args`. */
export class McpRemoteArgError extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads a file an argument names (`--header-file`, `@file`); the caller resolves the path and reports failures. */
export type ReadArgFile = (path: string, index: number) => string;

/** mcp-remote flags without an equivalent here, with the reason shown in the warning. Value flags skip a value. */
const IGNORED: Record<string, { value: boolean; why: string }> = {
  "--host": { value: true, why: "the callback host is --callback-host, for every server" },
  "--callback-path": { value: true, why: "the callback is /oauth/callback, for every server" },
  "--auth-timeout": { value: true, why: "the sign-in timeout is the proxy's" },
  "--auth-success-url": { value: true, why: "the sign-in ends on this proxy's own page" },
  "--protocol": { value: true, why: "the protocol is detected" },
  "--token-endpoint": { value: true, why: "only the browser sign-in is supported" },
  "--connect-timeout": { value: true, why: "upstream timeouts are the proxy's" },
  "--headers-timeout": { value: true, why: "upstream timeouts are the proxy's" },
  "--body-timeout": { value: true, why: "upstream timeouts are the proxy's" },
  "--ping-interval": { value: true, why: "no keep-alive pings are sent" },
  "--keep-alive": { value: false, why: "no keep-alive pings are sent" },
  "--ipv4": { value: false, why: "addresses are resolved as usual" },
  "--disable-cookies": { value: false, why: "no cookies are kept" },
  "--device-code": { value: false, why: "only the browser sign-in is supported" },
  "--client-credentials": { value: false, why: "only the browser sign-in is supported" },
};

const IGNORED_RESOURCE = "the resource indicator sent is the one the server's metadata names";

/** Flags this proxy has its own form of, accepted without a warning. */
const SILENT = new Set(["--debug", "--silent", "--enable-proxy", "--help", "-h", "--version"]);

/** Parameters the flow derives per request: setting them breaks the sign-in (mcp-remote refuses them too). */
export const RESERVED_AUTHORIZE_PARAMS = new Set([
  "client_id",
  "redirect_uri",
  "response_type",
  "state",
  "code_challenge",
  "code_challenge_method",
]);

/**
 * The `args` after `mcp-remote` when a command entry runs it (`npx`/`bunx`/`pnpx` with `mcp-remote[@version]`,
 * `mcp-remote` itself, or either behind Windows' `cmd /c`), with their offset in the entry's `args`; undefined
 * when it runs something else.
 */
export function mcpRemoteArgs(command: unknown, args: unknown): { args: string[]; offset: number } | undefined {
  if (typeof command !== "string") return undefined;
  const words = args === undefined ? [] : args;
  if (!Array.isArray(words) || !words.every((word) => typeof word === "string")) return undefined;
  return findMcpRemote(command, words as string[], 0);
}

function findMcpRemote(
  command: string,
  words: string[],
  offset: number,
): { args: string[]; offset: number } | undefined {
  const base = (command.split(/[\\/]/).pop() ?? command).toLowerCase().replace(/\.(cmd|exe)$/, "");
  if (base === "mcp-remote") return { args: words, offset };
  if (base === "cmd" && /^\/c$/i.test(words[0] ?? "") && words[1] !== undefined) {
    return findMcpRemote(words[1], words.slice(2), offset + 2);
  }
  if (base !== "npx" && base !== "bunx" && base !== "pnpx") return undefined;
  // The package word, not the value of npx's own -p/--package (`npx -p mcp-remote@1 mcp-remote <url>`).
  const at = words.findIndex(
    (word, i) => /^mcp-remote(@[\w.^~<>=-]+)?$/.test(word) && !/^(-p|--package)$/.test(words[i - 1] ?? ""),
  );
  return at === -1 ? undefined : { args: words.slice(at + 1), offset: offset + at + 1 };
}

/**
 * Parses mcp-remote's arguments (`<url> [port] [flags]`), already expanded. Throws McpRemoteArgError naming the
 * argument. `readFile` reads `--header-file` and `@file` values.
 */
export function parseMcpRemoteArgs(args: readonly string[], readFile: ReadArgFile, offset = 0): McpRemoteEntry {
  const entry: McpRemoteEntry = {
    url: "",
    headers: {},
    authorizeParams: {},
    sendResource: true,
    useIdToken: false,
    allowHttp: false,
    ignoreTools: [],
    ignored: [],
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const at = offset + i;
    const fail = (message: string) => new McpRemoteArgError(at, message);
    const value = () => {
      const next = args[i + 1];
      if (next === undefined) throw fail(`mcp-remote's ${arg} needs a value`);
      i++;
      return next;
    };
    switch (arg) {
      case "--header": {
        const header = parseHeaderLine(value());
        if (!header) throw new McpRemoteArgError(offset + i, `mcp-remote's --header needs "Name: value"`);
        entry.headers[header.name] = header.value;
        break;
      }
      case "--header-file": {
        const text = readFile(value(), offset + i);
        text.split(/\r?\n/).forEach((line, number) => {
          const trimmed = line.trim();
          if (!trimmed || trimmed.startsWith("#")) return;
          const header = parseHeaderLine(trimmed);
          if (!header) {
            throw new McpRemoteArgError(offset + i, `line ${number + 1} of the --header-file is not "Name: value"`);
          }
          entry.headers[header.name] = header.value;
        });
        break;
      }
      case "--transport": {
        const strategy = value();
        if (strategy === "http-only") entry.transport = "streamable-http";
        else if (strategy === "sse-only") entry.transport = "sse";
        else if (strategy !== "http-first" && strategy !== "sse-first") {
          throw new McpRemoteArgError(
            offset + i,
            `mcp-remote's --transport must be http-first, sse-first, http-only or sse-only (got ${quote(strategy)})`,
          );
        }
        break;
      }
      case "--static-oauth-client-info": {
        const info = jsonArg(value(), "--static-oauth-client-info", offset + i, readFile);
        if (typeof info.client_id === "string") entry.clientId = info.client_id;
        if (typeof info.client_secret === "string") entry.clientSecret = info.client_secret;
        break;
      }
      case "--static-oauth-client-metadata": {
        // mcp-remote pins the requested scope from it; the rest describes a registration this proxy makes itself.
        const metadata = jsonArg(value(), "--static-oauth-client-metadata", offset + i, readFile);
        if (typeof metadata.scope === "string" && metadata.scope.trim()) entry.scope = metadata.scope.trim();
        const rest = Object.keys(metadata).filter((key) => key !== "scope");
        if (rest.length > 0) {
          entry.ignored.push(
            `--static-oauth-client-metadata ${rest.join(", ")} (this proxy registers its own client metadata)`,
          );
        }
        break;
      }
      case "--client-metadata-url":
        entry.clientMetadataUrl = value().trim();
        break;
      case "--authorize-param": {
        const pair = value();
        const eq = pair.indexOf("=");
        if (eq < 1) throw new McpRemoteArgError(offset + i, `mcp-remote's --authorize-param needs key=value`);
        const key = pair.slice(0, eq).trim();
        if (RESERVED_AUTHORIZE_PARAMS.has(key)) {
          throw new McpRemoteArgError(offset + i, `--authorize-param cannot set "${key}": the sign-in sets it`);
        }
        if (key === "scope") entry.scope = pair.slice(eq + 1);
        else entry.authorizeParams[key] = pair.slice(eq + 1);
        break;
      }
      case "--disable-resource-parameter":
        entry.sendResource = false;
        break;
      case "--allow-http":
        entry.allowHttp = true;
        break;
      case "--use-id-token":
        entry.useIdToken = true;
        break;
      case "--ignore-tool": {
        const pattern = value().trim();
        if (!pattern)
          throw new McpRemoteArgError(offset + i, `mcp-remote's --ignore-tool needs a tool name or pattern`);
        entry.ignoreTools.push(pattern);
        break;
      }
      case "--resource":
        // mcp-remote reads an empty --resource as "leave the parameter out"; a URI has no equivalent here.
        if (value().trim() === "") entry.sendResource = false;
        else entry.ignored.push(`--resource (${IGNORED_RESOURCE})`);
        break;
      default: {
        const ignored = IGNORED[arg];
        if (ignored) {
          if (ignored.value) value();
          entry.ignored.push(`${arg} (${ignored.why})`);
        } else if (SILENT.has(arg)) {
          // This proxy has its own: --debug, HTTPS_PROXY always honoured, no output on stdio.
        } else if (arg.startsWith("-")) {
          entry.ignored.push(`${arg} (not an mcp-remote option this proxy knows)`);
        } else if (!entry.url) {
          entry.url = arg;
        } else if (/^\d+$/.test(arg)) {
          entry.ignored.push(`port ${arg} (the callback is on the proxy's --port, for every server)`);
        } else {
          throw fail(`unexpected mcp-remote argument ${quote(arg)}`);
        }
      }
    }
  }
  if (!entry.url) throw new McpRemoteArgError(offset, "the mcp-remote arguments name no server URL");
  return entry;
}

/** `Name: value` as mcp-remote reads it (a token name, optional space after the colon); header names lowercased. */
function parseHeaderLine(line: string): { name: string; value: string } | undefined {
  const match = /^([A-Za-z0-9_-]+):\s*(.*)$/.exec(line);
  if (!match || /[\r\n]/.test(match[2] as string)) return undefined;
  return { name: (match[1] as string).toLowerCase(), value: (match[2] as string).trim() };
}

function jsonArg(raw: string, flag: string, index: number, readFile: ReadArgFile): Record<string, unknown> {
  const text = raw.startsWith("@") ? readFile(raw.slice(1), index) : raw;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new McpRemoteArgError(index, `mcp-remote's ${flag} is not valid JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new McpRemoteArgError(index, `mcp-remote's ${flag} must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}
