import { readStoredDiscovery } from "../auth/discovery-cache.ts";
import { type EndpointVerdict, probeEndpoint } from "../proxy/endpoint-probe.ts";
import { type EndpointReport, GUESS_TIMEOUT_MS, reportEndpoint } from "../proxy/endpoint-report.ts";
import type { UpstreamContext } from "./context.ts";

export interface EndpointCheck {
  verdict: EndpointVerdict;
  /** What is wrong, naming the URL (and the one probably meant); undefined when it answered as MCP. */
  problem: EndpointReport | undefined;
}

/**
 * Probes the upstream URL as an MCP endpoint with the tokens just saved (after `auth`): a sign-in proves the
 * authorization server works, not that the URL is an MCP endpoint.
 */
export async function checkEndpoint(
  ctx: UpstreamContext,
  options: { timeoutMs?: number } = {},
): Promise<EndpointCheck> {
  const url = ctx.upstream.url;
  const token = await ctx.auth?.getAccessToken().catch(() => undefined);
  const headers = ctx.upstream.headers;
  const verdict = await probeEndpoint(url, { token, headers, timeoutMs: options.timeoutMs });
  const problem = await reportEndpoint(url, verdict, {
    resource: await discoveredResource(ctx).catch(() => undefined),
    probe: (candidate) => probeEndpoint(candidate, { token, headers, timeoutMs: GUESS_TIMEOUT_MS }),
  });
  return { verdict, problem };
}

/** The `resource` of the protected resource metadata that the auth core discovered (and stored) for the upstream. */
export async function discoveredResource(ctx: UpstreamContext): Promise<string | undefined> {
  if (!ctx.auth) return undefined;
  const { storeKey } = await ctx.auth.status();
  const state = await readStoredDiscovery(ctx.store, storeKey);
  const resource = state?.resourceMetadata?.resource;
  return typeof resource === "string" ? resource : undefined;
}
