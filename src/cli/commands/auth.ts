import { createUpstreamContext, type UpstreamContext } from "../../app/context.ts";
import { checkEndpoint } from "../../app/endpoint-check.ts";
import { ProxyError } from "../../lib/errors.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { formatStatus } from "../format.ts";
import { requireAuth, requireUrl } from "./require.ts";

/** `auth <url>`: reuse valid tokens (refreshing if they are about to expire), else sign in; save. */
export async function authCommand(args: CliArgs, out: (text: string) => void): Promise<number> {
  const url = requireUrl(args, "auth");
  const ctx = await createUpstreamContext({ ...args.upstream, url }, args.runtime, { callback: "own-listener" });
  const auth = requireAuth(ctx.auth, url);
  try {
    const before = await auth.status();
    if (before.signedIn && !args.force) {
      const fresh = (before.expiresInSeconds ?? Number.POSITIVE_INFINITY) > 60;
      if (
        fresh ||
        (await auth.refresh().then(
          () => true,
          () => false,
        ))
      ) {
        out(`Already signed in.\n${formatStatus(await auth.status(), ctx.store.location)}`);
        await assertMcpEndpoint(ctx, "Already signed in");
        return EXIT.ok;
      }
    }
    await auth.signIn({ force: args.force });
    const after = await auth.status();
    if (!after.signedIn) throw new ProxyError("SIGN_IN_REQUIRED", `Sign-in to ${url} did not produce tokens.`);
    out(`Signed in.\n${formatStatus(after, ctx.store.location)}`);
    await assertMcpEndpoint(ctx, "Signed in");
    return EXIT.ok;
  } finally {
    await auth.close();
  }
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
