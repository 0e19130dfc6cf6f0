import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { IdentityOptions } from "../../config/identity-options.ts";
import { type Logger, silentLogger } from "../../lib/logger.ts";
import { writeJsonError } from "../json-response.ts";
import type { RequestGuard } from "../request-guard.ts";
import { splitTarget } from "../router.ts";
import { runAsCaller } from "./caller.ts";
import { databricksAppsIdentity } from "./databricks-apps-identity.ts";
import { headerIdentity } from "./header-identity.ts";
import { type IdentityResolver, isRefusal, singleHeader } from "./identity-resolver.ts";
import { jwtIdentity } from "./jwt-identity.ts";
import type { PublicOrigin } from "./public-origin.ts";

/** The resolver of a configured mode; undefined for `none` (one user: no gate at all). */
export function createIdentityResolver(
  options: IdentityOptions,
  guard: Pick<RequestGuard, "hasValidKey">,
): IdentityResolver | undefined {
  const { mode, admins } = options;
  switch (mode.kind) {
    case "none":
      return undefined;
    case "databricks-apps":
      return databricksAppsIdentity(admins);
    case "header":
      return headerIdentity(mode.header, admins, (req) => guard.hasValidKey(req.headers));
    case "jwt":
      return jwtIdentity(mode, admins);
  }
}

export interface IdentityGateOptions {
  resolver: IdentityResolver;
  /** Where the proxy is reached; learnt from X-Forwarded-Host when this mode trusts its front and none is set. */
  publicOrigin: PublicOrigin;
  /** With an inbound key the caller's Authorization carries it; without one it is the platform's and is dropped. */
  keepAuthorization: boolean;
  logger?: Logger | undefined;
}

/**
 * Wraps the face's listener: every request but `/healthz` must name its user, or gets 403 saying what is missing;
 * the headers that named them (and the platform's own credentials) are removed from the request before anything
 * else sees it, so they are never relayed, stored or logged; the rest of the request runs as that caller.
 */
export function identityGate(listener: RequestListener, options: IdentityGateOptions): RequestListener {
  const { resolver, publicOrigin } = options;
  const logger = options.logger ?? silentLogger;
  const strip = new Set([
    ...resolver.identityHeaders,
    "x-forwarded-access-token",
    ...(options.keepAuthorization ? [] : ["authorization"]),
  ]);

  return (req, res) => {
    const forwarded = resolver.trustsForwardedHost ? forwardedOrigin(req) : undefined;
    const resolving = isHealthCheck(req) ? undefined : resolver.resolve(req);
    removeHeaders(req, strip);
    if (!resolving) return listener(req, res);
    resolving.then(
      (outcome) => {
        if (isRefusal(outcome)) {
          logger.warn("refused a request without a usable identity", { mode: resolver.mode, path: pathOf(req) });
          return refuse(res, outcome.refused);
        }
        if (forwarded) {
          publicOrigin.learn(forwarded, logger);
          // The page's own origin is the public one: form posts are judged against the Host the browser used.
          if (publicOrigin.baseUrl?.startsWith(`${forwarded}`)) req.headers.host = new URL(forwarded).host;
        }
        runAsCaller(outcome, () => listener(req, res));
      },
      (error: unknown) => {
        logger.error("the identity check failed", { error: error instanceof Error ? error.message : String(error) });
        refuse(res, "The proxy could not check who is calling; try again.");
      },
    );
  };
}

function refuse(res: ServerResponse, message: string): void {
  if (res.headersSent) return void res.destroy();
  writeJsonError(res, 403, message);
}

/** `/healthz` (also a mounted upstream's): the platform's and the container's probes carry no identity. */
function isHealthCheck(req: IncomingMessage): boolean {
  const path = pathOf(req);
  return (req.method === "GET" || req.method === "HEAD") && (path === "/healthz" || path.endsWith("/healthz"));
}

function pathOf(req: IncomingMessage): string {
  return splitTarget(req.url).path;
}

/** `proto://host` from X-Forwarded-Proto (default https: such fronts end TLS) and X-Forwarded-Host. */
function forwardedOrigin(req: IncomingMessage): string | undefined {
  const host = singleHeader(req, "x-forwarded-host")?.split(",")[0]?.trim();
  if (!host || !/^[\w.~-]+(?::\d+)?$|^\[[\d.:a-f]+\](?::\d+)?$/i.test(host)) return undefined;
  const proto = singleHeader(req, "x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  return `${proto === "http" ? "http" : "https"}://${host.toLowerCase()}`;
}

/** Removes headers from both views Node keeps of them (the relay reads rawHeaders, the rest headers). */
function removeHeaders(req: IncomingMessage, names: ReadonlySet<string>): void {
  for (const name of names) delete req.headers[name];
  const raw = req.rawHeaders;
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!names.has((raw[i] as string).toLowerCase())) kept.push(raw[i] as string, raw[i + 1] as string);
  }
  if (kept.length !== raw.length) req.rawHeaders = kept;
}
