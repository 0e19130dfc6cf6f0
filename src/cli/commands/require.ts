import type { UpstreamAuth } from "../../auth/upstream-auth.ts";
import type { RuntimeOptions } from "../../config/options.ts";
import { ProxyError } from "../../lib/errors.ts";
import type { CliArgs } from "../args.ts";
import type { ResolvedServer } from "../resolve-server.ts";

export function requireAuth(auth: UpstreamAuth | undefined, url: string): UpstreamAuth {
  if (!auth) {
    throw new ProxyError("USAGE", `An Authorization header is configured for ${url}, so it uses no OAuth sign-in.`, {
      hint: "Drop the Authorization header (--header, or the config entry's headers) to sign in with OAuth.",
    });
  }
  return auth;
}

/** The runtime options for one server: a config entry's mcp-remote --allow-http applies to it alone. */
export function runtimeFor(args: CliArgs, server: ResolvedServer): RuntimeOptions {
  return server.allowInsecureHttp ? { ...args.runtime, allowInsecureHttp: true } : args.runtime;
}
