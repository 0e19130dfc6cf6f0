import { ProxyError } from "../lib/errors.ts";

/**
 * An authorization server without dynamic client registration (and no Client ID Metadata Document in use) cannot
 * be signed in to until the user registers a client there: GitHub, Google, Microsoft Entra, Slack, Figma and
 * Databricks workspaces are such servers, and so are Okta and Auth0 as usually configured. The SDK says so in a plain Error; this turns it into what
 * to do, with the redirect URI to register and, for the big providers, where.
 */
export function isNoRegistrationError(error: unknown): boolean {
  return error instanceof Error && /does not support dynamic client registration/i.test(error.message);
}

// Where each provider registers clients, by the issuer's host.
const WHERE_TO_REGISTER: ReadonlyArray<{ host: (host: string) => boolean; where: string }> = [
  {
    host: (host) => host === "github.com",
    where:
      "GitHub: Settings → Developer settings → OAuth Apps → New OAuth App (https://github.com/settings/applications/new); it also needs --client-secret",
  },
  {
    host: (host) => host === "accounts.google.com",
    where:
      "Google Cloud console: APIs & Services → Credentials → Create OAuth client ID, type Desktop app (https://console.cloud.google.com/apis/credentials); it also needs --client-secret",
  },
  {
    host: (host) => host === "slack.com" || host === "mcp.slack.com",
    where:
      "Slack: Create New App at https://api.slack.com/apps, turn on Model Context Protocol under Agents & AI Apps, add the redirect URL and the User Token Scopes you need under OAuth & Permissions; the client ID and secret are under Basic Information. Slack allows MCP only for internal and directory-published apps",
  },
  {
    host: (host) => /\.(okta|oktapreview|okta-emea)\.com$/.test(host),
    where:
      "Okta Admin Console: Applications → Create App Integration → OIDC, Native Application, with the grant types Authorization Code and Refresh Token",
  },
  {
    host: (host) => host.endsWith(".auth0.com"),
    where:
      "Auth0 Dashboard: Applications → Create Application → Native (or turn on Dynamic Client Registration under Settings → Advanced)",
  },
  {
    host: (host) => host.startsWith("login.microsoftonline.") || host.endsWith(".ciamlogin.com"),
    where:
      "Microsoft Entra admin center: App registrations → New registration, platform Mobile and desktop applications (https://entra.microsoft.com)",
  },
  {
    // A workspace's issuer is https://<workspace host>/oidc on AWS, Azure and GCP; only an account admin registers.
    host: (host) => /\.(cloud\.databricks\.com|azuredatabricks\.net|gcp\.databricks\.com)$/.test(host),
    where:
      "Databricks: an account admin adds it in the account console under Settings → App connections → Add connection, with the scope all-apis and, for a public client, Generate a client secret unchecked (or with databricks account custom-app-integration create)",
  },
];

export function clientNeeded(
  serverUrl: string,
  issuer: string | undefined,
  redirectUri: string | undefined,
  cause?: unknown,
): ProxyError {
  let host = "";
  try {
    host = issuer ? new URL(issuer).hostname : "";
  } catch {}
  const where = WHERE_TO_REGISTER.find((entry) => entry.host(host))?.where;
  const server = issuer
    ? `The authorization server ${issuer} (for ${serverUrl})`
    : `The authorization server for ${serverUrl}`;
  return new ProxyError(
    "REGISTRATION_FAILED",
    `${server} offers no dynamic client registration, so it needs a client registered for this proxy.`,
    {
      hint:
        `Register an OAuth client there${redirectUri ? ` with the redirect URI ${redirectUri}` : ""}${where ? ` (${where})` : ""}, ` +
        `then pass --client-id ID (and --client-secret SECRET if it has one); in a config file, "mcp-u2m-proxy": { "oauth": { "clientId": "…" } } in the server's entry.`,
      ...(cause === undefined ? {} : { cause }),
    },
  );
}
