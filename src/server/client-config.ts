/**
 * Copy-paste configuration for the MCP clients people use, pointing at this proxy (or, for hosts that only
 * launch commands, at the stdio face, which shares the same token store and sign-in).
 */
export interface ClientConfigInput {
  /** The upstream MCP server URL. */
  upstreamUrl: string;
  /** This proxy's base URL as the browser reached it, e.g. "http://127.0.0.1:8000". */
  proxyBaseUrl: string;
  /** Whether clients must send the inbound API key. */
  apiKeyRequired: boolean;
  /**
   * The command that runs this proxy here, with the options that select its token directory and config (see
   * launchCommand in the app layer); default `npx -y mcp-u2m-proxy`, the form once the package is published.
   */
  launch?: { command: string; args: string[] } | undefined;
  /** The server as the stdio face is told it: its config name, else the upstream URL. */
  stdioTarget?: string | undefined;
}

export interface ClientConfig {
  id: string;
  title: string;
  /** Where it goes (a file, a command line). */
  where: string;
  text: string;
}

const KEY_PLACEHOLDER = "<your MCP_PROXY_API_KEY>";

/**
 * A short server name for client configs, from the upstream host: the registrable name without "mcp"/"api"/"www"
 * ("mcp.linear.app" → "linear"), else the host itself ("localhost", "127-0-0-1"), else "upstream".
 */
export function serverNameOf(upstreamUrl: string): string {
  let host: string;
  try {
    host = new URL(upstreamUrl).hostname.toLowerCase();
  } catch {
    return "upstream";
  }
  if (host.startsWith("[")) return "upstream"; // IPv6 literals make no readable name.
  if (/^[\d.]+$/.test(host)) return host.replace(/\./g, "-");
  const labels = host.split(".").filter((label) => label !== "" && !["mcp", "api", "www"].includes(label));
  const name = (labels.length > 1 ? labels[labels.length - 2] : labels[0]) ?? host;
  return name.replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "") || "upstream";
}

/** Host names that all mean "this machine" (RFC 6761 §6.3, RFC 1122 §3.2.1.3, RFC 4291 §2.5.3). */
function isLoopbackName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  return name === "localhost" || name.endsWith(".localhost") || /^127(?:\.\d{1,3}){3}$/.test(name) || name === "[::1]";
}

/**
 * The proxy's base URL for client configs: its public URL when one is known (`--public-url`, or learnt from a
 * trusted front: behind a TLS-terminating front the Host the proxy sees says nothing of the https the clients must
 * use); else the address the proxy printed when the browser reached it through a loopback alias of it (the
 * callback's "localhost" for a proxy that printed 127.0.0.1), else the Host the browser used (a LAN address or name
 * the clients can reach too).
 */
export function clientBaseUrl(
  hostHeader: string | undefined,
  printedBaseUrl: string | undefined,
  publicBaseUrl?: string | undefined,
): string {
  if (publicBaseUrl) return publicBaseUrl;
  const seen = `http://${hostHeader ?? "127.0.0.1"}`;
  if (!printedBaseUrl) return seen;
  try {
    const browser = new URL(seen);
    const printed = new URL(printedBaseUrl);
    if (isLoopbackName(browser.hostname) && isLoopbackName(printed.hostname) && browser.port === printed.port) {
      return printed.origin;
    }
  } catch {
    // A Host header URL cannot parse was refused by the guard already; keep what the browser sent.
  }
  return seen;
}

export function clientConfigs(input: ClientConfigInput): ClientConfig[] {
  const name = serverNameOf(input.upstreamUrl);
  const mcpUrl = `${input.proxyBaseUrl}/mcp`;
  const sseUrl = `${input.proxyBaseUrl}/sse`;
  const headers = input.apiKeyRequired ? { headers: { Authorization: `Bearer ${KEY_PLACEHOLDER}` } } : {};
  const json = (value: unknown) => JSON.stringify(value, null, 2);
  const launch = input.launch ?? { command: "npx", args: ["-y", "mcp-u2m-proxy"] };
  const stdioArgs = [...launch.args, "stdio", input.stdioTarget ?? input.upstreamUrl];
  return [
    {
      id: "vscode",
      title: "VS Code",
      where: ".vscode/mcp.json (or the user mcp.json)",
      text: json({ servers: { [name]: { type: "http", url: mcpUrl, ...headers } } }),
    },
    {
      id: "cursor",
      title: "Cursor",
      where: "~/.cursor/mcp.json",
      text: json({ mcpServers: { [name]: { url: mcpUrl, ...headers } } }),
    },
    {
      id: "claude-code",
      title: "Claude Code",
      where: "a terminal",
      text: `claude mcp add --transport http ${name} ${mcpUrl}${
        input.apiKeyRequired ? ` --header "Authorization: Bearer ${KEY_PLACEHOLDER}"` : ""
      }`,
    },
    {
      id: "claude-desktop",
      title: "Claude Desktop",
      where: "claude_desktop_config.json (it launches the stdio face, which shares this proxy's sign-in)",
      text: json({ mcpServers: { [name]: { command: launch.command, args: stdioArgs } } }),
    },
    {
      id: "gemini-cli",
      title: "Gemini CLI",
      where: "~/.gemini/settings.json",
      text: json({ mcpServers: { [name]: { httpUrl: mcpUrl, ...headers } } }),
    },
    {
      id: "opencode",
      title: "opencode",
      where: "opencode.json",
      text: json({ mcp: { [name]: { type: "remote", url: mcpUrl, enabled: true, ...headers } } }),
    },
    {
      id: "windsurf",
      title: "Windsurf",
      where: "~/.codeium/windsurf/mcp_config.json",
      // Windsurf reads a remote server's address from serverUrl (a Cursor-style url does not connect).
      text: json({ mcpServers: { [name]: { serverUrl: mcpUrl, ...headers } } }),
    },
    {
      id: "codex",
      title: "Codex",
      where: "~/.codex/config.toml",
      text: codexToml(name, mcpUrl, input.apiKeyRequired),
    },
    {
      id: "stdio",
      title: "Any host that launches a command (stdio)",
      where: "the host's command setting",
      text: [launch.command, ...stdioArgs].map(shellQuote).join(" "),
    },
    {
      id: "legacy-sse",
      title: "Clients that only speak the legacy HTTP+SSE transport",
      where: "the client's server URL",
      text: sseUrl,
    },
  ];
}

/**
 * Codex's TOML table for a Streamable HTTP server. Codex takes no bearer token inline: it reads it from the
 * variable `bearer_token_env_var` names, which is the proxy's own MCP_PROXY_API_KEY.
 */
function codexToml(name: string, url: string, apiKeyRequired: boolean): string {
  // serverNameOf's names ([a-z0-9-]) are TOML bare keys; a JSON string is a valid TOML basic string.
  const lines = [`[mcp_servers.${name}]`, `url = ${JSON.stringify(url)}`];
  if (apiKeyRequired) lines.push(`bearer_token_env_var = "MCP_PROXY_API_KEY"`);
  return lines.join("\n");
}

/** Quotes a shell word when it holds anything beyond the characters every shell leaves alone. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}
