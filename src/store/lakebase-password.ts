import { ProxyError } from "../lib/errors.ts";
import { isLoopbackHost } from "../lib/loopback.ts";

/**
 * The Postgres password of a Databricks Apps Lakebase resource. Lakebase takes a workspace OAuth token as the
 * password, valid for an hour and checked at login only; the resource sets PGHOST, PGUSER (the app's service
 * principal), PGDATABASE and PGSSLMODE but no PGPASSWORD, and the app gets DATABRICKS_HOST, DATABRICKS_CLIENT_ID and
 * DATABRICKS_CLIENT_SECRET. So every new connection asks this function, which fetches a token with the service
 * principal's client credentials (`<host>/oidc/v1/token`, scope `all-apis`) and reuses it until shortly before it
 * expires: a pool that reconnects after an hour logs in with a fresh token, without a restart.
 */
export type PasswordSource = () => Promise<string>;

/** A token is fetched again this long before it expires, so a login never presents one that is about to lapse. */
export const TOKEN_RENEW_MARGIN_MS = 5 * 60_000;
const TOKEN_TIMEOUT_MS = 10_000;

type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * The password source for Lakebase, or undefined when it does not apply: PGPASSWORD is set (a native password wins),
 * or any of the three DATABRICKS_* variables is missing.
 */
export function lakebasePassword(
  env: NodeJS.ProcessEnv,
  fetchFn: FetchLike = fetch,
  now: () => number = Date.now,
): PasswordSource | undefined {
  const host = env.DATABRICKS_HOST?.trim();
  const clientId = env.DATABRICKS_CLIENT_ID?.trim();
  const clientSecret = env.DATABRICKS_CLIENT_SECRET;
  if (env.PGPASSWORD || !host || !clientId || !clientSecret) return undefined;
  const tokenUrl = tokenEndpointOf(host);
  let cached: { token: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;

  const fetchToken = async (): Promise<string> => {
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64");
    let response: Response;
    try {
      response = await fetchFn(tokenUrl, {
        method: "POST",
        headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials", scope: "all-apis" }).toString(),
        signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
      });
    } catch (error) {
      throw tokenError(`could not reach ${tokenUrl}: ${(error as Error).message}`, error);
    }
    const body = (await response.json().catch(() => undefined)) as
      | { access_token?: unknown; expires_in?: unknown; error?: unknown }
      | undefined;
    if (!response.ok || typeof body?.access_token !== "string" || body.access_token === "") {
      const said = typeof body?.error === "string" ? ` (${body.error})` : "";
      throw tokenError(`${tokenUrl} answered HTTP ${response.status}${said} without an access token`);
    }
    const lifetimeMs = (typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 3600) * 1000;
    cached = {
      token: body.access_token,
      renewAt: now() + lifetimeMs - Math.min(TOKEN_RENEW_MARGIN_MS, lifetimeMs / 2),
    };
    return body.access_token;
  };

  return async () => {
    if (cached && now() < cached.renewAt) return cached.token;
    // Connections opened together (the pool's first ones, LISTEN) share one token request.
    pending ??= fetchToken().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}

/** `<host>/oidc/v1/token`; DATABRICKS_HOST comes with or without `https://`. Plain http only to a loopback host. */
function tokenEndpointOf(host: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host : `https://${host}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ProxyError("CONFIG_INVALID", `DATABRICKS_HOST ${JSON.stringify(host)} is not a host name or URL.`, {
      hint: "Set it to the workspace's host, e.g. my-workspace.cloud.databricks.com (Databricks Apps sets it).",
    });
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) {
    throw new ProxyError("CONFIG_INVALID", `DATABRICKS_HOST ${JSON.stringify(host)} must be an https URL.`, {
      hint: "The service principal's secret is sent there: use the workspace's https address.",
    });
  }
  return new URL("/oidc/v1/token", url.origin).toString();
}

function tokenError(what: string, cause?: unknown): ProxyError {
  return new ProxyError("STORE_ERROR", `Could not get a Lakebase password: the workspace token request ${what}.`, {
    hint: "Check DATABRICKS_HOST, DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (the app's service principal), or set PGPASSWORD.",
    cause,
  });
}
