// The /healthz route, apart from the rest: it answers monitoring, with details only for holders of the API key.
import type { AuthStatus } from "../auth/auth-client.ts";
import { describeError } from "../lib/errors.ts";
import type { HttpFaceOptions } from "./http-face-options.ts";
import { writeJson } from "./json-response.ts";
import type { Router } from "./router.ts";

/** Registers `GET /healthz` on `router`: the sign-in state and, with `options.health`, the upstream's reachability. */
export function addHealthzRoute(router: Router, options: HttpFaceOptions): void {
  const { relay, guard, auth } = options;

  router.add("GET", "/healthz", "healthz", async (req, res) => {
    const full = guard.hasValidKey(req.headers);
    const body: Record<string, unknown> = { ok: true };
    if (auth) {
      let status: AuthStatus | undefined;
      try {
        status = await auth.status();
      } catch (error) {
        body.authError = describeError(error);
      }
      body.signedIn = status?.signedIn ?? false;
      if (full && status) {
        body.expiresAt = status.expiresAt ?? null;
        if (status.signInUrl) body.signInUrl = status.signInUrl;
      }
    } else {
      body.signedIn = true;
      body.staticAuthorization = true;
    }
    // Always 200 while the proxy serves (a liveness check must not restart it for an upstream outage); `ok` says
    // whether the upstream answers as MCP. The error text and URL only with the key, like the rest.
    const upstream: Record<string, unknown> = full ? { url: relay.upstream.href } : {};
    if (options.health) {
      const report = await options.health.current();
      body.ok = report.usable;
      upstream.reachable = report.reachable;
      if (report.era) upstream.era = report.era;
      if (full && report.error) upstream.error = report.error;
      upstream.checkedAt = report.checkedAt;
    }
    if (Object.keys(upstream).length > 0) body.upstream = upstream;
    writeJson(res, 200, body);
  });
}
