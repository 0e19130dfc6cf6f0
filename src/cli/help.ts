/**
 * Help texts. Every flag is described once (FLAGS) and each command lists the flags it reads, so a command's
 * `--help` shows only what it takes and the descriptions read the same everywhere.
 */
export const FLAGS: Record<string, string> = {
  "--config FILE": "servers from a config file (env MCP_U2M_PROXY_CONFIG; default ./mcp-u2m-proxy.json if present)",
  "--client-id ID": "use a pre-registered OAuth client (skips registration)",
  "--client-secret SECRET": "its secret (confidential clients)",
  "--client-metadata-url URL": "use a Client ID Metadata Document (https URL) when the server supports it",
  '--scope "A B"': "ask for these scopes instead of the server's",
  "--authorize-param K=V":
    "extra authorization request parameter (repeatable); Google gets access_type=offline and prompt=consent by itself",
  '--header "Name: value"': "send this header upstream (repeatable); an Authorization header replaces OAuth",
  "--transport KIND": "the upstream's transport: streamable-http, sse or auto (default: detected once)",
  "--protocol ERA":
    "the upstream's MCP revision: legacy (2025, sessions), modern (2026-07-28) or auto (default: probed, remembered a day)",
  "--ignore-tool PATTERN":
    "hide the upstream's tools with this name from clients, * matching any characters, case ignored (repeatable): out of tools/list, their calls refused",
  "--no-resource":
    "do not send the RFC 8707 resource parameter (for servers that reject it; never sent to Microsoft Entra)",
  "--use-id-token":
    "send the OpenID Connect ID token as the bearer instead of the access token (AWS Cognito, Bedrock AgentCore); asks for the openid scope",
  "--auth-dir DIR": "token directory (env MCP_AUTH_DIR; default ~/.mcp/auth)",
  "--store URL":
    "token store: file:DIR (default), redis://HOST:PORT or postgres://USER@HOST/DB shared by replicas (env MCP_PROXY_STORE)",
  "--store-key-file FILE":
    "encrypt the store at rest with the key in FILE (chmod 600; env MCP_PROXY_STORE_KEY holds the key itself, MCP_PROXY_STORE_KEY_FILE a file)",
  "--keychain":
    "encrypt the store at rest with a key kept in the OS keychain (macOS Keychain, Windows Credential Manager, Linux Secret Service), created on first use (env MCP_PROXY_KEYCHAIN=1)",
  "--store-lease SECONDS":
    "a shared store's lease on a refresh or sign-in: how long a replica killed while holding one keeps the others waiting (env MCP_PROXY_STORE_LEASE; default 10)",
  "--new-store-key-file FILE": "store rekey: the key to move every record to (env MCP_PROXY_NEW_STORE_KEY)",
  "--port N":
    "the port serve listens on, which the OAuth callback (http://127.0.0.1:N/oauth/callback) uses too (env OAUTH_CALLBACK_PORT; default 8000)",
  "--callback-host NAME": "host in the redirect URI (default 127.0.0.1; localhost binds 127.0.0.1 and ::1)",
  "--no-browser":
    "print the sign-in URL instead of opening a browser (env BROWSER picks one); on a terminal, paste the address it ends on back",
  "--device":
    "sign in with a code entered on any device (RFC 8628 device flow; chosen by itself when no browser can be opened and the server offers it)",
  "--allow-insecure-http": "allow plain http to non-loopback OAuth and MCP servers (dangerous; testing only)",
  "--allow-pkce-unverified":
    "sign in even though the server's metadata omits code_challenge_methods_supported (dangerous)",
  "--accept-issuer ISS":
    "accept this issuer from authorization server metadata that names another than its URL (RFC 8414 §3.3; for servers that publish a wrong one)",
  "--debug": "debug logs to stderr and a 0600 <hash>_debug.log (secrets are never logged)",
  "--force": "sign in again even when the stored tokens are valid (and register a new dynamic client)",
  "--all": "every configured server, one after the other",
  "--json": "machine-readable output",
  "--user WHO":
    "only this person's per-user grants (serve --identity): their grant id (u + 16 hex), e-mail or user name",
  "--host HOST": "listen address (default 127.0.0.1); a non-loopback host needs --api-key",
  "--api-key KEY": "inbound secret clients must send (env MCP_PROXY_API_KEY)",
  "--api-key-file FILE": "read that secret from FILE's first line instead (env MCP_PROXY_API_KEY_FILE; chmod 600)",
  "--generate-api-key":
    "without a key, use the token directory's api-key file, made and printed once at first start (env MCP_PROXY_GENERATE_API_KEY=1; containers)",
  "--allow-origin ORIGIN": "browser origin allowed to call the proxy (repeatable)",
  "--allow-host NAME": "Host header name accepted besides loopback (repeatable; behind a reverse proxy)",
  "--max-streams N": "long-lived streams (GET /mcp, /sse, subscriptions/listen) open at once (default 2000)",
  "--max-streams-per-session N": "of those, per MCP session (default 4)",
  "--max-sessions N": "sessions the proxy holds itself when bridging transports (default 1000)",
  "--max-grants N":
    "with --identity: users' grants held in memory per upstream, least recently used evicted and re-read from the store (default 1000)",
  "--session-idle-timeout S": "seconds before an unused bridged session is closed (default 600)",
  "--keep-alive SECONDS": "an SSE comment on every event stream quiet this long (default 15; 0 off)",
  "--log-format FORMAT":
    "text (default) or json: one JSON object per line, with a line per relayed request and per sign-in or refresh",
  "--identity MODE":
    "who is calling: none (default), databricks-apps, header:NAME (with --api-key) or jwt:JWKS_URL; each user gets their own sign-ins",
  "--identity-header NAME": "with jwt:, the header carrying the front's signed assertion",
  "--identity-audience AUD": "with jwt:, the audience the assertion must name",
  "--identity-issuer ISS": "with jwt:, the issuer the assertion must name",
  "--identity-claim CLAIM": "with jwt:, the claim naming the user (default sub)",
  "--admin USER":
    "a user (id, e-mail or user name) who sees every user's state and may revoke their grants (repeatable)",
  "--public-url URL":
    "the URL people and the authorization server reach the proxy at (redirect URI, page links, Origin)",
  "--help, -h": "this help",
  "--version, -v": "the version",
};

