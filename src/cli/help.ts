/** Help texts. Kept next to each other so the flags read the same everywhere. */
const UPSTREAM_FLAGS = `Upstream and sign-in options:
  --client-id ID            use a pre-registered OAuth client (skips registration)
  --client-secret SECRET    its secret (confidential clients)
  --client-metadata-url URL use a Client ID Metadata Document (https URL) when the server supports it
  --scope "A B"             ask for these scopes instead of the server's
  --authorize-param K=V     extra authorization request parameter (repeatable), e.g. access_type=offline
  --header "Name: value"    send this header upstream (repeatable); an Authorization header replaces OAuth
  --transport KIND          the upstream's transport: streamable-http, sse or auto (default: detected once)
  --no-resource             do not send the RFC 8707 resource parameter (for servers that reject it)
  --auth-dir DIR            token directory (env MCP_AUTH_DIR; default ~/.mcp/auth)
  --port N                  OAuth callback port (env OAUTH_CALLBACK_PORT; default 8000)
  --callback-host NAME      host in the redirect URI (default 127.0.0.1; localhost binds 127.0.0.1 and ::1)
  --no-browser              print the sign-in URL instead of opening a browser (env BROWSER picks one)
  --allow-insecure-http     allow plain http to non-loopback OAuth servers (dangerous; testing only)
  --allow-pkce-unverified   sign in even though the server's metadata omits code_challenge_methods_supported
                            (dangerous; only for servers known to enforce PKCE S256)
  --debug                   debug logs to stderr and a 0600 <hash>_debug.log (secrets are never logged)`;

export const COMMAND_HELP: Record<string, string> = {
  main: `mcp-u2m-proxy — use OAuth-protected remote MCP servers from any MCP client

Usage:
  mcp-u2m-proxy [serve] <url>      run the proxy: http://127.0.0.1:8000/mcp (Streamable HTTP), /sse (legacy)
  mcp-u2m-proxy stdio <url>        speak MCP on stdin/stdout (for hosts that launch a command)
  mcp-u2m-proxy auth <url>         sign in (or reuse valid tokens) and save them
  mcp-u2m-proxy status [<url>]     signed in or not, expiry, scopes (--json)
  mcp-u2m-proxy refresh <url>      refresh the tokens now
  mcp-u2m-proxy clear [<url>]      sign out: revoke and delete stored credentials (all without <url>)
  mcp-u2m-proxy list               every stored sign-in (--json)
  mcp-u2m-proxy help [command]     this help, or a command's

The upstream URL may also come from env UPSTREAM_MCP_URL.
Run "mcp-u2m-proxy <command> --help" for a command's options. --version prints the version.

Exit codes: 0 ok, 1 not signed in (status), 2 usage, 3 sign-in needed or failed, 4 network,
5 authorization server error, 6 token store error.`,
  auth: `Usage: mcp-u2m-proxy auth <url> [options]

Signs in to the MCP server at <url> (opening the browser) unless valid tokens are stored, and saves them.
Several processes signing in to the same server at once open one browser tab; the others wait for it.
  --force                   sign in again even when tokens are valid

${UPSTREAM_FLAGS}`,
  status: `Usage: mcp-u2m-proxy status [<url>] [--json] [options]

Shows whether you are signed in, when the access token expires, whether a refresh token is stored, the scopes
and the authorization server. Exit 0 when <url> has usable tokens, 1 when it does not.

${UPSTREAM_FLAGS}`,
  refresh: `Usage: mcp-u2m-proxy refresh <url> [options]

Refreshes the access token now with the stored refresh token. Exits non-zero with the reason when it cannot.

${UPSTREAM_FLAGS}`,
  clear: `Usage: mcp-u2m-proxy clear [<url>] [options]

Deletes the stored tokens and client registration for <url>, or for every server without <url>, revoking the
tokens at the authorization server when it supports it (RFC 7009).

${UPSTREAM_FLAGS}`,
  list: `Usage: mcp-u2m-proxy list [--json] [--auth-dir DIR]

Lists every server with stored credentials.`,
  serve: `Usage: mcp-u2m-proxy [serve] <url> [options]

Runs the proxy on http://HOST:PORT: /mcp (Streamable HTTP), /sse + /message (legacy SSE), / (status page),
/healthz, /oauth/callback, and any other path relayed to the upstream's origin.
  --host HOST               listen address (default 127.0.0.1); a non-loopback host needs --api-key
  --api-key KEY             inbound secret clients must send (env MCP_PROXY_API_KEY)
  --api-key-file FILE       read that secret from FILE's first line instead (env MCP_PROXY_API_KEY_FILE; chmod 600)
  --allow-origin ORIGIN     browser origin allowed to call the proxy (repeatable)
  --allow-host NAME         Host header name accepted besides loopback (repeatable; behind a reverse proxy)
  --max-streams N           long-lived streams (GET /mcp, /sse, subscriptions/listen) open at once (default 2000)
  --max-streams-per-session N  of those, per MCP session (default 4)
  --max-sessions N          sessions the proxy holds itself when bridging transports (default 1000)
  --session-idle-timeout S  seconds before an unused bridged session is closed (default 600)

${UPSTREAM_FLAGS}`,
  stdio: `Usage: mcp-u2m-proxy stdio <url> [options]

Speaks MCP (newline-delimited JSON-RPC) on stdin/stdout and relays it to <url> with your sign-in.
Only MCP messages go to stdout; logs go to stderr.

${UPSTREAM_FLAGS}`,
};

export function helpFor(command: string | undefined): string {
  return COMMAND_HELP[command ?? "main"] ?? COMMAND_HELP.main!;
}
