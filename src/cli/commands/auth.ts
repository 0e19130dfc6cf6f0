import { createUpstreamContext, type UpstreamContext } from "../../app/context.ts";
import { checkEndpoint } from "../../app/endpoint-check.ts";
import { isProxyError, ProxyError } from "../../lib/errors.ts";
import type { CliArgs } from "../args.ts";
import { EXIT, exitCodeFor } from "../exit-codes.ts";
import { formatStatus } from "../format.ts";
import { configFor, configuredServers, type ResolvedServer, resolveServer } from "../resolve-server.ts";
import { commandFor, personaliseHint } from "../suggest-command.ts";
import { requireAuth, runtimeFor } from "./require.ts";

/**
 * `auth <url or name>`: reuse valid tokens (refreshed within the same window as requests use), else sign in; save.
 * `auth --all`: every configured server, one after the other (one browser tab at a time).
 */
export async function authCommand(
  args: CliArgs,
  out: (text: string) => void,
  err?: (text: string) => void,
): Promise<number> {
  if (!args.all) return signInTo(args, resolveServer(args, "auth"), out);
  const config = configFor(args);
  const servers = config ? configuredServers(config).filter((server) => !isStaticAuthorization(server)) : [];
  if (servers.length === 0) {
    throw new ProxyError("USAGE", "auth --all signs in to every configured server, and no config file names any.", {
      hint: "Give --config FILE (or create ./mcp-u2m-proxy.json), or sign in to one server: auth <url>.",
    });
  }
  let worst: number = EXIT.ok;
  for (const server of servers) {
    out(`── ${server.name} (${server.upstream.url})`);
    try {
      await signInTo(args, server, out);
    } catch (error) {
      if (!isProxyError(error)) throw error;
      // As run-cli does for one server: suggested commands name this server and keep the user's options.
      const line = personaliseHint(
        error.toLine(),
        args,
        server.name ? [{ name: server.name, url: server.upstream.url }] : [],
      );
      (err ?? out)(`mcp-u2m-proxy: ${server.name}: ${line}`);
      worst = Math.max(worst, exitCodeFor(error.code));
    }
  }
  return worst;
}

async function signInTo(args: CliArgs, server: ResolvedServer, out: (text: string) => void): Promise<number> {
  const ctx = await createUpstreamContext(server.upstream, runtimeFor(args, server), {
    callback: "own-listener",
    interactive: true,
  });
  const url = server.upstream.url;
  const auth = requireAuth(ctx.auth, url);
  try {
    if (!args.force && (await auth.status()).signedIn) {
      // Refreshes only within the window requests use, so parallel `auth` runs refresh once per expiry.
      await auth.getAccessToken();
      const now = await auth.status();
      if (now.signedIn) {
        out(`Already signed in.\n${formatStatus(now, ctx.store.location)}`);
        out(`To sign in again (another account, new scopes): ${commandFor(args, "auth", server, ["--force"])}`);
        await assertMcpEndpoint(ctx, "Already signed in");
        return EXIT.ok;
      }
    }
    await auth.signIn(args.force ? { force: true, registerAnew: true } : {});
    const after = await auth.status();
    if (!after.signedIn) throw new ProxyError("SIGN_IN_REQUIRED", `Sign-in to ${url} did not produce tokens.`);
    out(`Signed in.\n${formatStatus(after, ctx.store.location)}`);
    await assertMcpEndpoint(ctx, "Signed in");
    return EXIT.ok;
  } finally {
    await auth.close();
  }
}

function isStaticAuthorization(server: ResolvedServer): boolean {
  return Object.keys(server.upstream.headers).some((name) => name.toLowerCase() === "authorization");
}

/**
 * A sign-in proves the authorization server works, not that the URL is an MCP endpoint: probe it with the tokens
 * and fail (UPSTREAM_ERROR, exit 4) when it is down, failing or not MCP, saying that the tokens were saved.
 */
async function assertMcpEndpoint(ctx: UpstreamContext, done: string): Promise<void> {
  const { verdict, problem } = await checkEndpoint(ctx);
  if (problem === undefined) return;
  const url = ctx.upstream.url;
  const meant = problem.suggestion;
  // The CLI writes suggested commands in the user's own invocation (run-cli.ts personalises the hint).
  const hint = meant
    ? `The tokens for ${url} are saved; to use ${meant}, run "mcp-u2m-proxy auth ${meant}".`
    : verdict.kind === "not-mcp"
      ? "The tokens are saved; check the MCP URL in the server's documentation (it often ends in /mcp or /sse)."
      : `The tokens are saved; once the MCP server answers, "mcp-u2m-proxy serve ${url}" uses them.`;
  throw new ProxyError("UPSTREAM_ERROR", `${done}, but ${lowerFirst(problem.message)}`, { hint });
}

/** "The MCP server …" reads as "Signed in, but the MCP server …"; URLs stay as they are. */
function lowerFirst(text: string): string {
  return text.startsWith("The ") ? `the ${text.slice(4)}` : text;
}