/** What selects the stored sign-in (the store key) and where it lives: every command that reads one takes these. */
const STORE = [
  "--config FILE",
  "--auth-dir DIR",
  "--store URL",
  "--store-key-file FILE",
  "--keychain",
  "--store-lease SECONDS",
  "--client-id ID",
  "--client-metadata-url URL",
];
const SIGN_IN = [
  ...STORE,
  "--client-secret SECRET",
  '--scope "A B"',
  "--authorize-param K=V",
  '--header "Name: value"',
  "--no-resource",
  "--use-id-token",
  "--port N",
  "--callback-host NAME",
  "--no-browser",
  "--device",
  "--allow-insecure-http",
  "--allow-pkce-unverified",
  "--accept-issuer ISS",
  "--debug",
];
const LISTEN = [
  "--host HOST",
  "--api-key KEY",
  "--api-key-file FILE",
  "--generate-api-key",
  "--allow-origin ORIGIN",
  "--allow-host NAME",
  "--transport KIND",
  "--protocol ERA",
  "--ignore-tool PATTERN",
  "--max-streams N",
  "--max-streams-per-session N",
  "--max-sessions N",
  "--max-grants N",
  "--session-idle-timeout S",
  "--keep-alive SECONDS",
  "--log-format FORMAT",
  "--identity MODE",
  "--identity-header NAME",
  "--identity-audience AUD",
  "--identity-issuer ISS",
  "--identity-claim CLAIM",
  "--admin USER",
  "--public-url URL",
];

/** The flags each command reads. */
export const COMMAND_FLAGS: Record<string, readonly string[]> = {
  serve: [...SIGN_IN, ...LISTEN],
  stdio: [...SIGN_IN, "--transport KIND", "--protocol ERA", "--ignore-tool PATTERN"],
  auth: [...SIGN_IN, "--force", "--all"],
  status: [...STORE, "--use-id-token", "--allow-insecure-http", "--json", "--user WHO", "--debug"],
  refresh: [
    ...STORE,
    "--client-secret SECRET",
    "--no-resource",
    "--use-id-token",
    "--accept-issuer ISS",
    "--allow-insecure-http",
    "--debug",
  ],
  clear: [...STORE, "--client-secret SECRET", "--accept-issuer ISS", "--allow-insecure-http", "--user WHO", "--debug"],
  list: [
    "--config FILE",
    "--auth-dir DIR",
    "--store URL",
    "--store-key-file FILE",
    "--keychain",
    "--json",
    "--user WHO",
    "--debug",
  ],
  store: [
    "--auth-dir DIR",
    "--store URL",
    "--store-key-file FILE",
    "--keychain",
    "--new-store-key-file FILE",
    "--json",
    "--debug",
  ],
  // The options that select the client and sign-in are carried into the stdio snippets.
  clients: [
    "--config FILE",
    "--auth-dir DIR",
    "--store-key-file FILE",
    "--keychain",
    "--client-id ID",
    "--client-metadata-url URL",
    '--scope "A B"',
    "--authorize-param K=V",
    '--header "Name: value"',
    "--no-resource",
    "--use-id-token",
    "--accept-issuer ISS",
    "--callback-host NAME",
    "--port N",
    "--api-key KEY",
    "--api-key-file FILE",
  ],
};

