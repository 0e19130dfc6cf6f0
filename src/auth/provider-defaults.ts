/**
 * What some big authorization servers need beyond the MCP spec for a sign-in that lasts, chosen by the issuer that
 * discovery found (so it applies whatever the MCP server's URL is). The user's own options always win: an
 * `--authorize-param` of the same name replaces a default, and `--no-resource` stays off.
 */
export interface ProviderDefaults {
  /** For messages and docs. */
  name: string;
  /** Authorization request parameters added unless the user set the same name. */
  authorizeParams: Record<string, string>;
  /** True: never send the RFC 8707 `resource` parameter (the server rejects it). */
  omitResource: boolean;
  /**
   * True: the server supports PKCE S256 but its metadata lists no `code_challenge_methods_supported`, so the
   * proxy's check (pkce-support.ts) takes its documented support instead of refusing the sign-in.
   */
  unlistedPkceS256: boolean;
}

// Google issues a refresh token only with access_type=offline, and again after the first consent only with
// prompt=consent: without both, the proxy would need a new sign-in every hour.
// https://developers.google.com/identity/protocols/oauth2/web-server#offline
const GOOGLE: ProviderDefaults = {
  name: "Google",
  authorizeParams: { access_type: "offline", prompt: "consent" },
  omitResource: false,
  unlistedPkceS256: false,
};

// Microsoft Entra ID (v2.0 endpoints) refuses a `resource` beside `scope` (AADSTS9010010); its scopes name the API.
// https://learn.microsoft.com/entra/identity-platform/reference-error-codes
// It supports PKCE S256 (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow) but its
// OpenID metadata lists no code_challenge_methods_supported (modelcontextprotocol/typescript-sdk#832).
const ENTRA: ProviderDefaults = {
  name: "Microsoft Entra ID",
  authorizeParams: {},
  omitResource: true,
  unlistedPkceS256: true,
};

// Amazon Cognito user pools (the issuer https://cognito-idp.<region>.amazonaws.com/<pool>) support PKCE S256 on
// their authorization endpoint without listing it in their metadata either (vercel/ai#18674).
// https://docs.aws.amazon.com/cognito/latest/developerguide/using-pkce-in-authorization-code.html
const COGNITO: ProviderDefaults = {
  name: "Amazon Cognito",
  authorizeParams: {},
  omitResource: false,
  unlistedPkceS256: true,
};

const ENTRA_HOSTS = new Set([
  "login.microsoftonline.com",
  "login.microsoftonline.us",
  "login.partner.microsoftonline.cn",
  "login.chinacloudapi.cn",
  "sts.windows.net",
]);

/** The defaults for the authorization server that names itself `issuer`, if it is one that needs any. */
export function providerDefaults(issuer: string | undefined): ProviderDefaults | undefined {
  if (!issuer) return undefined;
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:") return undefined;
  if (url.hostname === "accounts.google.com") return GOOGLE;
  if (ENTRA_HOSTS.has(url.hostname) || url.hostname.endsWith(".ciamlogin.com")) return ENTRA;
  if (/^cognito-idp\.[a-z0-9-]+\.amazonaws\.com$/.test(url.hostname)) return COGNITO;
  return undefined;
}

/** Whether a sign-in or refresh at `issuer` sends `resource`: the user's choice, unless the server rejects it. */
export function sendsResource(userChoice: boolean, issuer: string | undefined): boolean {
  return userChoice && providerDefaults(issuer)?.omitResource !== true;
}

/** The authorization request parameters for `issuer`: its defaults, then the user's (which win by name). */
export function authorizeParamsFor(issuer: string | undefined, user: Record<string, string>): Record<string, string> {
  return { ...Object.fromEntries(defaultParamsKept(providerDefaults(issuer), user)), ...user };
}

/** The defaults' authorization parameters the user did not set themselves (names compared in any case). */
function defaultParamsKept(defaults: ProviderDefaults | undefined, user: Record<string, string>): [string, string][] {
  const userNames = new Set(Object.keys(user).map((name) => name.toLowerCase()));
  return Object.entries(defaults?.authorizeParams ?? {}).filter(([name]) => !userNames.has(name.toLowerCase()));
}

/**
 * For `status`: what this proxy does differently at `issuer` because of its defaults, as the user's options leave
 * it (their own parameters of the same name, or `--no-resource`, take those defaults' place).
 */
export function providerAdjustments(
  issuer: string | undefined,
  user: { authorizeParams: Record<string, string>; sendResource: boolean },
  /** The server's metadata lists no PKCE methods (so an unlisted S256 is taken on the provider's word). */
  pkceUnlisted = false,
): string[] {
  const defaults = providerDefaults(issuer);
  if (!defaults) return [];
  const adjustments: string[] = [];
  const added = defaultParamsKept(defaults, user.authorizeParams);
  if (added.length > 0) {
    const params = added.map(([name, value]) => `${name}=${value}`).join(" ");
    adjustments.push(`${defaults.name}: sign-ins add ${params} (for a refresh token)`);
  }
  if (defaults.omitResource && user.sendResource) {
    adjustments.push(`${defaults.name}: no RFC 8707 resource parameter (the server rejects it)`);
  }
  if (defaults.unlistedPkceS256 && pkceUnlisted) {
    adjustments.push(`${defaults.name}: PKCE S256, which it supports without listing it in its metadata`);
  }
  return adjustments;
}
