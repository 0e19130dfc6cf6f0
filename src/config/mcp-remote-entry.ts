/**
 * An existing `mcp-remote` entry (`"command": "npx", "args": ["-y", "mcp-remote", "<url>", "--header", …]`) read
 * as a remote server, so a host's config can be pointed at this proxy unchanged. Flags with an equivalent here are
 * mapped; the others are named in `ignored` (the caller warns).
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
  allowHttp: boolean;
  ignored: string[];
}

/** mcp-remote flags that take a value but have no equivalent here (skipped with their value). */
const IGNORED_WITH_VALUE = new Set([
  "--host",
  "--auth-timeout",
  "--callback-path",
  "--auth-success-url",
  "--static-oauth-client-metadata",
  "--ignore-tool",
  "--token-endpoint",
  "--protocol",
  "--connect-timeout",
  "--headers-timeout",
  "--body-timeout",
  "--keep-alive",
  "--ping-interval",
  "--ipv",
  "--resource",
]);

/** The `args` of a command entry when it runs mcp-remote; undefined when it runs something else. */
export function mcpRemoteArgs(command: unknown, args: unknown): string[] | undefined {
  if (typeof command !== "string" || !Array.isArray(args) || !args.every((arg) => typeof arg === "string")) {
    return undefined;
  }
  const words = args as string[];
  const base = command.split(/[\\/]/).pop() ?? command;
  if (/^mcp-remote(\.cmd)?$/.test(base)) return words;
  if (!/^(npx|bunx|pnpx)(\.cmd)?$/.test(base)) return undefined;
  const at = words.findIndex((word) => /^mcp-remote(@[\w.^~-]+)?$/.test(word));
  return at === -1 ? undefined : words.slice(at + 1);
}

/** Parses mcp-remote's arguments (`<url> [port] [flags]`). Throws a plain Error naming what is wrong. */
export function parseMcpRemoteArgs(args: readonly string[]): McpRemoteEntry {
  const entry: McpRemoteEntry = {
    url: "",
    headers: {},
    authorizeParams: {},
    sendResource: true,
    allowHttp: false,
    ignored: [],
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const value = () => {
      const next = args[i + 1];
      if (next === undefined) throw new Error(`mcp-remote's ${arg} needs a value`);
      i++;
      return next;
    };
    switch (arg) {
      case "--header": {
        const header = value();
        const colon = header.indexOf(":");
        if (colon <= 0) throw new Error(`mcp-remote's --header needs "Name: value", not "${header}"`);
        entry.headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
        break;
      }
      case "--transport": {
        const strategy = value();
        if (strategy === "http-only") entry.transport = "streamable-http";
        else if (strategy === "sse-only") entry.transport = "sse";
        else if (strategy !== "http-first" && strategy !== "sse-first") {
          throw new Error(
            `mcp-remote's --transport must be http-first, sse-first, http-only or sse-only, not "${strategy}"`,
          );
        }
        break;
      }
      case "--static-oauth-client-info": {
        const raw = value();
        if (raw.startsWith("@"))
          throw new Error(
            'mcp-remote\'s --static-oauth-client-info @file is not read; put clientId and clientSecret under "mcp-u2m-proxy".oauth',
          );
        const info = JSON.parse(raw) as { client_id?: unknown; client_secret?: unknown };
        if (typeof info.client_id === "string") entry.clientId = info.client_id;
        if (typeof info.client_secret === "string") entry.clientSecret = info.client_secret;
        break;
      }
      case "--client-metadata-url":
        entry.clientMetadataUrl = value();
        break;
      case "--authorize-param": {
        const pair = value();
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new Error(`mcp-remote's --authorize-param needs key=value, not "${pair}"`);
        const key = pair.slice(0, eq);
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
      case "--debug":
      case "--silent":
      case "--enable-proxy":
        break; // this proxy has its own (--debug; HTTPS_PROXY is always honoured)
      default:
        if (IGNORED_WITH_VALUE.has(arg)) {
          entry.ignored.push(arg);
          value();
        } else if (arg.startsWith("--")) {
          entry.ignored.push(arg);
        } else if (!entry.url) {
          entry.url = arg;
        } else if (/^\d+$/.test(arg)) {
          entry.ignored.push(`port ${arg}`); // mcp-remote's callback port; this proxy has one callback for all
        } else {
          throw new Error(`unexpected mcp-remote argument "${arg}"`);
        }
    }
  }
  if (!entry.url) throw new Error("the mcp-remote arguments name no server URL");
  return entry;
}
