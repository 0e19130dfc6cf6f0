import type { UpstreamAuth } from "../../auth/upstream-auth.ts";
import { ProxyError } from "../../lib/errors.ts";
import type { CliArgs } from "../args.ts";

export function requireUrl(args: CliArgs, command: string): string {
  if (!args.url) {
    throw new ProxyError("USAGE", `${command} needs the MCP server URL.`, {
      hint: `Run "mcp-u2m-proxy ${command} https://mcp.example.com/mcp" (or set UPSTREAM_MCP_URL).`,
    });
  }
  return args.url;
}

export function requireAuth(auth: UpstreamAuth | undefined, url: string): UpstreamAuth {
  if (!auth) {
    throw new ProxyError("USAGE", `An Authorization header was given with --header, so ${url} uses no OAuth sign-in.`, {
      hint: "Drop the Authorization header to sign in with OAuth.",
    });
  }
  return auth;
}