const USAGE: Record<string, string> = {
  serve: `Usage: mcp-u2m-proxy [serve] <url or name> [options]

Runs the proxy on http://HOST:PORT: /mcp (Streamable HTTP), /sse + /message (legacy SSE), / (status page),
/healthz, /oauth/callback, and any other path relayed to the upstream's origin. With a config file of several
servers, each is at /servers/<name>/mcp (and /sse); run without <url> to serve them all.`,
  stdio: `Usage: mcp-u2m-proxy stdio <url or name> [options]

Speaks MCP (newline-delimited JSON-RPC) on stdin/stdout and relays it to the server with your sign-in.
Only MCP messages go to stdout; logs go to stderr.`,
  auth: `Usage: mcp-u2m-proxy auth <url or name> [options]   (or: auth --all)

Signs in to the MCP server (opening the browser) unless valid tokens are stored, and saves them. Several
processes signing in to the same server at once open one browser tab; the others wait for it.`,
  status: `Usage: mcp-u2m-proxy status [<url or name>] [options]

Shows whether you are signed in, when the access token expires, whether a refresh token is stored, the scopes
and the authorization server; every stored and configured server without <url>. Exit 0 when usable, 1 when not.
A store written by serve --identity also shows each user's grant (grant id, e-mail or user name, valid,
refreshable or expired); --user narrows it to one person.`,
  refresh: `Usage: mcp-u2m-proxy refresh <url or name> [options]

Refreshes the access token now with the stored refresh token. Exits non-zero with the reason when it cannot.`,
  clear: `Usage: mcp-u2m-proxy clear [<url or name>] [options]

Signs out: revokes the tokens at the authorization server when it supports it (RFC 7009), then deletes the
stored tokens and client registration, for one server or (without <url>) every one. Exit 5 when a revocation
failed (the local records are deleted anyway; the token stays valid upstream until it expires). --user signs
one person out (their per-user grant, from serve --identity) and leaves the registration and everyone else's.`,
  list: `Usage: mcp-u2m-proxy list [options]

Lists every configured server and every server with stored credentials, each with its users' grants when
serve --identity stored some (--user: one person's only).`,
  store: `Usage: mcp-u2m-proxy store [status|encrypt|rekey|decrypt] [options]

Encryption at rest of the token store (AES-256-GCM). status: how many records are plaintext or sealed with
which key id. encrypt: seal every plaintext record with the store key. rekey: move every record to the new key
(--new-store-key-file). decrypt: back to plaintext. Stop the proxies using the store first. Each is resumable:
if one stops midway, every record is readable with the old or the new key; run it again to finish.`,
  clients: `Usage: mcp-u2m-proxy clients [<url or name>] [options]

Prints the configuration snippet of every MCP host (Claude Code, Claude Desktop, Cursor, VS Code, Windsurf,
Codex, Gemini CLI, opencode, …) for the server, with the command that works on this machine.`,
};

const MAIN = `mcp-u2m-proxy — use OAuth-protected remote MCP servers from any MCP client

Usage:
  mcp-u2m-proxy [serve] <url>      run the proxy: http://127.0.0.1:8000/mcp (Streamable HTTP), /sse (legacy)
  mcp-u2m-proxy stdio <url>        speak MCP on stdin/stdout (for hosts that launch a command)
  mcp-u2m-proxy auth <url>         sign in (or reuse valid tokens) and save them
  mcp-u2m-proxy status [<url>]     signed in or not, expiry, scopes (--json)
  mcp-u2m-proxy refresh <url>      refresh the tokens now
  mcp-u2m-proxy clear [<url>]      sign out: revoke and delete stored credentials (all without <url>)
  mcp-u2m-proxy list               every configured and stored server (--json)
  mcp-u2m-proxy clients [<url>]    the configuration snippet of every MCP host
  mcp-u2m-proxy store [action]     the store's encryption at rest: status, encrypt, rekey, decrypt
  mcp-u2m-proxy help [command]     this help, or a command's

<url> may also be the name of a server in a config file (--config), or come from env UPSTREAM_MCP_URL.
Run "mcp-u2m-proxy <command> --help" for a command's options. --version prints the version.

Exit codes: 0 ok, 1 not signed in (status), 2 usage, 3 sign-in needed or failed, 4 network,
5 authorization server error, 6 token store error.`;

function flagLines(flags: readonly string[]): string {
  const width = Math.max(...flags.map((flag) => flag.length)) + 2;
  return flags.map((flag) => `  ${flag.padEnd(width)}${FLAGS[flag] ?? ""}`).join("\n");
}

export function helpFor(command: string | undefined): string {
  const flags = command === undefined ? undefined : COMMAND_FLAGS[command];
  const usage = command === undefined ? undefined : USAGE[command];
  if (!usage || !flags) return MAIN;
  return `${usage}\n\nOptions:\n${flagLines([...flags, "--help, -h"])}`;
}

/** The usage line of a command, for usage errors ("Usage: mcp-u2m-proxy auth <url or name> [options]"). */
export function usageLine(command: string): string | undefined {
  return USAGE[command]?.split("\n", 1)[0];
}
